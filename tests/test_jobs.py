"""The work queue on PostgreSQL and the real object store: N workers, SIGKILL, outages.

Every test here runs the real ``sijil desk worker`` in processes of its own
against a fresh PostgreSQL schema and a fresh prefix on the SeaweedFS server
(jobs_helpers.py). What must hold, whatever the interleaving: each valid
envelope registered once (one report, one ``envelope.received`` entry), each
tampered one quarantined, near-duplicate photos matched even when the two
arrive through different workers at once, and ``sijil verify`` passing.
"""

from __future__ import annotations

import random
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from conftest import CliResult, DeskFixture, RelayHandle, _postgres_schema_url
from jobs_helpers import (
    DRAIN_DEADLINE_S,
    Workers,
    assert_outcome,
    drained,
    make_workers,
    registered,
    scaled_home,
    seal_set,
    wait_for,
)
from relay_helpers import compose_random
from s3_server import S3Server
from sijil.desk.inputs import ImportStatus
from sijil.field.home import FieldSession
from sijil.field.send import send_outbox
from sijil.jobs.enqueue import enqueue_paths
from sijil.jobs.queue import ensure_schema, job_counts

# SIGKILL trials: each a batch of this many envelopes taken by three workers, one
# of which kills itself at a named point in its nth job; the slow test runs more.
TRIALS = 3
TRIAL_RANDOM_FILES = 8  # plus 2 photo pairs and 2 tampered: 14 envelopes a trial
SLOW_TRIALS = 6
SLOW_TRIAL_RANDOM_FILES = 44  # 50 envelopes a trial
CRASH_POINTS = ("register.before_commit", "vault.before_commit", "intake.open")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (the queue needs PostgreSQL; skipped without it)."""
    yield from _postgres_schema_url()


@pytest.fixture
def scaled_desk(
    make_desk: Callable[..., DeskFixture], pg_url: str, make_s3_url: Callable[[], str]
) -> DeskFixture:
    """A desk on PostgreSQL whose vault is on the real object store."""
    return scaled_home(make_desk(pg_url), make_s3_url())


@pytest.fixture
def workers(scaled_desk: DeskFixture, tmp_path: Path) -> Iterator[Workers]:
    yield from make_workers(scaled_desk, tmp_path / "logs")


def test_four_workers_take_each_envelope_once_across_channels(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    desk = scaled_desk
    people = [make_correspondent(desk, "Raven"), make_correspondent(desk, "Owl")]
    # Given envelopes of mixed sizes (one over the 8 MiB multipart part), near-duplicate
    # photo pairs, tampered ones, and a third of them arriving by a second channel too
    sizes = [300, 4 << 10, 64 << 10, 200 << 10, 1 << 20, 9 << 20]
    made = seal_set(people, tmp_path, pairs=4, sizes=sizes, tampered=3, tag="four")
    second = tmp_path / "second-channel"
    second.mkdir()
    for path in sorted(made.folder.glob("*.age"))[::3]:
        shutil.copy(path, second / path.name)
    # When four workers run while both channels are queued
    workers.start(concurrency=4)
    for channel, folder in (("usb", made.folder), ("file", second)):
        result = run_cli("desk", "import", "--queue", "--channel", channel, *desk.args, str(folder))
        assert result.code == 0, result.err
        # the second channel's copies are queued again or, once taken, duplicates
        assert "queued" in result.out or channel == "file"
    wait_for(lambda: drained(desk), "the queue to drain")
    assert workers.stop() == [0]
    # Then each valid envelope was registered once, by one worker
    assert_outcome(desk, made)
    imported = [line for line in workers.output().splitlines() if line.startswith("imported")]
    assert len(imported) == len(made.valid)
    assert "Traceback" not in workers.output()
    # and the desk verifies, over the object store
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err


def _sigkill_trials(
    desk: DeskFixture,
    workers: Workers,
    people: list[FieldSession],
    tmp_path: Path,
    *,
    trials: int,
    random_files: int,
    run_cli: Callable[..., CliResult],
) -> None:
    rng = random.Random(f"sigkill-{trials}-{random_files}")
    before = _newest_worker(desk)
    workers.start()
    workers.start()
    wait_for(lambda: _newest_worker(desk) >= before + 2, "the two workers to start")
    everything = None
    identity = desk.home.unlock("test passphrase, not secret")
    for trial in range(trials):
        # Given a batch queued for the workers
        sizes = [rng.choice((512, 8 << 10, 96 << 10, 600 << 10)) for _ in range(random_files)]
        made = seal_set(people, tmp_path, pairs=2, sizes=sizes, tampered=2, tag=f"t{trial}")
        # When one worker, started first, kills itself (SIGKILL) at a named point in its
        # nth job (each worker takes about a third of the batch)
        point = CRASH_POINTS[trial % len(CRASH_POINTS)]
        how = f"trial {trial}: {point}:{rng.randint(1, 2)}"
        # (worker ids only grow: a row newer than the newest before it is the victim's
        # own registration, seen even if a sweep deletes it later)
        before = _newest_worker(desk)
        victim = workers.start(crash_at=how.split(": ")[1])
        wait_for(lambda b=before: _newest_worker(desk) > b, f"{how}: the worker to start")  # type: ignore[misc]
        with desk.home.open_store() as store:
            outcomes = enqueue_paths(desk.home, identity, store, [made.folder], channel="usb")
        assert {o.status for o in outcomes} == {ImportStatus.QUEUED}
        wait_for(lambda v=victim: v.exitcode is not None, f"{how}: the kill")  # type: ignore[misc]
        assert victim.exitcode == -signal.SIGKILL, how
        # Then the others take its job once its heartbeat is stale, and drain the queue
        wait_for(lambda: drained(desk), f"{how}: the queue to drain")
        if everything is None:
            everything = made
        else:
            everything.valid += made.valid
            everything.tampered += made.tampered
            everything.pairs += made.pairs
        assert_outcome(desk, everything)
    assert "Traceback" not in workers.output()
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err


def test_a_worker_killed_mid_job_leaves_it_to_another_with_no_duplicate(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    _sigkill_trials(
        scaled_desk,
        workers,
        people,
        tmp_path,
        trials=TRIALS,
        random_files=TRIAL_RANDOM_FILES,
        run_cli=run_cli,
    )


@pytest.mark.slow
def test_sigkill_trials_of_fifty_envelopes(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    _sigkill_trials(
        scaled_desk,
        workers,
        people,
        tmp_path,
        trials=SLOW_TRIALS,
        random_files=SLOW_TRIAL_RANDOM_FILES,
        run_cli=run_cli,
    )


def test_an_object_store_outage_stops_queueing_and_delays_workers_who_then_finish(
    make_desk: Callable[..., DeskFixture],
    pg_url: str,
    make_s3_server: Callable[[], S3Server],
    s3_credentials: None,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    server = make_s3_server()
    desk = scaled_home(make_desk(pg_url), server.url("outage"))
    people = [make_correspondent(desk, "Raven"), make_correspondent(desk, "Owl")]
    first = seal_set(people, tmp_path, pairs=1, sizes=[2048, 70 << 10], tampered=1, tag="o1")
    later = seal_set(people, tmp_path, pairs=0, sizes=[5000, 300 << 10], tampered=0, tag="o2")
    up = run_cli("desk", "import", "--queue", *desk.args, str(first.folder))
    assert up.code == 0, up.err
    # Given the object store down (SIGKILL, as a crash would stop it)
    server.stop()
    # When an import is queued: it stops at once, in one line, with nothing queued
    down = run_cli("desk", "import", "--queue", *desk.args, str(later.folder))
    assert down.code == 1
    assert down.err.count("\n") == 1 and "Traceback" not in down.err, down.err
    assert "queued" not in down.out
    for workers in make_workers(desk, tmp_path / "logs"):
        # and a worker takes the jobs queued before: each fails and waits for a retry
        workers.start()
        wait_for(lambda: _retried(desk), "a job to fail on the outage and wait for a retry")
        # Then once the store is back, the re-run queues the rest and every job completes
        server.start()
        again = run_cli("desk", "import", "--queue", *desk.args, str(later.folder))
        assert again.code == 0, again.err
        wait_for(lambda: drained(desk), "the queue to drain after the outage")
        assert workers.stop() == [0]
        assert "Traceback" not in workers.output()
    first.valid += later.valid
    assert_outcome(desk, first)
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err


def _count(desk: DeskFixture, sql: str) -> int:
    assert desk.home.db_url
    engine = create_engine(desk.home.db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def test_workers_starting_at_once_apply_the_queue_schema_once_without_error(pg_url: str) -> None:
    # Given a desk database without the queue's schema, and four processes' worth of starts
    failures: list[BaseException] = []
    gate = threading.Barrier(4, timeout=DRAIN_DEADLINE_S)

    def start() -> None:
        try:
            gate.wait()
            ensure_schema(pg_url)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    # When they all apply the schema at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DRAIN_DEADLINE_S)
    # Then none fails ("type ... already exists" was seen) and the queue answers
    assert failures == []
    assert job_counts(pg_url) == {}


def _newest_worker(desk: DeskFixture) -> int:
    """The id of the newest worker registration: each worker registers once as it starts,
    and ids only grow (an identity column), so a larger one means a new worker is up."""
    try:
        return _count(desk, "SELECT coalesce(max(id), 0) FROM procrastinate_workers")
    except ProgrammingError:
        # the first worker to start applies the queue's schema: none registered before
        return 0


def _retried(desk: DeskFixture) -> bool:
    """True once some intake job has failed at least once and waits to be tried again."""
    return _count(desk, "SELECT count(*) FROM procrastinate_jobs WHERE attempts > 0") > 0


def test_a_sqlite_desk_refuses_the_queue_in_one_line(
    make_desk: Callable[..., DeskFixture],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    desk = make_desk()
    (tmp_path / "inbox").mkdir()
    for argv in (
        ["desk", "import", "--queue", *desk.args, str(tmp_path / "inbox")],
        ["desk", "pull", "--queue", "--relay", "http://127.0.0.1:9", *desk.args],
        ["desk", "worker", *desk.args],
        ["desk", "queue", "status", *desk.args],
    ):
        result = run_cli(*argv)
        assert result.code == 1, argv
        assert result.err.count("\n") == 1, result.err
        assert "needs a desk on PostgreSQL" in result.err


def test_pull_queue_takes_from_two_relays_and_a_worker_registers_each_once(
    scaled_desk: DeskFixture,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    make_relay: Callable[..., RelayHandle],
    run_cli: Callable[..., CliResult],
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = scaled_desk
    identity = desk.home.unlock(passphrase)
    relays = [make_relay(identity.public.sign, name=f"relay-{i}") for i in range(2)]
    raven = make_correspondent(desk, "Raven")
    # Given one report waiting at each relay
    for name, relay in zip(("a", "b"), relays, strict=True):
        compose_random(raven, tmp_path, name, 30_000)
        send_outbox(raven, relay=relay.url, sleep=lambda _s: None)
    # When the desk pulls both with --queue, then a worker runs until the queue is empty
    pulled = run_cli("desk", "pull", "--queue", *desk.args, *_relay_args(relays))
    assert pulled.code == 0, pulled.err
    assert "done: 2 queued" in pulled.out
    assert not any(any(relay.spool.rglob("*.age")) for relay in relays)
    worked = run_cli("desk", "worker", "--until-idle", *desk.args)
    # Then both reports are registered, once
    assert worked.code == 0, worked.err
    assert sum(line.startswith("imported") for line in worked.out.splitlines()) == 2
    assert len(registered(desk).reported) == 2


def _relay_args(relays: list[RelayHandle]) -> list[str]:
    return [arg for relay in relays for arg in ("--relay", relay.url)]
