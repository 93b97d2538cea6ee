"""The work queue on PostgreSQL and the real object store: N workers, SIGKILL, outages.

Every test here runs the real ``sijil desk worker`` in processes of its own
against a fresh PostgreSQL schema and a fresh prefix on the SeaweedFS server
(jobs_helpers.py). What must hold, whatever the interleaving: each valid
envelope registered once (one report, one ``envelope.received`` entry), each
tampered one quarantined, near-duplicate photos matched even when the two
arrive through different workers at once, and ``sijil verify`` passing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from conftest import PASSPHRASE, CliResult, DeskFixture, RelayHandle, _postgres_schema_url
from jobs_helpers import (
    DRAIN_DEADLINE_S,
    EnvelopeSet,
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
from sijil.crypto.identity import DeskIdentity
from sijil.desk.inputs import ImportStatus
from sijil.desk.thumbnails import make_thumbnail, stored_thumbnail, thumbnail
from sijil.field.home import FieldSession
from sijil.field.send import send_outbox
from sijil.jobs.enqueue import enqueue_paths
from sijil.jobs.queue import ensure_schema, job_counts
from sijil.jobs.thumbs import store_thumbnails
from sijil.jobs.work import WorkerDesk
from sijil.ledger.entries import commit
from sijil.store import Attachment, LedgerEntry, LedgerSalt, Report, VaultBlob
from sijil.store.models_desk import Role

# SIGKILL trials: each a batch of envelopes taken by three workers, one of which is
# killed; the quick test runs a few small ones, the slow one the 20 of 200.
TRIALS = 3
TRIAL_RANDOM_FILES = 8  # plus 2 photo pairs and 2 tampered: 14 envelopes a trial
SLOW_TRIALS = 20
SLOW_TRIAL_PAIRS = 4
SLOW_TRIAL_TAMPERED = 6
SLOW_TRIAL_RANDOM_FILES = 186  # plus 4 pairs and 6 tampered: 200 envelopes a trial
CRASH_POINTS = ("register.before_commit", "vault.before_commit", "intake.open")
# The import: 2,000 envelopes through four workers
FULL_PAIRS = 10  # 20 envelopes with near-duplicate photos
FULL_TAMPERED = 20
FULL_LARGE = [2 << 20, 3 << 20, 9 << 20]  # one over the 8 MiB multipart part
FULL_RANDOM_FILES = 2000 - 2 * FULL_PAIRS - FULL_TAMPERED - len(FULL_LARGE)
# mostly small: sealing and intake cost per envelope, not per byte
SMALL_SIZES = (200, 700, 2 << 10, 6 << 10, 24 << 10)
# full-size waits: still bounded, scaled to the batch (a loaded 2-core machine does 3-7/s)
FULL_DRAIN_S = 2400.0
TRIAL_DRAIN_S = 600.0


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
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    # Given envelopes of mixed sizes (one over the 8 MiB multipart part), near-duplicate
    # photo pairs, tampered ones, and a third of them arriving by a second channel too
    sizes = [300, 4 << 10, 64 << 10, 200 << 10, 1 << 20, 9 << 20]
    made = seal_set(people, tmp_path, pairs=4, sizes=sizes, tampered=3, tag="four")
    _four_workers_across_channels(scaled_desk, workers, made, run_cli, tmp_path)


@pytest.mark.slow
def test_four_workers_import_two_thousand_envelopes_once_across_channels(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    # Given the 2,000 envelopes: mostly small, a few large (one over the multipart
    # part), near-duplicate photo pairs, tampered ones, a third also by a second channel
    rng = random.Random("two-thousand")
    sizes = [rng.choice(SMALL_SIZES) for _ in range(FULL_RANDOM_FILES)] + FULL_LARGE
    rng.shuffle(sizes)
    made = seal_set(
        people, tmp_path, pairs=FULL_PAIRS, sizes=sizes, tampered=FULL_TAMPERED, tag="full"
    )
    assert len(made.valid) + len(made.tampered) == 2000
    _four_workers_across_channels(
        scaled_desk, workers, made, run_cli, tmp_path, deadline_s=FULL_DRAIN_S
    )


def _four_workers_across_channels(
    desk: DeskFixture,
    workers: Workers,
    made: EnvelopeSet,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    *,
    deadline_s: float = DRAIN_DEADLINE_S,
) -> None:
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
    wait_for(lambda: drained(desk), "the queue to drain", deadline_s)
    assert workers.stop() == [0]
    # Then each valid envelope was registered once, by one worker
    assert_outcome(desk, made)
    imported = [line for line in workers.output().splitlines() if line.startswith("imported")]
    assert len(imported) == len(made.valid)
    assert "Traceback" not in workers.output()
    # and the desk verifies, over the object store
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err


@dataclass(frozen=True, kw_only=True)
class Trials:
    count: int
    random_files: int
    pairs: int = 2
    tampered: int = 2
    sizes: tuple[int, ...] = (512, 8 << 10, 96 << 10, 600 << 10)
    # alternate the self-killing victim with a SIGKILL of a random running worker
    random_victim: bool = False
    deadline_s: float = DRAIN_DEADLINE_S


def _sigkill_trials(
    desk: DeskFixture,
    workers: Workers,
    people: list[FieldSession],
    tmp_path: Path,
    plan: Trials,
    run_cli: Callable[..., CliResult],
) -> None:
    rng = random.Random(f"sigkill-{plan.count}-{plan.random_files}")
    before = _newest_worker(desk)
    workers.start()
    workers.start()
    wait_for(lambda: _newest_worker(desk) >= before + 2, "the two workers to start")
    everything = None
    identity = desk.home.unlock("test passphrase, not secret")
    for trial in range(plan.count):
        # Given a batch queued for the workers
        sizes = [rng.choice(plan.sizes) for _ in range(plan.random_files)]
        made = seal_set(
            people, tmp_path, pairs=plan.pairs, sizes=sizes, tampered=plan.tampered, tag=f"t{trial}"
        )
        if plan.random_victim and trial % 2 == 1:
            # When a random one of the running workers gets SIGKILL mid-import
            how = _kill_a_running_worker(desk, workers, identity, made, rng, trial, plan)
        else:
            # When one worker, started last, kills itself (SIGKILL) at a named point in
            # its nth job (each worker takes about a third of the batch)
            how = _kill_at_a_point(desk, workers, identity, made, rng, trial, plan)
        # Then the others take its job once its heartbeat is stale, and drain the queue
        wait_for(lambda: drained(desk), f"{how}: the queue to drain", plan.deadline_s)
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


def _kill_at_a_point(
    desk: DeskFixture,
    workers: Workers,
    identity: DeskIdentity,
    made: EnvelopeSet,
    rng: random.Random,
    trial: int,
    plan: Trials,
) -> str:
    point = CRASH_POINTS[trial % len(CRASH_POINTS)]
    # its nth time at the point, well within the third of the batch it takes: in a small
    # batch the first (the two older workers, and thumbnail jobs, may leave it one or two
    # intake jobs; a second never came once); in a batch of 200 up to the 8th
    most = 1 if plan.random_files < 30 else min(8, plan.random_files // 6)
    how = f"trial {trial}: {point}:{rng.randint(1, most)}"
    # (worker ids only grow: a row newer than the newest before it is the victim's
    # own registration, seen even if a sweep deletes it later)
    before = _newest_worker(desk)
    victim = workers.start(crash_at=how.split(": ")[1])
    wait_for(lambda: _newest_worker(desk) > before, f"{how}: the worker to start")
    _enqueue(desk, identity, made)
    wait_for(lambda: victim.exitcode is not None, f"{how}: the kill", plan.deadline_s)
    assert victim.exitcode == -signal.SIGKILL, how
    return how


def _kill_a_running_worker(
    desk: DeskFixture,
    workers: Workers,
    identity: DeskIdentity,
    made: EnvelopeSet,
    rng: random.Random,
    trial: int,
    plan: Trials,
) -> str:
    # after a random number of this batch's envelopes are registered: workers are mid-job
    reports = _count(desk, "SELECT count(*) FROM reports")
    after = rng.randint(1, len(made.valid) // 2)
    live = [p for p in workers.running if p.exitcode is None]
    victim = live[rng.randrange(len(live))]
    how = f"trial {trial}: SIGKILL to running worker {workers.running.index(victim)}"
    how += f" after {after} registrations"
    _enqueue(desk, identity, made)
    wait_for(
        lambda: _count(desk, "SELECT count(*) FROM reports") >= reports + after,
        f"{how}: the registrations before the kill",
        plan.deadline_s,
    )
    assert victim.pid
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(lambda: victim.exitcode is not None, f"{how}: the kill")
    assert victim.exitcode == -signal.SIGKILL, how
    # a new worker takes the dead one's place, as a supervisor would start one
    before = _newest_worker(desk)
    workers.start()
    wait_for(lambda: _newest_worker(desk) > before, f"{how}: the replacement to start")
    return how


def _enqueue(desk: DeskFixture, identity: DeskIdentity, made: EnvelopeSet) -> None:
    with desk.home.open_store() as store:
        outcomes = enqueue_paths(desk.home, identity, store, [made.folder], channel="usb")
    assert {o.status for o in outcomes} == {ImportStatus.QUEUED}


def test_a_worker_killed_mid_job_leaves_it_to_another_with_no_duplicate(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    plan = Trials(count=TRIALS, random_files=TRIAL_RANDOM_FILES)
    _sigkill_trials(scaled_desk, workers, people, tmp_path, plan, run_cli)


@pytest.mark.slow
def test_twenty_sigkill_trials_of_two_hundred_envelopes(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    people = [make_correspondent(scaled_desk, "Raven"), make_correspondent(scaled_desk, "Owl")]
    plan = Trials(
        count=SLOW_TRIALS,
        random_files=SLOW_TRIAL_RANDOM_FILES,
        pairs=SLOW_TRIAL_PAIRS,
        tampered=SLOW_TRIAL_TAMPERED,
        sizes=(*SMALL_SIZES, 96 << 10, 600 << 10),
        random_victim=True,
        deadline_s=TRIAL_DRAIN_S,
    )
    assert 2 * plan.pairs + plan.tampered + plan.random_files == 200
    _sigkill_trials(scaled_desk, workers, people, tmp_path, plan, run_cli)


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


def test_workers_pre_render_thumbnails_into_the_vault_and_the_inbox_serves_them(
    scaled_desk: DeskFixture,
    workers: Workers,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    desk = scaled_desk
    people = [make_correspondent(desk, "Raven"), make_correspondent(desk, "Owl")]
    # Given reports with photos (near-duplicate pairs) and one without, queued by two channels
    made = seal_set(people, tmp_path, pairs=2, sizes=[3000], tampered=0, tag="thumbs")
    # When a worker takes them (each registered report's thumbnails are a job of their own)
    workers.start()
    for channel in ("usb", "file"):
        queued = run_cli(
            "desk", "import", "--queue", "--channel", channel, *desk.args, str(made.folder)
        )
        assert queued.code == 0, queued.err
    wait_for(lambda: drained(desk), "the queue to drain")
    assert workers.stop() == [0]
    # Then each photo has one stored thumbnail: a derived vault blob and a ledger entry
    identity = desk.home.unlock(PASSPHRASE)
    vault = desk.home.open_vault(identity)
    photos = {eid for pair in made.pairs for eid in pair}
    with desk.home.open_store() as store:
        with store.session() as session:
            rows = session.execute(
                select(Attachment.id, Attachment.sha256, Report.envelope_id).join(
                    Report, Attachment.report_id == Report.id
                )
            ).all()
            entries = [
                {**json.loads(body), "salt": bytes(salt)}
                for body, salt in session.execute(
                    select(LedgerEntry.body, LedgerSalt.salt)
                    .join(LedgerSalt, LedgerSalt.seq == LedgerEntry.seq)
                    .where(LedgerEntry.kind == "derivative.made", LedgerSalt.name == "source")
                )
            ]
            stored = {sha: stored_thumbnail(session, sha) for _, sha, _ in rows}
            for attachment_id, sha, envelope_id in rows:
                if envelope_id not in photos:
                    assert stored[sha] is None
                    continue
                thumb = stored[sha]
                assert thumb is not None
                blob = session.get(VaultBlob, thumb)
                assert blob is not None and (blob.kind, blob.role) == ("derived", "thumbnail")
                # the inbox serves the stored one: what rendering would make, small and JPEG
                served = thumbnail(session, vault, frozenset({Role.EDITOR}), attachment_id)
                assert served.data == vault.read_bytes(thumb)
                assert served.data == make_thumbnail(vault.read_bytes(sha))
                assert served.data[:2] == b"\xff\xd8"
        # each entry names the photo it was made from by a salted commitment, not its hash
        hashes = [sha for _, sha, eid in rows if eid in photos]
        assert not any(
            sha in json.dumps(e["data"]) + e["subject"] for e in entries for sha in hashes
        )
        made_from = sorted(
            sha for e in entries for sha in hashes if commit(e["salt"], sha) == e["data"]["source"]
        )
        assert made_from == sorted(hashes)
        assert {e["subject"] for e in entries} == {t for t in stored.values() if t}
        # When the job runs again for every report: nothing new is made or logged
        again = WorkerDesk(
            home=desk.home, identity=identity, store=store, vault=vault, emit=lambda _o: None
        )
        assert sum(store_thumbnails(again, eid) for eid in made.valid) == 0
        assert _count(desk, "SELECT count(*) FROM vault_blobs WHERE kind = 'derived'") == len(
            entries
        )
    assert _count(desk, "SELECT count(*) FROM ledger_entries WHERE kind = 'derivative.made'") == (
        len(entries)
    )
    # and the desk verifies with the derivatives in it
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err
