"""Media fingerprints of attachments and the near-duplicate matches found between them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow
from sijil.store.sealed import SealedBytes, SealedText

__all__ = ["MEDIA_KINDS", "MediaMatch", "MediaPrintRow"]

#: What fingerprinting made of an attachment: hashed as image or video, not
#: media at all, or media that failed (with the reason in ``error``).
MEDIA_KINDS = ("image", "video", "other", "error")


class MediaPrintRow(Base):
    """The PDQ fingerprint of one attachment (per-second hashes for a video)."""

    __tablename__ = "media_prints"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in MEDIA_KINDS) + ")", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    # hex of the 256-bit PDQ hash as the image stands (images only)
    # (fingerprints are sealed, sijil.store.sealed: with a photo in hand and a seized
    # database, one could otherwise test whether the desk holds it)
    pdq: Mapped[str | None] = mapped_column("pdq_sealed", SealedText("media_prints.pdq"))
    # the same for the picture inside flat margins (screenshots, framed copies), if any
    pdq_inner: Mapped[str | None] = mapped_column(
        "pdq_inner_sealed", SealedText("media_prints.pdq_inner")
    )
    quality: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    # videos: 33 bytes per second of video (32-byte PDQ hash, 1 quality byte);
    # photos: their region hashes for crop- and caption-robust matching (sijil.media.regions)
    frames: Mapped[bytes | None] = mapped_column(
        "frames_sealed", SealedBytes("media_prints.frames")
    )
    # where desks before sealed fingerprints kept them in the clear; emptied when sealed
    clear_pdq: Mapped[str | None] = mapped_column("pdq", String(64))
    clear_pdq_inner: Mapped[str | None] = mapped_column("pdq_inner", String(64))
    clear_frames: Mapped[bytes | None] = mapped_column("frames", LargeBinary)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaMatch(Base):
    """A derived fact: attachment ``attachment_id`` looks like earlier ``other_id``."""

    __tablename__ = "media_matches"
    __table_args__ = (UniqueConstraint("attachment_id", "other_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    # smallest Hamming distance between the two (over dihedral variants / frames)
    distance: Mapped[int] = mapped_column(Integer)
    # which rotation or mirror of the new image matched ("original" when none)
    transform: Mapped[str | None] = mapped_column(String(32))
    # videos: share of the new video's distinct frames found in the other, and the reverse
    score: Mapped[float | None] = mapped_column(Float)
    other_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
