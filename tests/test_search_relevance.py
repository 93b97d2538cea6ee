"""A relevance set built from the corpus: every spelling variant found, on both databases.

The cases are generated here from real names and texts no one here wrote: the
Syrian Archive gazetteer's places in Arabic and English, and FA-KES article
titles. Each place gets a report in each language; each case is a query written
the way an editor might (harakat, tatweel, hamza on the alef, heh for teh
marbuta, a preposition glued on, an article added or dropped, case, a doubled
letter) and the records that must come back. Recall must be 1.0; precision at
10 is measured and must stay above a floor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from claims_helpers import shared_store
from desk_work_helpers import Desk, small_gazetteer
from search_helpers import add_report
from sijil.desk.gazetteer import PlaceRecord, parse_syrian_archive
from sijil.desk.search import MAX_LIMIT, SearchFilters, search
from sijil.store import Place

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FAKES_TITLES = 70
#: Measured on this set: 0.96 on SQLite and PostgreSQL alike; a fall below says
#: the keys grew too loose.
PRECISION_FLOOR = 0.9


@dataclass(frozen=True)
class Case:
    query: str
    # what must be found; and what else is about the same thing (the report in the
    # other script, which a one-word place name also finds)
    expected: frozenset[str]
    family: str
    related: frozenset[str] = frozenset()


def _arabic_variants(name: str) -> list[tuple[str, str]]:
    first = name.split()[0]
    out = [
        ("harakat", "".join(c + ("\u064e" if c.isalpha() else "") for c in name)),
        ("tatweel", name[0] + "\u0640\u0640" + name[1:] if len(name) > 1 else name),
        ("hamza", "أ" + name[1:] if name.startswith("ا") else name.replace("ا", "إ", 1)),
        # "in", glued to the article; "and", glued to any word
        ("preposition", "ب" + name if first.startswith("ال") else "و" + name),
        ("teh marbuta", name.replace("ة", "ه") if "ة" in name else name.replace("ه", "ة")),
        ("joiners", "\u200f" + name.replace(" ", " \u200c") + "\u200e"),
    ]
    return out


def _latin_variants(name: str) -> list[tuple[str, str]]:
    words = name.split()
    out = [("case", name.upper()), ("lower", name.lower())]
    if words[0].lower() in {"al", "el", "ar", "as", "ad", "az", "ash"} and len(words) > 1:
        out.append(("article dropped", " ".join(words[1:])))
    else:
        out.append(("article added", "Al-" + name))
    last = words[-1]
    if last[-1:] in "ae":
        out.append(("final h", " ".join([*words[:-1], last + "h"])))
    doubled = next((i for i in range(1, len(last)) if last[i] == last[i - 1]), None)
    if doubled is not None:
        out.append(
            ("doubled letter", " ".join([*words[:-1], last[:doubled] + last[doubled + 1 :]]))
        )
    return out


def _fakes_titles(limit: int) -> list[str]:
    data = CORPUS.joinpath("claims", "fakes.csv").read_bytes().decode("latin-1")
    titles = [row["article_title"] for row in csv.DictReader(io.StringIO(data))]
    unique = list(dict.fromkeys(t for t in titles if len(t.split()) >= 5))
    return unique[:limit]


@dataclass
class Indexed:
    desk: Desk
    cases: list[Case]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def indexed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Indexed]:
    if not CORPUS.is_dir():
        pytest.skip("test corpus not found")
    gazetteer = small_gazetteer(CORPUS)
    records: list[PlaceRecord] = list(parse_syrian_archive(gazetteer))
    for store in shared_store(request, tmp_path_factory.mktemp("relevance")):
        desk = Desk(store)
        desk.users(amal="admin editor")
        desk.places(gazetteer)
        with store.session() as session:
            place_ids = {
                ref: pid for ref, pid in session.execute(select(Place.source_ref, Place.id))
            }
        cases: list[Case] = []
        for record in records[:80]:
            ar = add_report(desk, "خبر عاجل", f"سقطت قذائف على {record.name_ar} صباح اليوم")
            en = add_report(
                desk, "Breaking", f"Shelling hit {record.name_en} this morning", lang="en"
            )
            place = f"P-{place_ids[record.source_ref]}"
            for family, query in _arabic_variants(record.name_ar):
                must = frozenset({f"#{ar}", place})
                cases.append(Case(query, must, f"arabic {family}", frozenset({f"#{en}"})))
            for family, query in _latin_variants(record.name_en):
                must = frozenset({f"#{en}", place})
                cases.append(Case(query, must, f"latin {family}", frozenset({f"#{ar}"})))
        for title in _fakes_titles(FAKES_TITLES):
            report = add_report(desk, title, "", lang="en")
            words = title.split()
            cases.append(
                Case(" ".join(words[:4]).upper(), frozenset({f"#{report}"}), "fakes words")
            )
            cases.append(
                Case(f'"{" ".join(words[1:4]).lower()}"', frozenset({f"#{report}"}), "fakes phrase")
            )
        yield Indexed(desk, cases)


@pytest.mark.xdist_group("search-relevance")
def test_the_relevance_set_is_large_and_every_variant_is_found(indexed: Indexed) -> None:
    # Given at least 200 cases in Arabic and English
    assert len(indexed.cases) >= 200
    assert {c.family.split()[0] for c in indexed.cases} == {"arabic", "latin", "fakes"}
    missed: list[str] = []
    precision: list[float] = []
    with indexed.desk.store.session() as session:
        for case in indexed.cases:
            # When each query is searched
            hits = [h.id for h in search(session, case.query, SearchFilters(limit=MAX_LIMIT))]
            # Then every expected record is among the hits
            if not case.expected <= set(hits):
                missed.append(
                    f"{case.family}: {case.query!r} missed {sorted(case.expected - set(hits))}"
                )
            top = hits[:10]
            # of what an editor sees first, the share that is what was looked for
            relevant = case.expected | case.related
            precision.append(len([h for h in top if h in relevant]) / len(top))
    assert missed == [], "\n".join(missed)
    mean = sum(precision) / len(precision)
    print(f"relevance set: {len(indexed.cases)} cases, recall 1.0, precision@10 {mean:.2f}")
    assert mean >= PRECISION_FLOOR
