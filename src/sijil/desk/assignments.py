"""Assignments: give a report or an incident to one person, and list what waits for each.

A report or an incident is assigned to at most one desk user at a time; giving
it to someone else replaces the assignment, and it can be cleared. Who may
assign: editors, analysts and reviewers (the people who work on reports and
incidents), to anyone who may work on that kind of item. Each change is a
custody-ledger entry (``assignment.set`` / ``assignment.cleared``, with ids
only), so the history is there though the table keeps only the present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.users import get_user, require_user, roles_of, user_name
from sijil.errors import DeskError, PermissionDenied, UnknownCode
from sijil.store import Assignment, AssignmentKind, DeskUser, Incident, Report
from sijil.store.models_desk import Role

__all__ = [
    "ASSIGNERS",
    "AssignmentKind",
    "WaitingItem",
    "assign",
    "assignee_of",
    "incident_code",
    "possible_assignees",
    "unassign",
    "waiting_for",
]

#: The roles that work on reports and incidents: they may assign, and be assigned.
ASSIGNERS = (Role.EDITOR, Role.ANALYST, Role.REVIEWER)
#: "What waits for me" lists this many at most, oldest assignment first.
WAITING_LIMIT = 200


@dataclass(frozen=True, kw_only=True)
class WaitingItem:
    kind: AssignmentKind
    id: int
    #: a report's title, or an incident's code
    label: str
    title_ar: str | None
    title_en: str | None
    lang: str | None
    assigned_at: datetime
    assigned_by: str | None


def _subject(kind: AssignmentKind, object_id: int) -> str:
    return f"{kind}:{object_id}"


def _require_object(session: Session, kind: AssignmentKind, object_id: int) -> None:
    table = Report if kind is AssignmentKind.REPORT else Incident
    if session.get(table, object_id) is None:
        raise UnknownCode(f"no {kind} #{object_id}")


def assign(
    session: Session,
    kind: AssignmentKind,
    object_id: int,
    *,
    to: str,
    by: str,
    clock: Clock = utcnow,
) -> None:
    """Assign report or incident ``object_id`` to the desk user ``to``."""
    begin_change(session)
    actor = require_user(session, by, *ASSIGNERS)
    _require_object(session, kind, object_id)
    person = get_user(session, to)
    if not roles_of(person) & set(ASSIGNERS):
        raise PermissionDenied(f"{to} holds no role that works on a {kind}")
    now = clock()
    current = session.get(Assignment, (str(kind), object_id))
    if current is not None and current.user_id == person.id:
        return
    if current is None:
        current = Assignment(kind=str(kind), object_id=object_id)
        session.add(current)
    current.user_id, current.assigned_by, current.assigned_at = person.id, actor.id, now
    session.flush()
    record(
        session,
        action="assignment.set",
        subject=_subject(kind, object_id),
        by=actor.id,
        data={"kind": str(kind), "object": object_id, "user": person.id},
        at=now,
    )


def unassign(
    session: Session, kind: AssignmentKind, object_id: int, *, by: str, clock: Clock = utcnow
) -> None:
    """Clear the assignment of report or incident ``object_id``."""
    begin_change(session)
    actor = require_user(session, by, *ASSIGNERS)
    current = session.get(Assignment, (str(kind), object_id))
    if current is None:
        raise DeskError(f"{kind} #{object_id} is not assigned to anyone")
    now = clock()
    session.delete(current)
    session.flush()
    record(
        session,
        action="assignment.cleared",
        subject=_subject(kind, object_id),
        by=actor.id,
        data={"kind": str(kind), "object": object_id},
        at=now,
    )


def assignee_of(session: Session, kind: AssignmentKind, object_id: int) -> str | None:
    """The name of whoever report or incident ``object_id`` is assigned to, if anyone."""
    current = session.get(Assignment, (str(kind), object_id))
    return None if current is None else user_name(session, current.user_id)


def incident_code(session: Session, incident_id: int) -> str:
    """The public code of incident ``incident_id`` (where its assignment form sends one back)."""
    found = session.get(Incident, incident_id)
    if found is None:
        raise UnknownCode(f"no incident #{incident_id}")
    return found.code


def possible_assignees(session: Session) -> list[str]:
    """The names of the users who may be assigned work, by name."""
    # the roles in one query, not one per user: the report page asks on every view
    users = session.scalars(
        select(DeskUser).options(selectinload(DeskUser.roles)).order_by(DeskUser.name)
    )
    return [u.name for u in users if roles_of(u) & set(ASSIGNERS)]


def waiting_for(session: Session, user_id: int) -> list[WaitingItem]:
    """What is assigned to ``user_id``, oldest assignment first."""
    rows = session.scalars(
        select(Assignment)
        .where(Assignment.user_id == user_id)
        .order_by(Assignment.assigned_at, Assignment.kind, Assignment.object_id)
        .limit(WAITING_LIMIT)
    ).all()
    reports = _reports(session, [r.object_id for r in rows if r.kind == "report"])
    incidents = _incidents(session, [r.object_id for r in rows if r.kind == "incident"])
    names = {u.id: u.name for u in session.scalars(select(DeskUser))}
    items = []
    for row in rows:
        kind = AssignmentKind(row.kind)
        by = names.get(row.assigned_by)
        if kind is AssignmentKind.REPORT and (report := reports.get(row.object_id)) is not None:
            items.append(WaitingItem(kind=kind, id=report.id, label=report.title, title_ar=None,
                                     title_en=None, lang=report.lang,
                                     assigned_at=row.assigned_at, assigned_by=by))  # fmt: skip
        elif kind is AssignmentKind.INCIDENT and (found := incidents.get(row.object_id)):
            items.append(WaitingItem(kind=kind, id=found.id, label=found.code,
                                     title_ar=found.title_ar, title_en=found.title_en, lang=None,
                                     assigned_at=row.assigned_at, assigned_by=by))  # fmt: skip
    return items


def _reports(session: Session, ids: list[int]) -> dict[int, Report]:
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(select(Report).where(Report.id.in_(ids)))}


def _incidents(session: Session, ids: list[int]) -> dict[int, Incident]:
    if not ids:
        return {}
    return {i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(ids)))}
