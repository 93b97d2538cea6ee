"""The benchmarks' shared generator: a seeded synthetic archive, streamed and bulk-inserted.

    from archive import Archive, insert_rows
    archive = Archive(seed=7)
    with store.engine.begin() as conn:
        people = archive.load_correspondents(conn, 40)
    archive.load_reports(store.engine, 1_000_000, spots, people)

Deterministic: the same seed and sizes give the same rows on any database. Rows
are streamed as dicts, in time order (reports and incidents are written over
2016-2019, the years of the UCDP GED corpus, so ids grow with time as they do at a
real desk and the time indexes are appended to, not scattered), and go in through
SQLAlchemy Core executemany (:func:`insert_rows`: ``insert(table)`` with a list of
dicts a batch at a time; psycopg sends multi-row INSERTs, SQLite reuses one
prepared statement).

What it makes: places (or it places rows at the real gazetteer's places, given as
:class:`Spot`), correspondents, envelopes with their reports (85 % with
coordinates scattered a few km around a place), incidents at places with a
grading and, for the graded ones, an approved assessment with a civilian
casualty range, and claims by given sources (70 % placed only to a governorate,
as FA-KES's are). Synthetic rows are load, not evidence: they get **no custody
ledger entries** and no revisions, so `sijil verify` on such a database reports
them all; benchmarks use a throwaway database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, column, func, insert, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection, Engine

from sijil.store import (
    Assessment,
    AssessmentReview,
    CasualtyRow,
    Claim,
    Correspondent,
    Envelope,
    Incident,
    Place,
    Report,
)
from sijil.store.sealed import coarse

FIRST_DAY, LAST_DAY = date(2016, 1, 1), date(2019, 12, 31)
BATCH = 10_000
COMMIT_EVERY = 100_000
GRADINGS = ("confirmed", "fair", "weak", "contested", "discounted")
TYPES = ("airstrike", "shelling", "explosion", "ground_fighting", "killing", "arrest")
STATES = ("draft", "in_review", "published", "published")
# rough centres of Syria's governorates (SY01..SY14), microdegrees, for made-up places
CENTRES = ((33513800, 36276500), (36202100, 37134200), (33483000, 36650000),
           (34730000, 36720000), (35131000, 36757000), (35523000, 35791000),
           (35930000, 36633000), (36502000, 40747000), (35336000, 40140000),
           (34889000, 35886000), (35953000, 39006000), (32710000, 36566000),
           (32625000, 36106000), (32735000, 35990000))  # fmt: skip


@dataclass(frozen=True)
class Spot:
    """Where rows can be placed: a place's id, coordinates and governorate code."""

    id: int | None
    lat_e6: int
    lon_e6: int
    governorate: str | None


def table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def insert_rows(conn: Connection, target: Table, rows: Iterable[dict[str, Any]],
                batch: int = BATCH) -> int:  # fmt: skip
    """Insert ``rows`` with one executemany per ``batch``; return how many."""
    total = 0
    it = iter(rows)
    while chunk := list(itertools.islice(it, batch)):
        conn.execute(insert(target), chunk)
        total += len(chunk)
    return total


def advance_sequences(conn: Connection, tables: Sequence[str]) -> None:
    """After rows with explicit ids, move PostgreSQL's id sequences past them."""
    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        top = conn.execute(select(func.coalesce(func.max(column("id")), 1)).select_from(
            sql_table(name))).scalar_one()  # fmt: skip
        conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                     {"t": name, "n": top})  # fmt: skip


def spots_of(conn: Connection) -> list[Spot]:
    """The stored gazetteer's places that have coordinates, as spots."""
    rows = conn.execute(
        select(Place.id, Place.lat_e6, Place.lon_e6, Place.governorate)
        .where(Place.kind == "place", Place.lat_e6.is_not(None))
        .order_by(Place.id)
    )
    return [Spot(i, lat, lon, gov) for i, lat, lon, gov in rows]


