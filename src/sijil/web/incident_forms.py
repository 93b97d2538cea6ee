"""The incident, evidence, attribution, assessment, review and translation forms, parsed once.

Each ``parse_*`` takes the form the gate handed on (sijil.web.guard: one value
per field, small, urlencoded) and returns a typed value, or raises
:class:`FieldInvalid` naming the field and a message (an English msgid, shown
translated next to the field). The rules of the records themselves stay in
sijil.desk; what is checked here is what a form can get wrong: a missing or
oversized field, a number that is not one, a choice not offered, a date that
does not parse, hostile characters (sijil.web.pages.field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sijil.desk.casualties import MAX_COUNT, Count, Group, Outcome, Status
from sijil.desk.incidents import MAX_TITLE, IncidentChanges, parse_when
from sijil.errors import DeskError, FormError
from sijil.store.models_desk import (
    Confidence,
    EvidenceRole,
    Grading,
    Harm,
    IncidentState,
    IncidentType,
    Stance,
)
from sijil.web.i18n import N_
from sijil.web.pages import field

__all__ = [
    "CASUALTY_KEYS",
    "CASUALTY_ROWS",
    "FieldInvalid",
    "IncidentForm",
    "parse_assessment",
    "parse_attribution",
    "parse_evidence",
    "parse_id",
    "parse_incident",
    "parse_review",
    "parse_translation",
    "parse_version",
]

#: Rows of the casualty table: three fields each, under the gate's 32 fields per form.
CASUALTY_ROWS = 7
CASUALTY_KEYS = tuple(f"{o}:{s}:{g}" for o in Outcome for s in Status for g in Group)
MAX_NOTE = 2000
MAX_SUMMARY = 4000
MAX_ACTOR = 255
MAX_PLACE = 255
_ID = re.compile(r"[1-9][0-9]{0,9}")
_NUMBER = re.compile(r"[0-9]{1,7}")
MAX_ID = 2**31 - 1
_E = TypeVar("_E", bound=StrEnum)

BAD_FIELD = N_("This field is too long or holds characters it may not hold.")
REQUIRED = N_("This field is required.")
NOT_A_CHOICE = N_("Choose one of the options.")
BAD_DATE = N_("Give a date as 2017-06-06, or a date and time with its offset.")
END_BEFORE_START = N_("The end is before the start.")
BAD_COORDINATES = N_("Give coordinates as LAT,LON in decimal degrees (35.95,39.01).")
NO_LOCATION = N_("Give a place or coordinates.")
BAD_NUMBER = N_("Give a whole number.")
BAD_RANGE = N_("A range needs its kind, and a minimum no larger than its maximum.")
BAD_VERSION = N_("The form lost track of the version you read. Reload the page.")


class FieldInvalid(FormError):
    """``field`` is wrong; ``message`` says how, in words the UI translates."""

    def __init__(
        self, name: str, message: str, *, choices: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"the field {name!r} is not valid", field=name)
        self.message = message
        self.choices = choices or []  # what the field could have meant (places of one name)


def _text(form: dict[str, str], name: str, max_len: int, *, single: bool = True) -> str:
    try:
        return field(form, name, max_len=max_len, single=single)
    except FieldInvalid:
        raise
    except FormError:
        if name not in form:
            raise FieldInvalid(name, REQUIRED) from None
        raise FieldInvalid(name, BAD_FIELD) from None


def _required(form: dict[str, str], name: str, max_len: int, *, single: bool = True) -> str:
    value = _text(form, name, max_len, single=single).strip()
    if not value:
        raise FieldInvalid(name, REQUIRED)
    return value


def _optional(form: dict[str, str], name: str, max_len: int) -> str | None:
    if name not in form:
        return None
    return _text(form, name, max_len).strip() or None


def _choice(form: dict[str, str], name: str, choices: type[_E]) -> _E:
    value = form.get(name, "")
    try:
        return choices(value)
    except ValueError:
        raise FieldInvalid(name, NOT_A_CHOICE) from None


def _small_int(form: dict[str, str], name: str, low: int, high: int) -> int | None:
    value = form.get(name, "")
    if value == "":
        return None
    if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise FieldInvalid(name, NOT_A_CHOICE)
    return int(value)


def parse_id(value: str | None, name: str) -> int:
    """A database id from an address or a form; anything else is refused."""
    if value is None or not _ID.fullmatch(value) or int(value) > MAX_ID:
        raise FieldInvalid(name, BAD_NUMBER)
    return int(value)


def parse_version(form: dict[str, str]) -> int:
    value = form.get("version")
    if value is None or not _ID.fullmatch(value) or int(value) > MAX_ID:
        raise FieldInvalid("version", BAD_VERSION)
    return int(value)


def _when(form: dict[str, str], name: str, *, required: bool) -> datetime | None:
    text = _required(form, name, 40) if required else _optional(form, name, 40)
    if text is None:
        return None
    try:
        return parse_when(text)
    except DeskError:
        raise FieldInvalid(name, BAD_DATE) from None


@dataclass(frozen=True, kw_only=True)
class IncidentForm:
    title_ar: str
    title_en: str
    incident_type: IncidentType
    start: datetime
    end: datetime | None
    date_prec: int
    place: str | None
    at: str | None
    where_prec: int | None
    state: IncidentState | None

    def changes(self) -> IncidentChanges:
        return IncidentChanges(
            title_ar=self.title_ar,
            title_en=self.title_en,
            incident_type=self.incident_type,
            start=self.start,
            end=self.end,
            clear_end=self.end is None,
            date_prec=self.date_prec,
            place=self.place,
            at=self.at,
            where_prec=self.where_prec,
            state=self.state,
        )


def _coordinates(form: dict[str, str]) -> str | None:
    at = _optional(form, "at", 64)
    if at is None:
        return None
    parts = at.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise FieldInvalid("at", BAD_COORDINATES) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FieldInvalid("at", BAD_COORDINATES)
    return at


def parse_incident(form: dict[str, str], *, with_state: bool) -> IncidentForm:
    """The incident editor's fields (a new incident has no state: it starts as a draft)."""
    title_ar = _required(form, "title_ar", MAX_TITLE)
    title_en = _required(form, "title_en", MAX_TITLE)
    kind = _choice(form, "type", IncidentType)
    start = _when(form, "start", required=True)
    end = _when(form, "end", required=False)
    if start is not None and end is not None and end < start:
        raise FieldInvalid("end", END_BEFORE_START)
    date_prec = _small_int(form, "date_prec", 1, 5) or 1
    place = _optional(form, "place", MAX_PLACE)
    at = _coordinates(form)
    if place is None and at is None:
        raise FieldInvalid("place", NO_LOCATION)
    where_prec = _small_int(form, "where_prec", 1, 7)
    state = _choice(form, "state", IncidentState) if with_state else None
    assert start is not None  # noqa: S101 - required above
    return IncidentForm(title_ar=title_ar, title_en=title_en, incident_type=kind, start=start,
                        end=end, date_prec=date_prec, place=place, at=at,
                        where_prec=where_prec, state=state)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EvidenceForm:
    report_id: int
    attachment: int | None
    role: EvidenceRole
    confidence: Confidence
    note: str | None


