"""Fingerprint a report's photos and videos as it arrives, and record what they resemble.

Desk intake calls :func:`fingerprint_report` once the report is registered,
reading each attachment back from the vault (decrypted in memory a chunk at a
time, never written to disk). It hashes each file, matches it against
everything the desk already holds, stores the fingerprint and the matches,
and appends each match to the custody ledger (kind ``media.matched``), in the same
transaction. It never raises: a photo that cannot be hashed is recorded as
such and the import carries on, since losing or blocking evidence over a
derived fact would be the worse failure.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.neardup.catalog import Catalog, Found
from sijil.desk.records import MATCH_SALTS, match_facts
from sijil.errors import MediaError, UnsupportedMedia, VaultError
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry, new_salt
from sijil.media.fingerprint import fingerprint_file
from sijil.media.index import DEFAULT_RADIUS
from sijil.media.loopback import Opener
from sijil.media.pdq import ImagePrint
from sijil.media.video import VideoPrint, pack_frames
from sijil.store import Attachment, LedgerSalt, MediaMatch, MediaPrintRow, Report, Store
from sijil.store.locks import exclusive

__all__ = [
    "Fingerprinted",
    "catalog_for",
    "fingerprint_files",
    "fingerprint_missing",
    "fingerprint_report",
    "record_prints",
    "store_print",
]

log = logging.getLogger(__name__)

# The lock that serialises match-then-add of fingerprints (sijil.store.locks).
MATCH_LOCK = "media-index"

# one catalog per open store and home, so an import of many envelopes loads the index once
_CATALOGS: weakref.WeakKeyDictionary[Store, dict[tuple[Path | None, int], Catalog]] = (
    weakref.WeakKeyDictionary()
)


def _debug() -> bool:
    # a traceback only when asked for: it could quote paths, and the import goes on
    return log.isEnabledFor(logging.DEBUG)


@dataclass(frozen=True, kw_only=True)
class Fingerprinted:
    """What fingerprinting made of the attachment at ``position``."""

    position: int
    media: ImagePrint | VideoPrint | None
    error: str | None = None

    @property
    def kind(self) -> str:
        if isinstance(self.media, ImagePrint):
            return "image"
        if isinstance(self.media, VideoPrint):
            return "video"
        return "other" if self.error is None else "error"


def fingerprint_one(position: int, path: Path | Opener) -> Fingerprinted:
    try:
        return Fingerprinted(position=position, media=fingerprint_file(path))
    except MediaError as exc:
        if isinstance(exc, UnsupportedMedia):
            return Fingerprinted(position=position, media=None)
        return Fingerprinted(position=position, media=None, error=f"{type(exc).__name__}: {exc}")
    except VaultError as exc:  # read back from the vault: a missing or altered blob
        return Fingerprinted(position=position, media=None, error=f"vault: {exc}"[:500])
    except Exception as exc:  # noqa: BLE001 - a hashing bug must not cost an import
        log.warning("fingerprinting failed: %s", type(exc).__name__, exc_info=_debug())
        return Fingerprinted(
            position=position, media=None, error=f"fingerprinting failed ({type(exc).__name__})"
        )


def fingerprint_files(paths: Sequence[Path | Opener]) -> list[Fingerprinted]:
    """Fingerprint each attachment (in manifest order); never raises.

    Each is a file, or a function opening a seekable plaintext stream of it (the
    vault's ``open_plain``), so the desk never writes a decrypted copy.
    """
    return [fingerprint_one(i, p) for i, p in enumerate(paths)]


def catalog_for(store: Store, home: Path | None, *, radius: int = DEFAULT_RADIUS) -> Catalog:
    """The process's catalog of ``store``, caught up with rows other processes added."""
    per_home = _CATALOGS.setdefault(store, {})
    catalog = per_home.get((home, radius))
    if catalog is None:
        catalog = per_home[home, radius] = Catalog.open(store, home, radius=radius)
    else:
        catalog.catch_up()
    return catalog


def _print_row(attachment_id: int, item: Fingerprinted) -> MediaPrintRow:
    media = item.media
    row = MediaPrintRow(attachment_id=attachment_id, kind=item.kind, error=item.error)
    if isinstance(media, ImagePrint):
        row.pdq, row.quality = media.hex, media.quality
        row.pdq_inner = None if media.inner is None else media.inner.hex
        row.width, row.height = media.width, media.height
        # an image has no frames; its blob holds its region hashes (crops, captions)
        row.frames = media.regions or None
    elif isinstance(media, VideoPrint):
        row.frames = pack_frames(media.frames)
        row.width, row.height, row.duration_s = media.width, media.height, media.duration_s
    return row


def store_print(store: Store, attachment_id: int, item: Fingerprinted) -> MediaPrintRow:
    """Write one fingerprint row and return it (detached, with its id)."""
    with store.session(write=True) as session:
        row = _print_row(attachment_id, item)
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def _store_print_and_matches(
    store: Store, attachment_id: int, item: Fingerprinted, found: list[Found]
) -> tuple[MediaPrintRow, list[MediaMatch]]:
    """Write the print, its matches and their ledger entries in one transaction: a
    process killed midway leaves all of it or none, so a retry redoes it whole."""
    with store.session(write=True) as session:
        row = _print_row(attachment_id, item)
        session.add(row)
        session.flush()
        session.expunge(row)
        return row, _add_matches(session, attachment_id, found)


def _add_matches(session: Session, attachment_id: int, found: list[Found]) -> list[MediaMatch]:
    if not found:
        return []
    owners = dict(
        session.execute(
            select(MediaPrintRow.id, MediaPrintRow.attachment_id).where(
                MediaPrintRow.id.in_([f.print_id for f in found])
            )
        ).all()
    )
    matches = [
        MediaMatch(
            attachment_id=attachment_id,
            other_id=owners[f.print_id],
            kind=f.kind,
            distance=f.distance,
            transform=f.transform,
            score=f.score,
            other_score=f.other_score,
        )
        for f in found
        if f.print_id in owners and owners[f.print_id] != attachment_id
    ]
    if not matches:
        return []
    session.add_all(matches)
    session.flush()
    attachments = {
        a.id: a
        for a in session.scalars(
            select(Attachment).where(
                Attachment.id.in_({attachment_id} | {m.other_id for m in matches})
            )
        )
    }
    mine = attachments[attachment_id]
    # salted commitments to both files' hashes, the salts beside the entry (docs/ledger.md)
    salts = [{name: new_salt() for name in MATCH_SALTS} for _ in matches]
    entries = []
    for m, salted in zip(matches, salts, strict=True):
        data = match_facts(m, mine, attachments[m.other_id], salted)
        entries.append(
            NewEntry(kind=EntryKind.MEDIA_MATCHED, subject=data["attachment"], data=data)
        )
    seqs = ledger_log.append(session, entries)
    session.add_all(
        LedgerSalt(seq=seq, name=name, salt=salt)
        for seq, kept in zip(seqs, salts, strict=True)
        for name, salt in kept.items()
    )
    for match in matches:
        session.expunge(match)
    return matches


def record_prints(
    store: Store, home: Path | None, report_id: int, prints: Sequence[Fingerprinted]
) -> list[MediaMatch]:
    """Match, store and record ``prints`` of report ``report_id`` (may raise)."""
    with store.session() as session:
        positions = dict(
            session.execute(
                select(Attachment.position, Attachment.id).where(Attachment.report_id == report_id)
            ).all()
        )
    catalog = catalog_for(store, home)
    recorded: list[MediaMatch] = []
    for item in prints:
        attachment_id = positions.get(item.position)
        if attachment_id is None:
            continue
        # one writer at a time across processes (workers), holding the lock from
        # catching up to committing: each sees every print committed before it
        with exclusive(store, MATCH_LOCK):
            if _printed(store, attachment_id):
                # a retried job, or a copy of the envelope taken twice: printed once
                continue
            catalog.catch_up()
            # matched before it is added, so only earlier items are found
            found = [] if item.media is None else catalog.match(item.media)
            row, matches = _store_print_and_matches(store, attachment_id, item, found)
            catalog.take(row)
            recorded += matches
    catalog.save_if_due()
    return recorded


def _printed(store: Store, attachment_id: int) -> bool:
    with store.session() as session:
        found = session.scalar(
            select(MediaPrintRow.id).where(MediaPrintRow.attachment_id == attachment_id).limit(1)
        )
    return found is not None


def fingerprint_missing(
    store: Store, home: Path | None, envelope_id: str, open_blob: Callable[[str], BinaryIO]
) -> list[MediaMatch]:
    """Fingerprint the attachments of envelope ``envelope_id``'s report that have none.

    An import cut short (a worker killed, a power cut) between registering a report
    and fingerprinting it leaves these; taking the envelope again finds it registered
    and comes here. Each is read back through ``open_blob`` (the vault's
    ``open_plain``, by SHA-256). Never raises, as :func:`fingerprint_report`.
    """
    try:
        with store.session() as session:
            rows = session.execute(
                select(Report.id, Attachment.position, Attachment.sha256)
                .join(Attachment, Attachment.report_id == Report.id)
                .outerjoin(MediaPrintRow, MediaPrintRow.attachment_id == Attachment.id)
                .where(Report.envelope_id == envelope_id, MediaPrintRow.id.is_(None))
                .order_by(Attachment.position)
            ).all()
        if not rows:
            return []
        wanted = [
            fingerprint_one(int(position), partial(open_blob, str(sha256)))
            for _report, position, sha256 in rows
        ]
        return record_prints(store, home, int(rows[0][0]), wanted)
    except Exception as exc:  # noqa: BLE001 - the report is safe; a derived fact can wait
        log.warning("missing media fingerprints not recorded: %s", type(exc).__name__)
        return []


def fingerprint_report(
    store: Store, home: Path | None, report_id: int, files: Sequence[Path | Opener]
) -> list[MediaMatch]:
    """Fingerprint report ``report_id``'s ``files`` (manifest order); never raises."""
    try:
        return record_prints(store, home, report_id, fingerprint_files(files))
    except Exception as exc:  # noqa: BLE001 - the report is safe; a derived fact can wait
        log.warning(
            "media fingerprints of report %s not recorded: %s",
            report_id,
            type(exc).__name__,
            exc_info=_debug(),
        )
        return []
