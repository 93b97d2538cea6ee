"""What the search index holds for each kind of record, read in batches.

Each builder takes a connection and record ids and returns one :class:`IndexDoc`
per record still present: the text that is searched (sijil.text.search words and
keys) and what a search filters on. The same builders serve the write path (the
records a flush touched, sijil.desk.search_index) and a full rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from sijil.store import (
    ActorName,
    Assessment,
    Claim,
    DeskActor,
    DocKind,
    Incident,
    Place,
    PlaceName,
    Report,
    Source,
)
from sijil.text.search import search_words, word_keys

__all__ = ["BUILDERS", "IndexDoc", "chunks", "to_centi"]

#: Ids per ``IN (...)`` list: well under SQLite's 32,766 bound variables and
#: PostgreSQL's 65,535, and small enough that one batch's text fits in memory.
BATCH = 500
_E6_PER_CENTI = 10_000


@dataclass(frozen=True, slots=True)
class IndexDoc:
    kind: DocKind
    ref: int
    words: list[str]
    # the keys of each word, aligned with ``words``
    word_keys: list[tuple[str, ...]]
    lang: str | None = None
    day: date | None = None
    place_id: int | None = None
    governorate: str | None = None
    lat_c: int | None = None
    lon_c: int | None = None

    @property
    def keys(self) -> list[str]:
        return [key for keys in self.word_keys for key in keys]

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "ref": self.ref,
            "lang": self.lang,
            "day": self.day,
            "place_id": self.place_id,
            "governorate": self.governorate,
            "lat_c": self.lat_c,
            "lon_c": self.lon_c,
        }


def chunks(ids: Iterable[int], size: int = BATCH) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def to_centi(e6: int | None) -> int | None:
    """Microdegrees to hundredths of a degree (about 1.1 km of latitude)."""
    return None if e6 is None else round(e6 / _E6_PER_CENTI)


def _doc(kind: DocKind, ref: int, texts: Iterable[str | None], **fields: Any) -> IndexDoc:
    words: list[str] = []
    keys: list[tuple[str, ...]] = []
    for text in texts:
        if not text:
            continue
        # each text on its own, so an article at the end of a title does not
        # swallow the first word of the body
        these = search_words(text)
        words.extend(these)
        keys.extend(word_keys(these))
    return IndexDoc(kind, ref, words, keys, **fields)


def _day(value: datetime | date | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _reports(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(
        select(
            Report.id,
            Report.title,
            Report.body,
            Report.lang,
            Report.received_at,
            Report.coarse_latitude.label("latitude"),
            Report.coarse_longitude.label("longitude"),
        ).where(Report.id.in_(ids))
    )
    return [
        _doc(
            DocKind.REPORT,
            r.id,
            (r.title, r.body),
            lang=r.lang,
            day=_day(r.received_at),
            lat_c=None if r.latitude is None else round(r.latitude * 100),
            lon_c=None if r.longitude is None else round(r.longitude * 100),
        )
        for r in rows
    ]


def _place_positions(conn: Connection, place_ids: set[int]) -> dict[int, tuple[Any, ...]]:
    if not place_ids:
        return {}
    rows = conn.execute(
        select(Place.id, Place.lat_e6, Place.lon_e6, Place.governorate).where(
            Place.id.in_(place_ids)
        )
    )
    return {r.id: (r.lat_e6, r.lon_e6, r.governorate) for r in rows}


def _located(
    places: dict[int, tuple[Any, ...]],
    place_id: int | None,
    governorate: str | None,
    lat_e6: int | None = None,
    lon_e6: int | None = None,
) -> dict[str, Any]:
    """Where a record is, for filtering: its own position, else its place's."""
    lat, lon, gov = places.get(place_id, (None, None, None)) if place_id else (None,) * 3
    return {
        "place_id": place_id,
        "governorate": governorate or gov,
        "lat_c": to_centi(lat_e6 if lat_e6 is not None else lat),
        "lon_c": to_centi(lon_e6 if lon_e6 is not None else lon),
    }


