"""Benchmark: the desk web app under load, 50 signed-in editors, on SQLite and PostgreSQL.

    .venv/bin/python bench/web.py [--reports 1000000] [--incidents 100000] [--users 50]
                                  [--duration 60] [--warmup 10] [--think 1-5]
                                  [--postgres-url URL | --no-postgres] [--no-sqlite]
                                  [--tmpdir DIR]

For each database (an encrypted SQLite desk in a temporary folder; a desk on a fresh
PostgreSQL schema at 127.0.0.1:5432, database ``test``, dropped at the end), both
loaded side by side (a process each), then measured one after the other:

1. a real desk home (``DeskHome.init``, a cheap KDF: the passphrase is not what is
   measured), the gazetteer imported by the desk's own function, then bench/archive.py
   (seed 7) bulk-loads incidents (60 % graded, with assessments) and reports with
   their envelopes and text (half Arabic, ``Archive.texts``); the search index is
   built (``sijil.desk.search_index.rebuild``) so the search page searches it all;
2. ``--users`` desk users with the editor role, each with a signed-in session started
   by sijil.desk.web_sessions (no browser, no password: sign-in is not measured);
3. real ``sijil desk serve`` processes on free loopback ports, the passphrase in
   the child's SIJIL_PASSPHRASE only: one on SQLite, two on PostgreSQL;
4. locust, headless (bench/web_locust.py): one simulated user per session, a think
   time between requests (1 to 5 s, locust's usual ``between(1, 5)``: an editor
   reads), inbox pages, random reports and searches of the archive's words, and the
   reference in the same run against the same server(s): the stylesheet
   ``/static/app.css`` (no session, no database), and ``/`` (the session resolved,
   then a redirect). ``--warmup`` seconds of the same load first, not counted; then
   ``--duration`` seconds, counted.

Prints per page: requests/s, p50/p95 (locust's, rounded to 10 ms above 100 ms), the
p95 as a ratio to the stylesheet's, errors, and the goals (issue 12): p95 <= 100 ms
for the inbox and report pages, <= 150 ms for search, zero errors. Exits 0 whatever
the verdict. Every process started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import Archive, Vocabulary, spots_of
from desk import CORPUS, FAKES, GAZETTEER, POSTGRES_URL, postgres_schema
from sijil.crypto.kdf import KdfParams
from sijil.desk.custody import utcnow
from sijil.desk.home import DeskHome
from sijil.desk.places import import_gazetteer
from sijil.desk.search_index import rebuild
from sijil.desk.users import add_user, get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.store import DeskUser, Report
from sijil.store.models_desk import Role

BENCH = Path(__file__).resolve().parent
LOCUSTFILE = BENCH / "web_locust.py"
BIN = Path(sys.executable).parent
PASSPHRASE = "bench passphrase, not secret"  # noqa: S105 - a throwaway desk
FAST_KDF = KdfParams(log_n=10, r=8, p=1)
START_TIMEOUT_S = 120.0
QUERIES = 200
# the pages measured, as web_locust.py names them, with their goals (p95, ms)
GOALS = {
    "inbox, first page": 100.0,
    "inbox, a later page": 100.0,
    "report": 100.0,
    "search": 150.0,
}
REFERENCE = "reference: /static/app.css"
SESSION_REFERENCE = "reference: / (session, redirect)"


@dataclass
class Loaded:
    reports: tuple[int, int]


def say(tag: str, line: str) -> None:
    print(f"[{tag}] {line}", flush=True)


def prepare(home: DeskHome, args: argparse.Namespace, tag: str) -> Loaded:
    """A desk with the archive loaded and indexed, and signed-in sessions."""
    home.init(PASSPHRASE, FAST_KDF)
    identity = home.unlock(PASSPHRASE)
    store = home.open_store(identity)
    try:
        with store.session(write=True) as s:
            add_user(s, "amal", [Role.ADMIN, Role.EDITOR, Role.REVIEWER], by=None)
            import_gazetteer(s, GAZETTEER.read_bytes(), by="amal")
        archive = Archive(seed=7)
        vocabulary = Vocabulary.from_corpus(GAZETTEER, FAKES)
        with store.engine.begin() as conn:
            spots = spots_of(conn)
            user = conn.scalar(select(DeskUser.id).where(DeskUser.name == "amal"))
            people = archive.load_correspondents(conn, 40)
        assert user is not None
        start = time.perf_counter()
        with store.engine.begin() as conn:
            archive.load_incidents(conn, args.incidents, spots, user)
        middle = time.perf_counter()
        archive.load_reports(
            store.engine, args.reports, spots, people, texts=archive.texts(vocabulary)
        )
        end = time.perf_counter()
        say(tag, f"loaded {args.incidents:,} incidents in {middle - start:.0f} s, "
                 f"{args.reports:,} reports with envelopes and text in {end - middle:.0f} s "
                 f"({args.reports / max(end - middle, 1e-9):,.0f} reports/s)")  # fmt: skip
        start = time.perf_counter()
        shown = [0]

        def progress(_kind: object, total: int) -> None:
            if total >= shown[0] + 200_000:
                shown[0] = total
                say(tag, f"search index: {total:,} documents, {time.perf_counter() - start:.0f} s")

        with store.session(write=True) as s:
            docs = rebuild(s, progress=progress)
        seconds = time.perf_counter() - start
        say(tag, f"search index built: {docs:,} documents in {seconds:.0f} s "
                 f"({docs / max(seconds, 1e-9):,.0f} docs/s)")  # fmt: skip
        if store.backend == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
        with store.session(write=True) as s:
            for n in range(args.users):
                add_user(s, f"editor{n:03d}", [Role.EDITOR], by="amal")
        with store.session() as s:
            low, high = s.execute(select(func.min(Report.id), func.max(Report.id))).one()
        return Loaded(reports=(int(low), int(high)))
    finally:
        store.close()


def sessions(home: DeskHome, users: int) -> list[str]:
    """A signed-in session for each editor, started now (the idle timeout is 30 minutes)."""
    store = home.open_store(home.unlock(PASSPHRASE))
    try:
        now = utcnow()
        with store.session(write=True) as s:
            return [start_session(s, get_user(s, f"editor{n:03d}"), stage=FULL, now=now)
                    for n in range(users)]  # fmt: skip
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/static/app.css", timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def servers(home: DeskHome, count: int, logs: Path, tag: str) -> Iterator[list[str]]:
    """``count`` ``sijil desk serve`` processes on free loopback ports; their base URLs."""
    env = dict(os.environ, SIJIL_PASSPHRASE=PASSPHRASE)  # the children's only
    db = ["--db", home.db_url] if home.db_url else []
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for n in range(count):
            port = free_port()
            log = (logs / f"{tag}-serve-{n}.log").open("wb")
            cmd = [str(BIN / "sijil"), "desk", "serve", "--home", str(home.root), *db,
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            log.close()
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + START_TIMEOUT_S
        for proc, url in zip(procs, urls, strict=True):
            while not _ready(url):  # bounded: the deadline
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"'sijil desk serve' did not start; see {logs}")
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def queries(seed: int) -> list[str]:
    """Words and place names of the archive's vocabulary, Arabic and English, in quarters."""
    vocabulary = Vocabulary.from_corpus(GAZETTEER, FAKES)
    rng = random.Random(seed)
    quarter = QUERIES // 4
    # what an editor types: letters (FA-KES decoded as latin-1 holds C1 control
    # characters, which the search box rightly refuses with a 400)
    typed = [
        sorted(w for w in words if w.replace(" ", "").replace("-", "").isalpha())
        for words in (vocabulary.arabic, vocabulary.english, vocabulary.places_ar,
                      vocabulary.places_en)
    ]  # fmt: skip
    return [q for words in typed for q in rng.sample(words, quarter)]


