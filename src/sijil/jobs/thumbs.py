"""Pre-rendered inbox thumbnails: made once by a worker after intake, served from the vault.

The web app's inbox shows a small preview of each photo (:mod:`sijil.desk.thumbnails`).
Rendered on request it costs a decryption of the whole photo and a decode on every
page view; on a desk with workers, a job renders each of a report's photos once,
right after the envelope is registered, and keeps the result as an encrypted vault
blob: kind ``derived``, role ``thumbnail``, its parent the photo's SHA-256, recorded
in the custody ledger as ``derivative.made`` (what was made, from what, how). The
request path serves a stored one when there is one and renders otherwise.

Running the job twice makes nothing new: it skips a photo whose thumbnail is
recorded, and checks again holding the ledger's lock before recording, so two runs
at once (one photo in two reports) record it once. A photo that cannot be decoded
is left to the request path, which says so.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.boundary import aborted, machine_failure
from sijil.desk.intake import issue_head_if_due
from sijil.desk.records import SALTED
from sijil.desk.thumbnails import (
    THUMB_EDGE,
    THUMB_ROLE,
    make_thumbnail,
    previewable,
    stored_thumbnail,
)
from sijil.errors import DeskError, IntakeAborted
from sijil.jobs.work import WorkerDesk
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry, commit, new_salt
from sijil.store import Attachment, LedgerSalt, Report, Store, VaultBlob
from sijil.vault import record_blob

__all__ = ["missing_thumbnails", "store_thumbnails"]


def _photos(session: Session, envelope_id: str) -> list[Attachment]:
    rows = session.scalars(
        select(Attachment)
        .join(Report, Attachment.report_id == Report.id)
        .where(Report.envelope_id == envelope_id)
        .order_by(Attachment.position)
    )
    return [a for a in rows if previewable(a)]


def missing_thumbnails(store: Store, envelope_id: str) -> bool:
    """True if the report of ``envelope_id`` has a photo whose thumbnail is not stored."""
    with store.session() as session:
        return any(
            stored_thumbnail(session, a.sha256) is None for a in _photos(session, envelope_id)
        )


def store_thumbnails(desk: WorkerDesk, envelope_id: str) -> int:
    """Render and keep the thumbnail of each photo of the report; return how many were made.

    A failure of the machine or a service raises IntakeAborted (the job is retried)."""
    try:
        made = _store(desk, envelope_id)
        if made:
            issue_head_if_due(desk.home, desk.identity, desk.store)
    except IntakeAborted:
        raise
    except Exception as exc:
        if machine_failure(exc):
            raise aborted(exc, None) from exc
        raise
    return made


def _store(desk: WorkerDesk, envelope_id: str) -> int:
    with desk.store.session() as session:
        todo = [
            (a.sha256, a.report_id, a.position)
            for a in _photos(session, envelope_id)
            if stored_thumbnail(session, a.sha256) is None
        ]
    made = 0
    for source, report_id, position in todo:
        try:
            data = make_thumbnail(desk.vault.read_bytes(source))
        except DeskError:
            continue  # not decodable: the request path answers "cannot be previewed"
        ref = desk.vault.put_bytes(data)  # content-addressed: storing it twice is harmless
        with desk.store.session(write=True) as session:
            ledger_log.lock(session)  # one recorder at a time, then look again
            if stored_thumbnail(session, source) is not None:
                continue
            if session.get(VaultBlob, ref.sha256) is not None:
                continue  # the same bytes made from another photo: rendered on request
            record_blob(session, ref, kind="derived", parent=source, role=THUMB_ROLE)
            # the photo it was made from, by a salted commitment to its hash, never the
            # hash itself: a ledger copied off the desk cannot confirm a known photo
            salt = new_salt()
            facts = {
                "derived": THUMB_ROLE,
                "source": commit(salt, source),
                SALTED: True,
                "report": report_id,
                "position": position,
                "media_type": "image/jpeg",
                "size": ref.size,
                "max_edge": THUMB_EDGE,
            }
            (seq,) = ledger_log.append(
                session,
                [NewEntry(kind=EntryKind.DERIVATIVE_MADE, subject=ref.sha256, data=facts)],
            )
            session.add(LedgerSalt(seq=seq, name="source", salt=salt))
        made += 1
    return made
