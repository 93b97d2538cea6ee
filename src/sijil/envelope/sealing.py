"""Sealing and opening envelopes, streaming, in bounded memory.

Plaintext inside the age layer::

    b"SIJIL/1\\n"                      format line
    uint32 big-endian                  manifest length
    manifest                           canonical JSON (see manifest.py)
    64 bytes                           Ed25519 signature over SIGN_CONTEXT || manifest
    attachment 1 .. attachment n       raw bytes, in manifest order, sizes as listed

An envelope's identity is the SHA-256 of its whole ciphertext (see docs/envelope.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import CorrespondentIdentity, DeskPublic, b64, raw_public, unb64
from sijil.envelope.age import AgeReader, AgeWriter, Readable, Writable
from sijil.envelope.hashing import BackgroundSha256
from sijil.envelope.manifest import (
    MAX_MANIFEST_BYTES,
    AttachmentEntry,
    Location,
    Manifest,
    Rekey,
    SealMode,
)
from sijil.errors import (
    AttachmentHashMismatch,
    BadSignature,
    ConfigError,
    KeyFileError,
    MalformedEnvelope,
    ManifestTooLarge,
    UnknownFormatVersion,
)
from sijil.fsutil import sha256_file

__all__ = [
    "AttachmentSink",
    "AttachmentSource",
    "Draft",
    "OpenedAttachment",
    "OpenedEnvelope",
    "Sealed",
    "envelope_id_of",
    "open_envelope",
    "seal",
]

FORMAT_LINE = b"SIJIL/1\n"
SIGN_CONTEXT = b"sijil-manifest/1\x00"
IO_BLOCK = 1 << 20  # 1 MiB reads: large enough for throughput, small for memory


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A report as the correspondent composed it, before sealing."""

    title: str
    body: str
    lang: str = "ar"
    location: Location | None = None
    created_at: datetime | None = None
    # Signed, sealed key/value facts (manifest ``report.extra``), e.g. the
    # capture time and place that verification mode reads from the files.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AttachmentSource:
    """A file to seal. ``stream`` must be seekable and must not change while sealing."""

    name: str
    media_type: str
    stream: BinaryIO


@dataclass(frozen=True, kw_only=True)
class Sealed:
    envelope_id: str
    size: int
    manifest: Manifest


@dataclass(frozen=True, kw_only=True)
class OpenedAttachment:
    entry: AttachmentEntry
    # a verified temporary file the caller moves into storage (``staging``), or None
    # when the attachment went to the caller's sink
    path: Path | None = None


AttachmentSink = Callable[[AttachmentEntry], Callable[[bytes], object]]
"""Given an attachment's entry, the function its plaintext is written to, block by block.

What the sink wrote is the caller's to keep or drop: :func:`open_envelope` returns
only once every attachment verified against the signed manifest, and raises otherwise.
"""


@dataclass(frozen=True, kw_only=True)
class OpenedEnvelope:
    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes
    sender: Ed25519PublicKey
    attachments: tuple[OpenedAttachment, ...]


class _HashingWriter:
    def __init__(self, out: Writable, hasher: BackgroundSha256) -> None:
        self._out = out
        self.hash = hasher
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._out.write(data)


def _digest(stream: BinaryIO) -> tuple[str, int]:
    stream.seek(0)
    h = hashlib.sha256()
    size = 0
    while block := stream.read(IO_BLOCK):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def seal(
    draft: Draft,
    attachments: Sequence[AttachmentSource],
    *,
    sender: CorrespondentIdentity,
    desk: DeskPublic,
    out: Writable,
    enrol_token: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    mode: SealMode = SealMode.NORMAL,
    rekey: Rekey | None = None,
) -> Sealed:
    """Sign and seal a report with its attachments to the desk; write the envelope to ``out``.

    ``mode`` is written into every manifest (same length whatever its value), so an
    envelope sealed under duress differs from a normal one only inside the encryption.
    """
    entries = []
    for source in attachments:
        sha, size = _digest(source.stream)
        entries.append(
            AttachmentEntry(name=source.name, media_type=source.media_type, size=size, sha256=sha)
        )
    created = (draft.created_at or clock()).astimezone(UTC).replace(microsecond=0)
    manifest = Manifest(
        nonce=secrets.token_hex(16),
        created_at=created.isoformat().replace("+00:00", "Z"),
        title=draft.title,
        body=draft.body,
        lang=draft.lang,
        location=draft.location,
        attachments=tuple(entries),
        sign_key=b64(raw_public(sender.sign.public_key())),
        reply_key=b64(raw_public(sender.box.public_key())),
        enrol_token=enrol_token,
        extra=dict(draft.extra),
        mode=mode,
        rekey=rekey,
    )
    manifest_bytes = manifest.to_bytes()
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge("the report text is too long to seal (limit 1 MiB)")
    signature = sender.sign.sign(SIGN_CONTEXT + manifest_bytes)
    with BackgroundSha256() as hasher:
        sink = _HashingWriter(out, hasher)
        writer = AgeWriter(sink, desk.age)
        header = FORMAT_LINE + len(manifest_bytes).to_bytes(4, "big") + manifest_bytes
        writer.write(header + signature)
        for source, entry in zip(attachments, entries, strict=True):
            source.stream.seek(0)
            copied = 0
            while block := source.stream.read(IO_BLOCK):
                copied += len(block)
                writer.write(block)
            if copied != entry.size:
                raise ConfigError(f"attachment {entry.name!r} changed while it was being sealed")
        writer.close()
        envelope_id = hasher.hexdigest()
    return Sealed(envelope_id=envelope_id, size=sink.size, manifest=manifest)