def locust(plan: dict[str, object], seconds: int, users: int, prefix: Path) -> Path:
    """One headless locust run of ``seconds``; the path of its stats CSV."""
    plan_file = prefix.with_suffix(".plan.json")
    plan_file.write_text(json.dumps(plan))
    env = dict(os.environ, SIJIL_WEB_BENCH_PLAN=str(plan_file))
    cmd = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
           "-r", str(users), "-t", f"{seconds}s", "--csv", str(prefix), "--only-summary",
           "--loglevel", "WARNING", "--stop-timeout", "10"]  # fmt: skip
    with prefix.with_suffix(".locust.log").open("wb") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 180,
                       check=False)  # fmt: skip
    return Path(f"{prefix}_stats.csv")


@dataclass
class PageStats:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float


def read_stats(path: Path) -> dict[str, PageStats]:
    out = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            out[name] = PageStats(name, int(row["Request Count"]), int(row["Failure Count"]),
                                  float(row["Requests/s"]), float(row["50%"] or 0),
                                  float(row["95%"] or 0))  # fmt: skip
    return out


def report(stats: dict[str, PageStats], tag: str) -> list[str]:
    ref = stats.get(REFERENCE)
    say(tag, f"{'page':<36} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p95/ref':>8} {'errors':>6}")
    for name, s in stats.items():
        ratio = f"{s.p95 / ref.p95:.1f}x" if ref and ref.p95 else "-"
        say(tag, f"{name:<36} {s.rps:>7.1f} {s.p50:>7.0f} {s.p95:>7.0f} {ratio:>8} "
                 f"{s.failures:>6}")  # fmt: skip
    goals = []
    for name, limit in GOALS.items():
        s = stats.get(name)
        met = s is not None and s.requests > 0 and s.p95 <= limit
        goals.append(f"[{tag}] {name} p95 <= {limit:.0f} ms: {met}"
                     + (f" ({s.p95:.0f} ms)" if s else " (no requests)"))  # fmt: skip
    total = stats.get("Aggregated")
    errors = total.failures if total else -1
    goals.append(f"[{tag}] zero errors: {errors == 0} ({errors} of "
                 f"{total.requests if total else 0} requests)")  # fmt: skip
    return goals


