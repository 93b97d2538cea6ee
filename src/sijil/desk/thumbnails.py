"""Small previews of a report's photos, and the marks an inbox row carries.

A thumbnail is made from the attachment as the vault keeps it (scrubbed by the
correspondent's app before sealing, verified against its SHA-256 on the way
out), decoded with Pillow and written again as a small baseline JPEG: the
original bytes never reach the page, nor any metadata they might hold. Only a
user who may read the report gets one (sijil.desk.reading.REPORT_READERS).

A desk with workers pre-renders them after intake (``sijil.jobs``, the thumbnail
job) and keeps each as an encrypted vault blob: kind ``derived``, role
:data:`THUMB_ROLE`, its parent the attachment's SHA-256, with a ``derivative.made``
ledger entry. :func:`thumbnail` serves a stored one when there is one, and renders
it on request otherwise (a SQLite desk always: see docs/scale.md).

``report_marks`` gives, for each report of a page, the flag a revoked or
coerced correspondent left on it (sijil.desk.revocation) and the attachments
that can be previewed.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.reading import REPORT_READERS
from sijil.desk.revocation import flags_for
from sijil.errors import DeskError, PermissionDenied, UnknownCode
from sijil.store import Attachment, ReportFlagKind, VaultBlob
from sijil.store.models_desk import Role
from sijil.vault import Vault

__all__ = [
    "PREVIEWABLE",
    "THUMB_EDGE",
    "THUMB_ROLE",
    "ReportMarks",
    "Thumbnail",
    "make_thumbnail",
    "previewable",
    "report_marks",
    "stored_thumbnail",
    "thumbnail",
]

#: The longer edge of a thumbnail in pixels: a row of the inbox, not a viewer.
THUMB_EDGE = 160
THUMB_QUALITY = 75
#: Photos are previewed; a bigger attachment is a video or a scan, not decoded here.
MAX_SOURCE_BYTES = 40 * 1024 * 1024
#: Pillow refuses to decode more pixels than this (a decompression bomb, not a photo).
MAX_PIXELS = 80_000_000
PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/webp"})
#: The role of a stored thumbnail's vault blob (kind ``derived``).
THUMB_ROLE = "thumbnail"


@dataclass(frozen=True, kw_only=True)
class ReportMarks:
    flag: ReportFlagKind | None
    #: attachment ids that have a thumbnail
    previews: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Thumbnail:
    data: bytes
    media_type: str
    filename: str


def report_marks(session: Session, report_ids: Iterable[int]) -> dict[int, ReportMarks]:
    """Flag and previewable attachments of each report in ``report_ids``."""
    ids = list(report_ids)
    if not ids:
        return {}
    flags = flags_for(session, ids)
    previews: dict[int, list[int]] = {}
    rows = session.execute(
        select(Attachment.report_id, Attachment.id)
        .where(
            Attachment.report_id.in_(ids),
            Attachment.media_type.in_(sorted(PREVIEWABLE)),
            Attachment.size <= MAX_SOURCE_BYTES,
        )
        .order_by(Attachment.report_id, Attachment.position)
    )
    for report_id, attachment_id in rows:
        previews.setdefault(report_id, []).append(attachment_id)
    return {i: ReportMarks(flag=flags.get(i), previews=tuple(previews.get(i, ()))) for i in ids}


def previewable(attachment: Attachment) -> bool:
    """True for a photo small enough to preview."""
    return attachment.media_type in PREVIEWABLE and attachment.size <= MAX_SOURCE_BYTES


def stored_thumbnail(session: Session, sha256: str) -> str | None:
    """The SHA-256 of the stored thumbnail of the attachment ``sha256``, if one was made."""
    return session.scalar(
        select(VaultBlob.sha256)
        .where(
            VaultBlob.parent_sha256 == sha256,
            VaultBlob.kind == "derived",
            VaultBlob.role == THUMB_ROLE,
        )
        .limit(1)
    )


def make_thumbnail(data: bytes, *, edge: int = THUMB_EDGE) -> bytes:
    """``data`` (an image) decoded and written again as a JPEG at most ``edge`` pixels long."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DeskError("the image is too large to preview")
                image.draft("RGB", (edge, edge))  # JPEG: decode at a reduced scale
                small = image.convert("RGB")
                small.thumbnail((edge, edge))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise DeskError("the attachment cannot be previewed") from exc
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=THUMB_QUALITY, optimize=True)  # no EXIF, no ICC
    return out.getvalue()


def thumbnail(
    session: Session, vault: Vault, roles: frozenset[Role], attachment_id: int
) -> Thumbnail:
    """The thumbnail of attachment ``attachment_id``, for a user holding ``roles``."""
    if not roles & REPORT_READERS:
        raise PermissionDenied("previews of reports need the editor, analyst or reviewer role")
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not previewable(attachment):
        raise UnknownCode(f"no preview for attachment #{attachment_id}")
    stored = stored_thumbnail(session, attachment.sha256)
    if stored is not None and vault.has(stored):
        data = vault.read_bytes(stored)  # pre-rendered by a worker, checked against its hash
    elif not vault.has(attachment.sha256):
        raise UnknownCode(f"attachment #{attachment_id} is not in the vault")
    else:
        data = make_thumbnail(vault.read_bytes(attachment.sha256))
    name = f"report-{attachment.report_id}-{attachment.position}.jpg"
    return Thumbnail(data=data, media_type="image/jpeg", filename=name)
