"""Fingerprint attachments that have none: an archive from before media matching, or an
import cut short between registering a report and fingerprinting it.

Attachments are taken in the order they arrived (attachment id), so each one is
matched only against what came before it, exactly as if it had been fingerprinted
on import. The plaintext is read through a callable (the vault's ``open_plain``),
decrypted in memory as the decoder asks for it: no decrypted copy is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final

from sqlalchemy import select

from sijil.desk.neardup.intake import Fingerprinted, fingerprint_one, record_prints
from sijil.errors import SijilError
from sijil.store import Attachment, MediaPrintRow, Store

__all__ = ["BATCH", "Backfilled", "backfill"]

# rows fetched per query: bounds memory on an archive of millions of attachments
BATCH: Final = 500

OpenBlob = Callable[[str], BinaryIO]


@dataclass(frozen=True, kw_only=True)
class Backfilled:
    attachment_id: int
    report_id: int
    kind: str
    matches: int


def _missing(store: Store, after: int) -> list[tuple[int, int, int, str]]:
    with store.session() as session:
        rows = session.execute(
            select(Attachment.id, Attachment.report_id, Attachment.position, Attachment.sha256)
            .outerjoin(MediaPrintRow, MediaPrintRow.attachment_id == Attachment.id)
            .where(MediaPrintRow.id.is_(None), Attachment.id > after)
            .order_by(Attachment.id)
            .limit(BATCH)
        ).all()
    return [(int(a), int(r), int(p), str(s)) for a, r, p, s in rows]


def backfill(
    store: Store,
    home: Path,
    *,
    open_blob: OpenBlob,
    progress: Callable[[Backfilled], None] | None = None,
) -> list[Backfilled]:
    """Fingerprint and match every attachment without a fingerprint, oldest first."""
    done: list[Backfilled] = []
    after = 0
    while batch := _missing(store, after):
        for attachment_id, report_id, position, sha256 in batch:
            after = attachment_id
            try:
                # a missing blob fails here, not inside the fingerprinting
                open_blob(sha256).close()
                item = fingerprint_one(position, partial(open_blob, sha256))
            except SijilError as exc:
                # a missing or altered blob is the vault's finding; note it and go on
                item = Fingerprinted(position=position, media=None, error=f"vault: {exc}"[:500])
            matches = record_prints(store, home, report_id, [item])
            outcome = Backfilled(
                attachment_id=attachment_id,
                report_id=report_id,
                kind=item.kind,
                matches=len(matches),
            )
            done.append(outcome)
            if progress is not None:
                progress(outcome)
    return done