def run(
    home: DeskHome, loaded: Loaded, count: int, args: argparse.Namespace, tmp: Path, tag: str
) -> list[str]:
    low, high = (float(x) for x in args.think.split("-"))
    tokens = sessions(home, args.users)
    plan: dict[str, object] = {"tokens": tokens, "reports": list(loaded.reports),
                               "queries": queries(11), "think": [low, high], "seed": 7}  # fmt: skip
    with servers(home, count, tmp, tag) as urls:
        plan["hosts"] = urls
        say(tag, f"{count} 'sijil desk serve' process(es): {', '.join(urls)}")
        if args.warmup:
            locust(plan, args.warmup, args.users, tmp / f"{tag}-warmup")
        before = os.getloadavg()[0]
        csv_path = locust(plan, args.duration, args.users, tmp / tag)
        after = os.getloadavg()[0]
    if not csv_path.is_file():
        say(tag, f"locust wrote no stats; its log: {(tmp / tag).with_suffix('.locust.log')}")
        return [f"[{tag}] no result"]
    say(tag, f"{args.users} users, {args.duration} s, think time {args.think} s, "
             f"load average {before:.1f} -> {after:.1f}")  # fmt: skip
    return report(read_stats(csv_path), tag)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of load not counted")
    parser.add_argument("--think", default="1-5", help="think time per user, MIN-MAX s")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the logs and the SQLite desk")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"needs the shared corpus at {CORPUS}")
        return 0
    import sqlite3

    print(f"web benchmark: {args.reports:,} reports, {args.incidents:,} incidents, "
          f"{args.users} sessions; machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    goals: list[str] = []
    with contextlib.ExitStack() as stack:
        if args.keep:
            tmp = Path(tempfile.mkdtemp(prefix="sijil-bench-web-", dir=args.tmpdir))
            print(f"logs and the SQLite desk kept in {tmp}")
        else:
            scratch = tempfile.TemporaryDirectory(prefix="sijil-bench-web-", dir=args.tmpdir)
            tmp = Path(stack.enter_context(scratch))
        desks: list[tuple[DeskHome, int, str]] = []
        if not args.no_sqlite:
            desks.append((DeskHome(root=tmp / "sqlite-desk"), 1, "sqlite"))
        if not args.no_postgres:
            url = stack.enter_context(postgres_schema(args.postgres_url))
            desks.append((DeskHome(root=tmp / "pg-desk", db_url=url), 2, "postgresql-x2"))
        # the desks are loaded at the same time (a process each), then measured in turn
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=max(1, len(desks))) as pool:
            futures = [pool.submit(prepare, home, args, tag) for home, _, tag in desks]
            prepared = [f.result() for f in futures]
        print(f"desks loaded and indexed in {time.perf_counter() - start:.0f} s (wall, "
              "side by side)", flush=True)  # fmt: skip
        for (home, count, tag), loaded in zip(desks, prepared, strict=True):
            goals += run(home, loaded, count, args, tmp, tag)
    for goal in goals:
        print("GOAL", goal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
