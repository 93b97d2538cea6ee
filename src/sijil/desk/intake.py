"""Desk intake: take envelopes and text shards from files or folders, open, verify, register.

Every input ends in exactly one state, reported one by one (:class:`ImportStatus`):
imported, duplicate (already here, by envelope id), waiting (shards that cannot
rebuild yet; kept for the next import), quarantined (kept in the vault with its
reason), skipped (not read and left where it is: a link, a FIFO, an input over a
limit) or ignored (a hidden file in a folder). Nothing given to intake is dropped.

The error boundary (:mod:`sijil.desk.boundary`):

- An error caused by an item's own content quarantines that item and the batch
  goes on: a malformed or tampered envelope, a bad shard, a value the database
  refuses (``IntegrityError``, ``DataError``), an unexpected error while opening
  hostile bytes.
- A failure of the machine or a service aborts the run with a one-line
  :class:`~sijil.errors.IntakeAborted` and leaves the input untouched for the next
  import: an ``OSError`` (ENOSPC, EIO, EACCES, on the input or on our own files),
  the database unreachable (``OperationalError``, ``InterfaceError``, from
  SQLAlchemy or a raw DB-API cursor), the vault or object store failing. Such an
  input is neither quarantined nor registered: a full disk is not hostile input.

Fault points (``home.faults``, see :mod:`sijil.faults`): ``intake.open`` right
before an envelope is opened, ``intake.attachment`` after each block of an
attachment reached its pending vault blob, ``intake.register`` before it is
registered, ``intake.quarantine`` before an input is kept in quarantine.

No plaintext reaches the disk: attachments go from the age stream straight into
the vault's encrypted writer (:class:`KeptAttachments`), committed only once the
whole envelope verified, and fingerprints read them back from the vault.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import DeskIdentity
from sijil.desk.boundary import aborted, input_name, machine_failure
from sijil.desk.home import DeskHome
from sijil.desk.inputs import (
    ImportOutcome,
    ImportStatus,
    Progress,
    own_staging,
    walk_inputs,
)
from sijil.desk.neardup.intake import fingerprint_missing, fingerprint_report
from sijil.desk.quarantine import MAX_QUARANTINE_BYTES, keep_input
from sijil.desk.register import register_report
from sijil.desk.rekey import registration_alerts
from sijil.desk.shard_pool import rebuild_pending, take_text
from sijil.envelope.age import INTRO
from sijil.envelope.manifest import AttachmentEntry
from sijil.envelope.sealing import AttachmentSink, OpenedEnvelope, open_envelope
from sijil.errors import (
    AlreadyRegistered,
    EnvelopeError,
    InputRefused,
    IntakeAborted,
    KeyFileError,
    NotForThisRecipient,
    StoreError,
)
from sijil.faults import FaultHook
from sijil.fsutil import open_regular, sha256_file
from sijil.ledger import log as ledger_log
from sijil.ledger.heads import head_due, issue_head
from sijil.store import Envelope, Store, utcnow
from sijil.vault import BlobRef, BlobWriter, Vault

__all__ = [
    "ImportOutcome",
    "ImportStatus",
    "Intake",
    "Progress",
    "import_paths",
    "issue_head_if_due",
    "open_intake",
]

# A text file of shards from a chat export is a few MB at most; larger "text"
# is not a chat export and is quarantined rather than parsed into memory.
MAX_TEXT_FILE_BYTES = 32 << 20
# An envelope carries at most the manifest's attachment limit; anything larger than
# this is not one a person carried, and reading it would only fill the staging disk.
MAX_INPUT_BYTES = 256 << 30


def _open_with_any_key(
    handle: BinaryIO, keys: tuple[X25519PrivateKey, ...], *, sink: AttachmentSink
) -> OpenedEnvelope:
    """Open with the desk's current age key, else each retired one (after a key rotation,
    correspondents seal to the old key until they hear of the new one). A wrong key is
    refused in the age header, before any attachment reaches ``sink``."""
    for key in keys[:-1]:
        try:
            return open_envelope(handle, identity=key, sink=sink)
        except NotForThisRecipient:
            handle.seek(0)
    return open_envelope(handle, identity=keys[-1], sink=sink)


@dataclass
class Intake:
    """One run's intake: where it stages plaintext, what it reports to, what it retries."""

    home: DeskHome
    identity: DeskIdentity
    store: Store
    channel: str
    emit: Progress
    vault: Vault
    staging: Path
    # the quarantine item a retry is re-taking (sijil.desk.retry), else None
    retrying: int | None = None
    # the input being taken, by file name: named when the run has to stop
    current: str | None = None

    def take(self, path: Path, *, source: str, channel: str) -> set[str]:
        """Take one input; return the envelope ids it added shards to.

        A failure the content provoked and no check foresaw still quarantines the
        input (its text could quote plaintext, so only the error's type is kept);
        a failure of the machine propagates and stops the run.
        """
        self.current = input_name(source)
        try:
            return self._take(path, source=source, channel=channel)
        except Exception as exc:
            if isinstance(exc, IntakeAborted) or machine_failure(exc):
                raise
            self.quarantine(
                path,
                source=source,
                reason=f"could not be taken ({type(exc).__name__})",
                error_type=type(exc).__name__,
                channel=channel,
            )
            return set()

    def _take(self, path: Path, *, source: str, channel: str) -> set[str]:
        # opened without following a link, and only if it is (still) a regular file:
        # the walk's earlier check could have been raced by a swap of the path
        try:
            with open_regular(path, max_bytes=MAX_INPUT_BYTES) as handle:
                head = handle.read(len(INTRO))
                # text shards are small: only a file within that limit is read whole
                small = os.fstat(handle.fileno()).st_size <= MAX_TEXT_FILE_BYTES
                text = head + handle.read() if small and head != INTRO else b""
        except InputRefused as exc:
            self.emit(ImportOutcome(source=source, status=ImportStatus.SKIPPED, detail=str(exc)))
            return set()
        if head == INTRO:
            self.take_envelope(path, source=source, channel=channel)
            return set()
        if b"SIJIL-SHARD/" in text:
            return take_text(self, path, source=source, channel=channel)
        self.quarantine(
            path,
            source=source,
            reason="neither a sijil envelope nor text shards",
            error_type="MalformedEnvelope",
            channel=channel,
        )
        return set()

    def finish(self, touched: set[str]) -> None:
        """Rebuild every envelope whose shards this run added to."""
        for envelope_id in sorted(touched):
            self.current = f"shards of {envelope_id[:12]}"
            rebuild_pending(self, envelope_id)

    def quarantine(
        self,
        path: Path,
        *,
        source: str,
        reason: str,
        error_type: str,
        channel: str,
        envelope_id: str | None = None,
    ) -> None:
        """Keep ``path`` in the vault's quarantine; an input over the limit stays put."""
        size = path.stat().st_size
        if size > MAX_QUARANTINE_BYTES:
            self.emit(
                ImportOutcome(
                    source=source,
                    status=ImportStatus.SKIPPED,
                    detail=f"{reason}; too large to quarantine ({size >> 20} MiB, the limit "
                    f"is {MAX_QUARANTINE_BYTES >> 20} MiB): left where it is, not copied",
                    envelope_id=envelope_id,
                )
            )
            return
        self.home.faults("intake.quarantine")
        item = keep_input(
            self.store,
            self.vault,
            path,
            name=input_name(source),
            reason=reason,
            error_type=error_type,
            channel=channel,
            envelope_id=envelope_id,
            retrying=self.retrying,
        )
        self.emit(
            ImportOutcome(
                source=source,
                status=ImportStatus.QUARANTINED,
                detail=reason,
                envelope_id=envelope_id,
                item=item.id,
            )
        )

    def take_envelope(self, path: Path, *, source: str, channel: str) -> None:
        envelope_id = sha256_file(path)
        with self.store.session() as session:
            known = session.get(Envelope, envelope_id)
            status = None if known is None else known.status
        # a retry re-opens an envelope that was quarantined; anything else known is a duplicate
        releasing = status == "quarantined" and self.retrying is not None
        if status is not None and not releasing:
            if status == "opened":
                # an earlier take may have stopped between registering and fingerprinting
                fingerprint_missing(self.store, self.home.root, envelope_id, self.vault.open_plain)
            self.emit(
                ImportOutcome(
                    source=source,
                    status=ImportStatus.DUPLICATE,
                    detail=f"already received ({status})",
                    envelope_id=envelope_id,
                )
            )
            return
        # attachments stream from the age layer into pending vault blobs: no plaintext
        # is ever written; what is not committed is dropped, whatever happens
        kept = KeptAttachments(self.vault, self.home.faults)
        try:
            self._open_and_register(path, kept, envelope_id, source, channel, releasing)
        finally:
            kept.abort()

    def _open_and_register(
        self,
        path: Path,
        kept: KeptAttachments,
        envelope_id: str,
        source: str,
        channel: str,
        releasing: bool,
    ) -> None:
        try:
            self.home.faults("intake.open")
            with open_regular(path, max_bytes=MAX_INPUT_BYTES) as handle:
                opened = _open_with_any_key(handle, self.identity.age_keys, sink=kept.begin)
        except Exception as exc:
            kept.abort()
            if machine_failure(exc):
                raise
            expected = isinstance(exc, EnvelopeError | KeyFileError)
            self.quarantine(
                path,
                source=source,
                # an unexpected error's text could quote plaintext: only its type is kept
                reason=str(exc) if expected else f"could not be opened ({type(exc).__name__})",
                error_type=type(exc).__name__,
                envelope_id=envelope_id,
                channel=channel,
            )
            return
        self._register(opened, kept, path, envelope_id, source, channel, releasing)

    def _register(
        self,
        opened: OpenedEnvelope,
        kept: KeptAttachments,
        path: Path,
        envelope_id: str,
        source: str,
        channel: str,
        releasing: bool,
    ) -> None:
        original = self.keep_original(path, envelope_id)
        blobs = kept.commit()
        try:
            self.home.faults("intake.register")
            report_id, codename = register_report(
                self.store,
                opened=opened,
                envelope_id=envelope_id,
                size=path.stat().st_size,
                channel=channel,
                vault_path=f"sha256/{envelope_id}",
                original=original,
                files=blobs,
                faults=self.home.faults,
                release=releasing,
            )
        except AlreadyRegistered as exc:
            # an earlier take of this envelope may have stopped before fingerprinting
            fingerprint_missing(self.store, self.home.root, envelope_id, self.vault.open_plain)
            self.emit(
                ImportOutcome(
                    source=source,
                    status=ImportStatus.DUPLICATE,
                    detail=str(exc),
                    envelope_id=envelope_id,
                )
            )
            return
        except Exception as exc:
            if machine_failure(exc):
                raise
            # opened and verified, yet not registrable (a re-sealed copy, a value
            # the database refuses): kept with the reason
            known = isinstance(exc, EnvelopeError | KeyFileError | StoreError)
            self.quarantine(
                path,
                source=source,
                reason=str(exc) if known else f"could not be registered ({type(exc).__name__})",
                error_type=type(exc).__name__,
                envelope_id=envelope_id,
                channel=channel,
            )
            return
        # derived facts, read back from the vault (decrypted in memory); never raises.
        # A crash here leaves a registered report with no prints: taking the envelope
        # again fingerprints what is missing (fingerprint_missing)
        self.home.faults("intake.fingerprint")
        matches = fingerprint_report(
            self.store,
            self.home.root,
            report_id,
            [partial(self.vault.open_plain, i.entry.sha256) for i in opened.attachments],
        )
        files = len(opened.attachments)
        with self.store.session() as session:  # duress, revoked key, rekey (sijil.desk.rekey)
            alerts = registration_alerts(session, report_id, opened.manifest)
        self.emit(
            ImportOutcome(
                source=source,
                status=ImportStatus.IMPORTED,
                detail=f"report {report_id}: {opened.manifest.title[:60]!r}, {files} file(s)"
                + (f"; {len(matches)} near-duplicate match(es)" if matches else "")
                + "".join(f"; {line}" for line in alerts),
                envelope_id=envelope_id,
                report_id=report_id,
                correspondent=codename,
            )
        )

    def keep_original(self, path: Path, envelope_id: str) -> BlobRef:
        """The sealed envelope, byte for byte, into the vault (immutable)."""
        return self.vault.put_file(path, expected_sha256=envelope_id)


