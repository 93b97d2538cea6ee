"""kill -9 of either side mid-upload: the upload resumes from a consistent offset, whole.

Real processes and sockets by nature, so these are slow (``-m "not slow"`` skips them).
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import DeskFixture, RelayHandle
from envelope_helpers import seal_bytes
from relay_helpers import relay_process, wait_until
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose
from sijil.field.home import FieldSession
from sijil.field.send import send_outbox
from sijil.relay.server.lossy import LossyLink

TUS = {"Tus-Resumable": "1.0.0"}


def _part(spool: Path, upload: str) -> Path:
    return spool / "uploads" / f"{upload.rsplit('/', 1)[1]}.part"


def _start_patch(
    url: str, upload: str, offset: int, head: bytes, total: int, extra: str = ""
) -> socket.socket:
    """A PATCH that promises ``total`` bytes, sends ``head`` and then hangs."""
    port = int(url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    path = upload.split(str(port), 1)[1]
    raw.sendall(
        (
            f"PATCH {path} HTTP/1.1\r\nHost: relay\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: {offset}\r\nContent-Length: {total}\r\n{extra}\r\n"
        ).encode()
        + head
    )
    return raw


@pytest.mark.slow
def test_relay_killed_mid_upload_resumes_with_the_right_bytes(tmp_path: Path) -> None:
    desk = DeskIdentity.generate()
    envelope = seal_bytes(
        CorrespondentIdentity.generate(), desk.public, {"v.jpg": os.urandom(3_000_000)}
    )
    desk_pub = tmp_path / "desk.pub"
    desk_pub.write_bytes(desk.public.to_bytes())
    spool = tmp_path / "spool"
    half = len(envelope) // 2
    # Given an upload receiving data when the relay is killed with SIGKILL
    with relay_process(spool, desk_pub) as (url, proc):
        response = httpx.post(f"{url}/files", headers={**TUS, "Upload-Length": str(len(envelope))})
        upload = url + response.headers["location"]
        raw = _start_patch(url, upload, 0, envelope[:half], len(envelope))
        wait_until(lambda: _part(spool, upload).stat().st_size >= half - (1 << 20), "bytes to land")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raw.close()
    # When it restarts on the same spool
    with relay_process(spool, desk_pub) as (url2, _proc):
        upload2 = url2 + "/files/" + upload.rsplit("/", 1)[1]
        offset = int(httpx.head(upload2, headers=TUS).headers["upload-offset"])
        # Then the offset is consistent: exactly the bytes sent, nothing torn
        assert 0 < offset <= half
        assert _part(spool, upload).read_bytes() == envelope[:offset]
        # and the upload completes from there with the right bytes
        rest = httpx.patch(
            upload2,
            content=envelope[offset:],
            headers={
                **TUS,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
            },
        )
        assert rest.status_code == 204
    stored = spool / "envelopes" / f"{hashlib.sha256(envelope).hexdigest()}.age"
    assert stored.read_bytes() == envelope


@pytest.mark.slow
def test_relay_killed_mid_checksummed_patch_rolls_back_to_its_start(tmp_path: Path) -> None:
    desk = DeskIdentity.generate()
    envelope = seal_bytes(
        CorrespondentIdentity.generate(), desk.public, {"v.jpg": os.urandom(3_000_000)}
    )
    desk_pub = tmp_path / "desk.pub"
    desk_pub.write_bytes(desk.public.to_bytes())
    spool = tmp_path / "spool"
    first = 100_000
    # Given an upload whose first 100 kB arrived, and a checksummed PATCH half sent
    # (its bytes cannot be trusted until all arrive) when the relay is killed
    with relay_process(spool, desk_pub) as (url, proc):
        response = httpx.post(f"{url}/files", headers={**TUS, "Upload-Length": str(len(envelope))})
        upload = url + response.headers["location"]
        ok = httpx.patch(
            upload,
            content=envelope[:first],
            headers={
                **TUS,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0",
            },
        )
        assert ok.status_code == 204
        chunk = envelope[first:]
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        raw = _start_patch(
            url,
            upload,
            first,
            chunk[:2_000_000],
            len(chunk),
            extra=f"Upload-Checksum: sha256 {digest}\r\n",
        )
        wait_until(lambda: _part(spool, upload).stat().st_size >= first + (1 << 20), "bytes")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raw.close()
    # When it restarts on the same spool
    with relay_process(spool, desk_pub) as (url2, _proc):
        upload2 = url2 + "/files/" + upload.rsplit("/", 1)[1]
        # Then the half-sent PATCH is rolled back to its start, and can be sent again
        assert httpx.head(upload2, headers=TUS).headers["upload-offset"] == str(first)
        rest = httpx.patch(
            upload2,
            content=chunk,
            headers={
                **TUS,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(first),
                "Upload-Checksum": f"sha256 {digest}",
            },
        )
        assert rest.status_code == 204
    assert (
        spool / "envelopes" / f"{hashlib.sha256(envelope).hexdigest()}.age"
    ).read_bytes() == envelope


@pytest.mark.slow
def test_sender_killed_mid_upload_resumes_on_the_next_run(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    video = tmp_path / "clip.bin"
    video.write_bytes(os.urandom(3_000_000))
    made = compose(session, Draft(title="clip", body="", lang="en"), [video], keep_metadata=True)
    relay = make_relay(identity.public.sign)
    port = int(relay.url.rsplit(":", 1)[1])
    uploads = relay.spool / "uploads"

    def received() -> int:
        return sum(p.stat().st_size for p in uploads.glob("*.part"))

    # Given `sijil field send` running over a slow link (3 MB at 1.5 MB/s), killed with
    # SIGKILL mid-upload, once the relay wrote its first batch (1 MiB) to the spool
    with LossyLink(target_port=port, rate=1_500_000, deadline_s=60) as link:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sijil.cli.main",
                "field",
                "send",
                "--home",
                str(session.home.root),
                "--relay",
                f"http://127.0.0.1:{link.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: received() >= 300_000, "the upload to be under way")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        first_run = link.stats.from_sender
    # Then the outbox remembers the upload, and the next run resumes it
    [entry] = session.load_index()
    assert entry["relay"]["url"].endswith(next(uploads.glob("*.part")).stem)
    [result] = send_outbox(session, relay=relay.url)
    assert result.status == "sent"
    assert result.resumed_from >= 300_000
    stored = relay.spool / "envelopes" / f"{made.envelope_id}.age"
    assert stored.read_bytes() == session.envelope_path(made.envelope_id).read_bytes()
    assert first_run < made.size
