"""``sijil desk worker`` and ``sijil desk queue``: the work queue of a scaled desk.

Registered on the ``desk`` group by ``cli/main.py`` (:func:`register_worker`).
A desk on SQLite refuses both in one line: it imports inline, in one process.
"""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.desk_cmds import outcome_printer
from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase

__all__ = ["register_worker"]


@click.command(
    help="Take queued envelopes (from 'desk import --queue' and 'desk pull --queue'): "
    "open, verify, register or quarantine, fingerprint and match each, as an inline "
    "import does; then pre-render each new report's photo thumbnails. Also runs the "
    "public site's updates and builds queued by 'publish post|correct|retract|build "
    "--queue' (the site folder must be reachable from here).\n\nRuns until stopped "
    "(SIGTERM or Ctrl-C lets each worker finish its "
    "job). Start as many as the machines allow, on any machine that reaches the "
    "database and the vault; a worker that dies mid-job has its job taken by another "
    "once its heartbeat is --stalled-after seconds old. Needs a desk on PostgreSQL."
)
@DESK_HOME
@DB
@click.option(
    "--concurrency",
    type=int,
    default=1,
    help="Worker processes to run here (each takes one job at a time).",
)
@click.option(
    "--stalled-after",
    "stalled_after",
    type=float,
    default=30.0,
    help="Seconds without a heartbeat after which a worker counts as dead.",
)
@click.option("--until-idle", is_flag=True, help="Stop once the queue has nothing to take.")
def worker(
    home: Path, db_url: str | None, concurrency: int, stalled_after: float, until_idle: bool
) -> None:
    from sijil.jobs.queue import queue_url
    from sijil.jobs.worker import WorkerSettings, run_workers

    desk_home = desk_at(home, db_url)
    queue_url(desk_home)  # refuse a SQLite desk before asking for the passphrase
    settings = WorkerSettings(
        concurrency=concurrency, stalled_after_s=stalled_after, until_idle=until_idle
    )
    identity = desk_home.unlock(read_passphrase("the desk key"))
    run_workers(desk_home, identity, settings, outcome_printer(verbose=False))


@click.group()
def queue() -> None:
    """The work queue of a desk on PostgreSQL: what waits, and media backfill."""


@queue.command(name="status")
@DESK_HOME
@DB
def queue_status(home: Path, db_url: str | None) -> None:
    """Count the queue's jobs by state (finished jobs are not kept: the ledger records them)."""
    from sijil.jobs.queue import job_counts, queue_url

    counts = job_counts(queue_url(desk_at(home, db_url)))
    shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    click.echo(f"jobs: {shown or 'none waiting'}")


@queue.command(name="backfill")
@DESK_HOME
@DB
def queue_backfill(home: Path, db_url: str | None) -> None:
    """Queue one job that fingerprints every attachment still without a fingerprint."""
    from sijil.jobs.enqueue import enqueue_backfill
    from sijil.jobs.queue import queue_url

    desk_home = desk_at(home, db_url)
    queue_url(desk_home)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store(identity) as store:
        new = enqueue_backfill(desk_home, identity, store)
    click.echo("backfill queued" if new else "a backfill is already waiting")


def register_worker(desk: click.Group) -> None:
    """Add ``worker`` and ``queue`` to the ``desk`` group."""
    desk.add_command(worker)
    desk.add_command(queue)
