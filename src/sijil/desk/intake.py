"""Desk intake: take envelopes and text shards from files or folders, open, verify, register.

Every input ends in exactly one of four states, reported one by one:
imported, duplicate (already here, by envelope id), waiting (shards that cannot
rebuild yet; kept for the next import) or quarantined (kept with its reason).
Nothing given to intake is ever dropped.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.neardup.intake import fingerprint_report
from sijil.desk.records import envelope_facts, quarantine_facts
from sijil.desk.register import register_report
from sijil.envelope import shards as shard_codec
from sijil.envelope.age import INTRO
from sijil.envelope.sealing import OpenedEnvelope, open_envelope
from sijil.errors import (
    AlreadyRegistered,
    EnvelopeError,
    KeyFileError,
    ShardError,
    TooFewShards,
)
from sijil.fsutil import atomic_copy, atomic_write, confine, sha256_file
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import NewEntry
from sijil.ledger.heads import head_due, issue_head
from sijil.store import Envelope, QuarantineItem, Store, utcnow
from sijil.vault import BlobRef, Vault

__all__ = ["ImportOutcome", "import_paths"]

# A text file of shards from a chat export is a few MB at most; larger "text"
# is not a chat export and is quarantined rather than parsed into memory.
MAX_TEXT_FILE_BYTES = 32 << 20
# Walking a folder stops here so a mistaken "import /" cannot run for hours.
MAX_INPUT_FILES = 100_000


@dataclass(frozen=True, kw_only=True)
class ImportOutcome:
    source: str
    status: str  # imported | duplicate | waiting | quarantined | skipped
    detail: str
    envelope_id: str | None = None
    report_id: int | None = None
    correspondent: str | None = None


Progress = Callable[[ImportOutcome], None]


def _walk(paths: Sequence[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file under ``paths``, each with why it must be skipped (None: read it).

    Nothing is passed over silently: hidden files, linked folders and what lies past
    MAX_INPUT_FILES are all reported, so no one wipes a stick believing it imported.
    """
    count = 0
    for path in paths:
        candidates: list[tuple[Path, str | None]] = []
        if path.is_dir() and not path.is_symlink():
            for dirpath, dirs, names in os.walk(path):
                for name in sorted(dirs):
                    if (Path(dirpath) / name).is_symlink():
                        candidates.append((Path(dirpath) / name, "a linked folder; not followed"))
                for name in names:
                    hidden = "a hidden file; not read" if name.startswith(".") else None
                    candidates.append((Path(dirpath) / name, hidden))
            candidates.sort()
        elif path.exists() or path.is_symlink():
            candidates = [(path, None)]
        else:
            raise FileNotFoundError(path)
        for candidate, reason in candidates:
            count += 1
            if count > MAX_INPUT_FILES:
                yield (
                    candidate,
                    (
                        f"more than {MAX_INPUT_FILES} files given: this one and the rest were "
                        "not read; import them in smaller batches"
                    ),
                )
                return
            yield candidate, reason


