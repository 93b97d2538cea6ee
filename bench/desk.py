"""Benchmark: the verification desk's imports and searches, on SQLite and PostgreSQL, one run.

    .venv/bin/python bench/desk.py [--incidents 100000] [--reports 1000000] [--claims 20000]
                                   [--samples 200] [--postgres-url URL | --no-postgres]
                                   [--tmpdir DIR] [--quick]

For each database (a SQLite file in a temporary folder; a fresh schema in PostgreSQL
at 127.0.0.1:5432, database ``test``, dropped at the end):

1. imports through the desk's own functions, ledger entries and all: the gazetteer
   (untimed), FA-KES (../shared/corpus/claims/fakes.csv, 644 rows) and UCDP GED
   (ucdp-ged-syria-2016-2019.csv.gz, 16,566 rows): rows per second;
2. loads the synthetic archive beside them (bench/archive.py, seed 7): incidents at
   the gazetteer's places (60 % graded, each with an approved assessment), reports
   with their envelopes (85 % with coordinates), claims by FA-KES's outlets. Bulk
   executemany, **no ledger entries** for these rows: they are load, not evidence;
3. times ``incident suggest`` (sijil.desk.suggest.suggest with its defaults, 3 days
   and 25 km) for random incidents, and ``incident list`` with a governorate, a
   three-month window and a grading (list_incidents alone, and with the rows the CLI
   prints; the governorate given by its P- id, as a place picker gives it, while
   looking up a typed code is timed apart), each in a session of its own: p50 and
   p95 after a warm-up;
4. drops the indexes migration 0008 chose and times the same queries on the same
   data again: the reference, with the ratio of the p95s.

PostgreSQL's tables are ANALYZEd after the load (autovacuum does the same within
a minute of a bulk load); SQLite's are not (sijil never runs ANALYZE). Goals (issue
10): suggest p95 <= 50 ms, list p95 <= 20 ms. Exits 0 whatever the verdict.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from archive import GRADINGS, Archive, spots_of
from sijil.crypto.sealed_value import ValueSealer
from sijil.desk.fakes_import import import_fakes
from sijil.desk.incident_view import incident_rows
from sijil.desk.incidents import list_incidents
from sijil.desk.monitors import import_ged
from sijil.desk.places import find_places, import_gazetteer
from sijil.desk.suggest import suggest
from sijil.desk.users import add_user
from sijil.store import MIGRATIONS_DIR, DeskUser, Incident, Place, Source, Store
from sijil.store.sealed import attach_sealer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
GAZETTEER = CORPUS / "gazetteer" / "syria-locations.json"
FAKES = CORPUS / "claims" / "fakes.csv"
GED = CORPUS / "incidents" / "ucdp-ged-syria-2016-2019.csv.gz"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOVERNORATES = [f"SY{n:02d}" for n in range(1, 15)]
WARM_UP = 10
LOOKUP = "a governorate's code looked up (find_places 'SY..')"


def _migration_0008() -> Any:
    path = MIGRATIONS_DIR / "versions" / "0008_desk_indexes.py"
    spec = importlib.util.spec_from_file_location("sijil_migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(times: list[float], p: int) -> float:
    if len(times) < 2:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[p - 1]


@dataclass
class Timing:
    samples: int
    p50: float
    p95: float

    def __str__(self) -> str:
        return f"p50 {self.p50 * 1e3:.1f} ms, p95 {self.p95 * 1e3:.1f} ms ({self.samples} runs)"


def timed(store: Store, calls: list[Callable[[Session], object]]) -> Timing:
    """Each call in its own session (as each command is), after a few untimed ones."""
    for call in calls[:WARM_UP]:
        with store.session() as session:
            call(session)
    times = []
    for call in calls:
        start = time.perf_counter()
        with store.session() as session:
            call(session)
        times.append(time.perf_counter() - start)
    return Timing(len(times), percentile(times, 50), percentile(times, 95))


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[str]:
    """A fresh schema, dropped at the end; the URL sends every connection there."""
    url = make_url(admin_url)
    schema = f"sijil_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        query = dict(url.query) | {"options": f"-csearch_path={schema}"}
        yield url.set(query=query).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def imports(store: Store, tag: str) -> None:
    """The gazetteer (untimed), then FA-KES and GED through the desk's import functions."""
    at = datetime.now(UTC)
    with store.session(write=True) as s:
        add_user(s, "amal", ["admin", "editor", "reviewer"], by=None, clock=lambda: at)
        import_gazetteer(s, GAZETTEER.read_bytes(), by="amal")
    for name, path in (("FA-KES", FAKES), ("UCDP GED", GED)):
        start = time.perf_counter()
        with store.session(write=True) as s, path.open("rb") as f:
            if name == "FA-KES":
                done = import_fakes(s, f.read(), by="amal")
                rows = done.added
            else:
                rows = import_ged(s, f, by="amal").added
        seconds = time.perf_counter() - start
        print(f"[{tag}] {name} import: {rows:,} rows in {seconds:.2f} s "
              f"({rows / seconds:,.0f} rows/s, ledger entries included)")  # fmt: skip


