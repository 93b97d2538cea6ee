"""The shard pool: text shards kept until enough of one envelope have arrived.

Shards found in a text (a chat export) are kept one file each under
``home/shards/<envelope id>/``, whatever import brought them; when an import adds
to a pool, intake tries to rebuild that envelope. Every distinct copy of a shard
is kept (its file is named by its index and a digest of its body): the shard
checksum needs no key, so a forged shard 2 must not shut out the genuine one.

A family that cannot rebuild yet waits, every copy kept for the next import: too
few shards, or no choice of ``k`` of them (tried within
``shards.MAX_REBUILD_ATTEMPTS``) that rebuilds the envelope its id names, which
means a forged or damaged copy is among them and a genuine one may still come.
Nothing in a pool is quarantined because of another shard; the pool is emptied
only once its envelope is taken (or was already here).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Protocol

from sijil.desk.home import DeskHome
from sijil.desk.inputs import ImportOutcome, ImportStatus, Progress
from sijil.envelope import shards as shard_codec
from sijil.errors import ShardError, TooFewShards
from sijil.fsutil import atomic_write, confine
from sijil.store import Envelope, Store

__all__ = ["rebuild_pending", "take_text"]

# Hex digits of a copy's SHA-256 in its file name: 64 bits tell copies apart (a
# collision would only keep one of two forgeries), and keep names short.
_COPY_DIGEST = 16


class _Intake(Protocol):
    """What the pool needs of an intake run (sijil.desk.intake.Intake)."""

    @property
    def home(self) -> DeskHome: ...
    @property
    def store(self) -> Store: ...
    @property
    def staging(self) -> Path: ...
    @property
    def emit(self) -> Progress: ...
    @property
    def retrying(self) -> int | None: ...

    def quarantine(
        self,
        path: Path,
        *,
        source: str,
        reason: str,
        error_type: str,
        channel: str,
        envelope_id: str | None = None,
    ) -> None: ...

    def take_envelope(self, path: Path, *, source: str, channel: str) -> None: ...


def take_text(intake: _Intake, path: Path, *, source: str, channel: str) -> set[str]:
    """Keep every shard found; return the envelope ids that gained shards."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    found, problems = shard_codec.parse_text(text)
    if not found:
        reason = problems[0] if problems else "no sijil shard in this text"
        intake.quarantine(
            path, source=source, reason=reason, error_type="MalformedShard", channel=channel
        )
        return set()
    if problems:
        # keep the whole text too: a damaged shard is still evidence of an attempt
        intake.quarantine(
            path,
            source=source,
            reason="; ".join(problems)[:500],
            error_type="MalformedShard",
            channel=channel,
        )
    touched: set[str] = set()
    for shard in found:
        folder = confine(intake.home.pending_shards, shard.envelope_id)
        copy = hashlib.sha256(shard.data).hexdigest()[:_COPY_DIGEST]
        name = f"{shard.index:03d}-k{shard.k}-n{shard.n}-len{shard.length}-{copy}.txt"
        target = folder / name
        if not target.exists():
            atomic_write(target, shard_codec.format_shard(shard).encode("ascii"))
        touched.add(shard.envelope_id)
    return touched


def rebuild_pending(intake: _Intake, envelope_id: str) -> None:
    """Rebuild ``envelope_id`` from its pool if enough shards are there, and take it."""
    folder = confine(intake.home.pending_shards, envelope_id)
    label = f"shards of {envelope_id[:12]}"
    with intake.store.session() as session:
        known = session.get(Envelope, envelope_id)
        status = None if known is None else known.status
    if status is not None and not (status == "quarantined" and intake.retrying is not None):
        shutil.rmtree(folder, ignore_errors=True)
        intake.emit(
            ImportOutcome(
                source=label,
                status=ImportStatus.DUPLICATE,
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
    waiting: list[ShardError] = []
    for family in families.values():
        try:
            data = shard_codec.rebuild(family)
            break
        except ShardError as exc:
            waiting.append(exc)
    if data is None:
        # too few shards, or a forged or damaged copy among them: every copy stays,
        # and a later import of more (genuine) shards tries again
        forged = next((e for e in waiting if not isinstance(e, TooFewShards)), None)
        problem = forged or (waiting[0] if waiting else TooFewShards("no readable shard"))
        intake.emit(
            ImportOutcome(
                source=label,
                status=ImportStatus.WAITING,
                detail=f"{problem}; kept, import more shards later",
                envelope_id=envelope_id,
            )
        )
        return
    rebuilt = intake.staging / f"{envelope_id}.age"
    atomic_write(rebuilt, data)
    try:
        intake.take_envelope(rebuilt, source=label, channel="text")
    finally:
        rebuilt.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
