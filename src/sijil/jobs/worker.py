"""Worker processes: each runs a procrastinate worker on sijil's queue, one job at a time.

Jobs: intake of one envelope (then its thumbnails are queued), media backfill,
a report's thumbnails (:mod:`sijil.jobs.thumbs`), the public site (:mod:`sijil.jobs.site`).

``--concurrency N`` starts N processes, not N threads: intake is CPU work in
Python (decryption, hashing, fingerprints), which threads would serialise on the
interpreter lock, and a process is the unit that can die alone. Each process
unlocks nothing itself (the parent did, before forking), then opens its own
database pool, vault and queue connection.

A worker's heartbeat goes to ``procrastinate_workers`` every third of
``stalled_after_s``. Every worker also sweeps: a job ``doing`` whose worker's
heartbeat is older than ``stalled_after_s`` (a worker killed with SIGKILL, a
machine gone) is put back in the queue, and any worker takes it again. Taking an
envelope twice registers it once (see :mod:`sijil.jobs.work`), so a sweep that
wrongly judged a slow worker dead costs time, never a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, Final

import psycopg
from procrastinate import App, BaseRetryStrategy, RetryDecision
from procrastinate.exceptions import AlreadyEnqueued, ProcrastinateException
from procrastinate.jobs import DeleteJobCondition, Job

from sijil.crypto.identity import DeskIdentity
from sijil.desk.boundary import machine_failure
from sijil.desk.home import DeskHome
from sijil.desk.inputs import ImportOutcome, ImportStatus, Progress
from sijil.errors import ConfigError, IntakeAborted
from sijil.jobs.queue import (
    BACKFILL_TASK,
    INTAKE_TASK,
    QUEUE,
    SITE_LOCK,
    SITE_TASK,
    THUMBNAIL_TASK,
    ensure_schema,
    make_app,
    queue_url,
    translated,
)
from sijil.jobs.site import run_site
from sijil.jobs.thumbs import missing_thumbnails, store_thumbnails
from sijil.jobs.work import WorkerDesk, run_backfill, take_envelope

__all__ = ["MAX_CONCURRENCY", "STALLED_AFTER_S", "WorkerSettings", "run_workers"]

#: procrastinate's default: a worker silent this long is dead and its job goes back.
STALLED_AFTER_S: Final = 30.0
# a heartbeat every third of that: one late beat on a loaded machine is not death
HEARTBEATS_PER_STALL: Final = 3
# LISTEN/NOTIFY wakes a worker when a job arrives; polling is only the fallback
FETCH_POLL_S: Final = 5.0
# a job stopped by the machine or a service waits 2 s, 4 s, ... up to 10 minutes,
# and is given up (left ``failed``, listed) after about a day and a half of tries
RETRY_FIRST_S: Final = 2
RETRY_MAX_S: Final = 600
RETRY_MAX_ATTEMPTS: Final = 200
#: More processes than this on one machine are a mistake (each holds connections).
MAX_CONCURRENCY: Final = 64
# a child that dies is started again, this many times per run at most
MAX_RESTARTS: Final = 20
# SIGTERM'd children have this long to finish their job before SIGKILL
STOP_GRACE_S: Final = 60.0

log = logging.getLogger("sijil.jobs")


class MachineRetry(BaseRetryStrategy):
    """Retry a job stopped by the machine or a service, with exponential backoff.

    Any other exception is a bug, not the envelope's fault (intake quarantines
    what the content causes): the job is left ``failed`` for a person to see.
    """

    def __init__(self, first_s: int = RETRY_FIRST_S) -> None:
        self.first_s = first_s

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, IntakeAborted) or job.attempts >= RETRY_MAX_ATTEMPTS:
            return None
        wait_s = min(RETRY_MAX_S, self.first_s * 2 ** min(job.attempts, 16))
        return RetryDecision(retry_in={"seconds": wait_s})


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    concurrency: int = 1
    stalled_after_s: float = STALLED_AFTER_S
    # stop once the queue has nothing to take (benchmarks, a one-off catch-up)
    until_idle: bool = False
    retry_first_s: int = RETRY_FIRST_S

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(f"--concurrency must be 1 to {MAX_CONCURRENCY}")
        if not 1.0 <= self.stalled_after_s <= 3600.0:
            raise ConfigError("--stalled-after must be 1 to 3600 seconds")


class _OneLine(logging.Handler):
    """procrastinate's warnings as one line each on stderr: never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"sijil worker: {record.getMessage().splitlines()[0][:300]}\n")


def _quiet_logging() -> None:
    for name in ("procrastinate", "sijil"):
        logger = logging.getLogger(name)
        logger.handlers = [_OneLine(level=logging.WARNING)]
        logger.propagate = False


def _register(app: App, desk: WorkerDesk, settings: WorkerSettings) -> None:
    retry = MachineRetry(settings.retry_first_s)

    @app.task(name=INTAKE_TASK, queue=QUEUE, retry=retry)
    def intake(envelope_id: str, channel: str, source: str) -> None:
        outcomes = take_envelope(desk, envelope_id=envelope_id, channel=channel, source=source)
        _queue_thumbnails(app, desk, outcomes)

    @app.task(name=BACKFILL_TASK, queue=QUEUE, retry=retry)
    def media_backfill() -> None:
        run_backfill(desk)

    @app.task(name=THUMBNAIL_TASK, queue=QUEUE, retry=retry)
    def thumbnails(envelope_id: str) -> None:
        store_thumbnails(desk, envelope_id)

    @app.task(name=SITE_TASK, queue=QUEUE, retry=retry, lock=SITE_LOCK)
    def site(out: str, templates: str) -> None:
        desk.note(run_site(desk, out=out, templates=templates))


