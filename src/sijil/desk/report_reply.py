"""Answering the correspondent behind a report, from the desk's web app.

The reply is sealed to the correspondent's reply key and left at the relay by
sijil.desk.reply (which refuses once their key is revoked: whoever holds a
captured key reads the mailbox). Editors and analysts may answer; the activity
log records who answered which report, not what was said.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sijil.crypto.identity import DeskIdentity
from sijil.desk.activity_log import log_activity
from sijil.desk.custody import Clock, utcnow
from sijil.desk.reply import send_reply
from sijil.errors import DeskError, PermissionDenied, UnknownCode
from sijil.store import Correspondent, RelayReply, Report, Revocation, Store
from sijil.store.models_desk import Role

__all__ = ["MAX_REPLY", "REPLIERS", "ReplyState", "reply_state", "reply_to_report"]

#: Who may write to a correspondent.
REPLIERS = frozenset({Role.EDITOR, Role.ANALYST})
#: A reply is a few sentences; 2,000 Arabic characters url-encoded still fit the
#: web app's 16 KiB form limit (six bytes each).
MAX_REPLY = 2000


@dataclass(frozen=True, kw_only=True)
class ReplyState:
    """What the report page says about answering: whether it can, and what was sent."""

    possible: bool
    #: why not: "revoked" (their key is), "no_key" (nothing to seal to yet)
    reason: str | None
    sent: int


def _correspondent(session: Session, report_id: int) -> Correspondent:
    found = session.scalar(
        select(Correspondent).join(Report, Report.correspondent_id == Correspondent.id)
        .where(Report.id == report_id)
    )  # fmt: skip
    if found is None:
        raise UnknownCode(f"no report #{report_id}")
    return found


def reply_state(store: Store, report_id: int) -> ReplyState:
    with store.session() as session:
        who = _correspondent(session, report_id)
        revoked = session.scalar(
            select(Revocation.id).where(Revocation.correspondent_id == who.id).limit(1)
        )
        sent = session.scalar(
            select(func.count()).select_from(RelayReply).filter_by(correspondent_id=who.id)
        )
    if revoked is not None:
        return ReplyState(possible=False, reason="revoked", sent=sent or 0)
    if not who.reply_key:
        return ReplyState(possible=False, reason="no_key", sent=sent or 0)
    return ReplyState(possible=True, reason=None, sent=sent or 0)


def reply_to_report(
    identity: DeskIdentity,
    store: Store,
    report_id: int,
    text: str,
    *,
    user_id: int,
    roles: frozenset[Role],
    relay: str,
    proxy: str | None = None,
    clock: Clock = utcnow,
) -> None:
    """Seal ``text`` to the correspondent of ``report_id`` and leave it at ``relay``."""
    if not roles & REPLIERS:
        raise PermissionDenied("answering a correspondent needs the editor or analyst role")
    text = text.strip()
    if not text or len(text) > MAX_REPLY:
        raise DeskError(f"a reply is 1 to {MAX_REPLY} characters")
    with store.session() as session:
        codename = _correspondent(session, report_id).codename
    send_reply(identity, store, relay=relay, codename=codename, text=text, proxy=proxy)
    with store.session(write=True) as session:
        log_activity(
            session, user_id=user_id, action="reply.sent", obj=f"report:{report_id}", clock=clock
        )