def load(store: Store, args: argparse.Namespace, tag: str) -> None:
    archive = Archive(seed=7)
    with store.engine.begin() as conn:
        spots = spots_of(conn)
        user = conn.scalar(select(DeskUser.id).where(DeskUser.name == "amal"))
        outlets = list(conn.scalars(select(Source.id).where(Source.kind == "outlet")))
        people = archive.load_correspondents(conn, 40)
    assert user is not None
    start = time.perf_counter()
    with store.engine.begin() as conn:
        archive.load_incidents(conn, args.incidents, spots, user)
        archive.load_claims(conn, args.claims, spots, outlets, user)
    middle = time.perf_counter()
    archive.load_reports(store.engine, args.reports, spots, people)
    end = time.perf_counter()
    if store.backend == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    print(f"[{tag}] loaded {args.incidents:,} incidents and {args.claims:,} claims in "
          f"{middle - start:.0f} s; {args.reports:,} reports with their envelopes in "
          f"{end - middle:.0f} s ({args.reports / (end - middle):,.0f} reports/s); "
          "no ledger entries")  # fmt: skip


def workloads(store: Store, samples: int) -> dict[str, list[Any]]:
    """The calls timed: suggest for random incidents; list with random filters, the domain
    query alone and with the rows ``incident list`` prints. The governorate is given by
    its P- id, as a place picker gives it; a typed name or code is looked up first
    (find_places), timed apart."""
    rng = random.Random(11)
    with store.session() as s:
        low, high = s.execute(select(func.min(Incident.id), func.max(Incident.id))).one()
        picked = rng.sample(range(low, high + 1), min(samples, high - low + 1))
        codes = list(s.scalars(select(Incident.code).where(Incident.id.in_(picked))))
        ids = {c: f"P-{n}" for n, c in s.execute(
            select(Place.id, Place.code).where(Place.kind == "governorate"))}  # fmt: skip
    rng.shuffle(codes)
    filters = []
    for _ in range(samples):
        since = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(1370))
        until = since + timedelta(days=91)
        filters.append({"place": ids[rng.choice(GOVERNORATES)], "since": since, "until": until,
                        "grading": rng.choice(GRADINGS)})  # fmt: skip
    return {
        "incident suggest": [lambda s, c=c: suggest(s, c) for c in codes],
        "incident list (governorate, 3 months, grading), the query": [
            lambda s, f=f: list_incidents(s, **f) for f in filters],
        "incident list, as printed (the query and each row's place)": [
            lambda s, f=f: incident_rows(s, list_incidents(s, **f))
            for f in filters],
        LOOKUP: [
            lambda s, c=c: find_places(s, c) for c in GOVERNORATES * (samples // 14 + 1)],
    }  # fmt: skip


def drop_chosen_indexes(store: Store) -> None:
    migration = _migration_0008()
    with store.engine.begin() as conn:
        for table, columns in migration.INDEXES:
            conn.execute(text(f"DROP INDEX {migration.index_name(table, columns)}"))
        if store.backend == "postgresql":
            conn.execute(text("ANALYZE"))


def measure(store: Store, args: argparse.Namespace, tag: str) -> list[str]:
    calls = workloads(store, args.samples)
    lookup = calls.pop(LOOKUP)
    fast = {name: timed(store, each) for name, each in calls.items()}
    print(f"[{tag}] {LOOKUP}: {timed(store, lookup)} (no index of 0008 serves it)")
    drop_chosen_indexes(store)
    few = max(WARM_UP + 2, args.samples // 4)
    for name, each in calls.items():
        slow = timed(store, each[:few])
        print(f"[{tag}] {name}: {fast[name]}; without migration 0008's indexes: {slow}; "
              f"ratio of p95s {slow.p95 / fast[name].p95:.1f}x")  # fmt: skip
    suggest_p95, list_p95 = (t.p95 for t in list(fast.values())[::2])
    return [f"[{tag}] suggest p95 <= 50 ms: {suggest_p95 <= 0.050}",
            f"[{tag}] list (as printed) p95 <= 20 ms: {list_p95 <= 0.020}"]  # fmt: skip


def run(url: str, args: argparse.Namespace, tag: str) -> list[str]:
    store = Store.open(url)
    # reports' exact places are sealed: a fixed key, as the tests' bare store has
    attach_sealer(store.engine, ValueSealer(bytes(range(32))))
    try:
        if store.backend == "postgresql":
            with store.engine.connect() as conn:
                print(f"[{tag}] {conn.scalar(text('SHOW server_version'))}")
        imports(store, tag)
        load(store, args, tag)
        return measure(store, args, tag)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200, help="queries timed per figure")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--tmpdir", type=Path, default=None)
    quick = "5,000 incidents, 50,000 reports, 2,000 claims, 40 samples"
    parser.add_argument("--quick", action="store_true", help=quick)
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.reports, args.claims, args.samples = 5_000, 50_000, 2_000, 40
    if not CORPUS.is_dir():
        print(f"needs the shared corpus at {CORPUS}")
        return 0
    import sqlite3

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    goals: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sijil-bench-desk-", dir=args.tmpdir) as tmp:
        goals += run(Store.sqlite_url(Path(tmp) / "desk.db"), args, "sqlite")
    if not args.no_postgres:
        with postgres_schema(args.postgres_url) as url:
            goals += run(url, args, "postgresql")
    for goal in goals:
        print("GOAL", goal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
