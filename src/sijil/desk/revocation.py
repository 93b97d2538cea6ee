"""A captured correspondent: revoking their key from a time on, and what that marks.

From a revocation's ``since`` on, whatever the key signs may have been signed
under coercion. Such reports are still received and kept (nothing is lost) but
flagged (``report_flags``) as *possibly coerced*, or *sent under duress* when the
envelope's signed manifest carries the duress mark. A flagged report:

* is shown with its flag in listings and suggestions and in evidence packages;
* never counts in its source's track record (sijil.desk.source_view);
* is never publishable without a two-person decision (:func:`publication_blockers`,
  :func:`clear_for_publication`);
* and replies to the correspondent's mailbox stop (sijil.desk.reply).

A report is flagged when its signed creation time **or** its arrival is at or after
``since``: a key in someone else's hands can sign any date, so a claimed time
before the capture is not enough to trust an envelope that arrives after it.

Every revocation, duress alarm, rekey and clearance is a custody-ledger entry
(``user.action``; data carries ids and digests, never the reason's text).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.users import EDITING, require_user
from sijil.errors import DeskError, UnknownCode
from sijil.store import (
    Correspondent,
    Report,
    ReportFlag,
    ReportFlagKind,
    Revocation,
    RevocationCause,
)
from sijil.store.models_desk import Role

__all__ = [
    "MAX_REASON",
    "clear_for_publication",
    "correspondent_subject",
    "flag_report",
    "flags_for",
    "publication_blockers",
    "revocation_of",
    "revoke",
]

# A reason is a sentence or two for the next editor, not a case file.
MAX_REASON = 1000


def correspondent_subject(correspondent_id: int) -> str:
    """The ledger subject of a correspondent: an id, never the codename."""
    return f"correspondent:{correspondent_id}"


def revocation_of(session: Session, correspondent_id: int, at: datetime) -> Revocation | None:
    """The earliest revocation of the correspondent in force at ``at``, if any."""
    return session.scalar(
        select(Revocation)
        .where(Revocation.correspondent_id == correspondent_id, Revocation.since <= at)
        .order_by(Revocation.since, Revocation.id)
        .limit(1)
    )


def _flag(session: Session, report: Report, kind: ReportFlagKind, revocation: Revocation) -> None:
    existing = session.get(ReportFlag, report.id)
    if existing is None:
        session.add(ReportFlag(report_id=report.id, kind=str(kind), revocation_id=revocation.id))
    elif kind is ReportFlagKind.DURESS and existing.kind != str(kind):
        existing.kind, existing.revocation_id = str(kind), revocation.id


def _mark_after(session: Session, revocation: Revocation) -> int:
    """Flag the correspondent's reports signed or received at or after ``since``."""
    reports = session.scalars(
        select(Report).where(
            Report.correspondent_id == revocation.correspondent_id,
            or_(Report.created_at >= revocation.since, Report.received_at >= revocation.since),
        )
    ).all()
    for report in reports:
        _flag(session, report, ReportFlagKind.POSSIBLY_COERCED, revocation)
    return len(reports)


def _new_revocation(
    session: Session,
    person: Correspondent,
    *,
    since: datetime,
    cause: RevocationCause,
    reason: str,
    by: int | None,
    at: datetime,
    report_id: int | None = None,
) -> tuple[Revocation, int]:
    revocation = Revocation(
        correspondent_id=person.id,
        since=since,
        cause=str(cause),
        reason=reason,
        report_id=report_id,
        recorded_at=at,
    )
    session.add(revocation)
    session.flush()
    marked = _mark_after(session, revocation)
    record(
        session,
        action=f"correspondent.{cause}",
        subject=correspondent_subject(person.id),
        by=by,
        data={
            "correspondent": person.id,
            "revocation": revocation.id,
            "since": since.isoformat(),
            "reason_sha256": canonical_sha256(reason),
            "report": report_id,
        },
        at=at,
    )
    return revocation, marked


def revoke(
    session: Session,
    codename: str,
    *,
    since: datetime,
    reason: str,
    by: str | None,
    clock: Clock = utcnow,
) -> tuple[Revocation, int]:
    """Revoke ``codename``'s key from ``since`` on; return it and how many reports it marks."""
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    reason = " ".join(reason.split())
    if not reason:
        raise DeskError("say why the key is revoked (--reason)")
    if len(reason) > MAX_REASON:
        raise DeskError(f"a reason is at most {MAX_REASON} characters")
    if since.tzinfo is None:
        raise DeskError("give the time with its zone, e.g. 2016-11-22T03:00Z")
    person = session.scalar(select(Correspondent).filter_by(codename=codename))
    if person is None:
        raise UnknownCode(f"no correspondent called {codename!r}")
    return _new_revocation(
        session,
        person,
        since=since,
        cause=RevocationCause.REVOKED,
        reason=reason,
        by=user.id,
        at=clock(),
    )


def flag_report(
    session: Session, report: Report, sender: Correspondent, *, duress: bool, at: datetime
) -> ReportFlagKind | None:
    """At registration: flag a report sent under duress, or signed after a revocation.

    A duress envelope revokes its key from the earlier of its signed time and its
    arrival, with a ledger entry, as an editor's revocation would.
    """
    if duress:
        since = min(report.created_at, at)
        revocation, _ = _new_revocation(
            session,
            sender,
            since=since,
            cause=RevocationCause.DURESS,
            reason="an envelope was sealed with the duress passphrase",
            by=None,
            at=at,
            report_id=report.id,
        )
        _flag(session, report, ReportFlagKind.DURESS, revocation)
        return ReportFlagKind.DURESS
    found = revocation_of(session, sender.id, max(report.created_at, at))
    if found is None:
        return None
    _flag(session, report, ReportFlagKind.POSSIBLY_COERCED, found)
    return ReportFlagKind.POSSIBLY_COERCED


def flags_for(session: Session, report_ids: Iterable[int]) -> dict[int, ReportFlagKind]:
    """Each flagged report among ``report_ids`` with its flag."""
    ids = list(report_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(ReportFlag.report_id, ReportFlag.kind).where(ReportFlag.report_id.in_(ids))
    )
    return {report_id: ReportFlagKind(kind) for report_id, kind in rows}


def publication_blockers(session: Session, report_id: int) -> list[str]:
    """Why ``report_id`` may not be published yet; empty when nothing here stands in the way.

    A publishing step calls this for every report it would publish from.
    """
    flag = session.get(ReportFlag, report_id)
    if flag is None or (flag.cleared_by is not None and flag.cleared_second_by is not None):
        return []
    return [f"report {report_id} is {flag.kind}: publishing it needs two people to decide"]


def clear_for_publication(
    session: Session, report_id: int, *, by: str | None, clock: Clock = utcnow
) -> ReportFlag:
    """One person's half of the two-person decision to publish a flagged report anyway."""
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, Role.REVIEWER, *EDITING)
    flag = session.get(ReportFlag, report_id)
    if flag is None:
        raise DeskError(f"report {report_id} is not flagged; nothing to decide")
    if flag.cleared_second_by is not None:
        raise DeskError(f"report {report_id} was already cleared by two people")
    if flag.cleared_by == user.id:
        raise DeskError("the second decision must be another person's")
    now = clock()
    if flag.cleared_by is None:
        flag.cleared_by = user.id
    else:
        flag.cleared_second_by, flag.cleared_at = user.id, now
    session.flush()
    record(
        session,
        action="report.cleared",
        subject=f"report:{report_id}",
        by=user.id,
        data={"report": report_id, "complete": flag.cleared_second_by is not None},
        at=now,
    )
    return flag
