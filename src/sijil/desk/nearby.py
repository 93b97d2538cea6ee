"""What lies near an incident: the claims, monitor records and reports in a window and radius.

The finders behind :mod:`sijil.desk.suggest`, which ranks what they return. Each
is one or two indexed queries (migration 0008): claims by ``claim_date``,
monitor records by ``date_start`` (short spans) and by ``date_prec, date_start``
(the few records spanning a month or a year), reports by ``created_at,
latitude, longitude``; a bounding box in microdegrees narrows the place in SQL,
and the exact great-circle distance decides.

An item placed to a point matches by distance; one placed only to a governorate
(a claim with no place or a governorate for one, a monitor record with
``where_prec`` 4 or more), or any claim or record when the incident itself is
placed only to its governorate, matches by governorate. Reports have no
governorate: they match by distance only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from sijil.desk.claims import claim_token
from sijil.store import Claim, MonitorRecord, Place, Report, Source
from sijil.store.sealed import COARSE_DECIMALS

__all__ = [
    "IMPRECISE",
    "Agreement",
    "Kind",
    "Near",
    "Range",
    "Suggestion",
    "claims_near",
    "distance_km",
    "records_near",
    "reports_near",
]

#: UCDP ``date_prec`` 1-3 (a day, 2-6 days, a week) spans at most 6 days; the long
#: spans (a month, a year) are ``date_prec`` 4 and 5, fetched by their own index.
SHORT_SPAN_DAYS = 6
LONG_DATE_PREC = 4
#: The ``where_prec`` from which a place is known only to its governorate, or worse.
IMPRECISE = 4
EARTH_KM = 6371.0088
KM_PER_DEGREE = EARTH_KM * math.pi / 180
_E6 = 1_000_000
# a position kept in the clear is rounded to COARSE_DECIMALS: it moved at most half a unit
COARSE_MARGIN_DEGREES = 0.5 * 10.0**-COARSE_DECIMALS


class Kind(StrEnum):
    CLAIM = "claim"
    MONITOR = "monitor"
    REPORT = "report"


class Agreement(StrEnum):
    AGREES = "agrees"
    DIFFERS = "differs"
    UNKNOWN = "unknown"  # a figure missing on one side: nothing to compare


@dataclass(frozen=True)
class Range:
    """A number of people, ``low`` to ``high``."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}\u2013{self.high}"

    def meets(self, other: Range) -> bool:
        return self.low <= other.high and other.low <= self.high

    def to_dict(self) -> dict[str, int]:
        return {"min": self.low, "max": self.high}


