"""The fuzz targets: each takes one input (bytes) and must end in a typed sijil error or not at all.

A target calls one parser the way an attacker reaches it (an envelope through the
relay, a shard pasted into a chat, a tus or desk request's headers, a file handed to
the scrubber, an evidence package given to the standalone verifier). An exception
outside the expected set for the target is a finding: libFuzzer saves the input and
``fuzz/run.py`` stops. Expected: sijil's own exception tree (one-line typed errors);
for the verifier, nothing at all (it reports problems, never raises).

Imported under ``atheris.instrument_imports()`` by ``fuzz/run.py`` so that every
sijil module is coverage-instrumented; importing it plainly (the regression tests
do) runs the same code without instrumentation.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.envelope.age import AgeWriter, read_header
from sijil.envelope.manifest import Manifest
from sijil.envelope.sealing import open_envelope
from sijil.envelope.shards import group, parse_text, rebuild
from sijil.errors import SijilError
from sijil.export import verifier
from sijil.relay.protocol import tus
from sijil.relay.protocol.auth import (
    ChallengeIssuer,
    ReplayGuard,
    body_digest,
    check_desk_headers,
    verify_desk_request,
)
from sijil.scrub import REGISTRY
from sijil.scrub._source import ByteSource, Output

__all__ = ["TARGETS", "Target", "headers_from"]

# Fixed keys: fuzzing must be reproducible, and none of these keys protects anything.
_DESK_AGE = X25519PrivateKey.from_private_bytes(bytes(range(32)))
_DESK_SIGN = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
# The relay's clock during desk-request fuzzing: a fixed instant, so inputs replay.
_NOW = 1_800_000_000.0
# A scrubbed copy of a fuzz input is thrown away; cap what one input may write.
_SCRATCH = Path(tempfile.mkdtemp(prefix="sijil-fuzz-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], None]
    # libFuzzer -max_len: inputs longer than this are not generated (each parser's
    # interesting structure is in its first kilobytes; big inputs only slow a run)
    max_len: int
    # formats of /work/shared/corpus files used as seeds (scrub targets)
    formats: tuple[str, ...] = ()


def headers_from(data: bytes) -> dict[str, str]:
    """Lower-cased header mapping from ``name: value`` lines, as a server hands them on."""
    out: dict[str, str] = {}
    for line in data.decode("latin-1").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def envelope(data: bytes) -> None:
    """The outer age header (as the relay parses it) and the whole opening path."""
    with contextlib.suppress(SijilError):
        read_header(io.BytesIO(data))
    with contextlib.suppress(SijilError):
        open_envelope(io.BytesIO(data), identity=_DESK_AGE, staging=_SCRATCH)


def envelope_inner(data: bytes) -> None:
    """The inner layout (format line, manifest, signature, attachments) behind a valid
    age layer: the fuzzer's bytes are sealed to the desk key, then opened."""
    out = io.BytesIO()
    writer = AgeWriter(out, _DESK_AGE.public_key())
    writer.write(data)
    writer.close()
    out.seek(0)
    with contextlib.suppress(SijilError):
        open_envelope(out, identity=_DESK_AGE, staging=_SCRATCH)


def manifest(data: bytes) -> None:
    try:
        parsed = Manifest.from_bytes(data)
    except SijilError:
        return
    if Manifest.from_bytes(parsed.to_bytes()) != parsed:
        raise AssertionError("a manifest must round-trip")


def shards(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    with contextlib.suppress(SijilError):
        found, _problems = parse_text(text)
        for pieces in group(found).values():
            rebuild(pieces)


def tus_requests(data: bytes) -> None:
    headers = headers_from(data)
    for call in (
        lambda: tus.parse_creation(headers, max_size=tus.DEFAULT_MAX_ENVELOPE_BYTES),
        lambda: tus.parse_patch(headers, current=0, length=1 << 20),
        lambda: tus.parse_checksum(headers.get("upload-checksum")),
        lambda: tus.parse_metadata(headers.get("upload-metadata")),
    ):
        with contextlib.suppress(SijilError):
            call()


_ISSUER = ChallengeIssuer()


def desk_requests(data: bytes) -> None:
    """The desk's signed requests and the mailbox proofs, as the relay checks them."""
    head, _, body = data.partition(b"\n\n")
    headers = headers_from(head)
    guard = ReplayGuard()
    with contextlib.suppress(SijilError):
        check_desk_headers(headers, now=_NOW, guard=guard)
        verify_desk_request(
            headers,
            key=_DESK_SIGN.public_key(),
            method="GET",
            path="/v1/desk/envelopes",
            digest=body_digest(body),
            now=_NOW,
            guard=guard,
        )
    with contextlib.suppress(SijilError):
        _ISSUER.check(headers, box="0" * 64, method="GET", path="/v1/mailbox/x", now=_NOW)


def _scrubber(fmt: str) -> Callable[[bytes], None]:
    cleaner = REGISTRY[fmt]

    def run(data: bytes) -> None:
        with tempfile.TemporaryFile(dir=_SCRATCH) as sink, contextlib.suppress(SijilError):
            cleaner.clean(ByteSource(io.BytesIO(data), cleaner.max_bytes), Output(sink))

    return run


_VERIFIER_DIR = _SCRATCH
_DESK_PUB = Path(__file__).with_name("seeds") / "verifier-desk.pub"


def package(data: bytes) -> None:
    """The standalone verifier never raises: every problem is a line in its report."""
    path = _VERIFIER_DIR / "package.zip"
    path.write_bytes(data)
    verifier.verify_package(path, _DESK_PUB)


# ffmpeg-backed cleaners (mp4, mov, ogg) run a process per input: a few runs per
# second, still worth having, but with small inputs only.
_SCRUB_MAX = {"mp4": 8192, "mov": 8192, "ogg": 8192}
_SCRUB_SEEDS = {
    "jpeg": ("jpg", "jpeg"),
    "tiff": ("tif", "tiff"),
    "heic": ("heic",),
    "avif": ("avif",),
}

TARGETS: dict[str, Target] = {
    "envelope": Target(envelope, 1 << 14),
    "envelope_inner": Target(envelope_inner, 1 << 14),
    "manifest": Target(manifest, 1 << 13),
    "shards": Target(shards, 1 << 14),
    "tus": Target(tus_requests, 1 << 12),
    "desk_request": Target(desk_requests, 1 << 12),
    "verifier": Target(package, 1 << 16),
    **{
        f"scrub_{fmt}": Target(
            _scrubber(fmt), _SCRUB_MAX.get(fmt, 1 << 16), _SCRUB_SEEDS.get(fmt, (fmt,))
        )
        for fmt in REGISTRY
    },
}
