"""The signed manifest inside an envelope: canonical JSON (RFC 8785), parsed once, validated.

Canonical JSON here is the RFC 8785 subset sijil needs: objects with ASCII keys,
strings, integers, booleans and null. Floats are refused (coordinates travel as
decimal strings), so no number formatting can differ between implementations.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sijil.crypto.canonical import canonical_json
from sijil.errors import MalformedEnvelope, UnknownFormatVersion, UnsafeAttachmentName

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_MANIFEST_BYTES",
    "AttachmentEntry",
    "Location",
    "Manifest",
    "Rekey",
    "SealMode",
    "check_attachment_name",
]

MANIFEST_VERSION = 1
# A report body is text typed on a phone; 1 MiB is hundreds of pages. Anything
# larger is an attack on the desk's memory, refused before it is parsed.
MAX_MANIFEST_BYTES = 1 << 20
# Enough for a day's photos in one report; a cap keeps per-envelope work bounded.
MAX_ATTACHMENTS = 256
# 64 GiB: far past any phone video, small enough to catch a corrupt size field.
MAX_ATTACHMENT_BYTES = 64 << 30
MAX_NAME_BYTES = 255
LANGUAGES = ("ar", "en")
KEY_BYTES = 32
# Databases store years 1..9999 only, and a report cannot predate sijil's format;
# a wider range would let one manifest fail registration after its signature checked.
EARLIEST_CREATED = 2000
LATEST_CREATED = 2999
# Verification mode sends a couple of facts per attachment; more is not a report.
MAX_EXTRA_FIELDS = 4 * 256
_SHA256 = re.compile(r"[0-9a-f]{64}")
# at most 127 characters in all, the width of the desk's column (RFC 6838 allows 127 each)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_DECIMAL = re.compile(r"-?\d{1,3}(\.\d{1,7})?")
# Control characters (Unicode category Cc: C0, DEL, C1). A multi-line text keeps
# newline and tab; a single-line field (a title, a name, a token) keeps none, nor
# the Unicode line and paragraph separators. A NUL stops PostgreSQL, an escape
# sequence drives a terminal, a newline in a title forges a line of output.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# An Ed25519 signature, base64: 64 bytes are 88 characters.
SIGNATURE_BYTES = 64


class SealMode(StrEnum):
    """How the sealing session was unlocked; the manifest's ``mode`` (docs/envelope.md).

    Every value has the same length, so an envelope sealed under duress has exactly
    the size of a normal one: the mark exists only inside the encrypted, signed part.
    """

    NORMAL = "normal"
    DURESS = "duress"


if len({len(mode.value) for mode in SealMode}) != 1:  # pragma: no cover - a coding error
    raise RuntimeError("every seal mode must have the same length")


@dataclass(frozen=True, kw_only=True)
class Rekey:
    """A move to a new pseudonym key, in a manifest signed by the old one.

    ``proof`` is the new key's signature over the rekey context and the old key,
    so the old key cannot hand the correspondent's continuity to a key it does not hold.
    """

    sign_key: str
    reply_key: str
    proof: str

    def __post_init__(self) -> None:
        _key(self.sign_key, "new sender key")
        _key(self.reply_key, "new reply key")
        try:
            raw = base64.b64decode(self.proof, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != SIGNATURE_BYTES:
            raise MalformedEnvelope("the manifest's rekey proof is not a 64-byte signature")

    def to_dict(self) -> dict[str, str]:
        return {"sign_key": self.sign_key, "reply_key": self.reply_key, "proof": self.proof}


def check_attachment_name(name: str) -> str:
    """Return ``name`` if it is safe as a single file name anywhere, else raise."""
    if not isinstance(name, str) or not name:
        raise UnsafeAttachmentName("an attachment has an empty name")
    if name != unicodedata.normalize("NFC", name):
        raise UnsafeAttachmentName("an attachment name is not in Unicode normal form C")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeAttachmentName("an attachment name is longer than 255 bytes")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise UnsafeAttachmentName(f"attachment name {name[:40]!r} contains a path or dot prefix")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in name):
        # Cf covers right-to-left overrides that disguise "gpj.exe" as "exe.jpg".
        raise UnsafeAttachmentName("an attachment name contains control or direction characters")
    return name


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where a report is about, with how precise the correspondent chose to be."""

    lat: str
    lon: str
    precision_m: int

    def __post_init__(self) -> None:
        if not (_DECIMAL.fullmatch(self.lat) and _DECIMAL.fullmatch(self.lon)):
            raise MalformedEnvelope("location must be decimal degrees, e.g. 35.9531")
        if not (-90 <= float(self.lat) <= 90 and -180 <= float(self.lon) <= 180):
            raise MalformedEnvelope("location is outside the globe")
        if not 1 <= self.precision_m <= 1_000_000:
            raise MalformedEnvelope("location precision must be 1 m to 1000 km")