def parse_evidence(form: dict[str, str]) -> EvidenceForm:
    report_id = parse_id(form.get("report"), "report")
    position = form.get("attachment", "")
    attachment = None
    if position:
        if not _NUMBER.fullmatch(position) or int(position) > 10_000:
            raise FieldInvalid("attachment", BAD_NUMBER)
        attachment = int(position)
    note = _text(form, "note", MAX_NOTE, single=False).strip() if "note" in form else ""
    return EvidenceForm(report_id=report_id, attachment=attachment,
                        role=_choice(form, "role", EvidenceRole),
                        confidence=_choice(form, "confidence", Confidence),
                        note=note or None)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class AttributionForm:
    actor: str
    stance: Stance
    basis: str


def parse_attribution(form: dict[str, str]) -> AttributionForm:
    return AttributionForm(
        actor=_required(form, "actor", MAX_ACTOR),
        stance=_choice(form, "stance", Stance),
        basis=_required(form, "basis", MAX_NOTE, single=False),
    )


@dataclass(frozen=True, kw_only=True)
class AssessmentForm:
    version: int
    grading: Grading
    harm: Harm
    counts: tuple[Count, ...]
    summary_ar: str
    summary_en: str


def _count(form: dict[str, str], row: int) -> Count | None:
    key, low, high = (form.get(f"{n}{row}", "").strip() for n in ("kind", "min", "max"))
    if not key and not low and not high:
        return None
    if key not in CASUALTY_KEYS:
        raise FieldInvalid(f"kind{row}", BAD_RANGE)
    for name, value in ((f"min{row}", low), (f"max{row}", high or low)):
        if not _NUMBER.fullmatch(value) or int(value) > MAX_COUNT:
            raise FieldInvalid(name, BAD_NUMBER)
    outcome, status, group = key.split(":")
    least, most = int(low), int(high or low)
    if least > most:
        raise FieldInvalid(f"max{row}", BAD_RANGE)
    return Count(Outcome(outcome), Status(status), Group(group), least, most)


def parse_assessment(form: dict[str, str]) -> AssessmentForm:
    counts = [c for row in range(CASUALTY_ROWS) if (c := _count(form, row)) is not None]
    return AssessmentForm(
        version=parse_version(form),
        grading=_choice(form, "grading", Grading),
        harm=_choice(form, "harm", Harm),
        counts=tuple(counts),
        summary_ar=_required(form, "summary_ar", MAX_SUMMARY, single=False),
        summary_en=_required(form, "summary_en", MAX_SUMMARY, single=False),
    )


@dataclass(frozen=True, kw_only=True)
class ReviewForm:
    approve: bool
    comment: str


def parse_review(form: dict[str, str]) -> ReviewForm:
    decision = form.get("decision", "")
    if decision not in ("approve", "changes"):
        raise FieldInvalid("decision", NOT_A_CHOICE)
    comment = _text(form, "comment", MAX_NOTE, single=False).strip() if "comment" in form else ""
    if decision == "changes" and not comment:
        raise FieldInvalid("comment", N_("Say what should change."))
    return ReviewForm(approve=decision == "approve", comment=comment)


@dataclass(frozen=True, kw_only=True)
class TranslationForm:
    version: int
    lang: str
    text: str

    def changes(self) -> IncidentChanges:
        if self.lang == "ar":
            return IncidentChanges(title_ar=self.text)
        return IncidentChanges(title_en=self.text)


def parse_translation(form: dict[str, str]) -> TranslationForm:
    lang = form.get("lang", "")
    if lang not in ("ar", "en"):
        raise FieldInvalid("lang", NOT_A_CHOICE)
    return TranslationForm(
        version=parse_version(form), lang=lang, text=_required(form, "text", MAX_TITLE)
    )
