"""Fixes from the relay's security review (issue 3): each test failed before its fix.

Most run the relay app in this process (``local_relay``); the restart after a
kill -9 runs a relay process, and the CLI tests a relay on a socket.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DeskFixture, RelayHandle
from envelope_helpers import seal_bytes
from relay_helpers import (
    BODY_PIECE,
    WAIT_S,
    HeldBody,
    LocalRelay,
    compose_random,
    in_thread,
    local_relays,
    relay_process,
)
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.desk.pull import pull_envelopes
from sijil.errors import ConfigError
from sijil.field.home import FieldSession
from sijil.field.inbox import fetch_inbox
from sijil.field.send import send_outbox
from sijil.relay.protocol.auth import mailbox_id, sign_request
from sijil.relay.protocol.replies import open_reply, seal_reply
from sijil.relay.server.app import BLOCKS_AHEAD
from sijil.relay.server.config import MAX_REPLY_BYTES
from sijil.relay.server.writer import WRITE_BATCH

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def local_relay(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    """Factory: the relay app in this process, reached through ``relay.http``."""
    with local_relays(tmp_path) as make:
        yield make


def _create(http: httpx.Client, envelope: bytes) -> str:
    claimed = base64.b64encode(hashlib.sha256(envelope).hexdigest().encode())
    response = http.post(
        "/files",
        headers={
            **TUS,
            "Upload-Length": str(len(envelope)),
            "Upload-Metadata": f"envelope {claimed.decode()}",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.headers["location"])


def _leave_unfiled(spool: Path, http: httpx.Client, location: str, envelope: bytes) -> Path:
    """The state a crash (or a full disk) leaves between the last byte's fsync and filing.

    All but the last byte go through the relay; the last is appended to the part file
    directly, as ``writer.commit()`` would have before the relay died.
    """
    sent = http.patch(location, content=envelope[:-1], headers={**OCTETS, "Upload-Offset": "0"})
    assert sent.status_code == 204
    part = spool / "uploads" / f"{location.rsplit('/', 1)[1]}.part"
    with part.open("ab") as handle:
        handle.write(envelope[-1:])
    assert part.stat().st_size == len(envelope)
    return part


# --- 1. a whole upload that a crash left unfiled ------------------------------------------


@pytest.mark.slow
def test_a_whole_upload_left_unfiled_by_a_crash_is_filed_when_the_relay_restarts(
    tmp_path: Path,
) -> None:
    desk = DeskIdentity.generate()
    envelope = seal_bytes(CorrespondentIdentity.generate(), desk.public, {"a": os.urandom(50_000)})
    desk_pub = tmp_path / "desk.pub"
    desk_pub.write_bytes(desk.public.to_bytes())
    spool = tmp_path / "spool"
    stored = spool / "envelopes" / f"{hashlib.sha256(envelope).hexdigest()}.age"
    # Given a relay killed after the last byte was durable but before it was filed
    with relay_process(spool, desk_pub) as (url, proc), httpx.Client(base_url=url) as http:
        location = _create(http, envelope)
        _leave_unfiled(spool, http, location, envelope)
        proc.kill()
        proc.wait(10)
    assert not stored.exists()
    # When it starts again on the same spool
    with relay_process(spool, desk_pub) as (url2, _proc):
        # Then the upload is filed at start, before anyone asks
        assert stored.read_bytes() == envelope
        # and a HEAD says so explicitly
        head = httpx.head(url2 + location, headers=TUS)
        assert head.headers["upload-offset"] == str(len(envelope))
        assert head.headers["sijil-stored"] == "yes"


def test_the_sender_marks_sent_only_after_the_relay_filed_the_envelope(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    local_relay: Callable[..., LocalRelay],
    passphrase: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    envelope_id = compose_random(session, tmp_path, "a", 30_000)
    envelope = session.envelope_path(envelope_id).read_bytes()
    relay = local_relay(identity.public.sign)
    stored = relay.spool / "envelopes" / f"{envelope_id}.age"
    # Given an upload whose bytes are all at the relay but that was never filed
    # (the relay's disk filled between the last write and filing)
    location = _create(relay.http, envelope)
    _leave_unfiled(relay.spool, relay.http, location, envelope)
    index = session.load_index()
    index[0]["relay"] = {"url": location, "offset": len(envelope) - 1}
    session.save_index(index)
    filed_when_marked: list[bool] = []
    save = FieldSession.save_index

    def watching_save(self: FieldSession, entries: list[dict[str, Any]]) -> None:
        # observes the index as it is written: when "sent" appears, is it filed?
        if entries[0].get("relay", {}).get("sent_at") and not filed_when_marked:
            filed_when_marked.append(stored.exists())
        save(self, entries)

    monkeypatch.setattr(FieldSession, "save_index", watching_save)
    # When the phone sends again
    [result] = send_outbox(
        session, relay=relay.url, sleep=lambda _s: None, transport=relay.transport
    )
    # Then the relay filed it, and the phone recorded "sent" only after that
    assert result.status == "sent"
    assert filed_when_marked == [True]
    assert stored.read_bytes() == envelope


# --- 2. expiry and an upload still receiving ------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_expiry_does_not_delete_an_upload_that_is_still_receiving(
    local_relay: Callable[..., LocalRelay], tmp_path: Path
) -> None:
    desk = DeskIdentity.generate()
    envelope = seal_bytes(CorrespondentIdentity.generate(), desk.public, {"a": os.urandom(3 << 20)})
    clock = Clock()
    relay = local_relay(
        desk.public.sign,
        clock=clock,
        expiry_s=3600,
        unfed_expiry_s=3600,  # the short expiry of never-fed uploads is not this test's
        max_concurrent_uploads=1,
        idle_timeout_s=30.0,
    )
    # more than the relay reads ahead of its disk: once the body waits, the relay
    # has taken the PATCH in hand (checked it, pushed the expiry back) and is writing
    head = (BLOCKS_AHEAD + 1) * WRITE_BATCH + BODY_PIECE
    http = relay.http
    location = _create(http, envelope)
    upload_id = location.rsplit("/", 1)[1]
    other = _create(http, envelope)
    clock.now += 3000  # idle for most of its expiry before the PATCH begins
    # Given a PATCH that has started and is still receiving
    body = HeldBody(envelope[:head], envelope[head:])
    sending = in_thread(
        lambda: http.patch(location, content=body, headers={**OCTETS, "Upload-Offset": "0"})
    )
    with sending as answer:
        try:
            assert body.waiting.wait(WAIT_S), "the relay never started receiving"
            # Then the PATCH's start pushed the expiry back
            info = json.loads((relay.spool / "uploads" / f"{upload_id}.json").read_bytes())
            assert info["expires"] == clock.now + 3600
            # When the clock passes that expiry while the body is still arriving, and a
            # sweep runs (a new upload triggers one)
            clock.now += 3700
            http.post("/files", headers={**TUS, "Upload-Length": "10"})
            # Then the receiving upload survives, and completes when the rest comes
            assert (relay.spool / "uploads" / f"{upload_id}.part").exists()
        finally:
            body.release()
        response = answer.result(timeout=WAIT_S)
    assert response.status_code == 204, response.text
    assert response.headers["sijil-stored"] == "yes"
    stored = relay.spool / "envelopes" / f"{hashlib.sha256(envelope).hexdigest()}.age"
    assert stored.read_bytes() == envelope
    # while an idle one past its expiry was swept
    assert not (relay.spool / "uploads" / f"{other.rsplit('/', 1)[1]}.json").exists()


# --- 3. no proxy: onion refused, clearnet warned ---------------------------------------


ONION = "http://sijilrelayexampleexampleexampleexampleexampleexampleexample.onion"


def test_an_onion_relay_without_a_proxy_is_refused_before_any_lookup(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    run_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk()
    session = make_correspondent(desk, "Raven")
    compose_random(session, tmp_path, "a", 5_000)
    monkeypatch.delenv("SIJIL_PROXY", raising=False)
    network: list[object] = []

    def record(*args: object, **_kw: object) -> Any:
        network.append(args)
        raise OSError("no network in this test")

    # every name lookup and every connection goes through these two
    monkeypatch.setattr(socket, "getaddrinfo", record)
    monkeypatch.setattr(socket, "create_connection", record)
    with pytest.raises(ConfigError, match="needs Tor"):
        send_outbox(session, relay=ONION, sleep=lambda _s: None)
    with pytest.raises(ConfigError, match="needs Tor"):
        fetch_inbox(session, relay=ONION)
    result = run_cli("field", "send", "--home", str(session.home.root), "--relay", ONION)
    assert result.code != 0
    assert result.err.startswith("sijil: error:") and len(result.err.splitlines()) == 1
    assert "--proxy socks5h://127.0.0.1:9050" in result.err
    assert network == []


def test_a_clearnet_relay_without_a_proxy_is_sent_to_with_a_warning(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    run_cli: Callable[..., Any],
    passphrase: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    compose_random(session, tmp_path, "a", 5_000)
    relay = make_relay(identity.public.sign)
    monkeypatch.delenv("SIJIL_PROXY", raising=False)
    result = run_cli("field", "send", "--home", str(session.home.root), "--relay", relay.url)
    assert result.code == 0, result.err
    [warning] = result.err.splitlines()
    assert warning.startswith("sijil: warning:") and "IP address" in warning


# --- 4. desk bodies are capped before they are authenticated -----------------------------


class EndlessBody:
    """A chunked body that never ends by itself: 8 KiB at a time, counting what was taken."""

    def __init__(self, *, then_wait_after: int) -> None:
        self.taken = 0
        self.then_wait_after = then_wait_after
        self.stop = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(1 << 20):  # bounded: 8 GiB at most
            if self.taken >= self.then_wait_after:
                # and then nothing more, until the test ends (bounded)
                self.stop.wait(WAIT_S)
                return
            self.taken += 8192
            yield b"x" * 8192


def test_an_oversized_chunked_desk_body_is_refused_having_read_only_the_cap(
    local_relay: Callable[..., LocalRelay],
) -> None:
    desk = DeskIdentity.generate()
    relay = local_relay(desk.public.sign)
    box = "ab" * 32
    path = f"/v1/desk/mailboxes/{box}"
    # Given a POST that looks signed (fresh time, new nonce) with a chunked body that
    # never ends: the relay cannot know its size, and cannot check the signature yet
    looks_signed = sign_request(desk.sign, method="POST", path=path, body=b"", now=time.time())
    endless = EndlessBody(then_wait_after=MAX_REPLY_BYTES + 16_384)
    try:
        # When a little more than the cap has been sent, and then nothing more
        answer = relay.http.post(path, content=endless, headers=looks_signed)
        # Then the relay answers 413 at once: it read no further than the cap
        assert answer.status_code == 413, answer.text
        assert MAX_REPLY_BYTES < endless.taken <= MAX_REPLY_BYTES + 8192
        # Given an unsigned request with a body that never ends
        unsigned = EndlessBody(then_wait_after=8192)
        answer = relay.http.request("GET", "/v1/desk/envelopes", content=unsigned)
        # Then it is refused on its headers alone, without reading any of the body
        assert answer.status_code == 401, answer.text
        assert unsigned.taken == 0
    finally:
        endless.stop.set()
    # and a properly signed reply still goes through
    sealed = seal_reply(
        "ok", desk_sign=desk.sign, to=CorrespondentIdentity.generate().box.public_key()
    )
    good = sign_request(desk.sign, method="POST", path=path, body=sealed, now=time.time())
    assert relay.http.post(path, content=sealed, headers=good).status_code == 201


# --- 5. replayed replies -----------------------------------------------------------------


def _post_reply(relay: LocalRelay, desk: DeskIdentity, box: str, sealed: bytes) -> None:
    path = f"/v1/desk/mailboxes/{box}"
    headers = sign_request(desk.sign, method="POST", path=path, body=sealed, now=time.time())
    assert relay.http.post(path, content=sealed, headers=headers).status_code == 201


def test_a_reply_served_again_is_not_shown_as_new(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    local_relay: Callable[..., LocalRelay],
    passphrase: str,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    relay = local_relay(identity.public.sign)
    key = session.identity.box.public_key()
    box = mailbox_id(key)
    folder = relay.spool / "mailboxes" / box
    written = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    # Given one reply the desk sealed twice (same signed words, two ciphertexts)
    first = seal_reply("meet at noon", desk_sign=identity.sign, to=key, now=written)
    second = seal_reply("meet at noon", desk_sign=identity.sign, to=key, now=written)
    assert first != second
    _post_reply(relay, identity, box, first)
    _post_reply(relay, identity, box, second)
    # When the phone fetches
    items = fetch_inbox(session, relay=relay.url, transport=relay.transport)
    # Then it is shown once, and the relay was told to drop both copies
    assert [(i.text, i.new) for i in items] == [("meet at noon", True)]
    assert list(folder.glob("*.age")) == []
    # When a relay serves the old ciphertext again under another id
    (folder / f"{'0' * 64}.age").write_bytes(first)
    # and again under its own id
    (folder / f"{hashlib.sha256(first).hexdigest()}.age").write_bytes(first)
    items = fetch_inbox(session, relay=relay.url, transport=relay.transport)
    # Then nothing is new, and the replays are acknowledged away
    assert [(i.text, i.new) for i in items] == [("meet at noon", False)]
    assert list(folder.glob("*.age")) == []
    # and a new reply under an id that is not its hash is kept only as suspect
    third = seal_reply("new words", desk_sign=identity.sign, to=key)
    (folder / f"{'1' * 64}.age").write_bytes(third)
    items = fetch_inbox(session, relay=relay.url, transport=relay.transport)
    [suspect] = [i for i in items if i.new]
    assert suspect.text == "" and "not its hash" in suspect.problem
    assert open_reply(third, identity=session.identity.box, desk=identity.public.sign).text == (
        "new words"
    )


# --- 6. desk pull caps what it downloads ---------------------------------------------------


def test_pull_refuses_a_download_longer_than_listed(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    ids = {compose_random(session, tmp_path, n, 20_000) for n in ("a", "b")}
    relay = make_relay(identity.public.sign)
    assert {r.status for r in send_outbox(session, relay=relay.url)} == {"sent"}
    grown: list[str] = []

    def grow_the_other(outcome: Any) -> None:
        # after the list was taken, the relay makes the other envelope 64 MiB longer
        if not grown:
            [other] = ids - {outcome.envelope_id}
            path = relay.spool / "envelopes" / f"{other}.age"
            os.truncate(path, path.stat().st_size + (64 << 20))
            grown.append(other)

    with desk.home.open_store() as store:
        outcomes = pull_envelopes(
            desk.home, identity, store, relay=relay.url, progress=grow_the_other
        )
    by_id = {o.envelope_id: o for o in outcomes}
    [other] = grown
    assert by_id[other].status == "waiting"
    assert "more than it listed" in by_id[other].detail
    assert [o.status for o in outcomes if o.envelope_id != other] == ["imported"]
    # the refused one stays at the relay, and nothing of it stays at the desk
    assert (relay.spool / "envelopes" / f"{other}.age").exists()
    assert list(desk.home.staging.iterdir()) == []
    # a listing above the largest envelope is not even downloaded
    with desk.home.open_store() as store:
        [refused] = pull_envelopes(
            desk.home, identity, store, relay=relay.url, max_envelope_bytes=1000
        )
    assert refused.status == "waiting" and "impossible size" in refused.detail


# --- 7. desk reply text off the command line -------------------------------------------------


def test_desk_reply_reads_its_text_from_stdin(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    run_cli: Callable[..., Any],
    passphrase: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Sparrow")
    compose_random(session, tmp_path, "c", 5_000)
    relay = make_relay(identity.public.sign)
    send_outbox(session, relay=relay.url)
    with desk.home.open_store() as store:
        pull_envelopes(desk.home, identity, store, relay=relay.url)
    words = "the words stay out of the shell history"
    # When the desk replies with --text - and the words on stdin
    monkeypatch.setattr(sys, "stdin", io.StringIO(words + "\n"))
    replied = run_cli(
        "desk", "reply", *desk.args, "--relay", relay.url, "--to", "Sparrow", "--text", "-"
    )
    assert replied.code == 0, replied.err
    # Then the reply carries those words
    [sealed] = (relay.spool / "mailboxes" / mailbox_id(session.identity.box.public_key())).glob(
        "*.age"
    )
    reply = open_reply(
        sealed.read_bytes(), identity=session.identity.box, desk=identity.public.sign
    )
    assert reply.text == words
    # and without --text and without a terminal it says how, in one line
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    missing = run_cli("desk", "reply", *desk.args, "--relay", relay.url, "--to", "Sparrow")
    assert missing.code != 0
    assert len(missing.err.splitlines()) == 1 and "--text -" in missing.err
