"""Verdicts: the desk's rating of a claim, with the evidence, reviewed by a second person.

A verdict rates a claim ``accurate``, ``misleading``, ``false`` or ``unproven``
(docs/desk.md defines them), with a summary in Arabic and English and the
reports that show it. Verdicts are append-only, ``V-<n>``, and reviewed exactly
like assessments: a different person with the reviewer role approves one or
requests changes; in a solo desk the author may approve their own, and the
verdict then carries "not independently reviewed". A claim's **current
verdict** is its newest approved one; an older verdict cannot be approved over
a newer current one. Proposals and reviews are ``assessment.changed`` ledger
entries (``data.action`` ``verdict.proposed``, ``verdict.approved``, ...).

:func:`review_item` is what ``sijil desk review ID`` calls: it takes A- and V- ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session, selectinload

from sijil.desk import assessments
from sijil.desk.claims import claim_token, get_claim
from sijil.desk.codes import assessment_token, parse_token
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.users import EDITING, require_user, user_name
from sijil.errors import DeskError, ReviewRefused, UnknownCode
from sijil.store import Claim, ClaimVerdict, Report, VerdictEvidence, VerdictReview
from sijil.store.models_claims import VerdictRating
from sijil.store.models_desk import ReviewDecision, Role

__all__ = [
    "ReviewOutcome",
    "current_ratings",
    "current_verdict",
    "current_verdicts",
    "get_verdict",
    "propose_verdict",
    "review_item",
    "review_verdict",
    "verdict_content",
    "verdict_dict",
    "verdict_token",
    "verdicts_of",
]

MAX_SUMMARY = assessments.MAX_SUMMARY


def verdict_token(verdict_id: int) -> str:
    """The typed id of a verdict: ``V-3``."""
    return f"V-{verdict_id}"


def _rating(value: VerdictRating | str) -> VerdictRating:
    try:
        return VerdictRating(value)
    except ValueError:
        allowed = ", ".join(r.value for r in VerdictRating)
        raise DeskError(f"a verdict's rating is one of {allowed}, not {value!r}") from None


def verdict_content(verdict: ClaimVerdict) -> dict[str, Any]:
    """What a verdict says, as canonical-JSON-able data (its ledger digest is of this)."""
    return {
        "claim": verdict.claim_id,
        "rating": verdict.rating,
        "summary_ar": verdict.summary_ar,
        "summary_en": verdict.summary_en,
        "evidence": sorted(e.report_id for e in verdict.evidence),
    }


def propose_verdict(
    session: Session,
    claim: str,
    *,
    rating: VerdictRating | str,
    summary_ar: str,
    summary_en: str,
    evidence: Sequence[int] = (),
    by: str | None,
    clock: Clock = utcnow,
) -> ClaimVerdict:
    """Propose a rating of claim ``claim`` (``C-<n>``) shown by reports ``evidence``."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    found = get_claim(session, claim)
    rated = _rating(rating)
    for lang, text in (("Arabic", summary_ar), ("English", summary_en)):
        if not text.strip():
            raise DeskError(f"a verdict needs an {lang} summary")
        if len(text) > MAX_SUMMARY:
            raise DeskError(f"the {lang} summary is over {MAX_SUMMARY} characters")
    reports = sorted(set(evidence))
    for report_id in reports:
        if session.get(Report, report_id) is None:
            raise UnknownCode(f"no report #{report_id}")
    now = clock()
    verdict = ClaimVerdict(
        claim_id=found.id,
        rating=str(rated),
        summary_ar=summary_ar.strip(),
        summary_en=summary_en.strip(),
        created_at=now,
        author_id=user.id,
        evidence=[VerdictEvidence(report_id=r) for r in reports],
    )
    session.add(verdict)
    session.flush()
    record(
        session,
        action="verdict.proposed",
        subject=verdict_token(verdict.id),
        by=user.id,
        data={"claim": found.id, "verdict": verdict.id,
              "content_sha256": canonical_sha256(verdict_content(verdict))},
        at=now,
        assessment=True,
    )  # fmt: skip
    return verdict


def get_verdict(session: Session, token: str) -> ClaimVerdict:
    """The verdict ``V-<n>`` names."""
    _, number = parse_token(token, "V")
    verdict = session.scalar(
        select(ClaimVerdict)
        .options(selectinload(ClaimVerdict.evidence))
        .where(ClaimVerdict.id == number)
    )
    if verdict is None:
        raise UnknownCode(f"no verdict {verdict_token(number)}")
    return verdict


def current_verdicts() -> Subquery:
    """``(claim_id, verdict_id)`` of every claim's current verdict: its newest approved one."""
    return (
        select(ClaimVerdict.claim_id, func.max(ClaimVerdict.id).label("verdict_id"))
        .join(VerdictReview, VerdictReview.verdict_id == ClaimVerdict.id)
        .where(VerdictReview.decision == str(ReviewDecision.APPROVED))
        .group_by(ClaimVerdict.claim_id)
        .subquery()
    )


def current_verdict(session: Session, claim: Claim) -> ClaimVerdict | None:
    """The claim's newest approved verdict, or None."""
    newest = session.scalar(
        select(func.max(ClaimVerdict.id))
        .join(VerdictReview, VerdictReview.verdict_id == ClaimVerdict.id)
        .where(
            ClaimVerdict.claim_id == claim.id,
            VerdictReview.decision == str(ReviewDecision.APPROVED),
        )
    )
    return None if newest is None else session.get(ClaimVerdict, newest)


