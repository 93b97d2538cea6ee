"""An incident in an evidence package: what ``data/incident.json`` holds, and the entries
it rests on.

The incident's record (the fields of its latest revision, its current assessment
and grading), every revision, every evidence link, every attribution and every
approved assessment with its review, each with the ``seq`` of its custody-ledger
entry, so the standalone verifier can recompute each entry's facts and digests
from the package alone. Assessments not (yet) approved are the desk's drafts and
stay at the desk. Desk users appear as the ids the entries hold (``by``).

An editor's note, an attribution's basis or a review's comment that names a
correspondent (by codename, as a whole word in any spelling :func:`sijil.text.fold`
unifies) is withheld: the package carries ``null`` and says so, and the export's
ledger entry lists it, so the verifier knows the text was left out on purpose. Titles
and summaries are public texts, kept whole (each is inside a digest of several fields).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.assessments import NOT_INDEPENDENT
from sijil.desk.codes import assessment_token
from sijil.desk.desk_records import (
    DESK_KINDS,
    Action,
    DeskEntries,
    assessment_content,
    index_entries,
)
from sijil.desk.incidents import get_incident, incident_snapshot
from sijil.errors import LedgerError
from sijil.export.bag import report_file
from sijil.ledger.entries import Entry, format_time, parse_entry
from sijil.store import (
    Assessment,
    AssessmentReview,
    Attachment,
    Attribution,
    Correspondent,
    DeskActor,
    EvidenceLink,
    Incident,
    IncidentRevision,
    LedgerEntry,
)
from sijil.store.models_desk import ReviewDecision
from sijil.text import fold

__all__ = ["IncidentPart", "collect_incident"]

_WORDS = re.compile(r"\w+")


@dataclass
class IncidentPart:
    """The incident's share of a package."""

    code: str
    report_ids: list[int]
    document: dict[str, Any] = field(default_factory=dict)
    seqs: set[int] = field(default_factory=set)
    # texts left out because they name a correspondent: {"record", "id", "field"}
    withheld: list[dict[str, Any]] = field(default_factory=list)


def _words(text: str) -> str:
    return " ".join(_WORDS.findall(fold(text)))


class _Guard:
    """Withholds desk texts that name a correspondent, and records what it withheld."""

    def __init__(self, session: Session, part: IncidentPart) -> None:
        names = (_words(c) for c in session.scalars(select(Correspondent.codename)))
        self._names = [f" {n} " for n in names if n]
        self._part = part

    def text(self, value: str | None, record: str, number: int, name: str) -> str | None:
        if value is None:
            return None
        words = f" {_words(value)} "
        if not any(n in words for n in self._names):
            return value
        self._part.withheld.append({"record": record, "id": number, "field": name})
        return None


class _Entries:
    """The incident's desk entries, and the seqs of those the package uses."""

    def __init__(self, session: Session, code: str, tokens: list[str], part: IncidentPart):
        rows = session.scalars(
            select(LedgerEntry.body).where(
                LedgerEntry.kind.in_(DESK_KINDS), LedgerEntry.subject.in_([code, *tokens])
            )
        )
        self.index: DeskEntries = index_entries(parse_entry(b.encode()) for b in rows)
        self._code, self._part = code, part

    def use(self, entry: Entry | None, what: str) -> int:
        if entry is None:
            raise LedgerError(
                f"{self._code}: {what} has no ledger entry, so it cannot be proven; "
                "run 'sijil verify'"
            )
        self._part.seqs.add(entry.seq)
        return entry.seq

    def revision(self, version: int) -> int:
        found = self.index.revisions.get((self._code, version))
        return self.use(found[0] if found else None, f"revision {version}")


def _stamp(by: int | None, at: Any, seq: int) -> dict[str, Any]:
    return {"by": by, "at": format_time(at), "ledger": seq}


def _revisions(session: Session, incident: Incident, entries: _Entries) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(IncidentRevision)
        .where(IncidentRevision.incident_id == incident.id)
        .order_by(IncidentRevision.version)
    )
    return [
        {"version": row.version, "fields": json.loads(row.data)}
        | _stamp(row.saved_by, row.saved_at, entries.revision(row.version))
        for row in rows
    ]


