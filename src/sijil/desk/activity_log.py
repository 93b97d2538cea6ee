"""The web app's activity log: who signed in, failed to, read a report, searched.

Append-only and hash-chained: entry *n*'s digest is SHA-256 of entry *n-1*'s
digest followed by the canonical JSON of ``{seq, at, user, action, object}``, and
``web_activity_head`` (one row, locked for each append) holds the newest. A row
changed, removed or inserted behind the log's back breaks the chain from there
on, and ``sijil verify`` says where (``audit_activity``). No entry holds an IP
address, a user agent or a query's place: a seized desk must not tell where its
editors sit. A search is logged by the digest of its words, not the words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.desk.custody import Clock, utcnow
from sijil.desk.users import user_name
from sijil.errors import DeskError
from sijil.store import ActivityEntry, ActivityHead

__all__ = [
    "ACTIONS",
    "GENESIS",
    "ActivityAudit",
    "ActivityRow",
    "audit_activity",
    "log_activity",
    "recent_activity",
    "search_object",
]

GENESIS = "0" * 64
#: What the log records; anything else is a programming error, refused.
ACTIONS = frozenset(
    {
        "login",
        "login.failed",
        "logout",
        "enrol",
        "enrol.failed",
        "enrol.issued",
        "report.view",
        "search",
        "language",
        "incident.create",
        "incident.edit",
        "incident.attribute",
        "evidence.link",
        "assessment.propose",
        "assessment.review",
        "user.added",
        "user.roles",
        "user.removed",
        "reply.sent",
        "key.added",
        "key.removed",
    }
)
#: An object is a short reference (``report:12``, ``user:3``, ``query:<digest>``).
MAX_OBJECT = 128
#: The log page shows this many entries at most (a newer page by ``before``).
PAGE = 100
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _digest(previous: str, seq: int, at: datetime, user: int | None, action: str, obj: str) -> str:
    body = canonical_json(
        {"seq": seq, "at": at.strftime(_TIME_FORMAT), "user": user, "action": action, "object": obj}
    )
    return hashlib.sha256(bytes.fromhex(previous) + body).hexdigest()


def search_object(query_text: str) -> str:
    """What the log keeps of a search: a digest of its words, never the words."""
    return "query:" + hashlib.sha256(query_text.encode("utf-8", "replace")).hexdigest()[:32]


def log_activity(
    session: Session,
    *,
    user_id: int | None,
    action: str,
    obj: str,
    clock: Clock = utcnow,
) -> int:
    """Append one entry in the caller's transaction; return its sequence number."""
    if action not in ACTIONS:
        raise DeskError(f"unknown activity {action!r}")
    if len(obj) > MAX_OBJECT:
        raise DeskError("an activity object is a short reference")
    head = session.scalars(
        select(ActivityHead).where(ActivityHead.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        raise DeskError("the activity log has no head row (is the database migrated?)")
    at = clock()
    seq = head.seq + 1
    digest = _digest(head.digest, seq, at, user_id, action, obj)
    session.add(
        ActivityEntry(seq=seq, at=at, user_id=user_id, action=action, object=obj, digest=digest)
    )
    head.seq, head.digest = seq, digest
    session.flush()
    return seq


@dataclass(frozen=True, kw_only=True)
class ActivityRow:
    seq: int
    at: datetime
    user: str | None
    action: str
    object: str


def recent_activity(session: Session, *, before: int | None = None) -> list[ActivityRow]:
    """The newest ``PAGE`` entries (older than ``before`` when given), newest first."""
    query = select(ActivityEntry).order_by(ActivityEntry.seq.desc()).limit(PAGE)
    if before is not None:
        query = query.where(ActivityEntry.seq < before)
    names: dict[int, str | None] = {}
    rows = []
    for entry in session.scalars(query):
        if entry.user_id is not None and entry.user_id not in names:
            names[entry.user_id] = user_name(session, entry.user_id)
        rows.append(
            ActivityRow(
                seq=entry.seq,
                at=entry.at,
                user=None if entry.user_id is None else names[entry.user_id],
                action=entry.action,
                object=entry.object,
            )
        )
    return rows


@dataclass
class ActivityAudit:
    records: int = 0  # entries checked (``sijil verify`` counts them with the desk's records)
    problems: list[str] = field(default_factory=list)


def audit_activity(session: Session) -> ActivityAudit:
    """Walk the chain from the start; name the first entry that does not follow."""
    audit = ActivityAudit()
    previous, expected_seq = GENESIS, 1
    for entry in session.scalars(select(ActivityEntry).order_by(ActivityEntry.seq)):
        audit.records += 1
        if entry.seq != expected_seq:
            audit.problems.append(
                f"activity log: entry {expected_seq} is missing (the next is {entry.seq})"
            )
            return audit
        want = _digest(previous, entry.seq, entry.at, entry.user_id, entry.action, entry.object)
        if want != entry.digest:
            audit.problems.append(f"activity log: entry {entry.seq} was altered")
            return audit
        previous, expected_seq = entry.digest, entry.seq + 1
    head = session.get(ActivityHead, 1)
    if head is None or head.seq != expected_seq - 1 or head.digest != previous:
        audit.problems.append("activity log: its newest entries were removed")
    return audit
