"""A post's body (docs/publish-format.md) built from the desk's reviewed records.

Only reviewed work is published: an incident's *current* assessment (approved
by a second person, or self-approved on a solo desk), a claim's current verdict.
Anything else refuses with one line. Places and dates are coarsened to the
incident's risk tier (sijil.publish.coarsen) before they enter the body; the
incident's exact point and time never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.claims import claim_token, get_claim
from sijil.desk.gazetteer import GOVERNORATES
from sijil.desk.incidents import get_incident
from sijil.desk.verdicts import current_verdict, get_verdict, verdict_token
from sijil.errors import PublishRefused
from sijil.publish.coarsen import Area, RiskTier, coarsen_dates, coarsen_place, governorate_area
from sijil.store import (
    Assessment,
    AssessmentReview,
    Attribution,
    ClaimIncident,
    ClaimVerdict,
    DeskActor,
    EvidenceLink,
    Incident,
    Place,
    Source,
    VerdictReview,
)
from sijil.store.models_desk import Grading, IncidentState, PlaceKind, ReviewDecision

__all__ = [
    "FORMAT",
    "GRADING_DEFINITIONS",
    "Reviewed",
    "incident_content",
    "post_body",
    "reviewed_incident",
    "reviewed_verdict",
    "text_fields",
    "verdict_content",
]

FORMAT = "sijil-post/1"

#: Airwars' grading definitions (docs/desk.md), as every post repeats them.
GRADING_DEFINITIONS: dict[Grading, dict[str, str]] = {
    Grading.CONFIRMED: {
        "en": "A specific belligerent's responsibility is not in dispute, and credible"
        " sources report the civilian harm.",
        "ar": "مسؤولية طرف محدد غير متنازع عليها، ومصادر موثوقة تفيد بوقوع الضرر بالمدنيين.",
    },
    Grading.FAIR: {
        "en": "Two or more generally credible sources report the incident, and a strike by"
        " the alleged actor in that vicinity, on that day, is confirmed.",
        "ar": "مصدران موثوقان أو أكثر يفيدان بالحادثة، وثبت أن الطرف المتهم نفّذ ضربة"
        " في ذلك المحيط في ذلك اليوم.",
    },
    Grading.WEAK: {
        "en": "A single source, or only limited information, even if that one source is detailed.",
        "ar": "مصدر واحد أو معلومات محدودة، حتى لو كان ذلك المصدر مفصّلاً.",
    },
    Grading.CONTESTED: {
        "en": "Competing claims: more than one party is said to be responsible, and the"
        " evidence does not settle which.",
        "ar": "روايات متعارضة: يُنسب الفعل إلى أكثر من طرف، والأدلة لا تحسم أيّها.",
    },
    Grading.DISCOUNTED: {
        "en": "Later shown to be unlikely: the harm did not happen as alleged, those killed"
        " were not civilians, or the alleged actor did not cause it.",
        "ar": "تبيّن لاحقاً أنها غير مرجّحة: لم يقع الضرر كما زُعم، أو لم يكن القتلى"
        " مدنيين، أو لم يتسبب بها الطرف المتهم.",
    },
}


@dataclass(frozen=True)
class Reviewed:
    """What a post rests on: the subject, its reviewed record, and the reports behind it."""

    kind: str  # PostKind value
    subject: str
    independent: bool
    reports: tuple[int, ...]
    incident: Incident | None = None
    assessment: Assessment | None = None
    verdict: ClaimVerdict | None = None


def reviewed_incident(session: Session, code: str) -> Reviewed:
    """The incident ``code`` with its current, approved assessment; refuses otherwise."""
    incident = get_incident(session, code)
    current = incident.current_assessment_id
    review = (
        None
        if current is None
        else session.scalar(
            select(AssessmentReview).where(AssessmentReview.assessment_id == current)
        )
    )
    if current is None or review is None or review.decision != ReviewDecision.APPROVED:
        raise PublishRefused(f"{incident.code} has no reviewed assessment; nothing to publish")
    assessment = session.get(Assessment, current)
    reports = session.scalars(
        select(EvidenceLink.report_id).where(EvidenceLink.incident_id == incident.id)
    ).all()
    return Reviewed(
        kind="incident",
        subject=incident.code,
        independent=review.independent,
        reports=tuple(sorted(set(reports))),
        incident=incident,
        assessment=assessment,
    )


def reviewed_verdict(session: Session, token: str) -> Reviewed:
    """The verdict ``V-<n>``, which must be its claim's current (approved) verdict."""
    verdict = get_verdict(session, token)
    claim = get_claim(session, claim_token(verdict.claim_id))
    current = current_verdict(session, claim)
    name = verdict_token(verdict.id)
    if current is None or current.id != verdict.id:
        raise PublishRefused(
            f"{name} is not the reviewed, current verdict on {claim_token(claim.id)}"
        )
    review = session.scalar(select(VerdictReview).where(VerdictReview.verdict_id == verdict.id))
    independent = review is not None and review.independent
    return Reviewed(
        kind="verdict",
        subject=claim_token(claim.id),
        independent=independent,
        reports=tuple(e.report_id for e in verdict.evidence),
        verdict=verdict,
    )


