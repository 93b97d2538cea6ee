"""What waits for a second person: assessments and verdicts nobody has reviewed yet.

A reviewer's queue never holds their own work (they cannot review it), except
in a solo desk, where the one person confirms their own and the approval is
marked as not independent (sijil.desk.assessments). ``assessment_page`` is one
assessment with its incident, for the page where it is reviewed. Verdicts
(sijil.desk.verdicts) follow the same rules and are reviewed on their claim's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.assessments import assessment_dict, get_assessment
from sijil.desk.claims import claim_token
from sijil.desk.codes import assessment_token
from sijil.desk.users import is_solo
from sijil.desk.verdicts import verdict_token
from sijil.errors import UnknownCode
from sijil.store import (
    Assessment,
    AssessmentReview,
    Claim,
    ClaimVerdict,
    DeskUser,
    Incident,
    VerdictReview,
)

__all__ = [
    "QUEUE_LIMIT",
    "AssessmentPage",
    "QueueItem",
    "VerdictItem",
    "assessment_page",
    "review_queue",
    "verdict_queue",
]

#: The queue shows the oldest waiting work first, this many at most.
QUEUE_LIMIT = 200


@dataclass(frozen=True, kw_only=True)
class QueueItem:
    assessment_id: int
    token: str
    incident_code: str
    titles: dict[str, str]
    grading: str
    harm: str
    author: str
    created_at: datetime
    own: bool  # only ever true in a solo desk
    # the incident changed since the author looked at it
    incident_moved: bool
    # a newer assessment is already current: this one can only be sent back
    superseded: bool


def review_queue(session: Session, user_id: int, *, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """Unreviewed assessments ``user_id`` may review, oldest first."""
    query = (
        select(Assessment, Incident, DeskUser.name)
        .join(Incident, Assessment.incident_id == Incident.id)
        .join(DeskUser, Assessment.author_id == DeskUser.id)
        .outerjoin(AssessmentReview, AssessmentReview.assessment_id == Assessment.id)
        .where(AssessmentReview.id.is_(None))
        .order_by(Assessment.created_at, Assessment.id)
        .limit(limit)
    )
    if not is_solo(session):
        query = query.where(Assessment.author_id != user_id)
    return [
        QueueItem(
            assessment_id=assessment.id,
            token=assessment_token(assessment.id),
            incident_code=incident.code,
            titles={"ar": incident.title_ar, "en": incident.title_en},
            grading=assessment.grading,
            harm=assessment.harm,
            author=author,
            created_at=assessment.created_at,
            own=assessment.author_id == user_id,
            incident_moved=assessment.incident_version != incident.version,
            superseded=(incident.current_assessment_id or 0) > assessment.id,
        )
        for assessment, incident, author in session.execute(query)
    ]


@dataclass(frozen=True, kw_only=True)
class VerdictItem:
    verdict_id: int
    token: str
    claim: str  # the claim's token, ``C-3``: its page holds the review form
    claim_title: str
    claim_lang: str
    rating: str
    author: str
    created_at: datetime
    own: bool  # only ever true in a solo desk


def verdict_queue(session: Session, user_id: int, *, limit: int = QUEUE_LIMIT) -> list[VerdictItem]:
    """Unreviewed verdicts ``user_id`` may review (never their own but in a solo desk),
    oldest first."""
    query = (
        select(ClaimVerdict, Claim, DeskUser.name)
        .join(Claim, ClaimVerdict.claim_id == Claim.id)
        .join(DeskUser, ClaimVerdict.author_id == DeskUser.id)
        .outerjoin(VerdictReview, VerdictReview.verdict_id == ClaimVerdict.id)
        .where(VerdictReview.id.is_(None))
        .order_by(ClaimVerdict.created_at, ClaimVerdict.id)
        .limit(limit)
    )
    if not is_solo(session):
        query = query.where(ClaimVerdict.author_id != user_id)
    return [
        VerdictItem(
            verdict_id=verdict.id,
            token=verdict_token(verdict.id),
            claim=claim_token(claim.id),
            claim_title=claim.title,
            claim_lang=claim.lang,
            rating=verdict.rating,
            author=author,
            created_at=verdict.created_at,
            own=verdict.author_id == user_id,
        )
        for verdict, claim, author in session.execute(query)
    ]


@dataclass(frozen=True, kw_only=True)
class AssessmentPage:
    assessment: dict[str, Any]  # sijil.desk.assessments.assessment_dict
    assessment_id: int
    incident_code: str
    titles: dict[str, str]
    incident_version: int
    own: bool
    solo: bool


def assessment_page(session: Session, assessment_id: int, *, user_id: int) -> AssessmentPage:
    """Assessment ``A-<assessment_id>`` with its incident, as ``user_id`` sees it."""
    assessment = get_assessment(session, assessment_token(assessment_id))
    incident = session.get(Incident, assessment.incident_id)
    if incident is None:  # pragma: no cover - foreign key
        raise UnknownCode(f"{assessment_token(assessment_id)} belongs to no incident")
    return AssessmentPage(
        assessment=assessment_dict(session, assessment),
        assessment_id=assessment.id,
        incident_code=incident.code,
        titles={"ar": incident.title_ar, "en": incident.title_en},
        incident_version=incident.version,
        own=assessment.author_id == user_id,
        solo=is_solo(session),
    )
