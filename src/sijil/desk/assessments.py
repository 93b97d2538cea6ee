"""Assessments and their review: the desk's graded view of an incident, checked by a second person.

An assessment is append-only: a grading on Airwars' scale, whether civilians
were harmed, casualty ranges (:mod:`sijil.desk.casualties`) and a summary in
Arabic and English. It becomes the incident's current assessment only when a
different person holding the reviewer role approves it. A reviewer may instead
request changes, with a comment; the author then proposes a new assessment.

In a solo desk (``sijil desk init --solo``) the author may confirm their own
assessment; it is then marked as not independently reviewed, and that mark is
part of the assessment's data wherever it is shown or published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.casualties import Count, Group, Outcome, Status, check_counts, format_count
from sijil.desk.codes import assessment_token, parse_token
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.desk_records import assessment_facts
from sijil.desk.incidents import get_incident
from sijil.desk.users import EDITING, is_solo, require_user, user_name
from sijil.errors import CasualtyRangeError, DeskError, ReviewRefused, UnknownCode
from sijil.store import Assessment, AssessmentReview, CasualtyRow, DeskUser, Incident
from sijil.store.models_desk import Grading, Harm, ReviewDecision, Role

__all__ = [
    "NOT_INDEPENDENT",
    "assessment_dict",
    "assessments_of",
    "counts_text",
    "get_assessment",
    "propose_assessment",
    "review",
]

#: The mark an assessment confirmed by its own author carries everywhere.
NOT_INDEPENDENT = "not independently reviewed"
MAX_SUMMARY = 20_000


def propose_assessment(
    session: Session,
    code: str,
    *,
    grading: Grading | str,
    harm: Harm | str,
    counts: Sequence[Count] = (),
    summary_ar: str,
    summary_en: str,
    by: str | None,
    clock: Clock = utcnow,
) -> Assessment:
    """Propose a new assessment of incident ``code``; it awaits review."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    incident = get_incident(session, code)
    grading, harm = Grading(grading), Harm(harm)
    checked = check_counts(counts)
    if harm == Harm.NO and any(c.status == Status.CIVILIAN and c.min > 0 for c in checked):
        raise CasualtyRangeError("civilian harm 'no' contradicts a civilian count above zero")
    for lang, text in (("Arabic", summary_ar), ("English", summary_en)):
        if not text.strip():
            raise DeskError(f"an assessment needs an {lang} summary")
        if len(text) > MAX_SUMMARY:
            raise DeskError(f"the {lang} summary is over {MAX_SUMMARY} characters")
    now = clock()
    assessment = Assessment(
        incident_id=incident.id,
        grading=str(grading),
        harm=str(harm),
        summary_ar=summary_ar.strip(),
        summary_en=summary_en.strip(),
        incident_version=incident.version,
        created_at=now,
        author_id=user.id,
        casualties=[
            CasualtyRow(
                outcome=str(c.outcome),
                status=str(c.status),
                person_group=str(c.group),
                min_count=c.min,
                max_count=c.max,
            )
            for c in checked
        ],
    )
    session.add(assessment)
    session.flush()
    token = assessment_token(assessment.id)
    record(
        session,
        action="assessment.proposed",
        subject=token,
        by=user.id,
        data=assessment_facts(assessment, incident.code),
        at=now,
        assessment=True,
    )  # fmt: skip
    return assessment


def get_assessment(session: Session, token: str) -> Assessment:
    """The assessment ``A-<n>`` names."""
    kind, number = parse_token(token, "A", "V")
    if kind == "V":
        raise UnknownCode(f"V-{number} is a verdict, not an assessment: review_item takes both")
    assessment = session.scalar(
        select(Assessment)
        .options(selectinload(Assessment.casualties))
        .where(Assessment.id == number)
    )
    if assessment is None:
        raise UnknownCode(f"no assessment {assessment_token(number)}")
    return assessment


def check_review(
    session: Session,
    reviewer: DeskUser,
    name: str,
    *,
    own: bool,
    approve: bool,
    comment: str,
    earlier: str | None,
    kind: str,
) -> None:
    """The two-person rules every review keeps (assessments and verdicts alike).

    Not the author, unless the desk is solo (and then only to approve); a comment
    when sending work back; one review per item (``earlier`` is its decision).
    """
    if own and not is_solo(session):
        raise ReviewRefused(
            f"{reviewer.name} wrote {name} and cannot review it; another reviewer must"
        )
    if own and not approve:
        raise ReviewRefused(f"{name} is your own: propose a new {kind} instead")
    if not approve and not comment.strip():
        raise ReviewRefused("say what should change: a comment is required")
    if earlier is not None:
        raise ReviewRefused(f"{name} was already reviewed ({earlier})")


