"""Suggestions: the claims, monitor records and reports near an incident in time and place.

``sijil desk incident suggest CODE`` lists what the desk holds that may be about
an incident, ranked, with every casualty figure set beside the incident's
current assessment. Nothing is linked or written: the editor decides.

**Time.** The window is the incident's own days (its start, to its end if it
has one, in UTC) widened by ``days`` on each side. An item's gap is the number
of days between its date (a claim's date, a monitor record's start-to-end span,
the UTC day a report was written) and the incident's days: 0 when they meet.

**Place.** Distances are great-circle kilometres between exact integer
microdegrees (a report's decimal degrees are rounded to microdegrees first). An
item placed to a point (a claim at a gazetteer place with coordinates, a monitor
record with ``where_prec`` 1-3, a report with coordinates) matches when it lies
within ``km``. An item placed only to a governorate (a claim with no place or a
governorate for one, as FA-KES gives; a monitor record with ``where_prec`` 4 or
more) matches when its governorate is the incident's; so does every claim and
record when the incident itself is known only to its governorate. An incident
given by coordinates alone takes the governorate of the nearest gazetteer place
within ``km``. Reports carry no governorate: those without coordinates are not
suggested. (:mod:`sijil.desk.nearby` holds the queries.)

**Rank.** A score out of 100, highest first (ties: fewer days, fewer km, then
claims, monitor records, reports, by number)::

    40 x time   (1 on the incident's days, down to 1/(days+1) at the window's edge)
  + 40 x place  (1 - distance/km; 0 for a match by governorate)
  + 10          when in the incident's governorate
  + 10 x casualty agreement (1 agree, 1/2 nothing to compare, 0 differ)

**Casualties.** The incident's figure is its current assessment's range of
civilians killed (``killed:civilian:all``). A claim's figure is the civilians it
says were killed; it agrees when inside that range. A monitor record's figure
runs from its civilian deaths to its civilian plus unknown-status deaths (UCDP
counts the dead whose status it does not know apart); it agrees when the two
ranges meet. Each disagreement is spelled out in one line, a claim's beside the
best-ranked monitor record's figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.codes import assessment_token
from sijil.desk.incidents import get_incident
from sijil.desk.nearby import (
    IMPRECISE,
    Agreement,
    Kind,
    Near,
    Range,
    Suggestion,
    claims_near,
    distance_km,
    records_near,
    reports_near,
)
from sijil.desk.places import format_e6, place_token
from sijil.desk.revocation import flags_for
from sijil.errors import DeskError
from sijil.store import CasualtyRow, ClaimIncident, EvidenceLink, Incident, Place

__all__ = ["DEFAULT_DAYS", "DEFAULT_KM", "LIMIT", "Suggestions", "suggest"]

#: Days either side of the incident: outlets report a strike over the next two or
#: three days ("yesterday's raid"), UCDP dates an event to the day it began, and a
#: correspondent may write a report a day or two after what it tells.
DEFAULT_DAYS = 3
#: Kilometres around it: UCDP's ``where_prec`` 2 places an event "within about
#: 25 km" of its coordinates; a town with its outskirts and villages fits inside.
DEFAULT_KM = 25
MAX_DAYS, MAX_KM = 90, 200
#: How many items of each kind are shown (all are counted).
LIMIT = 20
_KIND_ORDER = {Kind.CLAIM: 0, Kind.MONITOR: 1, Kind.REPORT: 2}
_WEIGHT = {Agreement.AGREES: 1.0, Agreement.UNKNOWN: 0.5, Agreement.DIFFERS: 0.0}


@dataclass(frozen=True, kw_only=True)
class Suggestions:
    """What ``incident suggest`` found, ranked."""

    incident: str
    near: Near
    governorate_from: str | None
    current: str | None
    ours: Range | None
    found: dict[str, int]
    items: list[Suggestion]
    notes: list[str]
    # suggested reports that are possibly coerced or sent under duress (sijil.desk.revocation)
    flagged: dict[str, str] = field(default_factory=dict)

    @property
    def discrepancies(self) -> list[str]:
        return [s.discrepancy for s in self.items if s.discrepancy]

    def to_dict(self) -> dict[str, Any]:
        near, center = self.near, None
        if near.center is not None:
            center = {"lat": format_e6(near.center[0]), "lon": format_e6(near.center[1])}
        current = None
        if self.current is not None:
            ours = None if self.ours is None else self.ours.to_dict()
            current = {"id": self.current, "killed_civilians": ours}
        return {
            "incident": self.incident,
            "window": {"days": near.days, "from": near.first.isoformat(),
                       "to": near.last.isoformat()},
            "km": int(near.km) if near.km.is_integer() else near.km,
            "center": center, "governorate": near.governorate,
            "governorate_from": self.governorate_from, "current_assessment": current,
            "found": self.found,
            "suggestions": [s.to_dict() | {"flag": self.flagged.get(s.id)} for s in self.items],
            "discrepancies": self.discrepancies, "notes": self.notes,
        }  # fmt: skip


def _days(incident: Incident) -> tuple[date, date]:
    start = incident.start_at.astimezone(UTC).date()
    return start, start if incident.end_at is None else incident.end_at.astimezone(UTC).date()


def _where(session: Session, incident: Incident, days: int, km: float) -> tuple[Near, str | None]:
    """The incident's days and place, and where its governorate came from (if known)."""
    place = session.get(Place, incident.place_id) if incident.place_id is not None else None
    center: tuple[int, int] | None = None
    if incident.lat_e6 is not None and incident.lon_e6 is not None:
        center = (incident.lat_e6, incident.lon_e6)
    elif place is not None and place.lat_e6 is not None and place.lon_e6 is not None:
        center = (place.lat_e6, place.lon_e6)
    precise = center is not None and incident.where_prec < IMPRECISE
    near = Near(*_days(incident), days, km, center, incident.governorate, precise)
    if incident.governorate is not None:
        return near, "the incident"
    if center is None or not precise:
        return near, None
    south, north, west, east = near.box()
    rows = session.execute(
        select(Place.id, Place.governorate, Place.lat_e6, Place.lon_e6).where(
            Place.lat_e6.between(south, north), Place.lon_e6.between(west, east),
            Place.governorate.is_not(None))
    )  # fmt: skip
    nearest = min(
        ((distance_km(*center, lat, lon), pid, gov) for pid, gov, lat, lon in rows
         if lat is not None and lon is not None),
        default=None,
    )  # fmt: skip
    if nearest is None or nearest[0] > km:
        return near, None
    far, place_id, governorate = nearest
    found = f"the nearest gazetteer place, {place_token(place_id)}, {far:.1f} km away"
    return replace(near, governorate=governorate), found