def _incidents(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(
        select(
            Incident.id,
            Incident.code,
            Incident.title_ar,
            Incident.title_en,
            Incident.start_at,
            Incident.place_id,
            Incident.lat_e6,
            Incident.lon_e6,
            Incident.governorate,
            Assessment.summary_ar,
            Assessment.summary_en,
        )
        .outerjoin(Assessment, Assessment.id == Incident.current_assessment_id)
        .where(Incident.id.in_(ids))
    ).all()
    places = _place_positions(conn, {r.place_id for r in rows if r.place_id is not None})
    return [
        _doc(
            DocKind.INCIDENT,
            r.id,
            (r.code, r.title_ar, r.title_en, r.summary_ar, r.summary_en),
            day=_day(r.start_at),
            **_located(places, r.place_id, r.governorate, r.lat_e6, r.lon_e6),
        )
        for r in rows
    ]


def _claims(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(
        select(
            Claim.id,
            Claim.title,
            Claim.body,
            Claim.lang,
            Claim.claim_date,
            Claim.place_id,
            Claim.governorate,
            Claim.place_text,
            Claim.actor_text,
            Claim.cause,
        ).where(Claim.id.in_(ids))
    ).all()
    places = _place_positions(conn, {r.place_id for r in rows if r.place_id is not None})
    return [
        _doc(
            DocKind.CLAIM,
            r.id,
            (r.title, r.body, r.place_text, r.actor_text, r.cause),
            lang=r.lang,
            day=r.claim_date,
            **_located(places, r.place_id, r.governorate),
        )
        for r in rows
    ]


def _sources(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(select(Source.id, Source.name, Source.name_ar).where(Source.id.in_(ids)))
    return [_doc(DocKind.SOURCE, r.id, (r.name, r.name_ar)) for r in rows]


def _names(conn: Connection, column: Any, owner: Any, ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for row in conn.execute(select(owner, column).where(owner.in_(ids))):
        names.setdefault(row[0], []).append(row[1])
    return names


def _places(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(
        select(
            Place.id,
            Place.name_en,
            Place.name_ar,
            Place.admin_en,
            Place.admin_ar,
            Place.code,
            Place.governorate,
            Place.lat_e6,
            Place.lon_e6,
        ).where(Place.id.in_(ids))
    )
    variants = _names(conn, PlaceName.name, PlaceName.place_id, ids)
    return [
        _doc(
            DocKind.PLACE,
            r.id,
            (r.name_en, r.name_ar, *variants.get(r.id, ()), r.admin_en, r.admin_ar, r.code),
            place_id=r.id,
            governorate=r.governorate,
            lat_c=to_centi(r.lat_e6),
            lon_c=to_centi(r.lon_e6),
        )
        for r in rows
    ]


def _actors(conn: Connection, ids: list[int]) -> list[IndexDoc]:
    rows = conn.execute(
        select(DeskActor.id, DeskActor.name_en, DeskActor.name_ar).where(DeskActor.id.in_(ids))
    )
    variants = _names(conn, ActorName.name, ActorName.actor_id, ids)
    return [
        _doc(DocKind.ACTOR, r.id, (r.name_en, r.name_ar, *variants.get(r.id, ()))) for r in rows
    ]


#: The builder of each kind, and the table whose ids it takes.
BUILDERS: dict[DocKind, tuple[Any, Callable[[Connection, list[int]], list[IndexDoc]]]] = {
    DocKind.REPORT: (Report, _reports),
    DocKind.INCIDENT: (Incident, _incidents),
    DocKind.CLAIM: (Claim, _claims),
    DocKind.SOURCE: (Source, _sources),
    DocKind.PLACE: (Place, _places),
    DocKind.ACTOR: (DeskActor, _actors),
}
