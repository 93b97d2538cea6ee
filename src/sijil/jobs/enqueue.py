"""Keep and enqueue: what ``desk import --queue`` and ``desk pull --queue`` do instead of intake.

Each sealed envelope is stored in the vault first, under its content address
(it is ciphertext to the desk already; the vault encrypts it again under a keyed
name, as every original), then a job naming it is committed to the queue. Only
then is it reported ``queued`` (and a relay told to delete its copy): the desk
holds it durably, and a worker will take it. Storing it twice is harmless, and
an envelope the desk already holds is reported a duplicate without a job.

An input that is not an envelope (text shards, anything else) is small: it goes
through inline intake in this process, as without ``--queue``. A failure of the
machine or a service (the object store or the database down) stops the run with
one :class:`~sijil.errors.IntakeAborted`; what was queued before stays queued and
a re-run queues the rest (an envelope still waiting is not queued twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued

from sijil.crypto.identity import DeskIdentity
from sijil.desk.boundary import aborted, input_name, machine_failure
from sijil.desk.home import DeskHome
from sijil.desk.inputs import ImportOutcome, ImportStatus, Progress, walk_inputs
from sijil.desk.intake import import_paths
from sijil.desk.quarantine import MAX_QUARANTINE_BYTES
from sijil.envelope.age import INTRO
from sijil.errors import IntakeAborted
from sijil.fsutil import sha256_file
from sijil.jobs.queue import (
    BACKFILL_TASK,
    INTAKE_TASK,
    QUEUE,
    SITE_BUILD_LOCK,
    SITE_LOCK,
    SITE_TASK,
    SITE_UPDATE_LOCK,
    ensure_schema,
    make_app,
    queue_url,
    translated,
)
from sijil.store import Envelope, Store

__all__ = ["Enqueuer", "enqueue_backfill", "enqueue_paths", "enqueue_site"]


class Enqueuer:
    """An open queue and vault for one run: ``keep`` queues one downloaded or dropped envelope."""

    def __init__(self, home: DeskHome, identity: DeskIdentity, store: Store) -> None:
        url = queue_url(home)  # refuses a SQLite desk before anything is opened
        self.home, self.identity, self.store = home, identity, store
        try:
            ensure_schema(url)
            self.vault = home.open_vault(identity)
        except Exception as exc:
            if machine_failure(exc):
                raise aborted(exc, None) from exc
            raise
        self.app: App = make_app(url)

    def __enter__(self) -> Enqueuer:
        try:
            with translated():
                self.app.open()
        except Exception as exc:
            raise aborted(exc, None) from exc
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.app.close()

    def keep(self, path: Path, *, source: str, channel: str) -> ImportOutcome:
        """Store the envelope at ``path`` in the vault and queue a job to take it."""
        name = input_name(source)
        try:
            envelope_id = sha256_file(path)
            with self.store.session() as session:
                known = session.get(Envelope, envelope_id)
                status = None if known is None else known.status
            if status is not None:
                return ImportOutcome(
                    source=source,
                    status=ImportStatus.DUPLICATE,
                    detail=f"already received ({status})",
                    envelope_id=envelope_id,
                )
            self.vault.put_file(path, expected_sha256=envelope_id)
            detail = "kept in the vault; a worker will take it"
            try:
                with translated():
                    self.app.configure_task(
                        INTAKE_TASK, queue=QUEUE, queueing_lock=envelope_id, lock=envelope_id
                    ).defer(envelope_id=envelope_id, channel=channel, source=name)
            except AlreadyEnqueued:
                detail = "kept in the vault; already waiting for a worker"
        except IntakeAborted:
            raise
        except Exception as exc:
            if machine_failure(exc):
                raise aborted(exc, name) from exc
            raise
        return ImportOutcome(
            source=source, status=ImportStatus.QUEUED, detail=detail, envelope_id=envelope_id
        )


def _is_envelope(path: Path) -> bool:
    if path.stat().st_size > MAX_QUARANTINE_BYTES:
        return False  # inline intake reports it skipped, as without --queue
    with path.open("rb") as handle:
        return handle.read(len(INTRO)) == INTRO


def enqueue_paths(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    paths: Sequence[Path],
    *,
    channel: str = "file",
    progress: Progress | None = None,
) -> list[ImportOutcome]:
    """Queue every envelope under ``paths``; take anything else inline. One outcome each."""
    outcomes: list[ImportOutcome] = []

    def emit(outcome: ImportOutcome) -> None:
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    inline: list[Path] = []
    with Enqueuer(home, identity, store) as queue:
        for path, unread in walk_inputs([Path(p) for p in paths]):
            if unread is not None:  # a hidden file, an unreadable folder: as inline
                emit(unread)
                continue
            try:
                envelope = path.is_file() and not path.is_symlink() and _is_envelope(path)
            except OSError as exc:
                raise aborted(exc, input_name(str(path))) from exc
            if envelope:
                emit(queue.keep(path, source=str(path), channel=channel))
            else:
                inline.append(path)  # a link, a FIFO, shards, junk: as inline
    if inline:
        import_paths(home, identity, store, inline, channel=channel, progress=emit)
    return outcomes


def enqueue_backfill(home: DeskHome, identity: DeskIdentity, store: Store) -> bool:
    """Queue one media backfill job; False if one is waiting already."""
    with Enqueuer(home, identity, store) as queue:
        try:
            with translated():
                queue.app.configure_task(
                    BACKFILL_TASK, queue=QUEUE, queueing_lock=BACKFILL_TASK, lock=BACKFILL_TASK
                ).defer()
        except AlreadyEnqueued:
            return False
    return True


def enqueue_site(home: DeskHome, *, out: Path | None = None, templates: Path | None = None) -> bool:
    """Queue an update of the site built last (``out`` None) or a whole build into ``out``.

    False if one of the same kind is waiting already: a waiting update shows every
    post made before it runs, a waiting build builds from the log as it is then.
    """
    url = queue_url(home)
    try:
        ensure_schema(url)
        app = make_app(url)
        with translated(), app.open():
            waiting = SITE_UPDATE_LOCK if out is None else SITE_BUILD_LOCK
            task = app.configure_task(SITE_TASK, queue=QUEUE, queueing_lock=waiting, lock=SITE_LOCK)
            task.defer(
                out="" if out is None else str(out.absolute()),
                templates="" if templates is None else str(templates.absolute()),
            )
    except AlreadyEnqueued:
        return False
    return True
