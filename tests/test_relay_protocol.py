"""The relay speaks tus 1.0: stock clients work, bad requests get the right 4xx, limits hold."""

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
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from envelope_helpers import seal_bytes
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.errors import RelayError, RelayLimitExceeded, RelayProtocolError
from sijil.relay.protocol import tus
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


def create(url: str, length: int, **headers: str) -> str:
    response = httpx.post(f"{url}/files", headers={**TUS, "Upload-Length": str(length), **headers})
    assert response.status_code == 201, response.text
    return url + response.headers["location"]


def patch(upload: str, offset: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.patch(
        upload, content=body, headers={**OCTETS, "Upload-Offset": str(offset), **headers}
    )


def envelope_files(spool: Path) -> list[Path]:
    return sorted((spool / "envelopes").glob("*.age"))


# --- interop with the stock tus client ------------------------------------------------


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.mark.parametrize("uploader", [Uploader, Sha256Uploader], ids=["sha1", "sha256"])
def test_the_tuspy_client_uploads_in_chunks_with_checksums(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes, uploader: type
) -> None:
    # Given a relay and the stock Python tus client sending 64 KiB chunks with checksums
    relay = make_relay(desk.public.sign)
    client = tus_client.TusClient(f"{relay.url}/files")  # type: ignore[attr-defined]
    # When it uploads an envelope
    up = uploader(
        file_stream=io.BytesIO(envelope), client=client, chunk_size=65536, upload_checksum=True
    )
    up.upload()
    # Then the spool holds it, whole, under its envelope id
    [stored] = envelope_files(relay.spool)  # type: ignore[attr-defined]
    assert stored.read_bytes() == envelope
    assert stored.stem == hashlib.sha256(envelope).hexdigest()


def test_options_advertises_version_extensions_and_limits(
    make_relay: Callable[..., object], desk: DeskIdentity
) -> None:
    relay = make_relay(desk.public.sign, max_envelope_bytes=5_000_000)
    response = httpx.options(f"{relay.url}/files")  # type: ignore[attr-defined]
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
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign, max_envelope_bytes=1_000_000)
    url = relay.url  # type: ignore[attr-defined]
    # no protocol version: 412 and the versions we speak
    response = httpx.post(f"{url}/files", headers={"Upload-Length": "10"})
    assert (response.status_code, response.headers["tus-version"]) == (412, "1.0.0")
    # no length, a bad length, a deferred length, too large, bad metadata
    assert httpx.post(f"{url}/files", headers=TUS).status_code == 400
    assert httpx.post(f"{url}/files", headers={**TUS, "Upload-Length": "-4"}).status_code == 400
    deferred = {**TUS, "Upload-Defer-Length": "1"}
    assert httpx.post(f"{url}/files", headers=deferred).status_code == 400
    too_big = httpx.post(f"{url}/files", headers={**TUS, "Upload-Length": "1000001"})
    assert too_big.status_code == 413
    assert "at most 1000000" in too_big.text
    bad_meta = {**TUS, "Upload-Length": "10", "Upload-Metadata": "envelope %%%"}
    assert httpx.post(f"{url}/files", headers=bad_meta).status_code == 400
    # Given a fresh upload
    upload = create(url, len(envelope))
    # wrong content type, wrong offset, past the end, unknown checksum algorithm
    plain = {**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"}
    assert httpx.patch(upload, content=b"x", headers=plain).status_code == 415
    assert patch(upload, 7, envelope[:10]).status_code == 409
    assert patch(upload, 0, envelope + b"more").status_code == 413
    md5 = {"Upload-Checksum": "md5 " + base64.b64encode(b"0" * 16).decode()}
    assert patch(upload, 0, envelope[:10], **md5).status_code == 400
    # an unknown upload
    assert httpx.head(f"{url}/files/{'0' * 32}", headers=TUS).status_code == 404
    assert httpx.head(f"{url}/files/../../etc", headers=TUS).status_code == 404
    # and nothing of it was kept
    assert httpx.head(upload, headers=TUS).headers["upload-offset"] == "0"


def test_a_checksum_mismatch_is_460_and_the_chunk_is_discarded(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign)
    upload = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    good = base64.b64encode(hashlib.sha256(envelope[:1000]).digest()).decode()
    assert patch(upload, 0, envelope[:1000], **{"Upload-Checksum": f"sha256 {good}"}).status_code == 204
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = patch(upload, 1000, envelope[1000:5000], **{"Upload-Checksum": f"sha256 {wrong}"})
    assert response.status_code == 460
    assert httpx.head(upload, headers=TUS).headers["upload-offset"] == "1000"


def test_garbage_is_refused_at_its_first_bytes_and_kept_with_its_reason(
    make_relay: Callable[..., object], desk: DeskIdentity
) -> None:
    relay = make_relay(desk.public.sign)
    upload = create(relay.url, 100_000)  # type: ignore[attr-defined]
    response = patch(upload, 0, b"GET / HTTP/1.0\r\n" + b"\0" * 1000)
    assert response.status_code == 422
    assert "not a sijil envelope" in response.text
    assert httpx.head(upload, headers=TUS).status_code == 404
    reasons = list((relay.spool / "rejected").glob("*.reason.txt"))  # type: ignore[attr-defined]
    assert len(reasons) == 1
    assert "no age v1 header" in reasons[0].read_text()
    assert envelope_files(relay.spool) == []  # type: ignore[attr-defined]


def test_an_age_header_without_a_whole_payload_is_not_handed_on(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    # Given an envelope cut where no whole age chunk can end (the relay has no key,
    # so the chunk layout is all it can check; a claimed envelope id catches the rest)
    relay = make_relay(desk.public.sign)
    header_end = envelope.index(b"\n", envelope.index(b"\n---")+1) + 1 + 16
    cut = envelope[: header_end + 65552 + 7]
    upload = create(relay.url, len(cut))  # type: ignore[attr-defined]
    response = patch(upload, 0, cut)
    assert response.status_code == 422
    assert envelope_files(relay.spool) == []  # type: ignore[attr-defined]
    assert list((relay.spool / "rejected").glob("*.bin"))  # type: ignore[attr-defined]


def test_a_claimed_envelope_id_is_checked_against_the_bytes(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign)
    claim = base64.b64encode(b"0" * 64).decode()
    upload = create(relay.url, len(envelope), **{"Upload-Metadata": f"envelope {claim}"})  # type: ignore[attr-defined]
    assert patch(upload, 0, envelope).status_code == 460
    assert envelope_files(relay.spool) == []  # type: ignore[attr-defined]
    # kept aside with its reason, never handed on, never silently dropped
    [reason] = (relay.spool / "rejected").glob("*.reason.txt")  # type: ignore[attr-defined]
    assert "differs from its envelope id" in reason.read_text()


def test_a_second_upload_of_the_same_envelope_is_stored_once(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign)
    for _ in range(2):
        upload = create(relay.url, len(envelope))  # type: ignore[attr-defined]
        response = patch(upload, 0, envelope)
        assert response.status_code == 204
        assert response.headers["upload-offset"] == str(len(envelope))
        # a finished upload still answers HEAD whole (a sender whose reply was lost can check)
        head = httpx.head(upload, headers=TUS)
        assert head.headers["upload-offset"] == head.headers["upload-length"]
    assert len(envelope_files(relay.spool)) == 1  # type: ignore[attr-defined]


def test_termination_deletes_an_unfinished_upload(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign)
    upload = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    assert patch(upload, 0, envelope[:5000]).status_code == 204
    assert httpx.delete(upload, headers=TUS).status_code == 204
    assert httpx.head(upload, headers=TUS).status_code == 404
    assert list((relay.spool / "uploads").iterdir()) == []  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_unfinished_uploads_expire(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    clock = Clock()
    relay = make_relay(desk.public.sign, clock=clock, expiry_s=3600)
    upload = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    response = patch(upload, 0, envelope[:5000])
    assert "GMT" in response.headers["upload-expires"]
    clock.now += 3000  # activity pushed expiry back: still alive
    assert httpx.head(upload, headers=TUS).status_code == 200
    clock.now += 3601
    assert httpx.head(upload, headers=TUS).status_code == 410
    assert list((relay.spool / "uploads").iterdir()) == []  # type: ignore[attr-defined]


# --- limits ---------------------------------------------------------------------------


def test_the_global_rate_limit_answers_429(
    make_relay: Callable[..., object], desk: DeskIdentity
) -> None:
    relay = make_relay(desk.public.sign, rate_per_s=0.01, rate_burst=3)
    codes = [httpx.options(f"{relay.url}/files").status_code for _ in range(5)]  # type: ignore[attr-defined]
    assert codes[:3] == [204, 204, 204]
    assert codes[3:] == [429, 429]
    limited = httpx.options(f"{relay.url}/files")  # type: ignore[attr-defined]
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
            f"PATCH {upload.split(str(port), 1)[1]} HTTP/1.1\r\nHost: relay\r\n"
            "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: {promised}\r\n\r\n"
        ).encode()
        + body
    )
    return raw


def test_a_stalled_body_is_cut_after_the_idle_timeout_keeping_its_bytes(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign, idle_timeout_s=1.0)
    upload = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    # Given a slow-loris sender: it promises the whole envelope and sends 4 KiB
    with _slow_loris(relay.url, upload, envelope[:4096], len(envelope)) as raw:  # type: ignore[attr-defined]
        # Then the relay cuts it after the idle timeout
        answer = raw.recv(200).decode()
    assert answer.startswith("HTTP/1.1 408")
    # and what came was kept
    assert httpx.head(upload, headers=TUS).headers["upload-offset"] == "4096"


def test_concurrent_uploads_are_limited_and_a_returning_sender_takes_over(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign, max_concurrent_uploads=1, idle_timeout_s=30.0)
    first = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    second = create(relay.url, len(envelope))  # type: ignore[attr-defined]
    # Given one upload receiving, over a connection the relay does not know is dead
    with _slow_loris(relay.url, first, envelope[:4096], len(envelope)) as raw:  # type: ignore[attr-defined]
        for _ in range(500):  # bounded: until the relay is receiving it
            if patch(second, 0, b"").status_code == 429:
                break
        # Then no other upload may receive meanwhile
        limited = patch(second, 0, envelope[:100])
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
        # When the sender comes back (HEAD, as after a cut)
        head = httpx.head(first, headers=TUS)
        # Then the old request is ended, its bytes kept, and the true offset given
        assert head.headers["upload-offset"] == "4096"
        assert raw.recv(200).decode().startswith("HTTP/1.1 408")
    # and the upload continues from there
    assert patch(first, 4096, envelope[4096:]).status_code == 204
    assert patch(second, 0, envelope[:100]).status_code == 204


def test_a_spool_quota_gives_507_and_a_consistent_offset(
    make_relay: Callable[..., object], desk: DeskIdentity, envelope: bytes
) -> None:
    relay = make_relay(desk.public.sign, spool_quota_bytes=250_000)
    # creation that cannot fit is refused at once
    too_big = httpx.post(f"{relay.url}/files", headers={**TUS, "Upload-Length": "300000"})  # type: ignore[attr-defined]
    assert too_big.status_code == 507
    # two uploads that each fit, but not together
    upload = create(relay.url, 150_000)  # type: ignore[attr-defined]
    other = create(relay.url, 150_000)  # type: ignore[attr-defined]
    assert patch(upload, 0, envelope[:140_000]).status_code == 204
    # a body that fills the quota mid-way stops there
    response = patch(other, 0, envelope[:150_000])
    assert response.status_code == 507
    assert "full" in response.text
    offset = int(httpx.head(other, headers=TUS).headers["upload-offset"])
    assert (relay.spool / "uploads" / f"{other.rsplit('/', 1)[1]}.part").read_bytes() == envelope[:offset]  # type: ignore[attr-defined]
    assert envelope_files(relay.spool) == []  # type: ignore[attr-defined]


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
    make_relay: Callable[..., object], desk: DeskIdentity, small_tmpfs: Path
) -> None:
    sender = CorrespondentIdentity.generate()
    big = seal_bytes(sender, desk.public, {"v.jpg": os.urandom(3_000_000)})
    relay = make_relay(desk.public.sign, name=str(small_tmpfs / "spool"))
    upload = create(relay.url, len(big))  # type: ignore[attr-defined]
    response = patch(upload, 0, big)
    assert response.status_code == 507
    offset = int(httpx.head(upload, headers=TUS).headers["upload-offset"])
    part = small_tmpfs / "spool" / "uploads" / f"{upload.rsplit('/', 1)[1]}.part"
    assert part.read_bytes() == big[:offset]
    assert offset < len(big)


# --- parsers --------------------------------------------------------------------------


@given(st.dictionaries(st.from_regex(r"[a-z]{1,12}", fullmatch=True), st.binary(max_size=40), max_size=5))
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
def test_any_bytes_are_an_envelope_or_refused_with_422(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
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
        [sys.executable, "-m", "sijil.cli.main", "relay", "serve", "--spool", str(spool),
         "--desk-key", str(key_file), "--port", str(port)],
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
        upload = create(url, len(envelope), **agent)
        patch(upload, 0, envelope, **agent)
        patch(upload, 0, b"x", **agent)
        httpx.get(f"{url}/v1/desk/envelopes", headers=agent)
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
