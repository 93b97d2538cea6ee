"""The tus 1.0 resumable-upload protocol: header parsing and the rules of each request.

Pure functions over header mappings; no I/O. The ASGI shell in ``app.py`` calls
them, and every refusal is a typed :class:`~sijil.errors.RelayError` carrying the
status code the tus specification names for it.

Extensions served: creation, checksum (sha256; sha1 too, because that is what
most stock tus clients send), termination and expiration.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from sijil.errors import RelayLimitExceeded, RelayProtocolError

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "DEFAULT_MAX_ENVELOPE_BYTES",
    "EXTENSIONS",
    "OFFSET_CONTENT_TYPE",
    "STORED_HEADER",
    "STORED_YES",
    "TUS_VERSION",
    "Checksum",
    "Creation",
    "http_date",
    "parse_checksum",
    "parse_creation",
    "parse_patch",
    "require_version",
]

# A phone video of a few minutes; larger files should travel on a USB stick. Both
# ends use it: the relay refuses larger uploads, the desk refuses larger pulls.
DEFAULT_MAX_ENVELOPE_BYTES = 2 << 30
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# Ours, not tus: on a PATCH or HEAD answer, the upload is checked and filed as an
# envelope. A whole offset alone is not delivery (filing can still fail or be cut).
STORED_HEADER = "Sijil-Stored"
STORED_YES = "yes"
# tus status codes that HTTP does not name
CHECKSUM_MISMATCH = 460
# Upload-Metadata is a handful of short pairs; a long one is an attack on parsing.
MAX_METADATA_CHARS = 4096
_DIGITS = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")


@dataclass(frozen=True, kw_only=True)
class Creation:
    """A validated creation request."""

    length: int
    metadata: dict[str, bytes]

    @property
    def claimed_id(self) -> str | None:
        """The envelope id (SHA-256 hex) the sender says the whole upload has, if any."""
        raw = self.metadata.get("envelope")
        if raw is None:
            return None
        text = raw.decode("ascii", "replace")
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise RelayProtocolError("Upload-Metadata 'envelope' must be a SHA-256 in hex")
        return text


@dataclass(frozen=True, kw_only=True)
class Checksum:
    algorithm: str
    digest: bytes

    def new(self) -> hashlib._Hash:
        return CHECKSUM_ALGORITHMS[self.algorithm]()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower())
    return None if value is None else value.strip()


def _non_negative(value: str | None, name: str) -> int:
    if value is None:
        raise RelayProtocolError(f"{name} header is missing")
    if not _DIGITS.fullmatch(value):
        raise RelayProtocolError(f"{name} must be a non-negative integer")
    return int(value)


def require_version(headers: Mapping[str, str]) -> None:
    """Every request but OPTIONS names the protocol version; only 1.0.0 is spoken."""
    if _header(headers, "Tus-Resumable") != TUS_VERSION:
        raise RelayProtocolError(f"Tus-Resumable must be {TUS_VERSION}", status=412)


def parse_metadata(value: str | None) -> dict[str, bytes]:
    if not value:
        return {}
    if len(value) > MAX_METADATA_CHARS:
        raise RelayProtocolError("Upload-Metadata is too long")
    out: dict[str, bytes] = {}
    for pair in value.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not _KEY.fullmatch(key) or key in out:
            raise RelayProtocolError("Upload-Metadata has a bad or repeated key")
        try:
            out[key] = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RelayProtocolError("Upload-Metadata values must be base64") from exc
    return out


def parse_creation(headers: Mapping[str, str], *, max_size: int) -> Creation:
    """POST: Upload-Length is required (deferred lengths are not offered)."""
    require_version(headers)
    if _header(headers, "Upload-Defer-Length") is not None:
        raise RelayProtocolError("deferred upload lengths are not supported")
    if _header(headers, "Upload-Concat") is not None:
        raise RelayProtocolError("concatenation is not supported")
    length = _non_negative(_header(headers, "Upload-Length"), "Upload-Length")
    if length > max_size:
        raise RelayLimitExceeded(
            f"the upload is {length} bytes; this relay takes at most {max_size}", status=413
        )
    body = _header(headers, "Content-Length")
    if body not in (None, "0"):
        raise RelayProtocolError("creation with upload is not supported; send a PATCH")
    creation = Creation(length=length, metadata=parse_metadata(_header(headers, "Upload-Metadata")))
    _ = creation.claimed_id  # validate once at the edge
    return creation


def parse_checksum(value: str | None) -> Checksum | None:
    if value is None:
        return None
    algorithm, _, encoded = value.partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise RelayProtocolError(f"checksum algorithm {algorithm[:16]!r} is not supported")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RelayProtocolError("Upload-Checksum must be base64") from exc
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise RelayProtocolError("Upload-Checksum has the wrong length")
    return Checksum(algorithm=algorithm, digest=digest)


@dataclass(frozen=True, kw_only=True)
class Patch:
    offset: int
    body_length: int | None
    checksum: Checksum | None


def parse_patch(headers: Mapping[str, str], *, current: int, length: int) -> Patch:
    """PATCH: the right content type, the current offset, a body that fits."""
    require_version(headers)
    content_type = (_header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != OFFSET_CONTENT_TYPE:
        raise RelayProtocolError(f"Content-Type must be {OFFSET_CONTENT_TYPE}", status=415)
    offset = _non_negative(_header(headers, "Upload-Offset"), "Upload-Offset")
    if offset != current:
        raise RelayProtocolError(
            f"Upload-Offset {offset} does not match the upload's offset {current}", status=409
        )
    raw_length = _header(headers, "Content-Length")
    body_length = None if raw_length is None else _non_negative(raw_length, "Content-Length")
    if body_length is not None and offset + body_length > length:
        raise RelayProtocolError("the body runs past Upload-Length", status=413)
    return Patch(
        offset=offset,
        body_length=body_length,
        checksum=parse_checksum(_header(headers, "Upload-Checksum")),
    )


def http_date(timestamp: float) -> str:
    """RFC 7231 date, as Upload-Expires wants."""
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)
