"""The audit's desk-work checks (part of ``sijil verify``, :mod:`sijil.desk.audit`).

Each record is compared with the entry :mod:`sijil.desk.custody` wrote for it
(the facts are :mod:`sijil.desk.desk_records`'), one problem line per difference:

- an incident with the entry of its current version: its fields hash to the
  entry's ``revision_sha256`` (a difference is named field by field against the
  revision that entry vouches for); its creator and last editor are the entries'
  ``by``; its current assessment is the one the ledger approved last, and its
  grading that assessment's;
- every revision, assessment (its content digest covers grading, harm, casualty
  counts and summaries) and review, and (:mod:`sijil.desk.desk_audit_links`)
  every evidence link, attribution and report link (its newest entry), field by
  field, with who acted and when; desk users' roles and the solo setting;
- the other way round: every record an entry names still exists.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.custody import canonical_sha256
from sijil.desk.desk_audit_links import (
    WorkAudit,
    check_links,
    check_people,
    compare,
    report_missing,
)
from sijil.desk.desk_records import (
    DESK_KINDS,
    Action,
    DeskEntries,
    assessment_facts,
    index_entries,
    review_facts,
    revision_digest,
)
from sijil.desk.incidents import incident_snapshot
from sijil.errors import LedgerError
from sijil.ledger.entries import Entry, parse_entry
from sijil.store import Assessment, AssessmentReview, Incident, IncidentRevision, LedgerEntry

__all__ = ["WorkAudit", "audit_desk_work"]

Trusted = dict[tuple[str, int], dict[str, Any]]


def _desk_entries(session: Session, result: WorkAudit) -> DeskEntries:
    parsed: list[Entry] = []
    rows = session.execute(
        select(LedgerEntry.seq, LedgerEntry.body).where(LedgerEntry.kind.in_(DESK_KINDS))
    )
    for seq, body in rows:
        try:
            parsed.append(parse_entry(body.encode()))
        except LedgerError as exc:
            result.problems.append(f"ledger entry #{seq}: {exc}")
    return index_entries(parsed)


def _check_revisions(
    session: Session, index: DeskEntries, codes: dict[int, str], result: WorkAudit
) -> Trusted:
    """Check each revision row; return the fields of those that match their entry."""
    trusted: Trusted = {}
    seen: set[tuple[str, int]] = set()
    rows = session.scalars(
        select(IncidentRevision).order_by(IncidentRevision.incident_id, IncidentRevision.version)
    )
    for row in rows:
        result.records += 1
        key = (codes.get(row.incident_id, f"#{row.incident_id}"), row.version)
        seen.add(key)
        where = f"incident {key[0]} revision {row.version}"
        logged = index.revisions.get(key)
        if not logged:
            result.unrecorded(where)
            continue
        entry = logged[0]
        by, at = ("saved_by", row.saved_by), ("saved_at", row.saved_at)
        if revision_digest(row.data) != entry.data.get("revision_sha256"):
            result.problems.append(f"{where}: its data differs from its ledger entry #{entry.seq}")
        elif compare(where, entry, {"revision_sha256": row.sha256}, result, by=by, at=at):
            fields = json.loads(row.data)
            trusted[key] = fields if isinstance(fields, dict) else {}
    for key, logged in sorted(index.revisions.items()):
        if key not in seen:
            result.missing(f"incident {key[0]} revision {key[1]}", logged[0])
    return trusted


def _check_fields(incident: Incident, entry: Entry, then: dict[str, Any] | None,
                  result: WorkAudit) -> None:  # fmt: skip
    """The incident's fields against the revision its current version's entry vouches for."""
    where, snapshot = f"incident {incident.code}", incident_snapshot(incident)
    if canonical_sha256(snapshot) == entry.data.get("revision_sha256"):
        return
    if then is None:  # the revision is no help: it differs from the entry too
        result.problems.append(f"{where}: its fields differ from its ledger entry #{entry.seq}")
        return
    for name in sorted(snapshot):
        if then.get(name) != snapshot[name]:
            result.differs(where, name, entry)


def _check_current(
    incident: Incident, index: DeskEntries, gradings: dict[int, str], result: WorkAudit
) -> None:
    """The current assessment is the one approved last; the grading is its grading."""
    where = f"incident {incident.code}"
    approvals = index.approvals.get(incident.code, [])
    last = max(approvals, key=lambda e: e.data.get("assessment") or 0, default=None)
    current = None if last is None else last.data.get("assessment")
    if incident.current_assessment_id != current:
        if last is not None:
            result.differs(where, "current_assessment", last)
        else:
            result.problems.append(
                f"{where}: its current assessment A-{incident.current_assessment_id} "
                "was never approved"
            )
    elif current is None and incident.grading is not None:
        result.problems.append(f"{where}: field 'grading' is set, but no assessment is current")
    elif current in gradings and incident.grading != gradings[current]:
        result.problems.append(
            f"{where}: field 'grading' differs from its current assessment A-{current}"
        )


def _check_incident(
    incident: Incident,
    index: DeskEntries,
    trusted: Trusted,
    gradings: dict[int, str],
    result: WorkAudit,
) -> None:
    code, where = incident.code, f"incident {incident.code}"
    created = index.revisions.get((code, 1))
    if not created:
        result.unrecorded(where)
        return
    by, at = ("created_by", incident.created_by), ("created_at", incident.created_at)
    compare(where, created[0], {}, result, by=by, at=at)
    logged = index.revisions.get((code, incident.version))
    if not logged:
        result.problems.append(f"{where}: no ledger entry records its version {incident.version}")
    else:
        _check_fields(incident, logged[0], trusted.get((code, incident.version)), result)
        by, at = ("updated_by", incident.updated_by), ("updated_at", incident.updated_at)
        compare(where, logged[0], {}, result, by=by, at=at)
    _check_current(incident, index, gradings, result)


def _check_assessments(
    session: Session, index: DeskEntries, codes: dict[int, str], result: WorkAudit
) -> dict[int, str]:
    """Check assessments and reviews; return the grading of each that matches its entry."""
    gradings: dict[int, str] = {}
    incident_of: dict[int, int] = {}
    rows = session.scalars(
        select(Assessment).options(selectinload(Assessment.casualties)).order_by(Assessment.id)
    )
    for row in rows:
        result.records += 1
        incident_of[row.id] = row.incident_id
        code = codes.get(row.incident_id, "?")
        where = f"assessment A-{row.id} ({code})"
        entry = index.first(Action.ASSESSMENT_PROPOSED, row.id)
        by, at = ("author", row.author_id), ("created_at", row.created_at)
        if entry is None:
            result.unrecorded(where)
        elif compare(where, entry, assessment_facts(row, code), result, by=by, at=at):
            gradings[row.id] = row.grading
    report_missing(index, Action.ASSESSMENT_PROPOSED, set(incident_of), result,
                   lambda n, e: f"assessment A-{n} ({e.data.get('incident')})")  # fmt: skip
    reviewed: set[int] = set()
    for review in session.scalars(select(AssessmentReview).order_by(AssessmentReview.id)):
        result.records += 1
        reviewed.add(review.id)
        code = codes.get(incident_of.get(review.assessment_id, -1), "?")
        where = f"review #{review.id} of A-{review.assessment_id} ({code})"
        entry = index.review(review.id)
        if entry is None:
            result.unrecorded(where)
            continue
        by, at = ("reviewer", review.reviewer_id), ("created_at", review.created_at)
        compare(where, entry, review_facts(review, code), result, by=by, at=at)
        if entry.data.get("action") != f"assessment.{review.decision}":
            result.differs(where, "decision", entry)
    for action in (Action.ASSESSMENT_APPROVED, Action.CHANGES_REQUESTED):
        report_missing(index, action, reviewed, result, lambda n, e: f"review #{n} of "
                       f"A-{e.data.get('assessment')} ({e.data.get('incident')})")  # fmt: skip
    return gradings


def audit_desk_work(session: Session) -> WorkAudit:
    """Compare every desk record with its ledger entry, and every entry with its record.

    Problems are listed incidents first, then revisions, assessments, links and people."""
    result, revised, assessed = WorkAudit(), WorkAudit(), WorkAudit()
    index = _desk_entries(session, result)
    codes = {id_: code for id_, code in session.execute(select(Incident.id, Incident.code))}
    gradings = _check_assessments(session, index, codes, assessed)
    trusted = _check_revisions(session, index, codes, revised)
    for incident in session.scalars(select(Incident).order_by(Incident.id)):
        result.records += 1
        _check_incident(incident, index, trusted, gradings, result)
    known = set(codes.values())
    for (code, version), logged in sorted(index.revisions.items()):
        if version == 1 and code not in known:
            result.missing(f"incident {code}", logged[0], verb="created")
    for part in (revised, assessed):
        result.records += part.records
        result.problems += part.problems
    check_links(session, index, codes, result)
    check_people(session, index, result)
    return result