def _current(session: Session, incident: Incident) -> tuple[str | None, Range | None]:
    """The current assessment's id and its range of civilians killed."""
    if incident.current_assessment_id is None:
        return None, None
    row = session.execute(
        select(CasualtyRow.min_count, CasualtyRow.max_count).where(
            CasualtyRow.assessment_id == incident.current_assessment_id,
            CasualtyRow.outcome == "killed", CasualtyRow.status == "civilian",
            CasualtyRow.person_group == "all")
    ).first()  # fmt: skip
    token = assessment_token(incident.current_assessment_id)
    return token, None if row is None else Range(row[0], row[1])


def _scored(item: Suggestion, near: Near) -> Suggestion:
    closeness = 1 - item.days / (near.days + 1)
    nearness = 0.0 if item.km is None else max(0.0, 1 - item.km / near.km)
    score = 40 * closeness + 40 * nearness + 10 * item.same_governorate
    return replace(item, score=round(score + 10 * _WEIGHT[item.agreement]))


def _rank(items: Iterable[Suggestion], limit: int) -> list[Suggestion]:
    ranked = sorted(items, key=lambda s: (-s.score, s.days, math.inf if s.km is None else s.km,
                                          _KIND_ORDER[s.kind], s.number))  # fmt: skip
    shown: dict[Kind, int] = {}
    kept = []
    for item in ranked:
        shown[item.kind] = shown.get(item.kind, 0) + 1
        if shown[item.kind] <= limit:
            kept.append(item)
    return kept