@dataclass(frozen=True)
class Vocabulary:
    """Words to write synthetic text with, read once from the corpus."""

    arabic: tuple[str, ...]
    english: tuple[str, ...]
    places_ar: tuple[str, ...]
    places_en: tuple[str, ...]

    @classmethod
    def from_corpus(cls, gazetteer: Path, fakes: Path) -> Vocabulary:
        places = json.loads(gazetteer.read_bytes())
        names_ar = [_strip_id(p.get("search_name_ar_short", "")) for p in places]
        names_en = [_strip_id(p.get("search_name_en", "")).split(" - ")[0] for p in places]
        arabic = sorted({w for n in names_ar for w in n.split() if len(w) > 1} | set(_NEWS_AR))
        rows = csv.DictReader(io.StringIO(fakes.read_bytes().decode("latin-1")))
        english = sorted({w.strip(".,\"'()").lower() for r in rows
                          for w in r["article_content"].split()[:400]} - {""})  # fmt: skip
        return cls(tuple(arabic), tuple(english), tuple(n for n in names_ar if n),
                   tuple(n for n in names_en if n))  # fmt: skip


def _strip_id(text: str) -> str:
    return text.split("---")[0].split("(((")[0].strip()


# common words of Arabic news reports, the gazetteer having only names
_NEWS_AR = ("غارة", "قصف", "طيران", "مدنيين", "قتلى", "جرحى", "أطفال", "نساء", "سوق", "مشفى",
            "مدرسة", "مسجد", "حي", "شارع", "صباح", "مساء", "اليوم", "أمس", "انفجار", "سيارة",
            "مفخخة", "قذائف", "هاون", "صواريخ", "التحالف", "النظام", "تنظيم", "الدولة",
            "المدينة", "الريف", "الشرقي", "الغربي", "الشمالي", "الجنوبي", "نزوح", "عائلات",
            "الخبز", "الفرن", "مياه", "كهرباء", "حصار", "معبر", "اعتقال", "إعدام", "مقاتلين",
            "الدفاع", "المدني", "انتشال", "جثث", "تحت", "الأنقاض", "بناء", "سكني", "منزل",
            "على", "في", "من", "إلى", "بعد", "قبل", "خلال", "حيث", "وقد", "أكد", "مراسل",
            "مصادر", "محلية", "الرقة", "الطبقة", "دير", "الزور", "حلب", "إدلب")  # fmt: skip


def _line(rng: random.Random, vocabulary: Vocabulary, arabic: bool, count: int) -> str:
    words = vocabulary.arabic if arabic else vocabulary.english
    places = vocabulary.places_ar if arabic else vocabulary.places_en
    out = []
    for _ in range(count):
        if rng.random() < 0.08:
            out.append(rng.choice(places))
            continue
        word = rng.choice(words)
        if arabic and rng.random() < 0.1:
            word = "".join(c + "\u064e" for c in word)
        elif arabic and rng.random() < 0.05 and len(word) > 2:
            word = word[:2] + "\u0640" + word[2:]
        out.append(word)
    return " ".join(out)