class KeptAttachments:
    """An envelope's attachments as pending vault blobs, written while the age stream is read.

    Fault point ``intake.attachment``: after each block of an attachment reached
    its pending blob (the kill -9 trials stop there, mid-attachment).
    """

    def __init__(self, vault: Vault, faults: FaultHook) -> None:
        self.vault = vault
        self.faults = faults
        self.writers: list[BlobWriter] = []

    def begin(self, entry: AttachmentEntry) -> Callable[[bytes], object]:
        writer = self.vault.writer(expected_sha256=entry.sha256)
        self.writers.append(writer)

        def write(block: bytes) -> None:
            writer.write(block)
            self.faults("intake.attachment")

        return write

    def commit(self) -> list[BlobRef]:
        """Every attachment into the vault, as its own blob (after the envelope verified)."""
        return [writer.commit() for writer in self.writers]

    def abort(self) -> None:
        """Drop every pending blob not committed yet."""
        for writer in self.writers:
            writer.abort()


@contextmanager
def open_intake(
    home: DeskHome, identity: DeskIdentity, store: Store, *, channel: str, emit: Progress
) -> Iterator[Intake]:
    """An intake run: its own staging folder, the signed tree head when one is due,
    and every machine failure inside turned into one IntakeAborted."""
    intake: Intake | None = None
    try:
        staging = own_staging(home.staging)
        try:
            intake = Intake(
                home=home,
                identity=identity,
                store=store,
                channel=channel,
                emit=emit,
                vault=home.open_vault(identity),
                staging=staging,
            )
            yield intake
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        intake.current = None
        issue_head_if_due(home, identity, store)
    except IntakeAborted:
        raise
    except Exception as exc:
        if machine_failure(exc):
            raise aborted(exc, intake.current if intake else None) from exc
        raise


