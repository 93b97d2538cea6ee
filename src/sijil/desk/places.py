"""Places in the store: the governorates, an imported gazetteer, and finding a place by name.

Every spelling of a place is kept with its match keys (:func:`sijil.text.name_key`
and :func:`sijil.text.skeleton`), so "Raqqa", "Ar-Raqqah", "الرقة" and "raqqa"
find the same entries. :func:`find_places` ranks candidates; :func:`resolve_place`
picks one for an incident and refuses to guess between equals.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.gazetteer import GOVERNORATES, PlaceRecord, parse_syrian_archive
from sijil.desk.users import EDITING, require_user
from sijil.errors import AmbiguousName, UnknownCode
from sijil.store import Place, PlaceName
from sijil.store.models_desk import PlaceKind, Role
from sijil.text import name_key, skeleton

__all__ = [
    "ImportCounts",
    "PlaceCandidate",
    "ensure_governorates",
    "find_places",
    "format_e6",
    "import_gazetteer",
    "place_dict",
    "place_token",
    "resolve_place",
]

OWN_SOURCE = "sijil"
SYRIAN_ARCHIVE = "syrianarchive"
_TOKEN = re.compile(r"[Pp]-(\d{1,9})")
# broader units first when two candidates match equally well
_KIND_ORDER = {PlaceKind.GOVERNORATE: 0, PlaceKind.DISTRICT: 1, PlaceKind.SUBDISTRICT: 2,
               PlaceKind.PLACE: 3}  # fmt: skip
EXACT, PREFIX, WORD, SKELETON, CONTAINS = 100, 80, 70, 50, 40
_MIN_CONTAINS = 3
_FETCH = 200


def place_token(place_id: int) -> str:
    """The typed id of a place, as the CLI shows it: ``P-2158``."""
    return f"P-{place_id}"


def format_e6(value: int | None) -> str | None:
    """Microdegrees as a decimal string of degrees (35953075 → "35.953075")."""
    return None if value is None else str(Decimal(value).scaleb(-6).quantize(Decimal("0.000001")))


def place_dict(place: Place) -> dict[str, Any]:
    return {
        "id": place_token(place.id),
        "kind": place.kind,
        "code": place.code,
        "name_en": place.name_en,
        "name_ar": place.name_ar,
        "admin_en": place.admin_en,
        "admin_ar": place.admin_ar,
        "governorate": place.governorate,
        "lat": format_e6(place.lat_e6),
        "lon": format_e6(place.lon_e6),
    }


def _names(names: tuple[str, ...] | list[str]) -> list[PlaceName]:
    rows: dict[str, PlaceName] = {}
    for name in names:
        key = name_key(name)
        if key and key not in rows:
            rows[key] = PlaceName(name=name[:255], key=key[:255], skeleton=skeleton(name)[:255])
    return list(rows.values())


def _governorate_records() -> list[PlaceRecord]:
    return [
        PlaceRecord(
            source_ref=g.code,
            kind=PlaceKind.GOVERNORATE,
            name_en=g.name_en,
            name_ar=g.name_ar,
            code=g.code,
            admin_en=None,
            admin_ar=None,
            governorate=g.code,
            lat_e6=None,
            lon_e6=None,
            names=(g.name_en, g.name_ar, *g.aliases),
        )
        for g in GOVERNORATES
    ]


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged}


def _upsert(session: Session, source: str, records: list[PlaceRecord]) -> ImportCounts:
    existing = {
        p.source_ref: p
        for p in session.scalars(
            select(Place).options(selectinload(Place.names)).where(Place.source == source)
        )
    }
    added = updated = 0
    for rec in records:
        values = {
            "kind": str(rec.kind),
            "name_en": rec.name_en,
            "name_ar": rec.name_ar,
            "code": rec.code,
            "admin_en": rec.admin_en,
            "admin_ar": rec.admin_ar,
            "governorate": rec.governorate,
            "lat_e6": rec.lat_e6,
            "lon_e6": rec.lon_e6,
        }
        place = existing.get(rec.source_ref)
        names = _names(rec.names)
        if place is None:
            session.add(Place(source=source, source_ref=rec.source_ref, names=names, **values))
            added += 1
            continue
        same_names = sorted(n.name for n in place.names) == sorted(n.name for n in names)
        if all(getattr(place, k) == v for k, v in values.items()) and same_names:
            continue
        for k, v in values.items():
            setattr(place, k, v)
        if not same_names:
            place.names.clear()
            session.flush()
            place.names.extend(names)
        updated += 1
    session.flush()
    return ImportCounts(added, updated, len(records) - added - updated)


def ensure_governorates(session: Session) -> ImportCounts:
    """Store (or bring up to date) the project's table of Syria's 14 governorates."""
    return _upsert(session, OWN_SOURCE, _governorate_records())


def import_gazetteer(
    session: Session,
    data: bytes,
    *,
    by: str | None,
    clock: Clock = utcnow,
    source: str = SYRIAN_ARCHIVE,
) -> ImportCounts:
    """Import a Syrian Archive place list (and the governorates); re-importing changes nothing.

    All or nothing: a malformed record raises MalformedImport naming it and no
    place is stored.
    """
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    records = list(parse_syrian_archive(data))
    ensure_governorates(session)
    counts = _upsert(session, source, records)
    record(
        session,
        action="places.imported",
        subject=f"places:{source}"[:64],
        by=user.id,
        data={"source": source, "file_sha256": hashlib.sha256(data).hexdigest()} | counts.to_dict(),
        at=clock(),
    )
    return counts


@dataclass(frozen=True, kw_only=True)
class PlaceCandidate:
    place: Place
    score: int
    matched: str

    def to_dict(self) -> dict[str, Any]:
        return place_dict(self.place) | {"score": self.score, "matched": self.matched}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _score(key: str, skel: str, row: PlaceName) -> int:
    if row.key == key:
        return EXACT
    if row.key.startswith(key):
        return PREFIX
    if f" {key} " in f" {row.key} ":
        return WORD
    if skel and row.skeleton == skel:
        return SKELETON
    return CONTAINS


def find_places(session: Session, text: str, *, limit: int = 10) -> list[PlaceCandidate]:
    """Places whose name matches ``text`` in any spelling, best first.

    A place id (``P-12``) or a code (``C5710``, ``SY11``) matches exactly. Otherwise
    names are compared by key: the whole key (100), its start (80), a whole word
    (70), the vowel-less skeleton (50), anywhere inside (40). Ties go to the
    broader unit, then the shorter name.
    """
    text = text.strip()
    found: dict[int, PlaceCandidate] = {}
    token = _TOKEN.fullmatch(text)
    if token:
        place = session.get(Place, int(token.group(1)))
        return [] if place is None else [PlaceCandidate(place=place, score=EXACT, matched=text)]
    for place in session.scalars(select(Place).where(Place.code == text.upper()).limit(_FETCH)):
        found[place.id] = PlaceCandidate(place=place, score=EXACT, matched=place.code or text)
    key, skel = name_key(text), skeleton(text)
    if key:
        conditions: list[ColumnElement[bool]] = [
            PlaceName.key.like(_escape_like(key) + "%", escape="\\")
        ]
        if skel:
            conditions.append(PlaceName.skeleton == skel)
        if len(key) >= _MIN_CONTAINS:
            conditions.append(PlaceName.key.like("%" + _escape_like(key) + "%", escape="\\"))
        rows = session.scalars(
            select(PlaceName)
            .options(selectinload(PlaceName.place))
            .where(or_(*conditions))
            .limit(_FETCH * 5)
        ).all()
        for row in rows:
            score = _score(key, skel, row)
            best = found.get(row.place_id)
            if best is None or score > best.score:
                found[row.place_id] = PlaceCandidate(place=row.place, score=score, matched=row.name)
    ranked = sorted(
        found.values(),
        key=lambda c: (-c.score, _KIND_ORDER[PlaceKind(c.place.kind)], len(c.place.name_en),
                       c.place.id),
    )  # fmt: skip
    return ranked[:limit]


def resolve_place(session: Session, text: str) -> Place:
    """The one place ``text`` names: the single best candidate, never a guess between equals."""
    candidates = find_places(session, text, limit=5)
    if not candidates:
        raise UnknownCode(f"no place matches {text!r} (is the gazetteer imported?)")
    best = candidates[0]
    rivals = [c for c in candidates[1:] if c.score == best.score]
    if best.score < EXACT:
        rivals = [c for c in candidates[1:] if c.score >= best.score - 10] or rivals
    if rivals:
        shown = "; ".join(
            f"{place_token(c.place.id)} {c.place.name_en} ({c.place.kind}"
            + (f", {c.place.admin_en})" if c.place.admin_en else ")")
            for c in [best, *rivals][:4]
        )
        raise AmbiguousName(f"{text!r} could be several places: {shown}; give its P- id or code")
    return best.place
