"""How precisely a post may say when and where: risk tiers, delays, coarsened places and dates.

Pure functions: no database, no clock. Every incident has a risk tier (set by an
editor, else the desk's default, sijil.publish.gate_records) that chooses

* the **delay**: the earliest publication is the event's end plus the desk's base
  delay times the tier's factor, plus a jitter drawn once per incident in
  ``[0, base jitter × factor)``; until it is drawn the whole range is assumed;
* the **place**: the centre of the incident's H3 cell at the tier's resolution,
  or, for the extreme tier, the centroid of its governorate (admin-1). UCDP GED's
  where_prec says which: 2 for a cell (the event is within 25 km of the point), 3
  for a district, 4 for a governorate, 6 for the country only;
* the **date**: the day, the ISO week (Monday to Sunday) or the month that holds
  the event, as UCDP GED's date_prec 1, 2 and 3; 4 and 5 publish the year.

An incident the desk already knows less precisely than its tier allows is
published as coarsely as the desk knows it: coarsening never refines.

======== ====== ======================= ====================
tier     factor place                   date
======== ====== ======================= ====================
low      1      H3 res 7 (~5 km²)       day
elevated 3      H3 res 6 (~36 km²)      ISO week
high     7      H3 res 5 (~250 km²)     ISO week
extreme  30     governorate centroid    month
======== ====== ======================= ====================
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum

import h3  # type: ignore[import-untyped]

from sijil.store.models_publish_gate import RiskTier

__all__ = [
    "GOVERNORATE_CENTRES",
    "JITTER_SCALE",
    "TIERS",
    "Area",
    "CoarseDate",
    "CoarsePlace",
    "DatePrec",
    "RiskTier",
    "TierRule",
    "coarsen_dates",
    "coarsen_place",
    "earliest_publication",
    "governorate_area",
]


class DatePrec(IntEnum):
    """UCDP GED date_prec."""

    DAY = 1
    WEEK = 2  # within 2 to 6 days
    MONTH = 3
    YEAR_PART = 4  # more than a month, within a year
    YEAR = 5


#: UCDP GED where_prec values this module publishes.
WHERE_CELL, WHERE_DISTRICT, WHERE_GOVERNORATE, WHERE_COUNTRY = 2, 3, 4, 6
#: The jitter is drawn in parts per million of the tier's range.
JITTER_SCALE = 1_000_000
# A cell centre is published to 4 decimals (about 11 m): far inside the smallest
# cell used (res 7, edge ~1.4 km), so the published point stays in its cell.
_CELL_DECIMALS = Decimal("0.0001")
_AREA_DECIMALS = Decimal("0.01")


@dataclass(frozen=True)
class TierRule:
    delay_factor: int
    h3_resolution: int | None  # None: the governorate's centroid
    date_prec: DatePrec

    @property
    def where_prec(self) -> int:
        return WHERE_CELL if self.h3_resolution is not None else WHERE_GOVERNORATE


TIERS: dict[RiskTier, TierRule] = {
    RiskTier.LOW: TierRule(1, 7, DatePrec.DAY),
    RiskTier.ELEVATED: TierRule(3, 6, DatePrec.WEEK),
    RiskTier.HIGH: TierRule(7, 5, DatePrec.WEEK),
    RiskTier.EXTREME: TierRule(30, None, DatePrec.MONTH),
}

# Approximate centroids of Syria's governorates (admin-1, OCHA COD-AB), in
# microdegrees: where an extreme-tier incident is shown. Two decimals are plenty.
# Area centroids, not the mean of the gazetteer's places (that leans to the towns,
# and Rural Damascus's would sit in Damascus); tests/test_publish_gate.py checks
# each against the gazetteer: inside its places' bounds, its nearest places its own.
GOVERNORATE_CENTRES: dict[str, tuple[int, int]] = {
    "SY01": (33_510_000, 36_300_000),  # Damascus
    "SY02": (36_200_000, 37_500_000),  # Aleppo
    "SY03": (33_600_000, 36_900_000),  # Rural Damascus
    "SY04": (34_500_000, 38_200_000),  # Homs
    "SY05": (35_200_000, 37_000_000),  # Hama
    "SY06": (35_600_000, 35_900_000),  # Lattakia
    "SY07": (35_800_000, 36_600_000),  # Idleb
    "SY08": (36_500_000, 40_800_000),  # Al-Hasakeh
    "SY09": (35_000_000, 40_400_000),  # Deir-ez-Zor
    "SY10": (34_900_000, 36_000_000),  # Tartous
    "SY11": (35_900_000, 38_900_000),  # Ar-Raqqa
    "SY12": (32_750_000, 36_200_000),  # Dar'a
    "SY13": (32_700_000, 36_700_000),  # As-Sweida
    "SY14": (33_100_000, 35_850_000),  # Quneitra
}


def earliest_publication(
    event_end: datetime,
    tier: RiskTier,
    *,
    base_delay: timedelta,
    base_jitter: timedelta,
    jitter_ppm: int | None,
) -> datetime:
    """When a post about an event that ended at ``event_end`` may go out at the earliest.

    ``jitter_ppm`` is the incident's drawn jitter; None (not drawn yet) holds the
    post for the whole jitter range, so an undrawn jitter never shortens the wait.
    """
    factor = TIERS[tier].delay_factor
    span = base_jitter * factor
    fraction = JITTER_SCALE if jitter_ppm is None else min(max(jitter_ppm, 0), JITTER_SCALE)
    return event_end + base_delay * factor + span * fraction / JITTER_SCALE


@dataclass(frozen=True)
class CoarseDate:
    start: date
    end: date | None
    date_prec: int


def _week(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def _month(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def coarsen_dates(start: date, end: date | None, own_prec: int, tier: RiskTier) -> CoarseDate:
    """The period a post names for an event from ``start`` to ``end`` (or one day).

    The precision is the coarser of the desk's own (``own_prec``) and the tier's;
    the published period always contains the event's dates.
    """
    prec = DatePrec(max(own_prec, TIERS[tier].date_prec))
    last = end if end is not None and end > start else start
    if prec == DatePrec.DAY:
        return CoarseDate(start, None if last == start else last, int(prec))
    if prec == DatePrec.WEEK:
        return CoarseDate(_week(start)[0], _week(last)[1], int(prec))
    if prec == DatePrec.MONTH:
        return CoarseDate(_month(start)[0], _month(last)[1], int(prec))
    return CoarseDate(date(start.year, 1, 1), date(last.year, 12, 31), int(prec))


@dataclass(frozen=True)
class Area:
    """A named area a post may show: a governorate or a district, or the country."""

    name_ar: str
    name_en: str
    governorate: str | None
    lat_e6: int | None
    lon_e6: int | None
    where_prec: int


@dataclass(frozen=True)
class CoarsePlace:
    name_ar: str
    name_en: str
    governorate: str | None
    lat: str | None  # decimal degrees as a string: canonical JSON has no floats
    lon: str | None
    where_prec: int
    h3: str | None


def _degrees(value_e6: int | float, step: Decimal) -> str:
    return str((Decimal(value_e6) / 1_000_000).quantize(step, rounding=ROUND_HALF_EVEN))


def _cell_centre(lat_e6: int, lon_e6: int, resolution: int) -> tuple[str, str, str]:
    cell = h3.latlng_to_cell(lat_e6 / 1_000_000, lon_e6 / 1_000_000, resolution)
    lat, lon = h3.cell_to_latlng(cell)
    step = _CELL_DECIMALS
    return cell, _degrees(round(lat * 1_000_000), step), _degrees(round(lon * 1_000_000), step)


def _area_place(area: Area, where_prec: int) -> CoarsePlace:
    if area.lat_e6 is None or area.lon_e6 is None:
        lat = lon = None
    else:
        lat, lon = _degrees(area.lat_e6, _AREA_DECIMALS), _degrees(area.lon_e6, _AREA_DECIMALS)
    return CoarsePlace(area.name_ar, area.name_en, area.governorate, lat, lon, where_prec, None)


def coarsen_place(
    point: tuple[int, int] | None,
    own_prec: int,
    tier: RiskTier,
    *,
    governorate: Area,
    district: Area | None = None,
) -> CoarsePlace:
    """Where a post shows an incident at ``point`` (microdegrees) known to ``own_prec``.

    ``governorate`` is the area to fall back to (the country, with where_prec 6,
    when the governorate is unknown); ``district`` is the incident's own place when
    that is a district-sized area with a point of its own. A cell's name is the
    governorate's: a town's or a street's name would be finer than the cell.
    """
    rule = TIERS[tier]
    prec = max(own_prec, rule.where_prec)
    if prec <= WHERE_CELL and point is not None and rule.h3_resolution is not None:
        cell, lat, lon = _cell_centre(point[0], point[1], rule.h3_resolution)
        g = governorate
        return CoarsePlace(g.name_ar, g.name_en, g.governorate, lat, lon, WHERE_CELL, cell)
    if prec <= WHERE_DISTRICT and district is not None and district.lat_e6 is not None:
        return _area_place(district, max(prec, WHERE_DISTRICT))
    return _area_place(governorate, max(prec, governorate.where_prec))


def governorate_area(code: str | None, name_ar: str, name_en: str) -> Area:
    """The governorate ``code`` at its centroid, or the country when ``code`` is None."""
    if code is None or code not in GOVERNORATE_CENTRES:
        return Area("سوريا", "Syria", None, None, None, WHERE_COUNTRY)
    lat, lon = GOVERNORATE_CENTRES[code]
    return Area(name_ar, name_en, code, lat, lon, WHERE_GOVERNORATE)
