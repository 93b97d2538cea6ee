"""The desk's database schema as SQLAlchemy 2 typed ORM models.

Every change here needs a migration under ``migrations/versions``; a test
compares these models with the migrated schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    synonym,
    validates,
)

from sijil.store.sealed import SealedFloat, SealedText, coarse
from sijil.store.types import UTCDateTime

__all__ = [
    "CHANNELS",
    "ENVELOPE_STATUSES",
    "NAMING_CONVENTION",
    "QUARANTINE_STATES",
    "Attachment",
    "Base",
    "Correspondent",
    "Envelope",
    "QuarantineItem",
    "QuarantineState",
    "Report",
    "utcnow",
]

#: Explicit constraint and index names, so a migration written against one
#: backend names things identically on the other and later migrations can
#: drop or alter them by name (SQLite otherwise leaves them anonymous).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: How an envelope reached the desk.
CHANNELS = ("usb", "text", "file", "relay")
#: What intake made of an envelope.
ENVELOPE_STATUSES = ("opened", "quarantined")


class QuarantineState(StrEnum):
    """Where a quarantined input stands: kept aside, or taken in by a later retry."""

    QUARANTINED = "quarantined"
    RELEASED = "released"


QUARANTINE_STATES = tuple(state.value for state in QuarantineState)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the default for timestamps)."""
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # every Mapped[datetime] is an aware-UTC timestamp
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Correspondent(Base):
    """A pseudonymous source; enrolled through an invite, or met unannounced."""

    __tablename__ = "correspondents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    codename: Mapped[str] = mapped_column(String(64), unique=True)
    # base64 of the raw Ed25519 public key; null until the first envelope enrols it
    sign_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # base64 of the raw X25519 public key the desk seals replies to
    reply_key: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # hex SHA-256 of the invite's secret token; the token itself is never stored
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # True: came through an invite; False: an unknown pseudonym kept as an unenrolled source
    enrolled: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enrolled_at: Mapped[datetime | None]

    reports: Mapped[list[Report]] = relationship(back_populates="correspondent")


class Envelope(Base):
    """A sealed envelope as received; its id is the SHA-256 of its ciphertext."""

    __tablename__ = "envelopes"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("status", ENVELOPE_STATUSES), name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    # path of the stored sealed original, relative to the vault
    vault_path: Mapped[str | None] = mapped_column(String(255))

    report: Mapped[Report | None] = relationship(back_populates="envelope")


class Report(Base):
    """The opened content of one envelope, with its signed manifest."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), unique=True)
    correspondent_id: Mapped[int] = mapped_column(ForeignKey("correspondents.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    # when the correspondent composed it, as the signed manifest claims
    created_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # where the manifest says, exactly: sealed (sijil.store.sealed), opened with the key
    latitude: Mapped[float | None] = mapped_column(
        "latitude_sealed", SealedFloat("reports.latitude")
    )
    longitude: Mapped[float | None] = mapped_column(
        "longitude_sealed", SealedFloat("reports.longitude")
    )
    # the same rounded to COARSE_DEGREES, in the clear: all that queries by place use
    coarse_latitude: Mapped[float | None] = mapped_column("latitude", Float)
    coarse_longitude: Mapped[float | None] = mapped_column("longitude", Float)
    location_precision_m: Mapped[int | None] = mapped_column(Integer)
    # the canonical (RFC 8785) manifest JSON exactly as signed: sealed (it carries the
    # enrolment token of a first report)
    manifest: Mapped[str] = mapped_column(
        "manifest_sealed", SealedText("reports.manifest"), nullable=True
    )
    # where desks before sealed columns kept it in the clear; emptied when sealed
    clear_manifest: Mapped[str] = mapped_column("manifest", Text, default="")
    signature: Mapped[str] = mapped_column(String(128))

    @validates("latitude", "longitude")
    def _coarsen(self, key: str, value: float | None) -> float | None:
        setattr(self, f"coarse_{key}", coarse(value))
        return value

    envelope: Mapped[Envelope] = relationship(back_populates="report")
    correspondent: Mapped[Correspondent] = relationship(back_populates="reports")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report",
        order_by="Attachment.position",
        cascade="all, delete-orphan",
    )


class Attachment(Base):
    """One attachment listed in a report's manifest."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("report_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)

    report: Mapped[Report] = relationship(back_populates="attachments")


class QuarantineItem(Base):
    """An input intake could not take, kept with the reason instead of dropped.

    Its bytes are a vault blob addressed by ``sha256`` (encrypted, under a keyed
    name). Rows written before migration 0005 have ``stored_path`` instead: a
    file in the clear ``quarantine/`` folder, relative to the desk's home, until
    ``sijil desk quarantine retry`` moves it into the vault; they have no
    ``size`` or ``channel`` either.
    """

    __tablename__ = "quarantine_items"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("state", QUARANTINE_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # basename only: a full path could name the machine or person it came from
    source_name: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(500))
    error_type: Mapped[str] = mapped_column(String(64))
    # legacy rows only (see above); None once the bytes are in the vault
    stored_path: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the input's bytes: its vault address
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(
        String(16), default=QuarantineState.QUARANTINED.value, index=True
    )
    released_at: Mapped[datetime | None]

    #: when intake met the input (the column keeps its first name, ``created_at``)
    received_at = synonym("created_at")