def current_ratings(session: Session, claim_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """``{claim id: (verdict id, rating)}`` of the current verdicts of these claims."""
    current = current_verdicts()
    rows = session.execute(
        select(ClaimVerdict.claim_id, ClaimVerdict.id, ClaimVerdict.rating)
        .join(current, current.c.verdict_id == ClaimVerdict.id)
        .where(ClaimVerdict.claim_id.in_(claim_ids))
    )
    return {claim: (verdict, rating) for claim, verdict, rating in rows}


def review_verdict(
    session: Session,
    token: str,
    *,
    approve: bool,
    comment: str,
    by: str | None,
    clock: Clock = utcnow,
) -> VerdictReview:
    """Approve verdict ``token`` (it becomes the claim's current verdict) or request changes.

    The rules are the assessments': a reviewer who is not the author (unless the
    desk is solo; then the approval is marked not independent), one review per
    verdict, a comment when sending it back, never an older over a newer current one.
    """
    begin_change(session)
    reviewer = require_user(session, by, Role.REVIEWER)
    verdict = get_verdict(session, token)
    name = verdict_token(verdict.id)
    own = verdict.author_id == reviewer.id
    earlier = session.scalar(
        select(VerdictReview.decision).where(VerdictReview.verdict_id == verdict.id)
    )
    assessments.check_review(
        session, reviewer, name, own=own, approve=approve, comment=comment, earlier=earlier,
        kind="verdict",
    )  # fmt: skip
    claim = session.get(Claim, verdict.claim_id)
    if claim is None:  # pragma: no cover - foreign key
        raise UnknownCode(f"{name} belongs to no claim")
    current = current_verdict(session, claim)
    if approve and current is not None and current.id > verdict.id:
        raise ReviewRefused(f"{name} is older than the current verdict "
                            f"{verdict_token(current.id)} of {claim_token(claim.id)}")  # fmt: skip
    now = clock()
    decision = ReviewDecision.APPROVED if approve else ReviewDecision.CHANGES_REQUESTED
    row = VerdictReview(
        verdict_id=verdict.id,
        reviewer_id=reviewer.id,
        decision=str(decision),
        comment=comment.strip(),
        independent=not own,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        action=f"verdict.{decision}",
        subject=name,
        by=reviewer.id,
        data={"claim": claim.id, "verdict": verdict.id, "review": row.id,
              "independent": not own, "comment_sha256": canonical_sha256(row.comment)},
        at=now,
        assessment=True,
    )  # fmt: skip
    return row


def verdict_dict(session: Session, verdict: ClaimVerdict) -> dict[str, Any]:
    """A verdict with its evidence and review, as ``claim show --json`` gives it."""
    decided = session.scalar(select(VerdictReview).where(VerdictReview.verdict_id == verdict.id))
    approved = decided is not None and decided.decision == ReviewDecision.APPROVED
    independent = None if not approved else bool(decided and decided.independent)
    return {
        "id": verdict_token(verdict.id),
        "claim": claim_token(verdict.claim_id),
        "status": "proposed" if decided is None else decided.decision,
        "rating": verdict.rating,
        "summaries": {"ar": verdict.summary_ar, "en": verdict.summary_en},
        "evidence": [e.report_id for e in verdict.evidence],
        "author": user_name(session, verdict.author_id),
        "created_at": verdict.created_at.isoformat(),
        "reviewed_by": None if decided is None else user_name(session, decided.reviewer_id),
        "reviewed_at": None if decided is None else decided.created_at.isoformat(),
        "review_comment": None if decided is None else decided.comment,
        "independently_reviewed": independent,
        "review_mark": assessments.NOT_INDEPENDENT if approved and not independent else None,
    }


def verdicts_of(session: Session, claim: Claim) -> list[ClaimVerdict]:
    """Every verdict on the claim, oldest first."""
    return list(
        session.scalars(
            select(ClaimVerdict)
            .options(selectinload(ClaimVerdict.evidence))
            .where(ClaimVerdict.claim_id == claim.id)
            .order_by(ClaimVerdict.id)
        )
    )


@dataclass(frozen=True)
class ReviewOutcome:
    """What ``sijil desk review`` reports: the id reviewed, the decision, whether independent."""

    id: str
    decision: str
    independent: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "decision": self.decision,
                "independently_reviewed": self.independent}  # fmt: skip


def review_item(
    session: Session,
    token: str,
    *,
    approve: bool,
    comment: str,
    by: str | None,
    clock: Clock = utcnow,
) -> ReviewOutcome:
    """Review an assessment (``A-12``) or a verdict (``V-3``), by the same rules."""
    kind, number = parse_token(token, "A", "V")
    if kind == "A":
        done = assessments.review(session, token, approve=approve, comment=comment, by=by,
                                  clock=clock)  # fmt: skip
        return ReviewOutcome(assessment_token(number), done.decision, done.independent)
    row = review_verdict(session, token, approve=approve, comment=comment, by=by, clock=clock)
    return ReviewOutcome(verdict_token(number), row.decision, row.independent)
