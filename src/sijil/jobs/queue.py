"""The queue itself: procrastinate's jobs in the desk's own PostgreSQL database.

procrastinate keeps its tables (``procrastinate_jobs``, ``procrastinate_workers``,
...) beside the desk's, in the same schema, so a job and the records it makes
live in one database and one backup. Its schema is applied here, by its own SQL,
the first time a desk enqueues or starts a worker, under an advisory lock so two
processes starting at once do not both apply it; the desk's Alembic migrations do
not manage procrastinate's tables (a later procrastinate upgrade brings its own
migration files, applied with ``procrastinate schema --apply`` or its migrations
folder, see docs/scale.md).

Every procrastinate or psycopg error leaving this package is translated at the
boundary (:func:`queue_error`): a StoreError, one line, no URL, no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, ProcrastinateException
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from sijil.desk.home import DeskHome
from sijil.errors import ConfigError, StoreError

__all__ = [
    "BACKFILL_TASK",
    "INTAKE_TASK",
    "QUEUE",
    "SITE_BUILD_LOCK",
    "SITE_LOCK",
    "SITE_TASK",
    "SITE_UPDATE_LOCK",
    "THUMBNAIL_TASK",
    "conninfo",
    "ensure_schema",
    "job_counts",
    "make_app",
    "queue_error",
    "queue_url",
    "translated",
]

#: The one queue every job goes to (workers listen to it); named when intake was all.
QUEUE: Final = "sijil-intake"
#: Take one envelope kept in the vault: args ``envelope_id``, ``channel``, ``source``.
INTAKE_TASK: Final = "sijil.intake.envelope"
#: Fingerprint every attachment that has no media fingerprint yet.
BACKFILL_TASK: Final = "sijil.media.backfill"
#: Pre-render the inbox thumbnails of one report's photos: arg ``envelope_id``.
THUMBNAIL_TASK: Final = "sijil.desk.thumbnails"
#: Bring the public site up to date (arg ``out`` empty), or build it whole into ``out``
#: (with ``templates``, empty for the built-in ones).
SITE_TASK: Final = "sijil.publish.site"
#: Queueing locks: one update and one full build wait at a time. A waiting update
#: reads the log when it runs, so a post made while it waits is shown by it too.
SITE_UPDATE_LOCK: Final = "sijil.publish.site.update"
SITE_BUILD_LOCK: Final = "sijil.publish.site.build"
#: The lock both hold: an update and a build of the site never run at once.
SITE_LOCK: Final = "sijil.publish.site"
# pg_advisory_lock key held while procrastinate's schema is applied: any
# constant no other part of sijil uses ("sijilq" in ASCII)
_SCHEMA_LOCK: Final = 0x73696A696C71
# A worker holds one connection for LISTEN and one for its queries; an enqueuing
# command one. A pool larger than that only holds idle connections open.
POOL_MAX: Final = 4


def queue_url(home: DeskHome) -> str:
    """The desk's PostgreSQL URL, or a one-line refusal on a SQLite desk."""
    url = home.db_url
    if not url or make_url(url).get_backend_name() != "postgresql":
        raise ConfigError(
            "the work queue needs a desk on PostgreSQL (--db postgresql+psycopg://...); "
            "a SQLite desk imports inline: leave out --queue"
        )
    return url


def conninfo(url: str) -> str:
    """The libpq URI of a SQLAlchemy URL (``postgresql+psycopg://`` becomes ``postgresql://``).

    Query options such as ``options=-csearch_path=...`` are kept, so the queue's
    tables sit in the same schema as the desk's.
    """
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def queue_error(exc: BaseException) -> StoreError:
    """A procrastinate or psycopg error as one line naming neither URL nor values."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, psycopg.Error):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, psycopg.OperationalError):
        return StoreError("the work queue's database cannot be reached")
    if cause is not None and cause.sqlstate:
        return StoreError(
            f"the work queue's database refused a request (SQLSTATE {cause.sqlstate})"
        )
    return StoreError(f"the work queue failed ({type(exc).__name__})")


@contextmanager
def translated() -> Iterator[None]:
    """Turn queue errors raised inside into :func:`queue_error`'s StoreError."""
    try:
        yield
    except AlreadyEnqueued:
        raise  # the caller's answer, not a failure: the job is waiting already
    except (ProcrastinateException, psycopg.Error) as exc:
        raise queue_error(exc) from exc


def ensure_schema(url: str) -> None:
    """Apply procrastinate's schema to the desk's database unless it is there already."""
    with translated(), psycopg.connect(conninfo(url), autocommit=True) as conn:
        if _has_schema(conn):
            return
        # A session lock, and the second look in a transaction begun after it was
        # granted: inside one transaction that took the lock first, PostgreSQL's
        # catalog snapshot could still miss the types another process just committed
        # (two workers starting at once failed with "type ... already exists").
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            with conn.transaction():
                if not _has_schema(conn):  # another process may have applied it meanwhile
                    # procrastinate's own schema file, one script without parameters
                    conn.execute(SchemaManager.get_schema())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def _has_schema(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def job_counts(url: str) -> dict[str, int]:
    """How many jobs are in each state (``todo``, ``doing``, ``failed``, ...).

    Jobs that succeeded are deleted as they finish (the ledger is their record).
    """
    ensure_schema(url)
    with translated(), psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT status::text, count(*) FROM procrastinate_jobs WHERE queue_name = %s"
            " GROUP BY status",
            (QUEUE,),
        ).fetchall()
    return {str(status): int(n) for status, n in rows}


def make_app(url: str) -> App:
    """A procrastinate app on the desk's database (not opened yet)."""
    connector = PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=POOL_MAX)
    return App(connector=connector)