def _queue_thumbnails(app: App, desk: WorkerDesk, outcomes: list[ImportOutcome]) -> None:
    """Queue the thumbnails of each report registered (or found registered) without them.

    A duplicate counts too: a worker killed between registering an envelope and
    queueing its thumbnails leaves the retried job a duplicate. So a failure of the
    database here fails the intake job for a retry, which queues them then.
    """
    for outcome in outcomes:
        if outcome.status not in (ImportStatus.IMPORTED, ImportStatus.DUPLICATE):
            continue
        try:
            if not outcome.envelope_id or not missing_thumbnails(desk.store, outcome.envelope_id):
                continue
            lock = f"{THUMBNAIL_TASK}:{outcome.envelope_id}"
            # one waiting per report; one running per report (two would repeat the work)
            app.configure_task(THUMBNAIL_TASK, queue=QUEUE, queueing_lock=lock, lock=lock).defer(
                envelope_id=outcome.envelope_id
            )
        except AlreadyEnqueued:
            continue
        except Exception as exc:
            if isinstance(exc, ProcrastinateException | psycopg.Error) or machine_failure(exc):
                raise IntakeAborted(
                    f"queueing the thumbnails failed ({type(exc).__name__}); tried again later"
                ) from exc
            raise


async def _sweep(app: App, stalled_after_s: float) -> None:
    """Put back the jobs of workers whose heartbeat stopped (runs until cancelled)."""
    while True:
        await asyncio.sleep(stalled_after_s / HEARTBEATS_PER_STALL)
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=stalled_after_s
            )
            for job in stalled:
                # another worker's sweep may have put it back first: then this one fails
                with contextlib.suppress(ProcrastinateException):
                    await app.job_manager.retry_job(job)
                    log.warning("job %s of a silent worker put back in the queue", job.id)
            await app.job_manager.prune_stalled_workers(stalled_after_s)
        except (ProcrastinateException, psycopg.Error) as exc:
            log.warning("the stalled-job sweep failed (%s); trying again", type(exc).__name__)


async def _work(app: App, settings: WorkerSettings) -> None:
    async with app.open_async():
        sweeper = asyncio.create_task(_sweep(app, settings.stalled_after_s))
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                name=f"sijil-{os.getpid()}",
                concurrency=1,
                wait=not settings.until_idle,
                fetch_job_polling_interval=FETCH_POLL_S,
                delete_jobs=DeleteJobCondition.SUCCESSFUL,  # the ledger is the record
                update_heartbeat_interval=settings.stalled_after_s / HEARTBEATS_PER_STALL,
                stalled_worker_timeout=settings.stalled_after_s,
            )
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper


def run_one(
    home: DeskHome, identity: DeskIdentity, settings: WorkerSettings, emit: Progress
) -> None:
    """Run one worker in this process until it is stopped (SIGTERM, SIGINT) or idle."""
    _quiet_logging()
    url = queue_url(home)
    ensure_schema(url)
    store = home.open_store(identity)
    try:
        desk = WorkerDesk(
            home=home, identity=identity, store=store, vault=home.open_vault(identity), emit=emit
        )
        app = make_app(url)
        _register(app, desk, settings)
        with translated():
            asyncio.run(_work(app, settings))
    finally:
        store.close()


def _child(run: Callable[[], None]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent asks with SIGTERM
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - a child reports one line and exits non-zero
        sys.stderr.write(f"sijil worker: error: {str(exc).splitlines()[0][:300]}\n")
        sys.exit(1)


def run_workers(
    home: DeskHome, identity: DeskIdentity, settings: WorkerSettings, emit: Progress
) -> None:
    """Run ``settings.concurrency`` workers: this process alone, or forked children."""
    queue_url(home)  # a SQLite desk is refused before anything starts
    if settings.concurrency == 1:
        run_one(home, identity, settings, emit)
        return
    context = multiprocessing.get_context("fork")  # the unlocked key passes by memory only

    def start() -> BaseProcess:
        child = context.Process(
            target=_child, args=(lambda: run_one(home, identity, settings, emit),)
        )
        child.start()
        return child

    _supervise(start, settings)


def _supervise(start: Callable[[], BaseProcess], settings: WorkerSettings) -> None:
    children = [start() for _ in range(settings.concurrency)]
    stopping: dict[str, Any] = {"now": False}

    def stop(_signum: int, _frame: object) -> None:
        stopping["now"] = True
        for child in children:
            if child.pid and child.exitcode is None:
                os.kill(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    restarts = 0
    try:
        while any(child.exitcode is None for child in children):
            wait([child.sentinel for child in children if child.exitcode is None])
            for i, child in enumerate(children):
                child.join(0)
                died = child.exitcode not in (None, 0)
                if died and not stopping["now"] and not settings.until_idle:
                    if restarts >= MAX_RESTARTS:
                        stop(signal.SIGTERM, None)
                        raise IntakeAborted(f"workers died {restarts} times; stopped (see above)")
                    restarts += 1
                    children[i] = start()
    finally:
        for child in children:
            child.join(STOP_GRACE_S)
            if child.exitcode is None:
                child.kill()
                child.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
