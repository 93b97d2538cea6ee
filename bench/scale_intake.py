"""Benchmark parts for bench/scale.py: intake rates and concurrent ledger appends.

Intake: the same envelopes (two in three carry a 320x240 photo, the rest 64 KiB of
random bytes; from two correspondents) imported
- by SQLite and the folder vault, in one process (``import_paths``, as ``desk import``);
- by PostgreSQL and the object store through the queue: ``desk import --queue``
  (timed on its own: the enqueue rate), then 1, 2 and 4 ``sijil desk worker
  --until-idle`` processes, timed from start to exit, less the start-up of a worker
  on an empty queue (measured in the same run).
Ledger: W processes each appending entries in their own transactions, one entry per
transaction and ten per transaction (group commit), on PostgreSQL. The sequencer is
the ``ledger_state`` row lock every append takes (sijil.ledger.log.lock).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.desk.intake import import_paths
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldHome
from sijil.jobs.enqueue import enqueue_paths
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry
from sijil.store import Store

PASSPHRASE = "bench passphrase"  # noqa: S105 - a throwaway desk
KDF = KdfParams(log_n=10, r=8, p=1)  # the cheapest the key files accept: not what is measured
POSTGRES = os.environ.get(
    "SIJIL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
WORKER_DEADLINE_S = 1800


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, as the tests make one; dropped afterwards."""
    admin_url = make_url(POSTGRES)
    schema = f"sijil_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    query = dict(admin_url.query) | {"options": f"-csearch_path={schema}"}
    try:
        yield admin_url.set(query=query).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_desk(root: Path, db_url: str | None, vault_url: str | None) -> DeskHome:
    home = DeskHome(root=root, db_url=db_url)
    home.init(PASSPHRASE, KDF)
    if vault_url:
        home.vault_config.write_text(json.dumps({"url": vault_url}))
    return home


def seal_envelopes(home: DeskHome, folder: Path, count: int, work: Path) -> None:
    """``count`` envelopes in ``folder``, from two correspondents."""
    import numpy as np
    from PIL import Image

    identity = home.unlock(PASSPHRASE)
    people = []
    with home.with_key(identity).open_store() as store:
        for name in ("Raven", "Owl"):
            invite = home.invite(store, codename=name)
            field = FieldHome(work / name)
            field.init(invite, PASSPHRASE, KDF)
            people.append(field.unlock(PASSPHRASE))
    rng = np.random.default_rng(7)
    for i in range(count):
        path = work / f"f{i}"
        if i % 3 != 2:
            small = (rng.random((6, 8, 3)) * 255).astype(np.uint8)
            out = io.BytesIO()
            Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC).save(out, "JPEG")
            path = path.with_suffix(".jpg")
            path.write_bytes(out.getvalue())
            keep = False
        else:
            path.write_bytes(os.urandom(64 << 10))
            keep = True
        draft = Draft(title=f"report {i}", body="نص التقرير", lang="ar")
        compose(people[i % 2], draft, [path], keep_metadata=keep)
    for person in people:
        export_outbox(person, folder)


def intake_sqlite(tmp: Path, count: int) -> float:
    """Envelopes per second, SQLite and the folder vault, in one process."""
    home = make_desk(tmp / "sqlite-desk", None, None)
    seal_envelopes(home, tmp / "sqlite-in", count, tmp / "sqlite-field")
    identity = home.unlock(PASSPHRASE)
    with home.with_key(identity).open_store() as store:
        start = time.perf_counter()
        outcomes = import_paths(home, identity, store, [tmp / "sqlite-in"], channel="usb")
        took = time.perf_counter() - start
    assert sum(o.status == "imported" for o in outcomes) == count, outcomes[:3]
    return count / took


def _worker(home: DeskHome, db_url: str, concurrency: int) -> float:
    env = dict(os.environ, SIJIL_PASSPHRASE=PASSPHRASE)
    argv = [sys.executable, "-m", "sijil.cli.main", "desk", "worker", "--home", str(home.root)]
    argv += ["--db", db_url, "--until-idle", "--concurrency", str(concurrency)]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=WORKER_DEADLINE_S)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"worker failed: {done.stderr[-500:]}")
    return took


def intake_queued(
    tmp: Path, count: int, vault_url: Callable[[str], str], workers: int
) -> tuple[float, float]:
    """(enqueue rate, worker intake rate) in envelopes per second, on PostgreSQL + S3."""
    with pg_schema() as db_url:
        home = make_desk(tmp / f"pg-desk-{workers}", db_url, vault_url(f"intake-{workers}"))
        seal_envelopes(home, tmp / f"pg-in-{workers}", count, tmp / f"pg-field-{workers}")
        identity = home.unlock(PASSPHRASE)
        startup = _worker(home, db_url, workers)  # an empty queue: start-up and stop only
        with home.open_store(identity) as store:
            start = time.perf_counter()
            queued = enqueue_paths(home, identity, store, [tmp / f"pg-in-{workers}"], channel="usb")
            enqueue_s = time.perf_counter() - start
        assert sum(o.status == "queued" for o in queued) == count
        took = _worker(home, db_url, workers) - startup
        with home.open_store(identity) as store, store.session() as session:
            reports = session.execute(text("SELECT count(*) FROM reports")).scalar()
        assert reports == count, reports
    return count / enqueue_s, count / took


def commit_ms(commits: int = 200) -> float:
    """Milliseconds per one-row INSERT and COMMIT on PostgreSQL: the WAL flush every
    transaction pays, and so the floor of every lock held until commit."""
    with pg_schema() as db_url:
        engine = create_engine(db_url, poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE bench_commit (x int)"))
            conn.commit()
            start = time.perf_counter()
            for _ in range(commits):
                conn.execute(text("INSERT INTO bench_commit VALUES (1)"))
                conn.commit()
            took = time.perf_counter() - start
        engine.dispose()
    return took / commits * 1000


def _appender(db_url: str, transactions: int, per_tx: int, ready: object, go: object) -> None:
    store = Store.open(db_url, migrate=False)
    entry = NewEntry(kind=EntryKind.USER_ACTION, subject="bench", data={"action": "bench"})
    ready.set()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    for _ in range(transactions):
        with store.session(write=True) as session:
            ledger_log.append(session, [entry] * per_tx)
    store.close()


def ledger_appends(writers: int, transactions: int, per_tx: int) -> float:
    """Entries appended per second by ``writers`` processes at once, on PostgreSQL."""
    with pg_schema() as db_url:
        Store.open(db_url).close()  # migrated once
        context = multiprocessing.get_context("fork")
        ready = [context.Event() for _ in range(writers)]
        go = context.Event()
        procs = [
            context.Process(target=_appender, args=(db_url, transactions, per_tx, r, go))
            for r in ready
        ]
        for proc in procs:
            proc.start()
        for event in ready:
            event.wait(60)
        start = time.perf_counter()
        go.set()
        for proc in procs:
            proc.join(WORKER_DEADLINE_S)
        took = time.perf_counter() - start
        store = Store.open(db_url, migrate=False)
        with store.session() as session:
            size = ledger_log.size(session)
        store.close()
        assert size == writers * transactions * per_tx, size
    return size / took