def _pair(ar: str, en: str) -> dict[str, str]:
    return {"ar": ar, "en": en}


def _governorate(code: str | None) -> Area:
    names = {g.code: g for g in GOVERNORATES}
    g = names.get(code or "")
    return governorate_area(code if g else None, g.name_ar if g else "", g.name_en if g else "")


def _where(session: Session, incident: Incident, tier: RiskTier) -> dict[str, Any]:
    place = None if incident.place_id is None else session.get(Place, incident.place_id)
    point: tuple[int, int] | None = None
    if incident.lat_e6 is not None and incident.lon_e6 is not None:
        point = (incident.lat_e6, incident.lon_e6)
    elif place is not None and place.lat_e6 is not None and place.lon_e6 is not None:
        point = (place.lat_e6, place.lon_e6)
    code = incident.governorate or (place.governorate if place is not None else None)
    district = None
    if place is not None and place.kind in (PlaceKind.DISTRICT, PlaceKind.SUBDISTRICT):
        district = Area(place.name_ar, place.name_en, code, place.lat_e6, place.lon_e6, 3)
    where = coarsen_place(
        point, incident.where_prec, tier, governorate=_governorate(code), district=district
    )
    return {
        "name": _pair(where.name_ar, where.name_en),
        "governorate": where.governorate,
        "lat": where.lat,
        "lon": where.lon,
        "where_prec": where.where_prec,
        "h3": where.h3,
    }


def _attribution(session: Session, incident: Incident) -> list[dict[str, Any]]:
    rows = session.execute(
        select(DeskActor.name_ar, DeskActor.name_en, Attribution.stance)
        .join(DeskActor, DeskActor.id == Attribution.actor_id)
        .where(Attribution.incident_id == incident.id)
        .order_by(Attribution.id)
    ).all()
    seen = dict.fromkeys((ar, en, stance) for ar, en, stance in rows)
    return [{"actor": _pair(ar, en), "stance": stance} for ar, en, stance in seen]


def incident_content(
    session: Session, found: Reviewed, tier: RiskTier, media: list[dict[str, str]]
) -> dict[str, Any]:
    """The post's ``incident`` object: coarsened, reviewed, with re-encoded media only."""
    incident, assessment = found.incident, found.assessment
    if incident is None or assessment is None:
        raise PublishRefused(f"{found.subject} is not an incident with a reviewed assessment")
    when = coarsen_dates(
        incident.start_at.date(),
        None if incident.end_at is None else incident.end_at.date(),
        incident.date_prec,
        tier,
    )
    grading = Grading(assessment.grading)
    return {
        "code": incident.code,
        "type": incident.incident_type,
        "title": _pair(incident.title_ar, incident.title_en),
        "when": {
            "start": when.start.isoformat(),
            "end": None if when.end is None else when.end.isoformat(),
            "date_prec": when.date_prec,
        },
        "where": _where(session, incident, tier),
        "grading": {"code": str(grading), "definition": GRADING_DEFINITIONS[grading]},
        "harm": assessment.harm,
        "casualties": [
            {
                "outcome": c.outcome,
                "status": c.status,
                "group": c.person_group,
                "low": c.min_count,
                "high": c.max_count,
            }
            for c in assessment.casualties
        ],
        "attribution": _attribution(session, incident),
        "summary": _pair(assessment.summary_ar, assessment.summary_en),
        "media": media,
    }


