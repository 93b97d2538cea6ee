"""Search at scale: sijil's index beside FTS5's default tokenizer, PostgreSQL's arabic
configuration and a LIKE scan, on a synthetic archive of reports (half Arabic) written
from the corpus's words by bench/archive.py's seeded generator.

    .venv/bin/python bench/search.py [--docs 1000000] [--skip-postgres]

Prints, per database: load and index build time, index size as a multiple of the raw
text, query p50/p95 for selective, common and phrase queries, and recall on spelling
variants (harakat, tatweel, hamza on the alef, heh for teh marbuta, "and" glued on)
of place names, whose truth is every report holding the name as written, found by a
scan. Not a test: figures go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import Archive, Vocabulary, spots_of
from desk import FAKES, GAZETTEER, percentile, postgres_schema
from sijil.crypto.sealed_value import ValueSealer
from sijil.desk.search import MAX_LIMIT, SearchFilters, search
from sijil.desk.search_index import rebuild
from sijil.store import Store
from sijil.store.sealed import attach_sealer

QUERIES = 60
LIKE_QUERIES = 8
VARIANT_NAMES = 30
# recall is counted on the reports received in a window, so that a name's reports
# fit in a page of hits at any archive size
WINDOW = (date(2017, 6, 1), date(2017, 6, 30))
MAX_TRUTH = 60  # a selective name: at most this many reports hold it, well under a page of hits


def variants(name: str) -> list[str]:
    return [
        "".join(c + "\u064e" for c in name),  # harakat
        name[:1] + "\u0640" + name[1:],  # tatweel
        "أ" + name[1:] if name.startswith("ا") else name.replace("ا", "إ", 1),
        name.replace("ة", "ه") if "ة" in name else name + "",
        "و" + name,
    ]


def fts5_phrase(query: str) -> str:
    return " ".join('"' + w.replace('"', '""') + '"' for w in query.split())


class Run:
    def __init__(self, store: Store, tag: str, docs: int) -> None:
        self.store, self.tag, self.docs = store, tag, docs
        self.pg = store.backend == "postgresql"

    def say(self, line: str) -> None:
        print(f"[{self.tag}] {line}", flush=True)

    def size(self, conn: Connection, tables: list[str]) -> int:
        if self.pg:
            return sum(
                int(conn.scalar(text(f"SELECT pg_total_relation_size('{t}')")) or 0) for t in tables
            )
        pages = 0
        for t in tables:
            pages += int(
                conn.scalar(text("SELECT count(*) FROM dbstat WHERE name = :t"), {"t": t}) or 0
            )
        return pages * int(conn.scalar(text("PRAGMA page_size")) or 4096)

    def load(self, archive: Archive, vocabulary: Vocabulary) -> int:
        with self.store.engine.begin() as conn:
            spots = spots_of(conn) or [None]
            people = archive.load_correspondents(conn, 40)
        start = time.perf_counter()
        archive.load_reports(
            self.store.engine,
            self.docs,
            [s for s in spots if s] or _spots(),
            people,
            texts=archive.texts(vocabulary),
        )
        self.say(f"loaded {self.docs:,} reports in {time.perf_counter() - start:.0f} s")
        with self.store.engine.connect() as conn:
            raw = conn.scalar(
                text(
                    "SELECT sum(length(CAST(title AS BLOB)) + length(CAST(body AS BLOB)))"
                    " FROM reports"
                )
                if not self.pg
                else text("SELECT sum(octet_length(title) + octet_length(body)) FROM reports")
            )
        return int(raw or 0)

    def build(self, raw: int) -> None:
        start = time.perf_counter()
        with self.store.session(write=True) as session:
            rebuild(session)
        seconds = time.perf_counter() - start
        with self.store.engine.connect() as conn:
            fts = ["search_docs"]
            if not self.pg:
                # the table, its indexes and the FTS5 shadow tables
                fts = list(
                    conn.scalars(
                        text(
                            "SELECT name FROM sqlite_master WHERE tbl_name = 'search_docs' "
                            "OR name LIKE 'search_fts%'"
                        )
                    )
                )
            size = self.size(conn, fts)
        self.say(
            f"sijil index: built in {seconds:.0f} s ({self.docs / seconds:,.0f} docs/s), "
            f"{size / 2**20:,.0f} MiB = {size / raw:.2f}x the raw text ({raw / 2**20:,.0f} MiB)"
        )
        ref = time.perf_counter()
        with self.store.engine.begin() as conn:
            if self.pg:
                conn.execute(
                    text(
                        "CREATE INDEX ref_arabic ON reports USING gin "
                        "(to_tsvector('arabic', title || ' ' || body))"
                    )
                )
                size = self.size(conn, ["ref_arabic"])
                name = "PostgreSQL 'arabic' GIN"
            else:
                conn.execute(
                    text(
                        "CREATE VIRTUAL TABLE ref_fts USING fts5(title, body, "
                        "content='reports', content_rowid='id')"
                    )
                )
                conn.execute(text("INSERT INTO ref_fts (ref_fts) VALUES ('rebuild')"))
                size = self.size(
                    conn, ["ref_fts_data", "ref_fts_idx", "ref_fts_docsize", "ref_fts_config"]
                )
                name = "FTS5 default tokenizer"
        self.say(
            f"{name}: built in {time.perf_counter() - ref:.0f} s, "
            f"{size / 2**20:,.0f} MiB = {size / raw:.2f}x the raw text"
        )
        if not self.pg:
            tri = time.perf_counter()
            with self.store.engine.begin() as conn:
                conn.execute(
                    text(
                        "CREATE VIRTUAL TABLE tri_fts USING fts5(title, body, "
                        "content='reports', content_rowid='id', tokenize='trigram')"
                    )
                )
                conn.execute(text("INSERT INTO tri_fts (tri_fts) VALUES ('rebuild')"))
                tri_size = self.size(
                    conn, ["tri_fts_data", "tri_fts_idx", "tri_fts_docsize", "tri_fts_config"]
                )
            self.say(
                f"FTS5 trigram (the alternative to sijil's tokens): built in "
                f"{time.perf_counter() - tri:.0f} s, {tri_size / 2**20:,.0f} MiB = "
                f"{tri_size / raw:.2f}x the raw text"
            )
        if self.pg:
            with self.store.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as conn:
                conn.execute(text("ANALYZE"))

    def reference(
        self,
        conn: Connection,
        query: str,
        *,
        like: bool = False,
        window: bool = False,
        trigram: bool = False,
    ) -> list[int]:
        """The reference methods; with ``window``, only reports received in WINDOW."""
        params = {
            "q": query.strip(chr(34)),
            "p": f"%{query.strip(chr(34))}%",
            "lo": WINDOW[0],
            "hi": WINDOW[1] + timedelta(days=1),
        }
        inside = " AND received_at >= :lo AND received_at < :hi" if window else ""
        if like:
            sql = f"SELECT id FROM reports WHERE (title LIKE :p OR body LIKE :p){inside} LIMIT 200"  # noqa: S608 - constant SQL
        elif self.pg:
            sql = (
                "SELECT id FROM reports WHERE to_tsvector('arabic', title || ' ' || body) @@ "  # noqa: S608
                f"plainto_tsquery('arabic', :q){inside} LIMIT 200"
            )
        else:
            params["q"] = fts5_phrase(params["q"])
            table = "tri_fts" if trigram else "ref_fts"
            sql = (
                f"SELECT {table}.rowid FROM {table} JOIN reports ON reports.id = {table}.rowid "  # noqa: S608
                f"WHERE {table} MATCH :q{inside} ORDER BY rank LIMIT 200"
            )
        return list(conn.scalars(text(sql), params))

    def timings(self, queries: dict[str, list[str]]) -> None:
        other = "arabic GIN" if self.pg else "FTS5 default"
        for family, qs in queries.items():
            ours: list[float] = []
            for q in qs:
                start = time.perf_counter()
                with self.store.session() as session:
                    search(session, q, SearchFilters(limit=20))
                ours.append(time.perf_counter() - start)
            theirs, scans = self._time(qs, like=False), self._time(qs[:LIKE_QUERIES], like=True)
            trigram = ""
            if not self.pg:
                tri = self._time(qs, like=False, trigram=True)
                trigram = f" | trigram p50 {percentile(tri, 50) * 1e3:7.1f} ms"
            self.say(
                f"{family:<9} sijil p50 {percentile(ours, 50) * 1e3:7.1f} ms p95 "
                f"{percentile(ours, 95) * 1e3:7.1f} ms | {other} p50 "
                f"{percentile(theirs, 50) * 1e3:7.1f} ms p95 {percentile(theirs, 95) * 1e3:7.1f} ms"
                f" | LIKE p50 {percentile(scans, 50) * 1e3:8.1f} ms{trigram}"
            )

    def _time(self, qs: list[str], *, like: bool, trigram: bool = False) -> list[float]:
        out = []
        with self.store.engine.connect() as conn:
            for q in qs:
                start = time.perf_counter()
                self.reference(conn, q, like=like, trigram=trigram)
                out.append(time.perf_counter() - start)
        return out

    def recall(self, names: list[str]) -> None:
        hit = {"sijil": [0, 0], "reference": [0, 0], "LIKE": [0, 0], "trigram": [0, 0]}
        cases = 0
        with self.store.engine.connect() as conn:
            names_used = 0
            for name in names:
                word = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")
                rows = conn.execute(
                    text(
                        "SELECT id, title, body FROM reports WHERE received_at >= :lo "
                        "AND received_at < :hi AND (title LIKE :p OR body LIKE :p)"
                    ),
                    {"p": f"%{name}%", "lo": WINDOW[0], "hi": WINDOW[1] + timedelta(days=1)},
                ).all()
                truth = {r.id for r in rows if word.search(f"{r.title} {r.body}")}
                if not truth or len(truth) > MAX_TRUTH:
                    continue
                names_used += 1
                if names_used > VARIANT_NAMES:
                    break
                for variant in variants(name):
                    cases += 1
                    with self.store.session() as session:
                        ours = {
                            h.ref
                            for h in search(
                                session,
                                variant,
                                SearchFilters(
                                    kinds=frozenset({_report_kind()}),
                                    limit=MAX_LIMIT,
                                    since=WINDOW[0],
                                    until=WINDOW[1],
                                ),
                            )
                        }
                    for key, found in (
                        ("sijil", ours),
                        ("reference", set(self.reference(conn, variant, window=True))),
                        ("LIKE", set(self.reference(conn, variant, like=True, window=True))),
                        (
                            "trigram",
                            set()
                            if self.pg
                            else set(self.reference(conn, variant, window=True, trigram=True)),
                        ),
                    ):
                        # the references return 200 at most from the whole archive:
                        # count what they found of the truth, as for sijil
                        hit[key][0] += len(found & truth)
                        hit[key][1] += len(truth)
        other = "arabic GIN" if self.pg else "FTS5 default"
        self.say(
            f"recall on {cases} variant queries: sijil {_ratio(hit['sijil'])}, {other} "
            f"{_ratio(hit['reference'])}, LIKE {_ratio(hit['LIKE'])}"
            + ("" if self.pg else f", FTS5 trigram {_ratio(hit['trigram'])}")
        )


def _ratio(pair: list[int]) -> str:
    return f"{pair[0] / pair[1]:.3f}" if pair[1] else "n/a"


def _report_kind():  # type: ignore[no-untyped-def]
    from sijil.store import DocKind

    return DocKind.REPORT


def _spots():  # type: ignore[no-untyped-def]
    from archive import Spot

    return [Spot(0, 35953070, 39006060, "SY11")]


def queries(vocabulary: Vocabulary, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    common = ["قصف", "غارة", "مدنيين", "strike", "killed", "civilians", "الرقة", "syria"]
    two_word = [n for n in vocabulary.places_ar + vocabulary.places_en if len(n.split()) == 2]
    return {
        "selective": rng.sample(vocabulary.places_ar, QUERIES // 2)
        + rng.sample(vocabulary.places_en, QUERIES // 2),
        "common": [rng.choice(common) for _ in range(QUERIES)],
        "phrase": [f'"{n}"' for n in rng.sample(two_word, QUERIES)],
    }


def bench(url: str, tag: str, args: argparse.Namespace, vocabulary: Vocabulary) -> None:
    store = Store.open(url)
    # reports' exact places are sealed: a fixed key, as the tests' bare store has
    attach_sealer(store.engine, ValueSealer(bytes(range(32))))
    try:
        run = Run(store, tag, args.docs)
        raw = run.load(Archive(seed=7), vocabulary)
        run.build(raw)
        run.timings(queries(vocabulary, 11))
        rng = random.Random(13)
        # a wide sample: at a million reports many names are too common for the window
        singles = sorted({n for n in vocabulary.places_ar if " " not in n})
        run.recall(rng.sample(singles, min(len(singles), VARIANT_NAMES * 20)))
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("SIJIL_BENCH_PG", "postgresql+psycopg://127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    vocabulary = Vocabulary.from_corpus(GAZETTEER, FAKES)
    print(f"search benchmark: {args.docs:,} reports, machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        bench(Store.sqlite_url(Path(scratch) / "search.db"), "sqlite", args, vocabulary)
    if not args.skip_postgres:
        with postgres_schema(args.postgres) as url:
            bench(url, "postgresql", args, vocabulary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
