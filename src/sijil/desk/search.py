"""One search across reports, incidents, claims, sources, places and actors.

``search(session, text, filters, scope)`` parses the text once
(sijil.desk.search_query), asks the index of the backend (SQLite FTS5 with bm25,
or PostgreSQL's GIN-indexed tsvector with ts_rank) for the best-ranked records
the scope lets the user see and the filters keep, and returns hits with a title
and a marked snippet (sijil.desk.search_hits). The CLI's ``sijil desk search``
and the web app's search box call this same function. docs/search.md gives the
rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from sijil.desk.places import resolve_place
from sijil.desk.search_hits import displays, snippet
from sijil.desk.search_index import ensure_index
from sijil.desk.search_places import with_place_names
from sijil.desk.search_query import ParsedQuery, parse_query
from sijil.errors import QueryError
from sijil.store import DocKind, Place
from sijil.store.models_desk import PlaceKind

__all__ = [
    "ALL_KINDS",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PLACE_RADIUS_KM",
    "Hit",
    "SearchFilters",
    "SearchScope",
    "search",
]

ALL_KINDS = frozenset(DocKind)
DEFAULT_LIMIT = 20
#: A page of hits; ranking more than this is work no one reads.
MAX_LIMIT = 200
#: "In a place" for a town: what lies within this distance of its centre (a
#: governorate is matched by its code instead).
PLACE_RADIUS_KM = 10.0
_KM_PER_CENTI = 1.11195  # a hundredth of a degree of latitude, in km


@dataclass(frozen=True, slots=True)
class SearchScope:
    """What the searching user may see: the hook the web app's roles fill in.

    The filter is applied in SQL before ranking, so nothing outside the scope
    can appear, be counted or shape a snippet.
    """

    kinds: frozenset[DocKind] = ALL_KINDS


@dataclass(frozen=True, slots=True)
class SearchFilters:
    kinds: frozenset[DocKind] = ALL_KINDS
    since: date | None = None
    until: date | None = None
    place: str | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Hit:
    kind: DocKind
    ref: int
    id: str
    title: str
    snippet: str
    lang: str | None
    # None for a user whose scope is narrower than everything: SQLite's bm25 counts
    # the whole index, so its score would hint at how many hidden records hold a word
    score: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "title": self.title,
            "snippet": self.snippet,
            "lang": self.lang,
            "score": None if self.score is None else round(self.score, 4),
        }


def _place_clause(session: Session, place_text: str, params: dict[str, Any]) -> str:
    place: Place = resolve_place(session, place_text)
    params["place_id"] = place.id
    clauses = ["d.place_id = :place_id"]
    if place.kind == PlaceKind.GOVERNORATE and place.governorate:
        params["governorate"] = place.governorate
        clauses.append("d.governorate = :governorate")
    elif place.lat_e6 is not None and place.lon_e6 is not None:
        # an equirectangular distance on the coarse position: exact enough at
        # 10 km, and plain arithmetic that both databases run on an index range
        lat0, lon0 = place.lat_e6 / 10_000, place.lon_e6 / 10_000
        reach = PLACE_RADIUS_KM / _KM_PER_CENTI
        squeeze = math.cos(math.radians(place.lat_e6 / 1_000_000))
        params |= {
            "lat0": lat0,
            "lon0": lon0,
            "reach": reach,
            "squeeze": squeeze,
            "lat_lo": math.floor(lat0 - reach),
            "lat_hi": math.ceil(lat0 + reach),
        }
        clauses.append(
            "(d.lat_c BETWEEN :lat_lo AND :lat_hi AND "
            "(d.lat_c - :lat0) * (d.lat_c - :lat0) + "
            "((d.lon_c - :lon0) * :squeeze) * ((d.lon_c - :lon0) * :squeeze) <= :reach * :reach)"
        )
    return "(" + " OR ".join(clauses) + ")"


def _where(
    session: Session, filters: SearchFilters, kinds: frozenset[DocKind], params: dict[str, Any]
) -> str:
    names = sorted(k.value for k in kinds)
    params |= {f"kind{i}": name for i, name in enumerate(names)}
    clauses = ["d.kind IN (" + ", ".join(f":kind{i}" for i in range(len(names))) + ")"]
    if filters.since is not None:
        params["since"] = filters.since
        clauses.append("d.day >= :since")
    if filters.until is not None:
        params["until"] = filters.until
        clauses.append("d.day <= :until")
    if filters.place:
        clauses.append(_place_clause(session, filters.place, params))
    return " AND ".join(clauses)


def _ranked(conn: Connection, query: ParsedQuery, where: str, params: dict[str, Any]) -> list[Any]:
    if conn.dialect.name == "postgresql":
        sql = (
            "SELECT d.kind, d.ref, ts_rank(d.tsv, q) AS score "  # noqa: S608 - no user text
            "FROM search_docs d, CAST(:match AS tsquery) q "
            f"WHERE d.tsv @@ q AND {where} ORDER BY score DESC, d.id LIMIT :limit"
        )
        params["match"] = query.tsquery()
    else:
        # CROSS JOIN keeps SQLite's join order: the FTS5 match first, then each hit's
        # row. Left to itself (no statistics) it scanned search_docs by kind and ran
        # the match once per row: 1.7 s at 20,000 reports instead of 1 ms (bench/web.py)
        sql = (
            "SELECT d.kind, d.ref, -bm25(search_fts) AS score "  # noqa: S608 - no user text
            "FROM search_fts CROSS JOIN search_docs d ON d.id = search_fts.rowid "
            f"WHERE search_fts MATCH :match AND {where} ORDER BY score DESC, d.id LIMIT :limit"
        )
        params["match"] = query.fts5()
    return list(conn.execute(text(sql), params))


def search(
    session: Session,
    query_text: str,
    filters: SearchFilters | None = None,
    scope: SearchScope | None = None,
) -> list[Hit]:
    """The best hits for ``query_text``, best first; empty when nothing can be searched."""
    filters = filters or SearchFilters()
    scope = scope or SearchScope()
    if not 1 <= filters.limit <= MAX_LIMIT:
        raise QueryError(f"a search shows 1 to {MAX_LIMIT} hits at a time")
    if filters.since and filters.until and filters.since > filters.until:
        raise QueryError("--since is after --until")
    query = parse_query(query_text)
    kinds = filters.kinds & scope.kinds
    if query.empty or not kinds:
        return []
    ensure_index(session)
    query = with_place_names(session, query)
    params: dict[str, Any] = {"limit": filters.limit}
    where = _where(session, filters, kinds, params)
    conn = session.connection()
    rows = [
        (DocKind(r.kind), int(r.ref), float(r.score)) for r in _ranked(conn, query, where, params)
    ]
    shown = displays(conn, [(kind, ref) for kind, ref, _ in rows], query)
    hits = []
    for kind, ref, score in rows:
        display = shown.get((kind, ref))
        if display is None:  # pragma: no cover - the index and records share a transaction
            continue
        hits.append(
            Hit(
                kind,
                ref,
                display.token,
                display.title,
                snippet(display.text, query),
                display.lang,
                score if scope.kinds >= ALL_KINDS else None,
            )
        )
    return hits
