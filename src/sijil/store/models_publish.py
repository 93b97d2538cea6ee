"""The public record: what the desk published, in the order of its publication log.

* ``publications``: one row per leaf of the publication log, ``log_index`` from 0
  without gaps. ``body`` is the exact canonical JSON (RFC 8785) that was signed and
  hashed into the log (leaf hash = SHA-256(0x00 ‖ body), RFC 9162); ``minisig`` and
  ``sshsig`` are its two signatures by the publication key, made when it was posted,
  so building the site needs no private key. A correction is a new version of the
  same subject that ``supersedes`` the log index it corrects; a retraction is a
  tombstone that supersedes the version it withdraws.
* ``publication_checkpoints``: the signed checkpoint (C2SP signed-note text) of the
  log at each size, newest last; the site serves the newest.
* ``publication_media``: re-encoded, scrubbed derivatives a post shows (never an
  original). They are public once posted, so they are kept here, not in the
  encrypted evidence vault, and the site build copies them out without a key.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base

__all__ = [
    "PostAction",
    "PostKind",
    "Publication",
    "PublicationCheckpoint",
    "PublicationMedia",
]


class PostAction(StrEnum):
    POST = "post"  # the first published version of a subject
    CORRECTION = "correction"  # a new version that supersedes an earlier one
    RETRACTION = "retraction"  # a tombstone: the subject is withdrawn


class PostKind(StrEnum):
    INCIDENT = "incident"  # subject: the incident's public code
    VERDICT = "verdict"  # subject: the claim's public code
    KEY = "key"  # subject: the new publication key's id; announces a key rotation (0016)


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (
        CheckConstraint(_one_of("action", PostAction), name="action"),
        CheckConstraint(_one_of("kind", PostKind), name="kind"),
        UniqueConstraint("kind", "subject", "version"),
    )

    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("publications.log_index"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    minisig: Mapped[str] = mapped_column(Text)
    sshsig: Mapped[str] = mapped_column(Text)
    # False on a --solo desk: the post says "not independently reviewed"
    independently_reviewed: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime]
    published_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class PublicationCheckpoint(Base):
    __tablename__ = "publication_checkpoints"

    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]


class PublicationMedia(Base):
    __tablename__ = "publication_media"

    # SHA-256 of the derivative's bytes, which is also its file name on the site
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    log_index: Mapped[int] = mapped_column(ForeignKey("publications.log_index"), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