def verdict_content(session: Session, found: Reviewed) -> dict[str, Any]:
    """The post's ``verdict`` object; it lists only the published incidents it rests on."""
    verdict = found.verdict
    if verdict is None:
        raise PublishRefused(f"{found.subject} has no reviewed verdict")
    claim = get_claim(session, claim_token(verdict.claim_id))
    source = session.get(Source, claim.source_id)
    incidents = session.scalars(
        select(Incident.code)
        .join(ClaimIncident, ClaimIncident.incident_id == Incident.id)
        .where(ClaimIncident.claim_id == claim.id, Incident.state == IncidentState.PUBLISHED)
        .order_by(ClaimIncident.id)
    ).all()
    return {
        "claim": {
            "code": claim_token(claim.id),
            "title": claim.title,
            "text": claim.body,
            "lang": claim.lang,
            "source": {
                "kind": source.kind if source else "",
                "name": source.name if source else "",
            },
            "date": None if claim.claim_date is None else claim.claim_date.isoformat(),
        },
        "rating": verdict.rating,
        "summary": _pair(verdict.summary_ar, verdict.summary_en),
        "incidents": list(incidents),
    }


def languages(content: dict[str, Any] | None) -> dict[str, str]:
    """``complete`` or ``pending`` per language: pending when one of its texts is empty."""
    pairs = [v for _, v in _pairs(content or {})]
    return {
        lang: "complete" if all(p.get(lang, "").strip() for p in pairs) else "pending"
        for lang in ("ar", "en")
    }


def _pairs(value: Any, path: str = "") -> list[tuple[str, dict[str, str]]]:
    if isinstance(value, dict):
        if set(value) == {"ar", "en"} and all(isinstance(v, str) for v in value.values()):
            return [(path, value)]
        return [p for k, v in value.items() for p in _pairs(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _pairs(v, f"{path}[{i}]")]
    return []


# free text a reader sees; codes, dates, hashes and enums are not scanned
_CLAIM_TEXTS = ("title", "text")


def text_fields(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Every free text of a post body, with its place: what the leak scan reads."""
    out: list[tuple[str, str]] = []
    for part in ("incident", "verdict", "reason"):
        content = body.get(part)
        if content is None:
            continue
        for path, pair in _pairs(content, part):
            if path.endswith("grading.definition"):
                continue  # the desk's own constant text
            out.extend((f"{path}.{lang}", text) for lang, text in sorted(pair.items()))
        if part == "verdict":
            claim = content["claim"]
            out.extend((f"verdict.claim.{k}", claim[k]) for k in _CLAIM_TEXTS)
            out.append(("verdict.claim.source.name", claim["source"]["name"]))
    return out


def post_body(
    *,
    log_index: int,
    action: str,
    kind: str,
    subject: str,
    version: int,
    supersedes: int | None,
    published_at: date | datetime,
    independently_reviewed: bool,
    reason: dict[str, str] | None,
    content: dict[str, Any] | None,
) -> dict[str, Any]:
    """The whole post as docs/publish-format.md lays it out (a retraction has no content)."""
    day = published_at.date() if isinstance(published_at, datetime) else published_at
    return {
        "format": FORMAT,
        "log_index": log_index,
        "action": action,
        "kind": kind,
        "subject": subject,
        "version": version,
        "supersedes": supersedes,
        "published_at": day.isoformat(),
        "independently_reviewed": independently_reviewed,
        "languages": languages(content if content is not None else {"reason": reason or {}}),
        "reason": reason,
        "incident": content if kind == "incident" else None,
        "verdict": content if kind == "verdict" else None,
    }
