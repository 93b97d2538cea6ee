"""What the ledger says about desk work, and how a desk record is compared with it.

:mod:`sijil.desk.custody` writes one entry per change; this module reads them
back. Each kind of desk record has one function giving the facts its entry
holds, recomputed from the row (codes, ids, choices and SHA-256 digests of
texts, never the texts), so the audit (:mod:`sijil.desk.desk_audit`) and
evidence packages (:mod:`sijil.export.incident`) compare records with entries
the same way. An entry names its record by a data field (``link``,
``assessment``, ``review``, ...); an incident revision by ``incident`` and
``version``. Entries also carry who acted (``by``, a desk user's id) and when
(``at``), which the records repeat (``created_by``, ``created_at``, ...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from sijil.desk.casualties import Count, Group, Outcome, Status
from sijil.desk.custody import canonical_sha256
from sijil.ledger.entries import Entry, EntryKind
from sijil.store import Assessment, AssessmentReview, Attribution, EvidenceLink, ReportLink

__all__ = [
    "DESK_KINDS",
    "RECORD_KEY",
    "Action",
    "DeskEntries",
    "assessment_content",
    "assessment_facts",
    "attribution_facts",
    "evidence_facts",
    "index_entries",
    "report_link_facts",
    "review_facts",
    "revision_digest",
    "text_digest",
]


class Action(StrEnum):
    """``data.action`` of the desk's entries (sijil.desk.custody)."""

    INCIDENT_CREATED = "incident.created"
    INCIDENT_EDITED = "incident.edited"
    EVIDENCE_LINKED = "evidence.linked"
    REPORTS_LINKED = "reports.linked"
    ATTRIBUTED = "incident.attributed"
    ASSESSMENT_PROPOSED = "assessment.proposed"
    ASSESSMENT_APPROVED = "assessment.approved"
    CHANGES_REQUESTED = "assessment.changes_requested"
    USER_ADDED = "user.added"
    USER_ROLES = "user.roles"  # an admin changed a user's roles (none: removed)
    SOLO = "desk.solo"


#: The entry kinds desk work is written under.
DESK_KINDS: Final = (EntryKind.USER_ACTION, EntryKind.ASSESSMENT_CHANGED)
#: The data field naming the record an entry of each action is about.
RECORD_KEY: Final = {
    Action.EVIDENCE_LINKED: "link",
    Action.REPORTS_LINKED: "link",
    Action.ATTRIBUTED: "attribution",
    Action.ASSESSMENT_PROPOSED: "assessment",
    Action.ASSESSMENT_APPROVED: "review",
    Action.CHANGES_REQUESTED: "review",
    Action.USER_ADDED: "user",
    Action.USER_ROLES: "user",
}
_REVISIONS = (Action.INCIDENT_CREATED, Action.INCIDENT_EDITED)
_REVIEWS = (Action.ASSESSMENT_APPROVED, Action.CHANGES_REQUESTED)


def text_digest(text: str | None) -> str | None:
    """A desk text as its entry holds it: SHA-256 of its canonical JSON, None for none."""
    return None if text is None else canonical_sha256(text)


def revision_digest(data: str) -> str:
    """The digest of a revision's canonical-JSON text (``revision_sha256``)."""
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def evidence_facts(link: EvidenceLink, code: str) -> dict[str, Any]:
    return {
        "incident": code,
        "link": link.id,
        "report": link.report_id,
        "attachment": link.attachment_id,
        "role": link.role,
        "confidence": link.confidence,
        "note_sha256": text_digest(link.note),
    }


def report_link_facts(link: ReportLink) -> dict[str, Any]:
    """What the newest ``reports.linked`` entry of a link says (the note is not logged)."""
    return {
        "link": link.id,
        "reports": [link.report_id, link.other_id],
        "kind": link.kind,
        "origin": link.origin,
        "state": link.state,
    }


def attribution_facts(row: Attribution, code: str) -> dict[str, Any]:
    return {
        "incident": code,
        "attribution": row.id,
        "actor": row.actor_id,
        "stance": row.stance,
        "basis_sha256": text_digest(row.basis),
    }


def assessment_content(assessment: Assessment, code: str) -> dict[str, Any]:
    """What an assessment's ``content_sha256`` is the digest of (as it was proposed)."""
    counts = sorted(
        Count(Outcome(c.outcome), Status(c.status), Group(c.person_group), c.min_count, c.max_count)
        for c in assessment.casualties
    )
    return {
        "incident": code,
        "grading": assessment.grading,
        "harm": assessment.harm,
        "casualties": [c.to_dict() for c in counts],
        "summary_ar": assessment.summary_ar,
        "summary_en": assessment.summary_en,
        "incident_version": assessment.incident_version,
    }


def assessment_facts(assessment: Assessment, code: str) -> dict[str, Any]:
    return {
        "incident": code,
        "assessment": assessment.id,
        "content_sha256": canonical_sha256(assessment_content(assessment, code)),
    }


def review_facts(row: AssessmentReview, code: str) -> dict[str, Any]:
    """The facts of a review's entry; its decision is the entry's action."""
    return {
        "incident": code,
        "assessment": row.assessment_id,
        "review": row.id,
        "independent": row.independent,
        "comment_sha256": text_digest(row.comment),
    }


@dataclass
class DeskEntries:
    """Desk entries by the record they are about."""

    #: (incident code, version) -> the entry of that revision
    revisions: dict[tuple[str, int], list[Entry]] = field(default_factory=dict)
    #: (action, record id) -> its entries, oldest first
    records: dict[tuple[Action, int], list[Entry]] = field(default_factory=dict)
    #: incident code -> the entries approving one of its assessments, oldest first
    approvals: dict[str, list[Entry]] = field(default_factory=dict)
    #: the ``desk.solo`` entries, oldest first
    solo: list[Entry] = field(default_factory=list)

    def first(self, action: Action, record: int) -> Entry | None:
        found = self.records.get((action, record))
        return found[0] if found else None

    def review(self, record: int) -> Entry | None:
        """The entry of review ``record``, whichever its decision."""
        found = [e for a in _REVIEWS for e in self.records.get((a, record), [])]
        return min(found, key=lambda e: e.seq) if found else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def index_entries(entries: Iterable[Entry]) -> DeskEntries:
    """Index parsed desk entries (other actions, e.g. claims' and verdicts', are skipped)."""
    index = DeskEntries()
    for entry in sorted(entries, key=lambda e: e.seq):
        try:
            action = Action(str(entry.data.get("action")))
        except ValueError:
            continue
        if action in _REVISIONS:
            code, version = entry.data.get("incident"), _number(entry.data.get("version"))
            if isinstance(code, str) and version is not None:
                index.revisions.setdefault((code, version), []).append(entry)
            continue
        if action is Action.SOLO:
            index.solo.append(entry)
            continue
        if action in _REVIEWS and not entry.subject.startswith("A-"):
            continue  # not an assessment's review
        record = _number(entry.data.get(RECORD_KEY[action]))
        if record is None:
            continue
        index.records.setdefault((action, record), []).append(entry)
        code = entry.data.get("incident")
        if action is Action.ASSESSMENT_APPROVED and isinstance(code, str):
            index.approvals.setdefault(code, []).append(entry)
    return index