def distance_km(lat1_e6: int, lon1_e6: int, lat2_e6: int, lon2_e6: int) -> float:
    """Great-circle distance (haversine) between two points given in microdegrees."""
    p1, p2 = math.radians(lat1_e6 / _E6), math.radians(lat2_e6 / _E6)
    dp, dl = p2 - p1, math.radians((lon2_e6 - lon1_e6) / _E6)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def agreement(figure: Range | None, ours: Range | None) -> Agreement:
    if figure is None or ours is None:
        return Agreement.UNKNOWN
    return Agreement.AGREES if figure.meets(ours) else Agreement.DIFFERS


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One item near the incident: how near, and its casualty figure against ours."""

    kind: Kind
    id: str
    number: int  # the claim's, report's or monitor's own number, for ordering
    title: str
    source: str | None
    first: date
    last: date
    days: int
    km: float | None  # None: matched by governorate
    governorate: str | None
    same_governorate: bool
    figure: Range | None = None
    figure_text: str | None = None
    agreement: Agreement = Agreement.UNKNOWN
    linked: bool = False
    score: int = 0
    discrepancy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind), "id": self.id, "score": self.score, "title": self.title,
            "source": self.source, "date": self.first.isoformat(),
            "date_end": None if self.last == self.first else self.last.isoformat(),
            "days": self.days, "km": self.km,
            "matched_by": "governorate" if self.km is None else "distance",
            "governorate": self.governorate, "same_governorate": self.same_governorate,
            "killed_civilians": None if self.figure is None else self.figure.to_dict(),
            "figures": self.figure_text, "agreement": str(self.agreement),
            "linked": self.linked, "discrepancy": self.discrepancy,
        }  # fmt: skip


@dataclass(frozen=True)
class Near:
    """Where and when an incident is, and what an item must be to count as near it."""

    start: date  # the incident's own days, UTC
    end: date
    days: int
    km: float
    center: tuple[int, int] | None
    governorate: str | None
    precise: bool  # placed to a point: items may match by distance

    @property
    def first(self) -> date:
        return self.start - timedelta(days=self.days)

    @property
    def last(self) -> date:
        return self.end + timedelta(days=self.days)

    def gap(self, first: date, last: date) -> int:
        """Days between an item's span and the incident's (0 when they meet)."""
        if last < self.start:
            return (self.start - last).days
        return max(0, (first - self.end).days)

    def box(self) -> tuple[int, int, int, int]:
        """South, north, west and east bounds (microdegrees) holding every point within km."""
        lat, lon = self.center or (0, 0)
        dlat = math.ceil(self.km / KM_PER_DEGREE * _E6) + 1
        widest = min(89.0, abs(lat) / _E6 + dlat / _E6)
        dlon = math.ceil(dlat / max(math.cos(math.radians(widest)), 0.01)) + 1
        return lat - dlat, lat + dlat, lon - dlon, lon + dlon

    def distance(self, lat: int | None, lon: int | None) -> float | None:
        """How far a point is, when items are matched by distance; else None."""
        if not self.precise or self.center is None or lat is None or lon is None:
            return None
        return distance_km(*self.center, lat, lon)

    def place(self, km: float | None, governorate: str | None) -> tuple[bool, float | None]:
        """Whether an item at ``km`` (None: placed to its governorate) is near; its rounded km."""
        if km is None:
            return governorate is not None and governorate == self.governorate, None
        return km <= self.km, round(km, 1)

    def same(self, governorate: str | None) -> bool:
        return governorate is not None and governorate == self.governorate


def claims_near(
    session: Session, near: Near, ours: Range | None, linked: set[int]
) -> list[Suggestion]:
    """Claims dated in the window, at a place within km or only in the same governorate."""
    where: list[ColumnElement[bool]] = []
    if near.governorate is not None:
        where.append(Claim.governorate == near.governorate)
    if near.precise:
        south, north, west, east = near.box()
        where.append(and_(Place.lat_e6.between(south, north), Place.lon_e6.between(west, east)))
    if not where:
        return []
    rows = session.execute(
        select(Claim.id, Claim.title, Claim.claim_date, Claim.governorate, Claim.killed_civilians,
               Source.kind, Source.name, Place.lat_e6, Place.lon_e6)
        .join(Source, Source.id == Claim.source_id)
        .outerjoin(Place, Place.id == Claim.place_id)
        .where(Claim.claim_date.between(near.first, near.last), or_(*where))
    )  # fmt: skip
    found = []
    for row in rows:
        ok, km = near.place(near.distance(row.lat_e6, row.lon_e6), row.governorate)
        if not ok or row.claim_date is None:
            continue
        killed = row.killed_civilians
        figure = None if killed is None else Range(killed, killed)
        found.append(Suggestion(
            kind=Kind.CLAIM, id=claim_token(row.id), number=row.id, title=row.title,
            source=f"{row.kind} {row.name}", first=row.claim_date, last=row.claim_date,
            days=near.gap(row.claim_date, row.claim_date), km=km, governorate=row.governorate,
            same_governorate=near.same(row.governorate), figure=figure,
            figure_text=None if killed is None else f"{killed} civilians killed",
            agreement=agreement(figure, ours), linked=row.id in linked,
        ))  # fmt: skip
    return found


def _record_figures(civilians: int, unknown: int, best: int, low: int, high: int) -> str:
    also = f" and {unknown} of unknown status" if unknown else ""
    return f"{civilians} civilians{also} killed, best {best} (low {low}, high {high})"


def records_near(session: Session, near: Near, ours: Range | None) -> list[Suggestion]:
    """Monitor records whose span meets the window, within km or in the same governorate."""
    m = MonitorRecord
    places: list[ColumnElement[bool]] = []
    if near.precise:
        south, north, west, east = near.box()
        places.append(and_(m.where_prec < IMPRECISE, m.lat_e6.between(south, north),
                           m.lon_e6.between(west, east)))  # fmt: skip
    if near.governorate is not None:
        same = m.governorate == near.governorate
        places.append(and_(same, m.where_prec >= IMPRECISE) if near.precise else same)
    if not places:
        return []
    overlap = and_(m.date_start <= near.last, m.date_end >= near.first)
    # two queries, each on an index: short spans by their start, long ones by date_prec
    spans = (and_(m.date_prec < LONG_DATE_PREC,
                  m.date_start >= near.first - timedelta(days=SHORT_SPAN_DAYS)),
             m.date_prec >= LONG_DATE_PREC)  # fmt: skip
    found = []
    for span in spans:
        rows = session.execute(
            select(m.external_id, m.date_start, m.date_end, m.where_prec, m.where_name, m.adm_1,
                   m.governorate, m.lat_e6, m.lon_e6, m.deaths_civilians, m.deaths_unknown,
                   m.best, m.low, m.high, Source.name)
            .join(Source, Source.id == m.source_id)
            .where(overlap, span, or_(*places))
        )  # fmt: skip
        for r in rows:
            km = near.distance(r.lat_e6, r.lon_e6) if r.where_prec < IMPRECISE else None
            ok, km = near.place(km, r.governorate)
            if not ok:
                continue
            figure = Range(r.deaths_civilians, r.deaths_civilians + r.deaths_unknown)
            text = _record_figures(r.deaths_civilians, r.deaths_unknown, r.best, r.low, r.high)
            found.append(Suggestion(
                kind=Kind.MONITOR, id=f"{r.name} #{r.external_id}", number=r.external_id,
                title=r.where_name or r.adm_1 or "(no place name)", source=f"monitor {r.name}",
                first=r.date_start, last=r.date_end, days=near.gap(r.date_start, r.date_end),
                km=km, governorate=r.governorate, same_governorate=near.same(r.governorate),
                figure=figure, figure_text=text, agreement=agreement(figure, ours),
            ))  # fmt: skip
    return found


def reports_near(session: Session, near: Near, linked: set[int]) -> list[Suggestion]:
    """Reports written in the window (UTC days) with coordinates within km."""
    if not near.precise:
        return []
    south, north, west, east = near.box()
    since = datetime.combine(near.first, time(), tzinfo=UTC)
    until = datetime.combine(near.last + timedelta(days=1), time(), tzinfo=UTC)
    # the box on the clear, rounded position (widened by the rounding), then the exact
    # distance from the sealed one (sijil.store.sealed)
    margin = COARSE_MARGIN_DEGREES
    rows = session.execute(
        select(Report.id, Report.title, Report.created_at, Report.latitude, Report.longitude)
        .where(Report.created_at >= since, Report.created_at < until,
               Report.coarse_latitude.between(south / _E6 - margin, north / _E6 + margin),
               Report.coarse_longitude.between(west / _E6 - margin, east / _E6 + margin))
    )  # fmt: skip
    found = []
    for number, title, written, lat, lon in rows:
        if lat is None or lon is None:
            continue
        ok, km = near.place(near.distance(round(lat * _E6), round(lon * _E6)), None)
        if not ok:
            continue
        day = written.astimezone(UTC).date()
        found.append(Suggestion(
            kind=Kind.REPORT, id=f"#{number}", number=number, title=title, source=None,
            first=day, last=day, days=near.gap(day, day), km=km, governorate=None,
            same_governorate=False, linked=number in linked,
        ))  # fmt: skip
    return found
