"""Field to relay to desk and back: resumable send, signed pull, replies both ways.

These run on a relay with a real socket (``make_relay``): the desk's pull takes
a relay address, and the cut link, the SOCKS proxy and the CLI are sockets by
nature. Mailbox checks with no desk pull run the relay app in this process.
"""

from __future__ import annotations

import hashlib
import json
import select as io_select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import DeskFixture, RelayHandle
from relay_helpers import LocalRelay, compose_random, local_relays
from sijil.crypto.identity import DeskIdentity
from sijil.desk.pull import pull_envelopes
from sijil.desk.reply import send_reply
from sijil.errors import RelayAuthError
from sijil.field.home import FieldSession
from sijil.field.inbox import fetch_inbox, load_inbox
from sijil.field.send import SendStatus, send_outbox
from sijil.relay.protocol.auth import (
    ChallengeIssuer,
    ReplayGuard,
    answer_challenge,
    mailbox_id,
    sign_request,
    verify_desk_request,
)
from sijil.relay.protocol.replies import open_reply, seal_reply
from sijil.relay.server.lossy import LossyLink
from sijil.store import Envelope, RelayReply


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture
def local_relay(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    """Factory: the relay app in this process, reached through ``relay.http``."""
    with local_relays(tmp_path) as make:
        yield make


def test_send_resumes_after_every_cut_and_pull_imports_once(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given a desk, a correspondent with two reports, and a relay behind a link
    # that cuts the connection every 150-250 KB
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    ids = {compose_random(session, tmp_path, n, 600_000) for n in ("a", "b")}
    relay = make_relay(identity.public.sign)
    port = int(relay.url.rsplit(":", 1)[1])
    total = sum(session.envelope_path(i).stat().st_size for i in ids)
    with LossyLink(target_port=port, cut_every=(150_000, 250_000), deadline_s=60) as link:
        # When the outbox is sent through it
        results = send_outbox(session, relay=f"http://127.0.0.1:{link.port}", sleep=lambda _s: None)
    # Then both arrive whole, resumed rather than restarted
    assert {r.status for r in results} == {"sent"}
    assert link.stats.cuts >= 4
    assert any(r.resumed_from > 0 for r in results)
    # bytes the relay had buffered when a cut came are kept too: little is sent twice
    assert link.stats.from_sender < total * 1.05
    stored = {p.stem: p for p in (relay.spool / "envelopes").glob("*.age")}
    assert set(stored) == ids
    for envelope_id, path in stored.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == envelope_id
    # and the outbox knows they were sent; a second run sends nothing
    assert all(e["relay"].get("sent_at") for e in session.load_index())
    assert send_outbox(session, relay=relay.url) == []
    # When the desk pulls
    with desk.home.open_store() as store:
        outcomes = pull_envelopes(desk.home, identity, store, relay=relay.url)
        # Then both are imported on the relay channel, and the relay deleted them
        assert sorted(o.status for o in outcomes) == ["imported", "imported"]
        assert {o.correspondent for o in outcomes} == {"Raven"}
        with store.session() as db:
            channels = {e.channel for e in db.scalars(select(Envelope))}
        assert channels == {"relay"}
        assert list((relay.spool / "envelopes").glob("*.age")) == []
        # and a second pull finds nothing
        assert pull_envelopes(desk.home, identity, store, relay=relay.url) == []


def test_a_duplicate_delivery_is_kept_once_at_the_desk(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Falcon")
    envelope_id = compose_random(session, tmp_path, "x", 20_000)
    relay = make_relay(identity.public.sign)
    send_outbox(session, relay=relay.url)
    with desk.home.open_store() as store:
        [first] = pull_envelopes(desk.home, identity, store, relay=relay.url)
        # the same envelope arrives again (a second device, a resend)
        for entry_ in (index := session.load_index()):
            entry_.pop("relay")
        session.save_index(index)
        send_outbox(session, relay=relay.url)
        [again] = pull_envelopes(desk.home, identity, store, relay=relay.url)
    assert (first.status, again.status) == ("imported", "duplicate")
    assert again.envelope_id == envelope_id


def test_send_results_are_typed_and_print_as_before(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    local_relay: Callable[..., LocalRelay],
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given two reports in the outbox, one of whose envelope files is gone
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Heron")
    kept = compose_random(session, tmp_path, "k", 5_000)
    lost = compose_random(session, tmp_path, "l", 5_000)
    session.envelope_path(lost).unlink()
    relay = local_relay(identity.public.sign)
    # When the outbox is sent (the relay in this process, no socket)
    lines: list[str] = []
    results = send_outbox(
        session, relay=relay.url, transport=relay.transport, progress=lines.append
    )
    # Then each result's status is a SendStatus, printed and serialised as the plain words
    by_id = {r.envelope_id: r for r in results}
    assert (by_id[kept].status, by_id[lost].status) == (SendStatus.SENT, SendStatus.FAILED)
    assert by_id[kept].status == "sent" and by_id[lost].status == "failed"
    assert json.dumps({r.status: 1 for r in results}, sort_keys=True) == '{"failed": 1, "sent": 1}'
    assert f"{kept[:16]}  sent whole" in next(line for line in lines if line.startswith("sent   "))
    assert f"{lost[:16]}  envelope missing" in next(
        line for line in lines if line.startswith("failed ")
    )
    assert (relay.spool / "envelopes" / f"{kept}.age").is_file()


# --- signatures on the pull API ---------------------------------------------------------


def test_pull_refuses_unsigned_replayed_expired_and_wrongly_signed_requests(
    make_relay: Callable[..., RelayHandle],
) -> None:
    desk = DeskIdentity.generate()
    relay = make_relay(desk.public.sign)
    url = f"{relay.url}/v1/desk/envelopes"
    path = "/v1/desk/envelopes"
    now = time.time()

    def get(headers: dict[str, str]) -> httpx.Response:
        return httpx.get(url, headers=headers)

    assert get({}).status_code == 401
    good = sign_request(desk.sign, method="GET", path=path, body=b"", now=now)
    assert get(good).status_code == 200
    replay = get(good)
    assert (replay.status_code, "replay" in replay.text) == (401, True)
    stale = sign_request(desk.sign, method="GET", path=path, body=b"", now=now - 3600)
    assert "expired" in get(stale).text
    other = DeskIdentity.generate()
    forged = sign_request(other.sign, method="GET", path=path, body=b"", now=now)
    assert get(forged).status_code == 403
    # a signature for one path does not open another
    elsewhere = sign_request(desk.sign, method="GET", path="/v1/desk/other", body=b"", now=now)
    assert get(elsewhere).status_code == 403
    # the desk's own client turns a refusal into a typed error
    with pytest.raises(RelayAuthError):
        from sijil.desk.home import DeskHome

        no_store: Any = None  # refused before the store is touched
        pull_envelopes(DeskHome(root=Path("/nonexistent")), other, no_store, relay=relay.url)


def test_desk_signatures_verify_only_what_was_signed() -> None:
    desk = DeskIdentity.generate()
    guard = ReplayGuard()
    headers = _lower(sign_request(desk.sign, method="POST", path="/p", body=b"body", now=1000))
    with pytest.raises(RelayAuthError):  # another body
        verify_desk_request(
            headers,
            key=desk.public.sign,
            method="POST",
            path="/p",
            digest=hashlib.sha256(b"other").hexdigest(),
            now=1000,
            guard=guard,
        )
    verify_desk_request(
        headers,
        key=desk.public.sign,
        method="POST",
        path="/p",
        digest=hashlib.sha256(b"body").hexdigest(),
        now=1200,
        guard=guard,
    )


def test_mailbox_proofs_need_the_key_and_are_single_use() -> None:
    issuer = ChallengeIssuer()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    mine, theirs = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    box = mailbox_id(mine.public_key())
    challenge = issuer.issue(now=1000)
    proof = _lower(
        answer_challenge(
            mine, relay_key=issuer.public, challenge=challenge, method="GET", path="/m"
        )
    )
    # another key cannot read my box, even with a fresh challenge
    stolen = _lower(
        answer_challenge(
            theirs,
            relay_key=issuer.public,
            challenge=issuer.issue(now=1000),
            method="GET",
            path="/m",
        )
    )
    with pytest.raises(RelayAuthError):
        issuer.check(stolen, box=box, method="GET", path="/m", now=1001)
    issuer.check(proof, box=box, method="GET", path="/m", now=1001)
    with pytest.raises(RelayAuthError, match="replay"):
        issuer.check(proof, box=box, method="GET", path="/m", now=1002)
    late = _lower(
        answer_challenge(
            mine, relay_key=issuer.public, challenge=issuer.issue(now=1000), method="GET", path="/m"
        )
    )
    with pytest.raises(RelayAuthError, match="expired"):
        issuer.check(late, box=box, method="GET", path="/m", now=5000)


# --- replies ------------------------------------------------------------------------------


def test_replies_go_both_ways_and_the_relay_cannot_read_them(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given a correspondent whose report reached the desk through the relay
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Olive")
    compose_random(session, tmp_path, "r", 10_000)
    relay = make_relay(identity.public.sign)
    send_outbox(session, relay=relay.url)
    text = "وصلت الصور، شكراً. Stay safe; do not go back to the bridge."
    with desk.home.open_store() as store:
        pull_envelopes(desk.home, identity, store, relay=relay.url)
        # When the desk replies
        sent = send_reply(identity, store, relay=relay.url, codename="Olive", text=text)
        with store.session() as db:
            [kept] = db.scalars(select(RelayReply)).all()
            assert kept.text == text
    # Then the relay holds only ciphertext, under a hash of the key
    box = mailbox_id(session.identity.box.public_key())
    assert sent.mailbox == box
    [stored] = (relay.spool / "mailboxes" / box).glob("*.age")
    assert text.encode() not in stored.read_bytes()
    assert stored.read_bytes().startswith(b"age-encryption.org/v1\n")
    # When the correspondent checks the inbox
    items = fetch_inbox(session, relay=relay.url)
    assert [(i.text, i.new, i.problem) for i in items] == [(text, True, "")]
    # Then the relay deleted it, and the phone keeps it encrypted
    assert list((relay.spool / "mailboxes" / box).glob("*.age")) == []
    assert text.encode() not in (session.home.outbox / "inbox.sealed").read_bytes()
    assert [i["text"] for i in load_inbox(session)] == [text]
    again = fetch_inbox(session, relay=relay.url)
    assert [i.new for i in again] == [False]


def test_someone_else_cannot_read_a_mailbox(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    local_relay: Callable[..., LocalRelay],
    passphrase: str,
) -> None:
    # Given a reply the desk left in Raven's mailbox
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    raven, falcon = make_correspondent(desk, "Raven"), make_correspondent(desk, "Falcon")
    relay = local_relay(identity.public.sign)
    http = relay.http
    box = mailbox_id(raven.identity.box.public_key())
    sealed = seal_reply(
        "for Raven only", desk_sign=identity.sign, to=raven.identity.box.public_key()
    )
    path = f"/v1/desk/mailboxes/{box}"
    headers = sign_request(identity.sign, method="POST", path=path, body=sealed, now=time.time())
    assert http.post(path, content=sealed, headers=headers).status_code == 201
    # Then unsigned posts to a mailbox are refused: nobody but the desk leaves mail
    assert http.post(path, content=sealed).status_code == 401
    # When Falcon answers a challenge with Falcon's key for Raven's box, Then it is refused
    challenge = http.get("/v1/mailbox/challenge").json()
    proof = answer_challenge(
        falcon.identity.box,
        relay_key=challenge["relay_key"],
        challenge=challenge["challenge"],
        method="GET",
        path=f"/v1/mailbox/{box}",
    )
    assert http.get(f"/v1/mailbox/{box}", headers=proof).status_code == 403
    assert http.get(f"/v1/mailbox/{box}").status_code == 401
    # and a reply to Raven does not open with Falcon's key
    from sijil.errors import EnvelopeError

    with pytest.raises(EnvelopeError):
        open_reply(sealed, identity=falcon.identity.box, desk=identity.public.sign)
    assert open_reply(sealed, identity=raven.identity.box, desk=identity.public.sign).text == (
        "for Raven only"
    )
    # a reply signed by someone other than our desk is kept as suspect, not shown as the desk's
    forger = DeskIdentity.generate()
    fake = seal_reply(
        "come to the bridge", desk_sign=forger.sign, to=raven.identity.box.public_key()
    )
    headers = sign_request(identity.sign, method="POST", path=path, body=fake, now=time.time())
    http.post(path, content=fake, headers=headers)
    items = fetch_inbox(raven, relay=relay.url, transport=relay.transport)
    problems = [i for i in items if i.problem]
    assert len(problems) == 1 and "not signed by your desk" in problems[0].problem
    assert problems[0].text == ""


# --- the CLI ------------------------------------------------------------------------------


def test_cli_send_pull_reply_inbox(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    run_cli: Callable[..., object],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Sparrow")
    compose_random(session, tmp_path, "c", 30_000)
    relay = make_relay(identity.public.sign)
    field_home = str(session.home.root)
    sent = run_cli("field", "send", "--home", field_home, "--relay", relay.url)
    assert sent.code == 0, sent.err  # type: ignore[attr-defined]
    assert "done: 1 sent, 0 not sent" in sent.out  # type: ignore[attr-defined]
    pulled = run_cli("desk", "pull", *desk.args, "--relay", relay.url)
    assert pulled.code == 0, pulled.err  # type: ignore[attr-defined]
    assert "done: 1 imported" in pulled.out  # type: ignore[attr-defined]
    replied = run_cli(
        "desk", "reply", *desk.args, "--relay", relay.url, "--to", "Sparrow", "--text", "received"
    )
    assert replied.code == 0, replied.err  # type: ignore[attr-defined]
    inbox = run_cli("field", "inbox", "--home", field_home, "--relay", relay.url)
    assert inbox.code == 0, inbox.err  # type: ignore[attr-defined]
    assert "received" in inbox.out  # type: ignore[attr-defined]
    outbox = run_cli("field", "outbox", "--home", field_home)
    assert "exported:relay" in outbox.out  # type: ignore[attr-defined]
    # errors are one line, no traceback
    unknown = run_cli(
        "desk", "reply", *desk.args, "--relay", relay.url, "--to", "Nobody", "--text", "x"
    )
    assert unknown.code != 0  # type: ignore[attr-defined]
    assert unknown.err.startswith("sijil: error:") and len(unknown.err.splitlines()) == 1  # type: ignore[attr-defined]
    dead = run_cli("desk", "pull", *desk.args, "--relay", "http://127.0.0.1:9")
    assert dead.code != 0 and "could not be reached" in dead.err  # type: ignore[attr-defined]
    assert "127.0.0.1" not in dead.err  # type: ignore[attr-defined]


# --- through a SOCKS5 proxy, names resolved at the proxy (Tor's way) ------------------


class _Socks5:
    """A minimal SOCKS5 server on loopback that maps fake onion names to loopback ports."""

    def __init__(self, names: dict[str, int]) -> None:
        self.names = names
        self.asked: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(5)
        head = client.recv(2)
        client.recv(head[1])  # offered methods: we take "no auth"
        client.sendall(b"\x05\x00")
        request = client.recv(4)
        if request[3] != 3:  # 3 = a domain name: socks5h leaves resolving to us
            client.close()
            return
        name = client.recv(client.recv(1)[0]).decode()
        client.recv(2)
        self.asked.append(name)
        upstream = socket.create_connection(("127.0.0.1", self.names[name]))
        client.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        with upstream, client:
            for _ in range(100_000):  # a bounded pipe
                ready, _, _ = io_select.select([client, upstream], [], [], 5)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join(5)


def test_send_and_inbox_through_a_socks5h_proxy(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given a relay reachable only by an onion-style name that local DNS cannot resolve
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    envelope_id = compose_random(session, tmp_path, "s", 50_000)
    relay = make_relay(identity.public.sign)
    onion = "sijilrelayexampleexampleexampleexampleexampleexampleexample.onion"
    socks = _Socks5({onion: int(relay.url.rsplit(":", 1)[1])})
    try:
        proxy = f"socks5h://127.0.0.1:{socks.port}"
        # When the correspondent sends and checks the inbox through the proxy
        [result] = send_outbox(session, relay=f"http://{onion}", proxy=proxy)
        items = fetch_inbox(session, relay=f"http://{onion}", proxy=proxy)
    finally:
        socks.close()
    # Then it arrived, and the name was resolved by the proxy, not locally
    assert result.status == "sent"
    assert (relay.spool / "envelopes" / f"{envelope_id}.age").is_file()
    assert items == []
    assert set(socks.asked) == {onion}