def _own_staging(root: Path) -> Path:
    """A staging folder for this process; leftovers of killed imports are removed first.

    Staging briefly holds decrypted attachments. A kill -9 leaves them behind, and
    docs/security.md promises plaintext exists only while an envelope is opened, so
    every folder whose process is gone is deleted before new work starts.
    """
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for leftover in root.iterdir():
        if leftover.name.startswith(".open-"):
            leftover.unlink(missing_ok=True)  # decrypted attachments of the older layout
            continue
        if not leftover.name.startswith("run-") or leftover.is_symlink():
            continue  # others' files (a pull's downloads) are theirs to manage
        owner = leftover.name.split("-")[1]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(leftover, ignore_errors=True)
    own = root / f"run-{os.getpid()}-{secrets.token_hex(4)}"
    own.mkdir(mode=0o700)
    return own


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Intake:
    home: DeskHome
    identity: DeskIdentity
    store: Store
    channel: str
    emit: Progress
    vault: Vault
    staging: Path

    def quarantine(
        self,
        data_path: Path,
        *,
        source: str,
        reason: str,
        error_type: str,
        envelope_id: str | None,
        channel: str | None = None,
    ) -> None:
        digest = sha256_file(data_path)
        folder = self.home.quarantine
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"{digest}.bin"
        if not stored.exists():
            atomic_copy(data_path, stored)
        # Only the file name: a full path can name the operator or the USB stick's label.
        # Appended, so the same bytes arriving twice keep both reasons.
        line = f"{Path(source).name}: {reason}\n".encode()
        reason_file = folder / f"{digest}.reason.txt"
        previous = reason_file.read_bytes() if reason_file.exists() else b""
        atomic_write(reason_file, previous + line)
        with self.store.session(write=True) as session:
            ledger_log.lock(session)
            entries: list[NewEntry] = []
            if envelope_id and session.get(Envelope, envelope_id) is None:
                envelope = Envelope(
                    id=envelope_id,
                    size=stored.stat().st_size,
                    channel=channel or self.channel,
                    status="quarantined",
                    vault_path=None,
                )
                session.add(envelope)
                entries.append(
                    NewEntry(
                        kind="envelope.received", subject=envelope_id, data=envelope_facts(envelope)
                    )
                )
            item = QuarantineItem(
                source_name=Path(source).name[:255],
                reason=reason[:500],
                error_type=error_type[:64],
                stored_path=str(stored.relative_to(self.home.root)),
                sha256=digest,
            )
            session.add(item)
            session.flush()
            entries.append(
                NewEntry(kind="input.quarantined", subject=digest, data=quarantine_facts(item))
            )
            ledger_log.append(session, entries)
        self.emit(
            ImportOutcome(
                source=source, status="quarantined", detail=reason, envelope_id=envelope_id
            )
        )

    def take_envelope(self, path: Path, *, source: str, channel: str) -> None:
        envelope_id = sha256_file(path)
        with self.store.session() as session:
            known = session.get(Envelope, envelope_id)
            if known is not None:
                self.emit(
                    ImportOutcome(
                        source=source,
                        status="duplicate",
                        detail=f"already received ({known.status})",
                        envelope_id=envelope_id,
                    )
                )
                return
        try:
            with path.open("rb") as handle:
                opened = open_envelope(handle, identity=self.identity.age, staging=self.staging)
        except Exception as exc:  # noqa: BLE001 - one hostile file must not stop intake
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
        try:
            original = self.keep_original(path, envelope_id)
            kept = self.keep_files(opened)
            try:
                report_id, codename = register_report(
                    self.store,
                    opened=opened,
                    envelope_id=envelope_id,
                    size=path.stat().st_size,
                    channel=channel,
                    vault_path=f"sha256/{envelope_id}",
                    original=original,
                    files=kept,
                    faults=self.vault.faults,
                )
            except AlreadyRegistered as exc:
                self.emit(
                    ImportOutcome(
                        source=source, status="duplicate", detail=str(exc), envelope_id=envelope_id
                    )
                )
                return
            except (EnvelopeError, KeyFileError) as exc:
                # opened and verified, yet not registrable: kept with the reason
                self.quarantine(
                    path,
                    source=source,
                    reason=str(exc),
                    error_type=type(exc).__name__,
                    envelope_id=envelope_id,
                    channel=channel,
                )
                return
            # derived facts from the plaintext before it goes; never raises
            matches = fingerprint_report(
                self.store, self.home.root, report_id, [i.path for i in opened.attachments]
            )
        finally:
            # the vault holds them now (encrypted); plaintext must not stay in staging
            for item in opened.attachments:
                item.path.unlink(missing_ok=True)
        files = len(opened.attachments)
        self.emit(
            ImportOutcome(
                source=source,
                status="imported",
                detail=f"report {report_id}: {opened.manifest.title[:60]!r}, {files} file(s)"
                + (f"; {len(matches)} near-duplicate match(es)" if matches else ""),
                envelope_id=envelope_id,
                report_id=report_id,
                correspondent=codename,
            )
        )

    def keep_original(self, path: Path, envelope_id: str) -> BlobRef:
        """The sealed envelope, byte for byte, into the vault (immutable)."""
        return self.vault.put_file(path, expected_sha256=envelope_id)

    def keep_files(self, opened: OpenedEnvelope) -> list[BlobRef]:
        """Each opened attachment into the vault, as its own blob."""
        return [
            self.vault.put_file(item.path, expected_sha256=item.entry.sha256)
            for item in opened.attachments
        ]

    def take_text(self, path: Path, *, source: str) -> set[str]:
        """Keep every shard found; return the envelope ids that gained shards."""
        text = path.read_bytes().decode("utf-8", errors="replace")
        found, problems = shard_codec.parse_text(text)
        if not found:
            reason = problems[0] if problems else "no sijil shard in this text"
            self.quarantine(
                path, source=source, reason=reason, error_type="MalformedShard", envelope_id=None
            )
            return set()
        if problems:
            # keep the whole text too: a damaged shard is still evidence of an attempt
            self.quarantine(
                path,
                source=source,
                reason="; ".join(problems)[:500],
                error_type="MalformedShard",
                envelope_id=None,
            )
        touched: set[str] = set()
        for shard in found:
            folder = confine(self.home.pending_shards, shard.envelope_id)
            target = folder / f"{shard.index:03d}-k{shard.k}-n{shard.n}-len{shard.length}.txt"
            if not target.exists():
                atomic_write(target, shard_codec.format_shard(shard).encode("ascii"))
            touched.add(shard.envelope_id)
        return touched

    def rebuild(self, envelope_id: str) -> None:
        folder = confine(self.home.pending_shards, envelope_id)
        label = f"shards of {envelope_id[:12]}"
        with self.store.session() as session:
            if session.get(Envelope, envelope_id) is not None:
                shutil.rmtree(folder, ignore_errors=True)
                self.emit(
                    ImportOutcome(
                        source=label,
                        status="duplicate",
                        detail="already received",
                        envelope_id=envelope_id,
                    )
                )
                return
        # The same envelope exported twice with different shard sizes gives two
        # families of shards; each is tried on its own, and either may complete it.
        families: dict[tuple[int, int, int], list[shard_codec.Shard]] = {}
        for shard_file in sorted(folder.glob("*.txt")):
            for piece in shard_codec.parse_text(shard_file.read_text("ascii"))[0]:
                families.setdefault((piece.k, piece.n, piece.length), []).append(piece)
        data: bytes | None = None
        waiting: list[TooFewShards] = []
        failure: ShardError | None = None
        for family in families.values():
            try:
                data = shard_codec.rebuild(family)
                break
            except TooFewShards as exc:
                waiting.append(exc)
            except ShardError as exc:
                failure = exc
        try:
            if data is None:
                # a family still waiting keeps every shard; only when all fail is it quarantined
                if waiting:
                    raise waiting[0]
                raise failure or TooFewShards("no readable shard")
        except TooFewShards as exc:
            self.emit(
                ImportOutcome(
                    source=label,
                    status="waiting",
                    detail=f"{exc}; kept, import more shards later",
                    envelope_id=envelope_id,
                )
            )
            return
        except ShardError as exc:
            bundle = self.staging / f"{envelope_id}.shards.txt"
            atomic_write(bundle, b"".join(p.read_bytes() for p in sorted(folder.glob("*.txt"))))
            self.quarantine(
                bundle,
                source=label,
                reason=str(exc),
                error_type=type(exc).__name__,
                envelope_id=None,
            )
            bundle.unlink()
            shutil.rmtree(folder)
            return
        rebuilt = self.staging / f"{envelope_id}.age"
        atomic_write(rebuilt, data)
        try:
            self.take_envelope(rebuilt, source=label, channel="text")
        finally:
            rebuilt.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def import_paths(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    paths: Sequence[Path],
    *,
    channel: str = "file",
    progress: Progress | None = None,
) -> list[ImportOutcome]:
    """Import every envelope and shard text under ``paths``; return one outcome per item."""
    outcomes: list[ImportOutcome] = []

    def emit(outcome: ImportOutcome) -> None:
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    staging = _own_staging(home.staging)
    try:
        intake = _Intake(
            home=home,
            identity=identity,
            store=store,
            channel=channel,
            emit=emit,
            vault=home.open_vault(identity),
            staging=staging,
        )
        _take_all(intake, [Path(p) for p in paths], channel, emit)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # the schedule of signed tree heads: due when the newest is stale
    with store.session(write=True) as session:
        if head_due(session, now=utcnow()):
            issue_head(session, identity.sign, faults=home.faults)
    return outcomes


def _take_all(intake: _Intake, paths: list[Path], channel: str, emit: Progress) -> None:
    touched: set[str] = set()
    for path, skip in _walk(paths):
        source = str(path)
        if skip is not None:
            emit(ImportOutcome(source=source, status="skipped", detail=skip))
            continue
        if path.is_symlink() or not path.is_file():
            # a link could point anywhere (and copying its target could leak it); a FIFO
            # or device would hang the import. Neither is an envelope a person carried.
            kind = "a symbolic link" if path.is_symlink() else "not a regular file"
            emit(ImportOutcome(source=source, status="skipped", detail=f"{kind}; not read"))
            continue
        with path.open("rb") as handle:
            head = handle.read(len(INTRO))
        size = path.stat().st_size
        if head == INTRO:
            intake.take_envelope(path, source=source, channel=channel)
        elif size <= MAX_TEXT_FILE_BYTES and b"SIJIL-SHARD/" in path.read_bytes():
            touched |= intake.take_text(path, source=source)
        else:
            intake.quarantine(
                path,
                source=source,
                reason="neither a sijil envelope nor text shards",
                error_type="MalformedEnvelope",
                envelope_id=None,
            )
    for envelope_id in sorted(touched):
        intake.rebuild(envelope_id)
