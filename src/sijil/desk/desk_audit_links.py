"""Desk-work audit, part two: evidence links, attribution, report links, users, solo.

Shared with :mod:`sijil.desk.desk_audit`: the problem list (:class:`WorkAudit`) and
:func:`compare`, which names every fact of a record that differs from its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.desk_records import (
    Action,
    DeskEntries,
    attribution_facts,
    evidence_facts,
    report_link_facts,
)
from sijil.ledger.entries import Entry, format_time
from sijil.store import Attribution, DeskSetting, DeskUser, EvidenceLink, ReportLink
from sijil.store.models_desk import LinkOrigin, LinkState

__all__ = ["WorkAudit", "check_links", "check_people", "compare", "report_missing"]


@dataclass
class WorkAudit:
    records: int = 0
    problems: list[str] = field(default_factory=list)

    def differs(self, where: str, name: str, entry: Entry) -> None:
        self.problems.append(f"{where}: field {name!r} differs from its ledger entry #{entry.seq}")

    def unrecorded(self, where: str) -> None:
        self.problems.append(f"{where}: no ledger entry records it")

    def missing(self, where: str, entry: Entry, verb: str = "recorded") -> None:
        self.problems.append(
            f"{where}: {verb} in ledger entry #{entry.seq}, but its record is missing"
        )


def compare(
    where: str,
    entry: Entry,
    facts: dict[str, Any],
    result: WorkAudit,
    *,
    by: tuple[str, int | None] | None = None,
    at: tuple[str, datetime] | None = None,
) -> bool:
    """Name each fact, the actor (``by``: field, user id) and the time (``at``) that
    differ from ``entry``; True if none does. A digest is named by its field."""
    before = len(result.problems)
    for name, value in facts.items():
        if entry.data.get(name) == value:
            continue
        if name == "content_sha256":
            result.problems.append(
                f"{where}: its grading, harm, casualties or summaries differ from its "
                f"ledger entry #{entry.seq}"
            )
        else:
            result.differs(where, name.removesuffix("_sha256"), entry)
    if by is not None and entry.data.get("by") != by[1]:
        result.differs(where, by[0], entry)
    if at is not None and entry.at != format_time(at[1]):
        result.differs(where, at[0], entry)
    return len(result.problems) == before


def report_missing(
    index: DeskEntries,
    action: Action,
    seen: set[int],
    result: WorkAudit,
    where: Callable[[int, Entry], str],
) -> None:
    """Name each record an ``action`` entry is about that is not in ``seen``."""
    for (logged, number), entries in sorted(index.records.items()):
        if logged is action and number not in seen:
            result.missing(where(number, entries[0]), entries[0])


def _check_evidence(
    session: Session, index: DeskEntries, codes: dict[int, str], result: WorkAudit
) -> None:
    seen: set[int] = set()
    for link in session.scalars(select(EvidenceLink).order_by(EvidenceLink.id)):
        result.records += 1
        seen.add(link.id)
        code = codes.get(link.incident_id, "?")
        where = f"evidence link #{link.id} (report #{link.report_id} for {code})"
        entry = index.first(Action.EVIDENCE_LINKED, link.id)
        if entry is None:
            result.unrecorded(where)
            continue
        by, at = ("created_by", link.created_by), ("created_at", link.created_at)
        compare(where, entry, evidence_facts(link, code), result, by=by, at=at)
    report_missing(
        index, Action.EVIDENCE_LINKED, seen, result,
        lambda n, e: f"evidence link #{n} (report #{e.data.get('report')} for "
        f"{e.data.get('incident')})",
    )  # fmt: skip


def _check_attributions(
    session: Session, index: DeskEntries, codes: dict[int, str], result: WorkAudit
) -> None:
    seen: set[int] = set()
    for row in session.scalars(select(Attribution).order_by(Attribution.id)):
        result.records += 1
        seen.add(row.id)
        where = f"attribution #{row.id} ({codes.get(row.incident_id, '?')})"
        entry = index.first(Action.ATTRIBUTED, row.id)
        if entry is None:
            result.unrecorded(where)
            continue
        facts = attribution_facts(row, codes.get(row.incident_id, "?"))
        by, at = ("created_by", row.created_by), ("created_at", row.created_at)
        compare(where, entry, facts, result, by=by, at=at)
    report_missing(index, Action.ATTRIBUTED, seen, result,
                   lambda n, e: f"attribution #{n} ({e.data.get('incident')})")  # fmt: skip


def _check_report_links(session: Session, index: DeskEntries, result: WorkAudit) -> None:
    """A link's newest entry holds its state; its first, who made it and when."""
    seen: set[int] = set()
    for link in session.scalars(select(ReportLink).order_by(ReportLink.id)):
        result.records += 1
        seen.add(link.id)
        where = (f"report link #{link.id} (reports #{link.report_id} and #{link.other_id}, "
                 f"{link.kind})")  # fmt: skip
        logged = index.records.get((Action.REPORTS_LINKED, link.id))
        if not logged:
            result.unrecorded(where)
            continue
        first, last = logged[0], logged[-1]
        if link.origin == LinkOrigin.HUMAN:
            compare(where, first, {}, result, by=("created_by", link.created_by))
        compare(where, first, {}, result, at=("created_at", link.created_at))
        facts = report_link_facts(link)
        if link.state == LinkState.SUGGESTED or link.decided_at is None:
            compare(where, last, facts, result)
        else:
            by, at = ("decided_by", link.decided_by), ("decided_at", link.decided_at)
            compare(where, last, facts, result, by=by, at=at)
    report_missing(index, Action.REPORTS_LINKED, seen, result,
                   lambda n, e: f"report link #{n} (reports {e.data.get('reports')})")  # fmt: skip


def check_links(
    session: Session, index: DeskEntries, codes: dict[int, str], result: WorkAudit
) -> None:
    """Evidence links, attributions and report links against their entries, both ways."""
    _check_evidence(session, index, codes, result)
    _check_attributions(session, index, codes, result)
    _check_report_links(session, index, result)


def check_people(session: Session, index: DeskEntries, result: WorkAudit) -> None:
    """Desk users' roles (who may review rests on them) and the solo setting."""
    seen: set[int] = set()
    for user in session.scalars(select(DeskUser).options(selectinload(DeskUser.roles))):
        result.records += 1
        seen.add(user.id)
        where = f"desk user #{user.id} ({user.name})"
        entry = index.first(Action.USER_ADDED, user.id)
        if entry is None:
            result.unrecorded(where)
            continue
        roles = sorted(r.role for r in user.roles)
        changed = index.records.get((Action.USER_ROLES, user.id))
        if changed:  # the roles are the newest change's; the creation time is the first's
            compare(where, entry, {}, result, at=("created_at", user.created_at))
            compare(where, changed[-1], {"roles": roles}, result)
        else:
            compare(where, entry, {"roles": roles}, result, at=("created_at", user.created_at))
    report_missing(index, Action.USER_ADDED, seen, result, lambda n, _: f"desk user #{n}")
    setting, where = session.get(DeskSetting, "solo"), "desk setting 'solo'"
    if setting is not None:
        result.records += 1
        if not index.solo:
            result.unrecorded(where)
        elif index.solo[-1].data.get("solo") != (setting.value == "true"):
            result.differs(where, "value", index.solo[-1])
    elif index.solo:
        result.missing(where, index.solo[-1])