def envelope_id_of(path: Path) -> str:
    """The envelope's identity: SHA-256 of its ciphertext, hex."""
    return sha256_file(path)


def _read_manifest(reader: AgeReader) -> tuple[Manifest, bytes, bytes, Ed25519PublicKey]:
    line = reader.read(len(FORMAT_LINE))
    if line != FORMAT_LINE:
        if line.startswith(b"SIJIL/") and line.endswith(b"\n"):
            raise UnknownFormatVersion(
                f"envelope format {line[6:-1].decode('ascii', 'replace')!r}"
                " is not supported by this sijil"
            )
        raise MalformedEnvelope("the envelope does not contain a sijil report")
    length = int.from_bytes(reader.read_exact(4), "big")
    if length > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"the manifest is {length} bytes; the limit is {MAX_MANIFEST_BYTES}")
    manifest_bytes = reader.read_exact(length)
    signature = reader.read_exact(64)
    manifest = Manifest.from_bytes(manifest_bytes)
    try:
        sender = Ed25519PublicKey.from_public_bytes(
            unb64(manifest.sign_key, size=32, what="sender key")
        )
        sender.verify(signature, SIGN_CONTEXT + manifest_bytes)
    except (InvalidSignature, KeyFileError) as exc:
        raise BadSignature(
            "the report's signature does not verify: it was not signed by the key it names"
        ) from exc
    return manifest, manifest_bytes, signature, sender


def open_envelope(
    src: Readable,
    *,
    identity: X25519PrivateKey,
    staging: Path | None = None,
    sink: AttachmentSink | None = None,
) -> OpenedEnvelope:
    """Decrypt, verify the signature and every attachment hash, streaming each attachment.

    Each attachment goes, block by block (bounded memory), to ``sink`` (the desk
    streams it into its encrypted vault, so no plaintext is written anywhere), or
    else to a temporary file in ``staging``. Nothing is returned unless everything
    verified; on any error the temporary files are removed (what a sink took is the
    caller's to drop) and a typed EnvelopeError says what was wrong.
    """
    if (staging is None) == (sink is None):
        raise ValueError("open_envelope needs exactly one of staging and sink")
    reader = AgeReader(src, identity)
    manifest, manifest_bytes, signature, sender = _read_manifest(reader)
    opened: list[OpenedAttachment] = []
    try:
        for entry in manifest.attachments:
            if sink is not None:
                opened.append(OpenedAttachment(entry=entry))
                _copy_attachment(reader, entry, sink(entry))
                continue
            fd, name = tempfile.mkstemp(prefix=".open-", dir=staging)
            path = Path(name)
            opened.append(OpenedAttachment(entry=entry, path=path))
            with os.fdopen(fd, "wb") as handle:
                _copy_attachment(reader, entry, handle.write)
                handle.flush()
                os.fsync(handle.fileno())
        if not reader.at_end():
            raise MalformedEnvelope("the envelope carries data after its last attachment")
    except BaseException:
        for item in opened:
            if item.path is not None:
                item.path.unlink(missing_ok=True)
        raise
    return OpenedEnvelope(
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        signature=signature,
        sender=sender,
        attachments=tuple(opened),
    )


def _copy_attachment(
    reader: AgeReader, entry: AttachmentEntry, write: Callable[[bytes], object]
) -> None:
    """Copy one attachment's bytes to ``write``, checking its size and hash."""
    with BackgroundSha256() as h:
        remaining = entry.size
        while remaining:
            block = reader.read(min(IO_BLOCK, remaining))
            if not block:
                break
            h.update(block)
            write(block)
            remaining -= len(block)
        digest = h.hexdigest()
    if remaining:
        raise MalformedEnvelope(f"attachment {entry.name!r} is shorter than its manifest says")
    if digest != entry.sha256:
        raise AttachmentHashMismatch(
            f"attachment {entry.name!r} does not match the hash in the signed manifest"
        )
