"""Quarantine: inputs intake could not take, kept in the vault with their reason.

An input whose own content is at fault (see :mod:`sijil.desk.boundary`) is stored
byte for byte as a vault blob, encrypted under a keyed name like every original,
and a :class:`~sijil.store.QuarantineItem` row says why, with its size, channel,
arrival time and state; an ``input.quarantined`` ledger entry records it. Nothing
is written in the clear.

``sijil desk quarantine retry`` (:mod:`sijil.desk.retry`) takes an item through
intake again; an item that is then taken is *released* (an ``input.released``
ledger entry), one that fails again stays, under its new reason (another
``input.quarantined`` entry for the same item). Its blob is never deleted.

Desks older than migration 0005 kept inputs as clear files in ``quarantine/``:
their rows still name that file (``stored_path``); ``list`` shows them and a
retry first moves the file into the vault, then removes the clear copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sijil.desk.records import INPUT_SALT, envelope_facts, quarantine_facts, release_facts
from sijil.errors import ConfigError
from sijil.fsutil import confine, sha256_file
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry, new_salt
from sijil.store import Envelope, LedgerSalt, QuarantineItem, Store, utcnow
from sijil.store.models import QuarantineState
from sijil.vault import Vault

__all__ = [
    "MAX_QUARANTINE_BYTES",
    "QuarantineRow",
    "adopt_legacy",
    "keep_input",
    "legacy_path",
    "list_quarantine",
    "release",
]

# The largest input quarantine copies into the vault: the largest envelope a relay
# accepts by default (2 GiB). An unattended import must not fill the vault's disk
# with someone's disk image or film; a larger input that intake cannot take is left
# where it is, reported as skipped (exit status 3), for a person to look at.
MAX_QUARANTINE_BYTES = 2 << 30


def keep_input(
    store: Store,
    vault: Vault,
    path: Path,
    *,
    name: str,
    reason: str,
    error_type: str,
    channel: str,
    envelope_id: str | None = None,
    retrying: int | None = None,
) -> QuarantineItem:
    """Store ``path`` in the vault and record it as quarantined; return its row.

    An envelope's id is the SHA-256 of its bytes, so it doubles as the blob's
    address; its envelope row (status ``quarantined``) makes the same envelope
    arriving again a duplicate. ``retrying`` is the item a retry is re-taking:
    when these are its bytes, that row takes the new reason instead of a new row.
    """
    ref = vault.put_file(path, expected_sha256=envelope_id)
    with store.session(write=True) as session:
        ledger_log.lock(session)
        entries: list[NewEntry] = []
        if envelope_id and session.get(Envelope, envelope_id) is None:
            envelope = Envelope(
                id=envelope_id,
                size=ref.size,
                channel=channel,
                status="quarantined",
                vault_path=None,
            )
            session.add(envelope)
            entries.append(
                NewEntry(
                    kind=EntryKind.ENVELOPE_RECEIVED,
                    subject=envelope_id,
                    data=envelope_facts(envelope),
                )
            )
        item = session.get(QuarantineItem, retrying) if retrying is not None else None
        if item is None or item.sha256 != ref.sha256:
            item = QuarantineItem(
                source_name=name,
                channel=channel,
                sha256=ref.sha256,
                size=ref.size,
                state=QuarantineState.QUARANTINED.value,
                reason="",
                error_type="",
            )
            session.add(item)
        item.reason = reason[:500]
        item.error_type = error_type[:64]
        session.flush()
        salt = new_salt()
        facts = quarantine_facts(item, salt)
        entries.append(
            NewEntry(kind=EntryKind.INPUT_QUARANTINED, subject=facts["sha256"], data=facts)
        )
        seqs = ledger_log.append(session, entries)
        session.add(LedgerSalt(seq=seqs[-1], name=INPUT_SALT, salt=salt))
        return item


def release(store: Store, item_id: int, *, outcome: str, report: int | None) -> None:
    """Mark an item released and record it in the ledger, in one transaction."""
    with store.session(write=True) as session:
        ledger_log.lock(session)
        item = session.get(QuarantineItem, item_id)
        if item is None or item.state != QuarantineState.QUARANTINED:
            return  # another retry released it meanwhile
        item.state = QuarantineState.RELEASED.value
        item.released_at = utcnow()
        salt = new_salt()
        data: dict[str, Any] = {**release_facts(item, salt), "outcome": outcome, "report": report}
        (seq,) = ledger_log.append(
            session, [NewEntry(kind=EntryKind.INPUT_RELEASED, subject=data["sha256"], data=data)]
        )
        session.add(LedgerSalt(seq=seq, name=INPUT_SALT, salt=salt))


def legacy_path(home: Path, item: QuarantineItem) -> Path | None:
    """The clear file of an item kept before migration 0005, or None (kept in the vault)."""
    if not item.stored_path:
        return None
    try:
        return confine(home, item.stored_path)
    except ConfigError:
        return None  # a path leaving the desk's folder is never read (the audit names it)


def adopt_legacy(store: Store, vault: Vault, home: Path, item: QuarantineItem) -> str | None:
    """Move a pre-0005 item's clear file into the vault; None, or why it cannot be.

    The clear file (and its ``.reason.txt``) is removed only once the vault holds
    the same bytes and no other row names the file.
    """
    path = legacy_path(home, item)
    if path is None:
        return "its stored path leaves the desk's folder" if item.stored_path else None
    if not path.is_file():
        return "its stored file is missing from the quarantine folder"
    if sha256_file(path) != item.sha256:
        return "its stored file no longer hashes to its sha256"
    ref = vault.put_file(path, expected_sha256=item.sha256)
    stored = item.stored_path
    with store.session(write=True) as session:
        row = session.get(QuarantineItem, item.id)
        if row is not None:
            row.stored_path = None
            row.size = ref.size
        others = session.scalar(
            select(QuarantineItem.id).where(
                QuarantineItem.stored_path == stored, QuarantineItem.id != item.id
            )
        )
    item.stored_path, item.size = None, ref.size
    if others is None:
        path.unlink(missing_ok=True)
        path.with_name(path.name.removesuffix(".bin") + ".reason.txt").unlink(missing_ok=True)
    return None


@dataclass(frozen=True, kw_only=True)
class QuarantineRow:
    """One quarantined input as ``sijil desk quarantine list`` shows it."""

    id: int
    source: str
    reason: str
    error_type: str
    size: int | None
    received_at: datetime
    channel: str | None
    state: QuarantineState
    released_at: datetime | None
    kept: str  # "vault", or "folder" for a pre-0005 clear file not yet retried

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "reason": self.reason,
            "error_type": self.error_type,
            "size": self.size,
            "received_at": self.received_at.isoformat(),
            "channel": self.channel,
            "state": self.state.value,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "kept": self.kept,
        }


def list_quarantine(store: Store, home: Path, *, released: bool = False) -> list[QuarantineRow]:
    """Items still quarantined (and released ones too if ``released``), oldest first."""
    query = select(QuarantineItem).order_by(QuarantineItem.id)
    if not released:
        query = query.where(QuarantineItem.state == QuarantineState.QUARANTINED.value)
    with store.session() as session:
        items = list(session.scalars(query))
    rows = []
    for item in items:
        size = item.size
        path = legacy_path(home, item)
        if size is None and path is not None and path.is_file():
            size = path.stat().st_size  # never recorded before 0005
        rows.append(
            QuarantineRow(
                id=item.id,
                source=item.source_name,
                reason=item.reason,
                error_type=item.error_type,
                size=size,
                received_at=item.received_at,
                channel=item.channel,
                state=QuarantineState(item.state),
                released_at=item.released_at,
                kept="folder" if item.stored_path else "vault",
            )
        )
    return rows
