"""What the desk holds in one language only: the public record needs Arabic and English.

An incident's titles and an assessment's summaries are both required, but a
busy desk fills the second one with a copy of the first, or with text in the
wrong script, to be translated later. :func:`missing_language` says which
language a pair of texts lacks; :func:`translation_gaps` lists the incidents
and the assessments still in play (current, or waiting for review) that lack
one. Read only: the web app's translation view adds the missing text through
sijil.desk.incidents (a title) or a new assessment (a summary: they are never
edited).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sijil.desk.codes import assessment_token
from sijil.store import Assessment, AssessmentReview, Incident

__all__ = ["GAP_LIMIT", "Gap", "missing_language", "translation_gaps"]

#: The view lists this many gaps at most, newest incidents first.
GAP_LIMIT = 200
_ARABIC_BLOCKS = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)


def _is_arabic(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _ARABIC_BLOCKS)


def _scripts(text: str) -> tuple[bool, bool]:
    """Whether ``text`` holds Arabic letters, and whether it holds Latin ones."""
    arabic = latin = False
    for ch in text:
        if not unicodedata.category(ch).startswith("L"):
            continue
        if _is_arabic(ch):
            arabic = True
        elif "LATIN" in unicodedata.name(ch, ""):
            latin = True
    return arabic, latin


def missing_language(text_ar: str | None, text_en: str | None) -> str | None:
    """``"ar"`` or ``"en"``: the language a pair of texts lacks; None when both are there.

    A text is missing when it is empty, when it is the other one copied, or when
    it is written only in the other language's script (Arabic letters and no
    Latin ones in the English text, or the reverse). Text without letters (a
    number, a code) is taken as it is.
    """
    ar, en = (text_ar or "").strip(), (text_en or "").strip()
    ar_arabic, ar_latin = _scripts(ar)
    en_arabic, en_latin = _scripts(en)
    if not en or (en_arabic and not en_latin) or (en == ar and ar_arabic):
        return "en" if ar else None
    if not ar or (ar_latin and not ar_arabic) or (en == ar and ar_latin):
        return "ar"
    return None


@dataclass(frozen=True, kw_only=True)
class Gap:
    kind: str  # "incident" (its title) or "assessment" (its summary)
    ref: str  # the incident's code or the assessment's A- id
    incident_code: str
    incident_version: int
    missing: str  # "ar" or "en"
    text_ar: str
    text_en: str
    state: str  # the incident's state, or the assessment's ("current", "proposed")


def _incident_gaps(session: Session, limit: int) -> list[Gap]:
    rows = session.execute(
        select(
            Incident.code, Incident.version, Incident.title_ar, Incident.title_en, Incident.state
        ).order_by(Incident.start_at.desc(), Incident.id.desc())
    )
    gaps = []
    for code, version, title_ar, title_en, state in rows:
        missing = missing_language(title_ar, title_en)
        if missing is not None:
            gaps.append(Gap(kind="incident", ref=code, incident_code=code,
                            incident_version=version, missing=missing, text_ar=title_ar,
                            text_en=title_en, state=state))  # fmt: skip
            if len(gaps) >= limit:
                break
    return gaps


def _assessment_gaps(session: Session, limit: int) -> list[Gap]:
    if limit <= 0:
        return []
    rows = session.execute(
        select(Assessment, Incident.code, Incident.version, Incident.current_assessment_id)
        .join(Incident, Assessment.incident_id == Incident.id)
        .outerjoin(AssessmentReview, AssessmentReview.assessment_id == Assessment.id)
        .where(or_(AssessmentReview.id.is_(None), Incident.current_assessment_id == Assessment.id))
        .order_by(Assessment.id.desc())
    )
    gaps = []
    for assessment, code, version, current in rows:
        missing = missing_language(assessment.summary_ar, assessment.summary_en)
        state = "current" if current == assessment.id else "proposed"
        if missing is not None:
            gaps.append(Gap(kind="assessment", ref=assessment_token(assessment.id),
                            incident_code=code, incident_version=version, missing=missing,
                            text_ar=assessment.summary_ar, text_en=assessment.summary_en,
                            state=state))  # fmt: skip
            if len(gaps) >= limit:
                break
    return gaps


def translation_gaps(session: Session, *, limit: int = GAP_LIMIT) -> list[Gap]:
    """Incident titles, then assessment summaries, that exist in one language only."""
    gaps = _incident_gaps(session, limit)
    return gaps + _assessment_gaps(session, max(limit - len(gaps), 0))