def issue_head_if_due(home: DeskHome, identity: DeskIdentity, store: Store) -> None:
    """Sign a tree head when the schedule says one is due (the newest is stale).

    Asked first without the ledger's lock (almost always: not due), then again
    holding it, so workers finishing at once sign one head, not one each.
    """
    with store.session() as session:
        if not head_due(session, now=utcnow()):
            return
    with store.session(write=True) as session:
        ledger_log.lock(session)
        if head_due(session, now=utcnow()):
            issue_head(session, identity.sign, faults=home.faults)


def import_paths(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    paths: Sequence[Path],
    *,
    channel: str = "file",
    progress: Progress | None = None,
) -> list[ImportOutcome]:
    """Import every envelope and shard text under ``paths``; return one outcome per item.

    Raises IntakeAborted when the machine or a service fails (see the module's
    docstring); the outcomes so far were handed to ``progress`` already.
    """
    outcomes: list[ImportOutcome] = []

    def emit(outcome: ImportOutcome) -> None:
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    with open_intake(home, identity, store, channel=channel, emit=emit) as intake:
        touched: set[str] = set()
        for path, unread in walk_inputs([Path(p) for p in paths]):
            source = str(path)
            if unread is not None:
                emit(unread)
            elif path.is_symlink() or not path.is_file():
                # a link could point anywhere (and copying its target could leak it); a FIFO
                # or device would hang the import. Neither is an envelope a person carried.
                kind = "a symbolic link" if path.is_symlink() else "not a regular file"
                emit(
                    ImportOutcome(
                        source=source, status=ImportStatus.SKIPPED, detail=f"{kind}; not read"
                    )
                )
            else:
                touched |= intake.take(path, source=source, channel=channel)
        intake.finish(touched)
    return outcomes