class Archive:
    """Synthetic desk data, deterministic from ``seed``."""

    def __init__(self, seed: int = 7, first: date = FIRST_DAY, last: date = LAST_DAY) -> None:
        self.seed, self.first, self.last = seed, first, last
        self.days = (last - first).days + 1

    def rng(self, stream: str) -> random.Random:
        return random.Random(f"{self.seed}:{stream}")

    def moments(self, stream: str, count: int) -> Iterator[datetime]:
        """``count`` times spread evenly over the days, random within a day, in order."""
        rng = self.rng(stream)
        for day in range(self.days):
            n = count * (day + 1) // self.days - count * day // self.days
            start = datetime.combine(self.first + timedelta(days=day), datetime.min.time(), UTC)
            for second in sorted(rng.randrange(86_400) for _ in range(n)):
                yield start + timedelta(seconds=second)

    def places(self, count: int) -> Iterator[dict[str, Any]]:
        """Made-up places around the governorates' centres (for benchmarks with no gazetteer)."""
        rng = self.rng("places")
        for i in range(count):
            g = rng.randrange(len(CENTRES))
            lat, lon = CENTRES[g]
            yield {"kind": "place", "name_en": f"Place {i}", "name_ar": f"مكان {i}",
                   "code": f"B{i}", "source": "bench", "source_ref": str(i),
                   "governorate": f"SY{g + 1:02d}", "lat_e6": lat + rng.randint(-400_000, 400_000),
                   "lon_e6": lon + rng.randint(-400_000, 400_000)}  # fmt: skip

    def load_correspondents(self, conn: Connection, count: int) -> list[int]:
        at = datetime.combine(self.first, datetime.min.time(), UTC)
        rows = ({"codename": f"bench-{self.seed}-{i}", "enrolled": True, "created_at": at}
                for i in range(count))  # fmt: skip
        insert_rows(conn, table(Correspondent), rows)
        prefix = f"bench-{self.seed}-%"
        return list(conn.scalars(select(Correspondent.id).where(
            Correspondent.codename.like(prefix)).order_by(Correspondent.id)))  # fmt: skip

    def texts(self, vocabulary: Vocabulary) -> Iterator[tuple[str, str, str]]:
        """Endless (title, body, lang) of report-like text, half Arabic, from real words.

        Arabic words come from the gazetteer's Arabic names and a list of news
        words, written the ways correspondents write them: one word in ten with
        harakat, one in twenty with tatweel, hamza and teh marbuta as they come.
        English words come from FA-KES articles; place names in either script from
        the gazetteer, the English ones as they are transliterated (Ar-Raqqa,
        Raqqah, al-Raqqa).
        """
        rng = self.rng("texts")
        while True:
            arabic = rng.random() < 0.5
            title = _line(rng, vocabulary, arabic, rng.randint(4, 9))
            body = _line(rng, vocabulary, arabic, rng.randint(20, 60))
            yield title, body, "ar" if arabic else "en"

    def load_reports(self, engine: Engine, count: int, spots: Sequence[Spot],
                     people: Sequence[int],
                     texts: Iterator[tuple[str, str, str]] | None = None) -> int:  # fmt: skip
        """Envelopes and their reports, a batch of each at a time (reports need envelopes),
        committed every ``COMMIT_EVERY`` rows so SQLite's write-ahead log stays small.
        With ``texts`` (see :meth:`texts`) the reports carry that text instead of a stub."""
        rng = self.rng("reports")
        moments = self.moments("report-times", count)
        done = 0
        while part := list(itertools.islice(moments, COMMIT_EVERY)):
            with engine.begin() as conn:
                for lo in range(0, len(part), BATCH):
                    envelopes, reports = [], []
                    for written in part[lo : lo + BATCH]:
                        n = done + len(reports)
                        envelope = f"{self.seed:08x}{n:056x}"
                        received = written + timedelta(seconds=rng.randrange(3 * 86_400))
                        lat = lon = None
                        if rng.random() < 0.85:
                            spot = spots[rng.randrange(len(spots))]
                            lat = round(spot.lat_e6 / 1e6 + rng.gauss(0, 0.03), 6)
                            lon = round(spot.lon_e6 / 1e6 + rng.gauss(0, 0.03), 6)
                        envelopes.append({"id": envelope, "size": 4096, "channel": "relay",
                                          "received_at": received, "status": "opened"})  # fmt: skip
                        title, body, lang = (f"Report {n}", "نص التقرير", "ar") if texts is None \
                            else next(texts)  # fmt: skip
                        reports.append({"envelope_id": envelope, "title": title,
                                        "correspondent_id": people[rng.randrange(len(people))],
                                        "body": body, "lang": lang, "created_at": written,
                                        "received_at": received,
                                        # exact places and manifests are sealed
                                        # (sijil.store.sealed): the engine needs a sealer
                                        "latitude": coarse(lat), "longitude": coarse(lon),
                                        "latitude_sealed": lat, "longitude_sealed": lon,
                                        "manifest": "", "manifest_sealed": "{}",
                                        "location_precision_m": None if lat is None else 50,
                                        "signature": f"{n:0128x}"})  # fmt: skip
                    insert_rows(conn, table(Envelope), envelopes)
                    done += insert_rows(conn, table(Report), reports)
        return done

    def load_incidents(self, conn: Connection, count: int, spots: Sequence[Spot],
                       user: int) -> int:  # fmt: skip
        """Incidents at places; the graded ones (about 60 %) with an approved assessment."""
        rng = self.rng("incidents")
        first_id = (conn.scalar(text("SELECT max(id) FROM incidents")) or 0) + 1
        rows, assessed = [], []
        for n, start in enumerate(self.moments("incident-times", count), start=first_id):
            spot = spots[rng.randrange(len(spots))]
            grading = rng.choice(GRADINGS) if rng.random() < 0.6 else None
            rows.append({"id": n, "code": f"SJ-{start.year}-{n:04d}", "title_ar": f"حادثة {n}",
                         "title_en": f"Incident {n}", "incident_type": rng.choice(TYPES),
                         "state": rng.choice(STATES), "start_at": start, "date_prec": 1,
                         "place_id": spot.id, "lat_e6": spot.lat_e6, "lon_e6": spot.lon_e6,
                         "where_prec": 1, "governorate": spot.governorate, "version": 1,
                         "grading": grading, "created_at": start, "created_by": user,
                         "updated_at": start, "updated_by": user})  # fmt: skip
            if grading is not None:
                low = rng.randrange(30)
                assessed.append((n, grading, start, low, low + rng.randrange(10)))
        insert_rows(conn, table(Incident), rows)
        first_assessment = (conn.scalar(text("SELECT max(id) FROM incident_assessments")) or 0) + 1
        ids = {n: first_assessment + k for k, (n, *_) in enumerate(assessed)}
        reviewed = [{"id": ids[n], "incident_id": n, "grading": g, "harm": "yes",
                     "summary_ar": "س", "summary_en": "s", "incident_version": 1,
                     "created_at": at, "author_id": user}
                    for n, g, at, _, _ in assessed]  # fmt: skip
        insert_rows(conn, table(Assessment), reviewed)
        insert_rows(conn, table(CasualtyRow), (
            {"assessment_id": ids[n], "outcome": "killed", "status": "civilian",
             "person_group": "all", "min_count": low, "max_count": high}
            for n, _, _, low, high in assessed))  # fmt: skip
        insert_rows(conn, table(AssessmentReview), (
            {"assessment_id": ids[n], "reviewer_id": user, "decision": "approved", "comment": "",
             "independent": False, "created_at": at} for n, _, at, _, _ in assessed))  # fmt: skip
        conn.execute(text(
            "UPDATE incidents SET current_assessment_id = (SELECT a.id FROM incident_assessments a"
            " WHERE a.incident_id = incidents.id) WHERE grading IS NOT NULL AND id >= :first"),
            {"first": first_id})  # fmt: skip
        advance_sequences(conn, ("incidents", "incident_assessments"))
        return len(rows)

    def claims(self, count: int, spots: Sequence[Spot], governorates: dict[str, int],
               sources: Sequence[int], user: int) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Claims by ``sources``; 70 % placed to a governorate (its place id in
        ``governorates``), the rest at a spot."""
        rng = self.rng("claims")
        for n, said in enumerate(self.moments("claim-times", count)):
            spot = spots[rng.randrange(len(spots))]
            place, gov = spot.id, spot.governorate
            if rng.random() < 0.7 and gov in governorates:
                place = governorates[gov]
            civilians = rng.randrange(40)
            yield {"source_id": sources[rng.randrange(len(sources))], "imported_from": "bench",
                   "external_ref": f"{self.seed}-{n}", "external_part": 1,
                   "title": f"Claim {n}", "body": "", "lang": "en", "claim_date": said.date(),
                   "place_id": place, "governorate": gov, "killed_civilians": civilians,
                   "killed_children": rng.randrange(civilians + 1), "killed_women": 0,
                   "killed_noncivilians": rng.randrange(10),
                   "content_sha256": hashlib.sha256(f"{self.seed}:{n}".encode()).hexdigest(),
                   "created_at": said, "created_by": user}  # fmt: skip

    def load_claims(self, conn: Connection, count: int, spots: Sequence[Spot],
                    sources: Sequence[int], user: int) -> int:  # fmt: skip
        governorates = {code: pid for pid, code in conn.execute(
            select(Place.id, Place.governorate).where(Place.kind == "governorate"))}  # fmt: skip
        return insert_rows(conn, table(Claim),
                           self.claims(count, spots, governorates, sources, user))  # fmt: skip

    def publications(self, incidents: int, verdicts: int) -> Iterator[dict[str, Any]]:
        """Published posts' content (docs/publish-format.md, without log_index), in log
        order: ``incidents`` incidents at coarsened points near the governorates'
        centres, a verdict on one to three earlier incidents after every
        ``incidents // verdicts`` of them; a tenth of the incidents show one photo
        (``"media"`` names its seed in ``_photo``)."""
        rng = self.rng("publications")
        english = (
            "strike",
            "market",
            "school",
            "hospital",
            "civilians",
            "killed",
            "wounded",
            "shelling",
            "village",
            "district",
            "families",
            "bakery",
            "road",
            "night",
        )
        every = max(1, incidents // max(1, verdicts))
        published, made_verdicts = [], 0
        for n, when in enumerate(self.moments("publication-times", incidents)):
            g = rng.randrange(len(CENTRES))
            lat, lon = CENTRES[g]
            lat += rng.randint(-300, 300) * 1000
            lon += rng.randint(-300, 300) * 1000
            low = rng.randrange(30)
            code = f"SY-{n:05d}"
            words_ar = " ".join(rng.choice(_NEWS_AR) for _ in range(30))
            words_en = " ".join(rng.choice(english) for _ in range(30))
            photo = n if rng.random() < 0.1 else None
            published.append(code)
            yield {
                "kind": "incident",
                "subject": code,
                "published_at": when.date().isoformat(),
                "_photo": photo,
                "incident": {
                    "code": code,
                    "type": rng.choice(TYPES),
                    "title": {
                        "ar": " ".join(rng.choice(_NEWS_AR) for _ in range(6)),
                        "en": " ".join(rng.choice(english) for _ in range(6)).capitalize(),
                    },
                    "when": {
                        "start": when.date().isoformat(),
                        "end": None,
                        "date_prec": rng.choice((1, 1, 2, 3)),
                    },
                    "where": {
                        "name": {"ar": f"منطقة {g + 1}", "en": f"Area {g + 1}"},
                        "governorate": f"SY{g + 1:02d}",
                        "lat": f"{lat / 1e6:.2f}",
                        "lon": f"{lon / 1e6:.2f}",
                        "where_prec": rng.choice((2, 3, 4)),
                        "h3": None,
                    },
                    "grading": {
                        "code": rng.choice(GRADINGS),
                        "definition": {"ar": "تعريف التصنيف", "en": "The grading's definition"},
                    },
                    "harm": "yes",
                    "casualties": [
                        {
                            "outcome": "killed",
                            "status": "civilian",
                            "group": "all",
                            "low": low,
                            "high": low + rng.randrange(10),
                        }
                    ],
                    "attribution": [
                        {"actor": {"ar": "طرف مسلح", "en": "An armed party"}, "stance": "suspected"}
                    ],
                    "summary": {"ar": words_ar, "en": words_en.capitalize()},
                    "media": [],
                },
            }
            if (n + 1) % every == 0 and made_verdicts < verdicts:
                made_verdicts += 1
                code = f"CLM-{made_verdicts:05d}"
                yield {
                    "kind": "verdict",
                    "subject": code,
                    "published_at": when.date().isoformat(),
                    "_photo": None,
                    "verdict": {
                        "claim": {
                            "code": code,
                            "title": " ".join(rng.choice(_NEWS_AR) for _ in range(6)),
                            "text": " ".join(rng.choice(_NEWS_AR) for _ in range(25)),
                            "lang": "ar",
                            "source": {"kind": "outlet", "name": "وكالة"},
                            "date": None,
                        },
                        "rating": rng.choice(("accurate", "misleading", "false", "unproven")),
                        "summary": {
                            "ar": " ".join(rng.choice(_NEWS_AR) for _ in range(20)),
                            "en": " ".join(rng.choice(english) for _ in range(20)),
                        },
                        "incidents": rng.sample(published, min(len(published), rng.randint(1, 3))),
                    },
                }
