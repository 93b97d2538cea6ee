"""Custody-ledger entries: what happened to which evidence, as canonical JSON.

An entry is RFC 8785 canonical JSON of ``{"v", "seq", "kind", "at", "subject",
"data"}``; those exact bytes are the Merkle leaf. ``seq`` binds the entry to its
position, ``at`` is UTC with microseconds. ``data`` holds identifiers, sizes,
hashes and per-field digests, never report text itself, so an entry shown with
its proof reveals no more than the hashes of what it describes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sijil.crypto.canonical import canonical_json, in_canonical_subset, json_text
from sijil.errors import LedgerError

__all__ = [
    "ENTRY_FORMAT_VERSION",
    "SALT_SIZE",
    "Entry",
    "EntryKind",
    "NewEntry",
    "commit",
    "digest",
    "encode_entry",
    "format_time",
    "new_salt",
    "parse_entry",
]

ENTRY_FORMAT_VERSION = 1


class EntryKind(StrEnum):
    """What an entry records. The values are the strings written in entries: a member is
    never renamed or removed, so every ledger ever written keeps parsing and verifying."""

    ENVELOPE_RECEIVED = "envelope.received"  # a sealed envelope arrived (with its channel)
    ENVELOPE_OPENED = "envelope.opened"  # it opened and its manifest signature verified
    ITEM_REGISTERED = "item.registered"  # its report and attachments became evidence records
    INPUT_QUARANTINED = "input.quarantined"  # an input was kept aside with its reason
    INPUT_RELEASED = "input.released"  # a quarantined input was taken in by a retry
    # a working copy or thumbnail was made from a blob; before MEDIA_MATCHED existed,
    # near-duplicate matches were logged under this kind with data.derived "media.match"
    DERIVATIVE_MADE = "derivative.made"
    MEDIA_MATCHED = "media.matched"  # an attachment looks like an earlier one (sijil.media)
    ASSESSMENT_CHANGED = "assessment.changed"
    PUBLISHED = "published"
    EXPORTED = "exported"  # an evidence package left the desk
    USER_ACTION = "user.action"
    # the desk's keys were rotated: a handover signed by the old and the new signing key
    # (sijil.crypto.handover); heads after it are signed by the new key
    KEY_ROTATED = "key.rotated"


# Subjects are ids and hashes: 64 characters hold a SHA-256 in hex.
MAX_SUBJECT = 64


def format_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(value: object) -> str:
    """SHA-256 (hex) of a value's canonical JSON; floats go in as their repr."""
    if isinstance(value, float):
        value = repr(value)
    return hashlib.sha256(canonical_json(value)).hexdigest()


#: A commitment's salt: 32 random bytes, kept beside the ledger (ledger_salts), never in it.
SALT_SIZE = 32


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


def commit(salt: bytes, value: object) -> str:
    """SHA-256 (hex) of ``salt || canonical JSON of value`` (floats as their repr, as in
    :func:`digest`): without the salt, no one can test a guessed value against it."""
    if isinstance(value, float):
        value = repr(value)
    return hashlib.sha256(salt + canonical_json(value)).hexdigest()


@dataclass(frozen=True, kw_only=True)
class NewEntry:
    kind: EntryKind
    subject: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.kind) is not EntryKind:
            try:  # a plain string naming a kind (scripts, old callers) becomes the member
                object.__setattr__(self, "kind", EntryKind(self.kind))
            except ValueError:
                raise ValueError(f"unknown ledger entry kind {self.kind!r}") from None
        if not 0 < len(self.subject) <= MAX_SUBJECT:
            raise ValueError("a ledger subject is 1-64 characters")


@dataclass(frozen=True, kw_only=True)
class Entry:
    seq: int
    kind: EntryKind
    subject: str
    at: str
    data: dict[str, Any]
    body: bytes


def encode_entry(seq: int, entry: NewEntry, at: datetime | str) -> bytes:
    """The entry's canonical JSON (RFC 8785), keys in their sorted order.

    Written out rather than going through ``canonical_json`` because appends
    are the ledger's hot path; the test suite checks both agree.
    """
    if not in_canonical_subset(entry.data):
        raise ValueError("ledger entry data must be float-free with ASCII keys")
    when = at if isinstance(at, str) else format_time(at)
    return (
        f'{{"at":"{when}","data":{json_text(entry.data)}'
        f',"kind":{json_text(entry.kind)},"seq":{seq:d},'
        f'"subject":{json_text(entry.subject)},"v":{ENTRY_FORMAT_VERSION:d}}}'
    ).encode()


def parse_entry(body: bytes) -> Entry:
    """Parse an entry's bytes; anything not in the exact format is a LedgerError."""
    try:
        doc: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LedgerError("a ledger entry is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("v") != ENTRY_FORMAT_VERSION:
        raise LedgerError("a ledger entry has an unknown format")
    seq, kind, at, subject, data = (doc.get(k) for k in ("seq", "kind", "at", "subject", "data"))
    if not (
        isinstance(seq, int)
        and isinstance(kind, str)
        and isinstance(at, str)
        and isinstance(subject, str)
        and isinstance(data, dict)
    ):
        raise LedgerError("a ledger entry is missing a field")
    try:
        known = EntryKind(kind)
    except ValueError:
        raise LedgerError(f"ledger entry #{seq} has an unknown kind") from None
    try:
        canonical = canonical_json(doc)
    except ValueError as exc:
        raise LedgerError("a ledger entry holds a value canonical JSON refuses") from exc
    if canonical != body:
        raise LedgerError(f"ledger entry #{seq} is not in canonical form")
    return Entry(seq=seq, kind=known, subject=subject, at=at, data=data, body=body)
