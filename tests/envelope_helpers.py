"""Builders for envelopes, including deliberately broken ones."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import CorrespondentIdentity, DeskPublic
from sijil.envelope.age import AgeWriter
from sijil.envelope.sealing import (
    FORMAT_LINE,
    SIGN_CONTEXT,
    AttachmentSource,
    Draft,
    OpenedEnvelope,
    open_envelope,
    seal,
)


def seal_bytes(
    sender: CorrespondentIdentity,
    desk: DeskPublic,
    files: dict[str, bytes] | None = None,
    *,
    title: str = "Airstrike near the bakery",
    body: str = "Three buildings hit at 03:10.",
    lang: str = "en",
) -> bytes:
    out = io.BytesIO()
    sources = [
        AttachmentSource(name=name, media_type="image/jpeg", stream=io.BytesIO(data))
        for name, data in (files or {}).items()
    ]
    seal(Draft(title=title, body=body, lang=lang), sources, sender=sender, desk=desk, out=out)
    return out.getvalue()


def open_bytes(data: bytes, identity: X25519PrivateKey, staging: Path) -> OpenedEnvelope:
    staging.mkdir(parents=True, exist_ok=True)
    return open_envelope(io.BytesIO(data), identity=identity, staging=staging)


def raw_envelope(
    desk: DeskPublic,
    manifest: bytes,
    signature: bytes,
    payload: bytes = b"",
    *,
    format_line: bytes = FORMAT_LINE,
    length: int | None = None,
) -> bytes:
    """An envelope whose inner layout is exactly what the caller says, valid or not."""
    out = io.BytesIO()
    writer = AgeWriter(out, desk.age)
    size = len(manifest) if length is None else length
    writer.write(format_line + size.to_bytes(4, "big") + manifest + signature + payload)
    writer.close()
    return out.getvalue()


def sign(sender: CorrespondentIdentity, manifest: bytes) -> bytes:
    return sender.sign.sign(SIGN_CONTEXT + manifest)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
