"""Desk work in the custody ledger: every change appends an entry in its own transaction.

A desk change starts with :func:`begin_change`, which takes the ledger's write
lock before anything is read: writers (intake, other editors, other processes)
take turns, so what a change checks is still true when it commits, and its entry
commits with it or not at all. Entries carry ids, codes and digests, never the
desk's text: a proof of an entry reveals no more than hashes of what it describes.

Entry kinds: assessment proposals and reviews are ``assessment.changed``; every
other desk change (incidents, revisions, evidence, attribution, users, places,
actors) is ``user.action``, with ``data.action`` naming it (``incident.created``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry
from sijil.store import utcnow

__all__ = ["Clock", "begin_change", "canonical_sha256", "record", "utcnow"]

#: Where desk functions get the time; tests pass a fixed one.
Clock = Callable[[], datetime]


def begin_change(session: Session) -> None:
    """Take the ledger's write lock for this transaction (call before reading what you change)."""
    ledger_log.lock(session)


def canonical_sha256(value: Any) -> str:
    """Hex SHA-256 of ``value``'s canonical JSON (floats are refused)."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def record(
    session: Session,
    *,
    action: str,
    subject: str,
    by: int | None,
    data: dict[str, Any],
    at: datetime,
    assessment: bool = False,
) -> int:
    """Append one desk entry; return its sequence number."""
    kind = EntryKind.ASSESSMENT_CHANGED if assessment else EntryKind.USER_ACTION
    entry = NewEntry(kind=kind, subject=subject, data={"action": action, "by": by, **data})
    (seq,) = ledger_log.append(session, [entry], at=at)
    return seq