@dataclass(frozen=True, kw_only=True)
class AttachmentEntry:
    name: str
    media_type: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        check_attachment_name(self.name)
        if not _MEDIA_TYPE.fullmatch(self.media_type):
            raise MalformedEnvelope("an attachment has an invalid media type")
        if not 0 <= self.size <= MAX_ATTACHMENT_BYTES:
            raise MalformedEnvelope("an attachment size is out of range")
        if not _SHA256.fullmatch(self.sha256):
            raise MalformedEnvelope("an attachment hash is not a SHA-256 hex digest")


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What a correspondent signs: the report and a list of its files."""

    nonce: str
    created_at: str
    title: str
    body: str
    lang: str
    location: Location | None
    attachments: tuple[AttachmentEntry, ...]
    sign_key: str
    reply_key: str
    enrol_token: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # None only in manifests sealed before the field existed; sijil always writes it
    mode: SealMode | None = None
    rekey: Rekey | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and type(self.mode) is not SealMode:
            raise MalformedEnvelope("the manifest's mode is not one sijil knows")
        if self.lang not in LANGUAGES:
            raise MalformedEnvelope(f"report language must be one of {', '.join(LANGUAGES)}")
        if not self.title.strip():
            raise MalformedEnvelope("a report needs a title")
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise MalformedEnvelope(f"a report may carry at most {MAX_ATTACHMENTS} attachments")
        names = [a.name for a in self.attachments]
        if len(set(names)) != len(names):
            raise UnsafeAttachmentName("two attachments share a name")
        try:
            created = self.created
        except (ValueError, OverflowError) as exc:
            raise MalformedEnvelope("created_at is not an ISO 8601 time") from exc
        if not EARLIEST_CREATED <= created.year <= LATEST_CREATED:
            raise MalformedEnvelope("created_at is outside the years a report can have")
        _key(self.sign_key, "sender key")
        _key(self.reply_key, "reply key")
        _check_line(self.title, "title")
        _check_text(self.body, "body")
        _check_line(self.nonce, "nonce")
        _check_line(self.created_at, "created_at")
        if self.enrol_token is not None:
            _check_line(self.enrol_token, "invite token")
        for key, value in self.extra.items():
            _check_line(key, "report extra's name")
            _check_text(value, f"report extra {key[:40]!r}")

    @property
    def created(self) -> datetime:
        parsed = datetime.fromisoformat(self.created_at)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)

    @property
    def duress(self) -> bool:
        """Sealed by a session unlocked with the duress passphrase."""
        return self.mode is SealMode.DURESS

    def to_dict(self) -> dict[str, Any]:
        return {
            **({} if self.mode is None else {"mode": str(self.mode)}),
            **({} if self.rekey is None else {"rekey": self.rekey.to_dict()}),
            "v": MANIFEST_VERSION,
            "type": "report",
            "nonce": self.nonce,
            "created_at": self.created_at,
            "report": {
                "title": self.title,
                "body": self.body,
                "lang": self.lang,
                "location": None
                if self.location is None
                else {
                    "lat": self.location.lat,
                    "lon": self.location.lon,
                    "precision_m": self.location.precision_m,
                },
                **({"extra": self.extra} if self.extra else {}),
            },
            "attachments": [
                {"name": a.name, "media_type": a.media_type, "size": a.size, "sha256": a.sha256}
                for a in self.attachments
            ],
            "sender": {
                "sign_key": self.sign_key,
                "reply_key": self.reply_key,
                "enrol_token": self.enrol_token,
            },
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse untrusted manifest bytes once, into a validated object."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MalformedEnvelope("the manifest is not valid JSON") from exc
        try:
            if doc["v"] != MANIFEST_VERSION:
                raise UnknownFormatVersion(f"manifest version {doc['v']!r:.10} is not supported")
            if doc.get("type") != "report":
                raise MalformedEnvelope("the manifest is not a report")
            report, sender = doc["report"], doc["sender"]
            loc = report.get("location")
            manifest = cls(
                nonce=_text(doc["nonce"]),
                created_at=_text(doc["created_at"]),
                title=_text(report["title"]),
                body=_text(report["body"]),
                lang=_text(report["lang"]),
                location=None
                if loc is None
                else Location(
                    lat=_text(loc["lat"]),
                    lon=_text(loc["lon"]),
                    precision_m=_int(loc["precision_m"]),
                ),
                attachments=tuple(
                    AttachmentEntry(
                        name=_text(a["name"]),
                        media_type=_text(a["media_type"]),
                        size=_int(a["size"]),
                        sha256=_text(a["sha256"]),
                    )
                    for a in doc["attachments"]
                ),
                sign_key=_text(sender["sign_key"]),
                reply_key=_text(sender["reply_key"]),
                enrol_token=None
                if sender.get("enrol_token") is None
                else _text(sender["enrol_token"]),
                extra=_extra(report.get("extra")),
                mode=_mode(doc.get("mode")),
                rekey=_rekey(doc.get("rekey")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedEnvelope("the manifest lacks a required field") from exc
        try:
            canonical = manifest.to_bytes()
        except (ValueError, UnicodeError) as exc:
            # lone surrogates, non-ASCII keys: JSON allows them, canonical form does not
            raise MalformedEnvelope("the manifest cannot be put in canonical form") from exc
        if canonical != data:
            raise MalformedEnvelope("the manifest is not in canonical form")
        return manifest


def _extra(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEnvelope("the manifest's report extras are not an object")
    if len(value) > MAX_EXTRA_FIELDS:
        raise MalformedEnvelope("the manifest carries too many report extras")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.isascii():
            raise MalformedEnvelope("a report extra has a non-ASCII name")
        out[key] = _text(item)
    return out


def _mode(value: object) -> SealMode | None:
    if value is None:
        return None
    try:
        return SealMode(_text(value))
    except ValueError:
        raise MalformedEnvelope("the manifest's mode is not one sijil knows") from None


def _rekey(value: object) -> Rekey | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"sign_key", "reply_key", "proof"}:
        raise MalformedEnvelope("the manifest's rekey statement is not well formed")
    return Rekey(
        sign_key=_text(value["sign_key"]),
        reply_key=_text(value["reply_key"]),
        proof=_text(value["proof"]),
    )


def _key(value: str, what: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MalformedEnvelope(f"the manifest's {what} is not a 32-byte key")


def _refuse_control(found: re.Match[str] | None, what: str) -> None:
    if found is not None:
        raise MalformedEnvelope(
            f"the report's {what} contains a control character (U+{ord(found.group()):04X})"
        )


def _check_line(value: str, what: str) -> None:
    """A single-line field: no control character at all, no line separator."""
    _refuse_control(_CONTROL_IN_LINE.search(value), what)


def _check_text(value: str, what: str) -> None:
    """A multi-line text: newline and tab, no other control character."""
    _refuse_control(_CONTROL_IN_TEXT.search(value), what)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise MalformedEnvelope("a manifest field that must be text is not")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEnvelope("a manifest field that must be an integer is not")
    return value