def review(
    session: Session,
    token: str,
    *,
    approve: bool,
    comment: str,
    by: str | None,
    clock: Clock = utcnow,
) -> AssessmentReview:
    """Approve assessment ``token`` (making it current) or request changes to it.

    The reviewer needs the reviewer role and must not be the author, except
    that in a solo desk the author may approve their own: the approval is then
    recorded as not independent. An assessment is reviewed once; an older one
    cannot replace a newer current assessment.
    """
    begin_change(session)
    reviewer = require_user(session, by, Role.REVIEWER)
    assessment = get_assessment(session, token)
    name = assessment_token(assessment.id)
    own = assessment.author_id == reviewer.id
    earlier = session.scalar(
        select(AssessmentReview.decision).where(AssessmentReview.assessment_id == assessment.id)
    )
    check_review(
        session, reviewer, name, own=own, approve=approve, comment=comment, earlier=earlier,
        kind="assessment",
    )  # fmt: skip
    incident = session.get(Incident, assessment.incident_id)
    if incident is None:  # pragma: no cover - foreign key
        raise UnknownCode(f"{name} belongs to no incident")
    if approve and (incident.current_assessment_id or 0) > assessment.id:
        raise ReviewRefused(
            f"{name} is older than the current assessment "
            f"{assessment_token(incident.current_assessment_id or 0)} of {incident.code}"
        )
    now = clock()
    decision = ReviewDecision.APPROVED if approve else ReviewDecision.CHANGES_REQUESTED
    row = AssessmentReview(
        assessment_id=assessment.id,
        reviewer_id=reviewer.id,
        decision=str(decision),
        comment=comment.strip(),
        independent=not own,
        created_at=now,
    )
    session.add(row)
    if approve:
        # the current assessment is not one of the incident's versioned fields:
        # a review never conflicts with an editor's pending edit
        incident.current_assessment_id = assessment.id
        incident.grading = assessment.grading
    session.flush()
    record(
        session,
        action=f"assessment.{decision}",
        subject=name,
        by=reviewer.id,
        data={"incident": incident.code, "assessment": assessment.id, "review": row.id,
              "independent": not own, "comment_sha256": canonical_sha256(row.comment)},
        at=now,
        assessment=True,
    )  # fmt: skip
    return row


def assessment_dict(session: Session, assessment: Assessment) -> dict[str, Any]:
    """An assessment with its review, as ``incident show --json`` gives it."""
    decided = session.scalar(
        select(AssessmentReview).where(AssessmentReview.assessment_id == assessment.id)
    )
    approved = decided is not None and decided.decision == ReviewDecision.APPROVED
    status = "proposed" if decided is None else decided.decision
    casualties = [
        {"outcome": c.outcome, "status": c.status, "group": c.person_group,
         "min": c.min_count, "max": c.max_count}
        for c in assessment.casualties
    ]  # fmt: skip
    independent = None if not approved else bool(decided and decided.independent)
    return {
        "id": assessment_token(assessment.id),
        "status": status,
        "grading": assessment.grading,
        "harm": assessment.harm,
        "casualties": casualties,
        "summaries": {"ar": assessment.summary_ar, "en": assessment.summary_en},
        "author": user_name(session, assessment.author_id),
        "created_at": assessment.created_at.isoformat(),
        "incident_version": assessment.incident_version,
        "reviewed_by": None if decided is None else user_name(session, decided.reviewer_id),
        "reviewed_at": None if decided is None else decided.created_at.isoformat(),
        "review_comment": None if decided is None else decided.comment,
        "independently_reviewed": independent,
        "review_mark": NOT_INDEPENDENT if approved and independent is False else None,
    }


def assessments_of(session: Session, incident: Incident) -> list[Assessment]:
    """Every assessment of the incident, oldest first."""
    return list(
        session.scalars(
            select(Assessment)
            .options(selectinload(Assessment.casualties))
            .where(Assessment.incident_id == incident.id)
            .order_by(Assessment.id)
        )
    )


def counts_text(assessment: Assessment) -> list[str]:
    """The casualty ranges in their command-line form."""
    return [
        format_count(
            Count(
                Outcome(c.outcome),
                Status(c.status),
                Group(c.person_group),
                c.min_count,
                c.max_count,
            )
        )
        for c in assessment.casualties
    ]
