"""What the desk keeps without a record (part of ``sijil verify``, :mod:`sijil.desk.audit`).

Each is named, one by one, so a person can find it:

- a vault blob no row accounts for: stored by an import or a quarantine that did
  not finish (a kill -9 between storing the bytes and committing their record
  leaves one; importing the same input again adopts it). Its stored name is
  keyed, so the blob is decrypted to say what it holds: size, SHA-256, and
  whether it is a sealed envelope;
- a file in an older desk's clear ``quarantine/`` folder that no quarantine row
  names (kept with no record of why);
- an attachment with no media fingerprint (``sijil media backfill`` makes it).

They are notes, not problems: nothing recorded is lost or altered, and an
interrupted import legitimately leaves one. The count in :class:`Unrecorded`
lets ``sijil verify`` say so instead of a bare "nothing lost".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.envelope.age import INTRO
from sijil.errors import VaultError
from sijil.fsutil import shown_name
from sijil.store import Attachment, MediaPrintRow, QuarantineItem
from sijil.vault import Vault
from sijil.vault.cipher import decrypt_chunks

__all__ = ["MAX_NAMED", "Unrecorded", "audit_unrecorded"]

# Each kind names at most this many, then counts the rest: a desk that lost its
# database would otherwise print a line for each of thousands of blobs.
MAX_NAMED = 20
# A legacy quarantine folder's reason files sit beside the inputs they explain.
_REASON_SUFFIX = ".reason.txt"


@dataclass
class Unrecorded:
    notes: list[str] = field(default_factory=list)
    # vault blobs and quarantine files kept without a record
    kept: int = 0
    # attachments without a media fingerprint
    unprinted: int = 0


def _describe_blob(vault: Vault, name: str) -> str:
    """Size, SHA-256 and kind of an orphan blob, read by its stored name."""
    hasher = hashlib.sha256()
    size, head = 0, b""
    try:
        with vault.blobs.open(name) as blob:
            for chunk in decrypt_chunks(vault.key, blob):
                if size < len(INTRO):
                    head += chunk[: len(INTRO) - size]
                hasher.update(chunk)
                size += len(chunk)
    except (OSError, VaultError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        return f"unreadable ({why or type(exc).__name__})"
    what = "a sealed envelope" if head == INTRO else "a file"
    return f"{what} of {size} bytes, sha256 {hasher.hexdigest()[:12]}"


def _more(kind: str, total: int) -> list[str]:
    extra = total - MAX_NAMED
    return [f"... and {extra} more {kind}"] if extra > 0 else []


def _orphan_blobs(vault: Vault, names: set[str], result: Unrecorded) -> None:
    ordered = sorted(names)
    for name in ordered[:MAX_NAMED]:
        result.notes.append(
            f"vault blob {name[:12]}: {_describe_blob(vault, name)}, has no record: kept by "
            "an import or a quarantine that did not finish; importing its input again adopts it"
        )
    result.notes += _more("vault blob(s) without a record", len(ordered))
    result.kept += len(ordered)


def _orphan_quarantine_files(session: Session, home: Path | None, result: Unrecorded) -> None:
    folder = None if home is None else home / "quarantine"
    if folder is None or not folder.is_dir() or folder.is_symlink():
        return
    named = {
        Path(path).name
        for path in session.scalars(
            select(QuarantineItem.stored_path).where(QuarantineItem.stored_path.is_not(None))
        )
        if path
    }
    orphans = sorted(
        entry.name
        for entry in folder.iterdir()
        if not entry.name.endswith(_REASON_SUFFIX)
        and not entry.name.startswith(".")
        and entry.name not in named
    )
    for name in orphans[:MAX_NAMED]:
        result.notes.append(
            f"quarantine/{shown_name(name)}: a kept input with no quarantine record "
            "(import it again to record why it was kept)"
        )
    result.notes += _more("quarantine file(s) without a record", len(orphans))
    result.kept += len(orphans)


def _unprinted(session: Session, result: Unrecorded) -> None:
    rows = session.execute(
        select(Attachment.report_id, Attachment.position)
        .outerjoin(MediaPrintRow, MediaPrintRow.attachment_id == Attachment.id)
        .where(MediaPrintRow.id.is_(None))
        .order_by(Attachment.id)
    ).all()
    for report_id, position in rows[:MAX_NAMED]:
        result.notes.append(
            f"attachment {position + 1} of report #{report_id}: no media fingerprint "
            "(run 'sijil media backfill')"
        )
    result.notes += _more("attachment(s) without a media fingerprint", len(rows))
    result.unprinted = len(rows)


def audit_unrecorded(
    session: Session, vault: Vault, home: Path | None, orphan_names: set[str]
) -> Unrecorded:
    """Name what is kept without a record; ``orphan_names``: stored names of vault
    blobs no row accounts for (found by the audit's blob check)."""
    result = Unrecorded()
    _orphan_blobs(vault, orphan_names, result)
    _orphan_quarantine_files(session, home, result)
    _unprinted(session, result)
    return result