def _spell_out(
    items: list[Suggestion], current: str | None, ours: Range | None
) -> list[Suggestion]:
    """Each figure that differs from ours in one line; a claim's beside the top record's."""
    if current is None or ours is None:
        return items
    top = next((s for s in items if s.kind is Kind.MONITOR), None)
    also = "" if top is None else f"; {top.id}: {top.figure_text}"
    ours_text = f"our current assessment {current}: {ours} civilians killed"
    spelled = []
    for item in items:
        if item.agreement is Agreement.DIFFERS and item.kind is Kind.MONITOR:
            item = replace(item, discrepancy=f"{item.id}: {item.figure_text}; {ours_text}")
        elif item.agreement is Agreement.DIFFERS:
            line = f"{item.source} ({item.id}): {item.figure_text}; {ours_text}{also}"
            item = replace(item, discrepancy=line)
        spelled.append(item)
    return spelled


def _notes(near: Near, incident: Incident, current: str | None, ours: Range | None) -> list[str]:
    notes = []
    if current is None:
        notes.append("no current assessment: casualty figures are shown, not compared")
    elif ours is None:
        notes.append(f"the current assessment {current} gives no range of civilians killed: "
                     "casualty figures are shown, not compared")  # fmt: skip
    if not near.precise:
        notes.append(f"the incident is placed to where-precision {incident.where_prec} or has "
                     "no coordinates: claims and monitor records match by governorate, and "
                     "reports, which have no governorate, are not suggested")  # fmt: skip
    if near.governorate is None:
        notes.append("the incident's governorate is not known: items placed only to a "
                     "governorate cannot match")  # fmt: skip
    return notes


def suggest(
    session: Session,
    code: str,
    *,
    days: int = DEFAULT_DAYS,
    km: float = DEFAULT_KM,
    limit: int = LIMIT,
) -> Suggestions:
    """The claims, monitor records and reports within ``days`` and ``km`` of incident ``code``,
    ranked as the module says, at most ``limit`` of each kind (all are counted)."""
    if not 0 <= days <= MAX_DAYS:
        raise DeskError(f"the window is 0 to {MAX_DAYS} days either side, not {days}")
    if not 0 < km <= MAX_KM:
        raise DeskError(f"the distance is above 0 and at most {MAX_KM} km, not {km}")
    if limit < 1:
        raise DeskError("show at least one suggestion of each kind")
    incident = get_incident(session, code)
    near, governorate_from = _where(session, incident, days, float(km))
    current, ours = _current(session, incident)
    linked = select(ClaimIncident.claim_id).where(ClaimIncident.incident_id == incident.id)
    claims = set(session.scalars(linked))
    evidence = select(EvidenceLink.report_id).where(EvidenceLink.incident_id == incident.id)
    reports = set(session.scalars(evidence))
    items = [*claims_near(session, near, ours, claims), *records_near(session, near, ours),
             *reports_near(session, near, reports)]  # fmt: skip
    found = {str(kind): sum(1 for s in items if s.kind is kind) for kind in Kind}
    items, flagged = _flagged(session, items)
    ranked = _rank((_scored(s, near) for s in items), limit)
    return Suggestions(
        incident=incident.code, near=near, governorate_from=governorate_from, current=current,
        ours=ours, found=found, items=_spell_out(ranked, current, ours),
        notes=_notes(near, incident, current, ours), flagged=flagged,
    )  # fmt: skip


def _flagged(session: Session, items: list[Suggestion]) -> tuple[list[Suggestion], dict[str, str]]:
    """Reports possibly coerced or sent under duress, marked in their title wherever shown."""
    flags = flags_for(session, [s.number for s in items if s.kind is Kind.REPORT])
    marked: dict[str, str] = {}
    out = []
    for item in items:
        flag = flags.get(item.number) if item.kind is Kind.REPORT else None
        if flag is not None:
            marked[item.id] = str(flag)
            item = replace(item, title=f"[{str(flag).upper()}] {item.title}")
        out.append(item)
    return out, marked