def _evidence(
    session: Session, incident: Incident, entries: _Entries, guard: _Guard
) -> list[dict[str, Any]]:
    links = session.execute(
        select(EvidenceLink, Attachment)
        .outerjoin(Attachment, EvidenceLink.attachment_id == Attachment.id)
        .where(EvidenceLink.incident_id == incident.id)
        .order_by(EvidenceLink.id)
    )
    return [
        {
            "link": link.id,
            "report": link.report_id,
            # the entry holds the attachment's id; "file" is where that file is in the bag
            "attachment": link.attachment_id,
            "file": None if item is None else report_file(link.report_id, item.position, item.name),
            "role": link.role,
            "confidence": link.confidence,
            "note": guard.text(link.note, "evidence", link.id, "note"),
        }
        | _stamp(
            link.created_by,
            link.created_at,
            entries.use(
                entries.index.first(Action.EVIDENCE_LINKED, link.id), f"evidence link #{link.id}"
            ),
        )
        for link, item in links
    ]


def _attributions(
    session: Session, incident: Incident, entries: _Entries, guard: _Guard
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Attribution, DeskActor)
        .join(DeskActor, Attribution.actor_id == DeskActor.id)
        .where(Attribution.incident_id == incident.id)
        .order_by(Attribution.id)
    )
    return [
        {
            "attribution": row.id,
            # the actor's names are the desk's labels for its id; the entry holds the id
            "actor": {"id": actor.id, "name_en": actor.name_en, "name_ar": actor.name_ar},
            "stance": row.stance,
            "basis": guard.text(row.basis, "attribution", row.id, "basis"),
        }
        | _stamp(
            row.created_by,
            row.created_at,
            entries.use(entries.index.first(Action.ATTRIBUTED, row.id), f"attribution #{row.id}"),
        )
        for row, actor in rows
    ]


def _assessments(
    incident: Incident,
    approved: list[tuple[Assessment, AssessmentReview]],
    entries: _Entries,
    guard: _Guard,
) -> list[dict[str, Any]]:
    out = []
    for assessment, review in approved:
        token = assessment_token(assessment.id)
        proposed = entries.index.first(Action.ASSESSMENT_PROPOSED, assessment.id)
        decided = entries.index.review(review.id)
        out.append(
            {
                "assessment": token,
                "current": assessment.id == incident.current_assessment_id,
                "content": assessment_content(assessment, incident.code),
                "review_mark": None if review.independent else NOT_INDEPENDENT,
                "review": {
                    "review": review.id,
                    "decision": review.decision,
                    "independent": review.independent,
                    "comment": guard.text(review.comment, "review", review.id, "comment"),
                }
                | _stamp(
                    review.reviewer_id,
                    review.created_at,
                    entries.use(decided, f"the review of {token}"),
                ),
            }
            | _stamp(
                assessment.author_id,
                assessment.created_at,
                entries.use(proposed, f"assessment {token}"),
            )
        )
    return out


def collect_incident(session: Session, code: str) -> IncidentPart:
    """Everything the package carries about incident ``code``, with its entries' seqs."""
    incident = get_incident(session, code)
    approved = [
        (assessment, review)
        for assessment, review in session.execute(
            select(Assessment, AssessmentReview)
            .options(selectinload(Assessment.casualties))
            .join(AssessmentReview, AssessmentReview.assessment_id == Assessment.id)
            .where(
                Assessment.incident_id == incident.id,
                AssessmentReview.decision == str(ReviewDecision.APPROVED),
            )
            .order_by(Assessment.id)
        )
    ]
    reports = session.scalars(
        select(EvidenceLink.report_id)
        .where(EvidenceLink.incident_id == incident.id)
        .distinct()
        .order_by(EvidenceLink.report_id)
    )
    part = IncidentPart(code=incident.code, report_ids=list(reports))
    tokens = [assessment_token(a.id) for a, _ in approved]
    entries, guard = _Entries(session, incident.code, tokens, part), _Guard(session, part)
    current = incident.current_assessment_id
    part.document = {
        "incident": {
            "fields": incident_snapshot(incident),
            "current_assessment": None if current is None else assessment_token(current),
            "grading": incident.grading,
            "ledger": entries.revision(incident.version),
        },
        "revisions": _revisions(session, incident, entries),
        "evidence": _evidence(session, incident, entries, guard),
        "attributions": _attributions(session, incident, entries, guard),
        "assessments": _assessments(incident, approved, entries, guard),
    }
    return part
