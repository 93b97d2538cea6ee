"""The relay speaks tus 1.0: stock clients work, bad requests get the right 4xx, limits hold.

Most tests run the relay app in this process (``local_relay``, no socket); the
stock tus client, the slow-loris timeout and the relay process's logs use a
real socket (``make_relay``, a subprocess).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from envelope_helpers import seal_bytes
from relay_helpers import WAIT_S, HeldBody, LinkCut, LocalRelay, in_thread, local_relays
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.errors import RelayError, RelayLimitExceeded, RelayProtocolError
from sijil.relay.protocol import tus
from sijil.relay.server import spool as spool_module
from sijil.relay.server.config import RateLimiter, RelayConfig
from sijil.relay.server.spool import check_envelope

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture(scope="module")
def desk() -> DeskIdentity:
    return DeskIdentity.generate()


@pytest.fixture(scope="module")
def envelope(desk: DeskIdentity) -> bytes:
    sender = CorrespondentIdentity.generate()
    return seal_bytes(sender, desk.public, {"a.jpg": os.urandom(300_000)})


@pytest.fixture
def local_relay(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    """Factory: the relay app in this process, reached through ``relay.http``."""
    with local_relays(tmp_path) as make:
        yield make


def create(http: httpx.Client, length: int, **headers: str) -> str:
    """POST a new upload; return its path."""
    response = http.post("/files", headers={**TUS, "Upload-Length": str(length), **headers})
    assert response.status_code == 201, response.text
    return str(response.headers["location"])


def patch(
    http: httpx.Client, upload: str, offset: int, body: bytes | Iterable[bytes], **headers: str
) -> httpx.Response:
    return http.patch(
        upload, content=body, headers={**OCTETS, "Upload-Offset": str(offset), **headers}
    )


def head(http: httpx.Client, upload: str) -> httpx.Response:
    return http.head(upload, headers=TUS)


def envelope_files(spool: Path) -> list[Path]:
    return sorted((spool / "envelopes").glob("*.age"))


# --- interop with the stock tus client ------------------------------------------------


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.mark.parametrize("uploader", [Uploader, Sha256Uploader], ids=["sha1", "sha256"])
def test_the_tuspy_client_uploads_in_chunks_with_checksums(
    make_relay: Callable[..., Any], desk: DeskIdentity, envelope: bytes, uploader: type
) -> None:
    # Given a relay on a socket and the stock Python tus client (requests) sending
    # 64 KiB chunks with checksums
    relay = make_relay(desk.public.sign)
    client = tus_client.TusClient(f"{relay.url}/files")
    # When it uploads an envelope
    up = uploader(
        file_stream=io.BytesIO(envelope), client=client, chunk_size=65536, upload_checksum=True
    )
    up.upload()
    # Then the spool holds it, whole, under its envelope id
    [stored] = envelope_files(relay.spool)
    assert stored.read_bytes() == envelope
    assert stored.stem == hashlib.sha256(envelope).hexdigest()


def test_options_advertises_version_extensions_and_limits(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay taking envelopes up to 5 MB
    relay = local_relay(desk.public.sign, max_envelope_bytes=5_000_000)
    # When a client asks what it speaks
    response = relay.http.options("/files")
    # Then it names tus 1.0.0, its extensions, checksums and the size limit
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    assert "sha256" in response.headers["tus-checksum-algorithm"]
    assert response.headers["tus-max-size"] == "5000000"


# --- malformed and out-of-order requests --------------------------------------------


def test_bad_requests_get_the_status_tus_names(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given a relay taking envelopes up to 1 MB
    relay = local_relay(desk.public.sign, max_envelope_bytes=1_000_000)
    http = relay.http
    # Then a creation without the protocol version gets 412 and the versions we speak
    response = http.post("/files", headers={"Upload-Length": "10"})
    assert (response.status_code, response.headers["tus-version"]) == (412, "1.0.0")
    # no length, a bad length, a deferred length, too large, bad metadata
    assert http.post("/files", headers=TUS).status_code == 400
    assert http.post("/files", headers={**TUS, "Upload-Length": "-4"}).status_code == 400
    deferred = {**TUS, "Upload-Defer-Length": "1"}
    assert http.post("/files", headers=deferred).status_code == 400
    too_big = http.post("/files", headers={**TUS, "Upload-Length": "1000001"})
    assert too_big.status_code == 413
    assert "at most 1000000" in too_big.text
    bad_meta = {**TUS, "Upload-Length": "10", "Upload-Metadata": "envelope %%%"}
    assert http.post("/files", headers=bad_meta).status_code == 400
    # Given a fresh upload
    upload = create(http, len(envelope))
    # Then a wrong content type, wrong offset, past the end, unknown checksum algorithm
    plain = {**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"}
    assert http.patch(upload, content=b"x", headers=plain).status_code == 415
    assert patch(http, upload, 7, envelope[:10]).status_code == 409
    assert patch(http, upload, 0, envelope + b"more").status_code == 413
    md5 = {"Upload-Checksum": "md5 " + base64.b64encode(b"0" * 16).decode()}
    assert patch(http, upload, 0, envelope[:10], **md5).status_code == 400
    # an unknown upload
    assert http.head(f"/files/{'0' * 32}", headers=TUS).status_code == 404
    assert http.head("/files/../../etc", headers=TUS).status_code == 404
    # and nothing of it was kept
    assert head(http, upload).headers["upload-offset"] == "0"


def test_a_checksum_mismatch_is_460_and_the_chunk_is_discarded(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an upload whose first chunk arrived with a good checksum
    relay = local_relay(desk.public.sign)
    upload = create(relay.http, len(envelope))
    good = base64.b64encode(hashlib.sha256(envelope[:1000]).digest()).decode()
    checked = {"Upload-Checksum": f"sha256 {good}"}
    assert patch(relay.http, upload, 0, envelope[:1000], **checked).status_code == 204
    # When the next chunk's checksum does not match its bytes
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = patch(
        relay.http, upload, 1000, envelope[1000:5000], **{"Upload-Checksum": f"sha256 {wrong}"}
    )
    # Then it is refused with 460 and none of it is kept
    assert response.status_code == 460
    assert head(relay.http, upload).headers["upload-offset"] == "1000"


def test_garbage_is_refused_at_its_first_bytes_and_kept_with_its_reason(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given an upload of 100 kB
    relay = local_relay(desk.public.sign)
    upload = create(relay.http, 100_000)
    # When its first bytes are no age header
    response = patch(relay.http, upload, 0, b"GET / HTTP/1.0\r\n" + b"\0" * 1000)
    # Then it is refused at once, and kept aside with its reason
    assert response.status_code == 422
    assert "not a sijil envelope" in response.text
    assert head(relay.http, upload).status_code == 404
    reasons = list((relay.spool / "rejected").glob("*.reason.txt"))
    assert len(reasons) == 1
    assert "no age v1 header" in reasons[0].read_text()
    assert envelope_files(relay.spool) == []


def test_an_age_header_without_a_whole_payload_is_not_handed_on(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an envelope cut where no whole age chunk can end (the relay has no key,
    # so the chunk layout is all it can check; a claimed envelope id catches the rest)
    relay = local_relay(desk.public.sign)
    header_end = envelope.index(b"\n", envelope.index(b"\n---") + 1) + 1 + 16
    cut = envelope[: header_end + 65552 + 7]
    upload = create(relay.http, len(cut))
    # When it is uploaded whole
    response = patch(relay.http, upload, 0, cut)
    # Then it is refused and kept aside, not filed
    assert response.status_code == 422
    assert envelope_files(relay.spool) == []
    assert list((relay.spool / "rejected").glob("*.bin"))


def test_a_claimed_envelope_id_is_checked_against_the_bytes(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an upload that claims an envelope id its bytes do not have
    relay = local_relay(desk.public.sign)
    claim = base64.b64encode(b"0" * 64).decode()
    upload = create(relay.http, len(envelope), **{"Upload-Metadata": f"envelope {claim}"})
    # When the last byte arrives, Then it is refused with 460
    assert patch(relay.http, upload, 0, envelope).status_code == 460
    assert envelope_files(relay.spool) == []
    # and kept aside with its reason, never handed on, never silently dropped
    [reason] = (relay.spool / "rejected").glob("*.reason.txt")
    assert "differs from its envelope id" in reason.read_text()


def _cut_after(data: bytes) -> Iterator[bytes]:
    """A body whose link is cut once ``data`` went out."""
    yield data
    raise LinkCut


def test_a_cut_link_keeps_what_arrived_unless_it_was_checksummed(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = local_relay(desk.public.sign)
    upload = create(relay.http, len(envelope))
    # When a PATCH's link is cut after 100 kB
    with pytest.raises(httpx.ReadError):
        patch(relay.http, upload, 0, _cut_after(envelope[:100_000]))
    # Then the relay kept exactly those bytes
    assert head(relay.http, upload).headers["upload-offset"] == "100000"
    # When a checksummed PATCH (all or nothing) is cut after another 100 kB
    rest = envelope[100_000:]
    digest = base64.b64encode(hashlib.sha256(rest).digest()).decode()
    checked = {"Upload-Checksum": f"sha256 {digest}"}
    with pytest.raises(httpx.ReadError):
        patch(relay.http, upload, 100_000, _cut_after(rest[:100_000]), **checked)
    # Then none of it is kept, and the sender goes on from the last whole offset
    assert head(relay.http, upload).headers["upload-offset"] == "100000"
    assert patch(relay.http, upload, 100_000, rest, **checked).status_code == 204
    [stored] = envelope_files(relay.spool)
    assert stored.read_bytes() == envelope


def test_a_second_upload_of_the_same_envelope_is_stored_once(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = local_relay(desk.public.sign)
    # When the same envelope is uploaded twice
    for _ in range(2):
        upload = create(relay.http, len(envelope))
        response = patch(relay.http, upload, 0, envelope)
        assert response.status_code == 204
        assert response.headers["upload-offset"] == str(len(envelope))
        # a finished upload still answers HEAD whole (a sender whose reply was lost can check)
        whole = head(relay.http, upload)
        assert whole.headers["upload-offset"] == whole.headers["upload-length"]
    # Then the spool holds it once
    assert len(envelope_files(relay.spool)) == 1


def test_termination_deletes_an_unfinished_upload(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an unfinished upload
    relay = local_relay(desk.public.sign)
    upload = create(relay.http, len(envelope))
    assert patch(relay.http, upload, 0, envelope[:5000]).status_code == 204
    # When the sender terminates it
    assert relay.http.delete(upload, headers=TUS).status_code == 204
    # Then it is gone, bytes and all
    assert head(relay.http, upload).status_code == 404
    assert list((relay.spool / "uploads").iterdir()) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_unfinished_uploads_expire(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an upload that expires an hour after its last activity
    clock = Clock()
    relay = local_relay(desk.public.sign, clock=clock, expiry_s=3600)
    upload = create(relay.http, len(envelope))
    response = patch(relay.http, upload, 0, envelope[:5000])
    assert "GMT" in response.headers["upload-expires"]
    clock.now += 3000  # activity pushed expiry back: still alive
    assert head(relay.http, upload).status_code == 200
    # When an hour passes with nothing more
    clock.now += 3601
    # Then it is gone
    assert head(relay.http, upload).status_code == 410
    assert list((relay.spool / "uploads").iterdir()) == []


# --- limits ---------------------------------------------------------------------------


def test_the_global_rate_limit_answers_429(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay that takes a burst of 3 requests and then hardly any
    relay = local_relay(desk.public.sign, rate_per_s=0.01, rate_burst=3)
    # When 5 come at once
    codes = [relay.http.options("/files").status_code for _ in range(5)]
    # Then the last two are told to retry
    assert codes[:3] == [204, 204, 204]
    assert codes[3:] == [429, 429]
    limited = relay.http.options("/files")
    assert limited.headers["retry-after"] == "1"
    assert "too many requests" in limited.text


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(rate=2.0, burst=2, now=0.0)
    limiter.take(now=0.0)
    limiter.take(now=0.0)
    with pytest.raises(RelayLimitExceeded):
        limiter.take(now=0.1)
    limiter.take(now=0.6)


def _slow_loris(url: str, upload: str, body: bytes, promised: int) -> socket.socket:
    """A raw PATCH that promises ``promised`` bytes and sends only ``body``."""
    port = int(url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(
        (
            f"PATCH {upload} HTTP/1.1\r\nHost: relay\r\n"
            "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: {promised}\r\n\r\n"
        ).encode()
        + body
    )
    return raw


def test_a_stalled_body_is_cut_after_the_idle_timeout_keeping_its_bytes(
    make_relay: Callable[..., Any], desk: DeskIdentity, envelope: bytes
) -> None:
    # a real socket: the server's own handling of a body that stops coming
    relay = make_relay(desk.public.sign, idle_timeout_s=0.3)
    with httpx.Client(base_url=relay.url) as http:
        upload = create(http, len(envelope))
        # Given a slow-loris sender: it promises the whole envelope and sends 4 KiB
        with _slow_loris(relay.url, upload, envelope[:4096], len(envelope)) as raw:
            # Then the relay cuts it after the idle timeout
            answer = raw.recv(200).decode()
        assert answer.startswith("HTTP/1.1 408")
        # and what came was kept
        assert head(http, upload).headers["upload-offset"] == "4096"


def test_concurrent_uploads_are_limited_and_a_returning_sender_takes_over(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = local_relay(desk.public.sign, max_concurrent_uploads=1, idle_timeout_s=30.0)
    first = create(relay.http, len(envelope))
    second = create(relay.http, len(envelope))
    # Given one upload receiving, from a sender whose link died without the relay knowing
    body = HeldBody(envelope[:4096])
    with in_thread(lambda: patch(relay.http, first, 0, body)) as old_request:
        try:
            assert body.waiting.wait(WAIT_S), "the relay never started receiving"
            # Then no other upload may receive meanwhile
            limited = patch(relay.http, second, 0, envelope[:100])
            assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
            # When the sender comes back (HEAD, as after a cut)
            resumed = head(relay.http, first)
            # Then the old request is ended, its bytes kept, and the true offset given
            assert resumed.headers["upload-offset"] == "4096"
            assert old_request.result(timeout=WAIT_S).status_code == 408
        finally:
            body.cut()  # the dead link's sender thread may end
    # and the upload continues from there
    assert patch(relay.http, first, 4096, envelope[4096:]).status_code == 204
    assert patch(relay.http, second, 0, envelope[:100]).status_code == 204


def test_the_relay_answers_others_while_a_finished_upload_is_hashed(
    local_relay: Callable[..., LocalRelay],
    desk: DeskIdentity,
    envelope: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an upload whose last byte makes the relay hash the whole file, with a
    # hash that lasts until this test ends it (as hashing 2 GiB lasts seconds)
    relay = local_relay(desk.public.sign)
    upload, other = create(relay.http, len(envelope)), create(relay.http, len(envelope))
    hashing, may_end = threading.Event(), threading.Event()
    real_hash = spool_module.sha256_file

    def held_hash(path: Path) -> str:
        hashing.set()
        assert may_end.wait(WAIT_S), "the test never let the hash end"
        return real_hash(path)

    monkeypatch.setattr(spool_module, "sha256_file", held_hash)
    with in_thread(lambda: patch(relay.http, upload, 0, envelope)) as finishing:
        try:
            assert hashing.wait(WAIT_S), "the relay never began to hash"
            # When other senders come while the hash runs
            options = relay.http.options("/files")
            resumed = head(relay.http, other)
            fresh = relay.http.post("/files", headers={**TUS, "Upload-Length": "10"})
            # Then they are answered meanwhile (each wait is bounded), the hash still running
            assert (options.status_code, resumed.status_code, fresh.status_code) == (204, 200, 201)
            assert not finishing.done()
        finally:
            may_end.set()
        response = finishing.result(timeout=WAIT_S)
    # and the upload is filed once its hash ends
    assert (response.status_code, response.headers["sijil-stored"]) == (204, "yes")
    [stored] = envelope_files(relay.spool)
    assert stored.stem == hashlib.sha256(envelope).hexdigest()


def test_a_spool_quota_gives_507_and_a_consistent_offset(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given a relay whose spool may hold 250 kB
    relay = local_relay(desk.public.sign, spool_quota_bytes=250_000)
    http = relay.http
    # Then creation that cannot fit is refused at once
    too_big = http.post("/files", headers={**TUS, "Upload-Length": "300000"})
    assert too_big.status_code == 507
    # Then the bytes an unfinished upload declared are reserved: two that each fit,
    # but not together, cannot both be made
    other = create(http, 150_000)
    assert http.post("/files", headers={**TUS, "Upload-Length": "150000"}).status_code == 507
    # Given the spool's room taken meanwhile by something else (a refused upload kept)
    (relay.spool / "rejected" / f"{'0' * 64}.bin").write_bytes(bytes(140_000))
    # When a body fills the quota mid-way
    response = patch(http, other, 0, envelope[:150_000])
    # Then it stops there, with 507 and a part file that is exactly a prefix
    assert response.status_code == 507
    assert "full" in response.text
    offset = int(head(http, other).headers["upload-offset"])
    part = relay.spool / "uploads" / f"{other.rsplit('/', 1)[1]}.part"
    assert part.read_bytes() == envelope[:offset]
    assert envelope_files(relay.spool) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, when this test may mount one (root); skipped otherwise."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_507_not_a_corrupt_file(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity, small_tmpfs: Path
) -> None:
    # Given a relay on a 2 MiB disk
    sender = CorrespondentIdentity.generate()
    big = seal_bytes(sender, desk.public, {"v.jpg": os.urandom(3_000_000)})
    relay = local_relay(desk.public.sign, name=str(small_tmpfs / "spool"))
    upload = create(relay.http, len(big))
    # When a 3 MB envelope is sent
    response = patch(relay.http, upload, 0, big)
    # Then the disk filling gives 507, and the part file is exactly a prefix
    assert response.status_code == 507
    offset = int(head(relay.http, upload).headers["upload-offset"])
    part = small_tmpfs / "spool" / "uploads" / f"{upload.rsplit('/', 1)[1]}.part"
    assert part.read_bytes() == big[:offset]
    assert offset < len(big)


# --- parsers --------------------------------------------------------------------------


@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,12}", fullmatch=True), st.binary(max_size=40), max_size=5
    )
)
def test_metadata_round_trips(pairs: dict[str, bytes]) -> None:
    header = ",".join(f"{k} {base64.b64encode(v).decode()}" for k, v in pairs.items())
    assert tus.parse_metadata(header) == pairs


@given(st.text(max_size=200))
def test_any_metadata_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        tus.parse_metadata(text)
    except RelayProtocolError as exc:
        assert exc.status == 400


@given(st.text(max_size=120))
def test_any_checksum_header_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        checksum = tus.parse_checksum(text)
    except RelayProtocolError as exc:
        assert exc.status == 400
    else:
        assert checksum is not None and checksum.algorithm in tus.CHECKSUM_ALGORITHMS


@given(st.binary(max_size=400))
def test_any_bytes_are_an_envelope_or_refused_with_422(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("check") / "x"
    path.write_bytes(data)
    with pytest.raises(RelayError) as caught:
        check_envelope(path)
    assert caught.value.status == 422


def test_config_refuses_nonsense(tmp_path: Path, desk: DeskIdentity) -> None:
    from sijil.errors import ConfigError

    with pytest.raises(ConfigError):
        RelayConfig(spool=tmp_path, desk_key=desk.public.sign, max_envelope_bytes=0)
    with pytest.raises(ConfigError):
        RelayConfig(spool=tmp_path, desk_key=desk.public.sign, rate_per_s=0)


# --- no addresses, no User-Agents ------------------------------------------------------


def test_the_relay_process_logs_no_address_and_no_user_agent(
    tmp_path: Path, desk: DeskIdentity, envelope: bytes
) -> None:
    # Given a relay started the way an operator starts it
    key_file = tmp_path / "desk.pub"
    key_file.write_bytes(desk.public.to_bytes())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spool = tmp_path / "spool"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sijil.cli.main",
            "relay",
            "serve",
            "--spool",
            str(spool),
            "--desk-key",
            str(key_file),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(500):
            try:
                httpx.options(f"{url}/files", timeout=1)
                break
            except httpx.TransportError:
                proc.poll()
                assert proc.returncode is None
                threading.Event().wait(0.02)
        # When clients with a telling User-Agent upload, fail, and send garbage
        agent = {"User-Agent": "Canary-Agent/9.9 (Raqqa; SM-J200H)"}
        with httpx.Client(base_url=url) as http:
            upload = create(http, len(envelope), **agent)
            patch(http, upload, 0, envelope, **agent)
            patch(http, upload, 0, b"x", **agent)
            http.get("/v1/desk/envelopes", headers=agent)
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"NONSENSE\r\n\r\n")
            raw.recv(100)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    # Then neither the logs nor the spool hold the address or the agent
    logs = (out + err).decode()
    assert "listening on port" in logs
    assert "127.0.0.1" not in logs
    assert "Canary-Agent" not in logs
    for path in spool.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"127.0.0.1" not in data
            assert b"Canary-Agent" not in data
