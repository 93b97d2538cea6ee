"""Claims, verdicts, sources and monitor records (the desk's outside world).

A **source** here is an outlet, an official or a monitor; correspondents are
sources too but live in ``correspondents`` already. A **claim** is what a source
said (FA-KES articles are imported as claims); a **verdict** is the desk's
rating of a claim, append-only and reviewed like an assessment. **Monitor
records** are another organisation's event data (UCDP GED), kept for
cross-checking, never as the desk's own incidents.

Coordinates are integer microdegrees like the incidents'; no column is a float.
Claimed numbers and death counts are plain non-negative integers.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sijil.store.models import Base, utcnow
from sijil.store.models_desk import ReviewDecision

__all__ = [
    "Claim",
    "ClaimIncident",
    "ClaimVerdict",
    "MonitorRecord",
    "Source",
    "SourceKind",
    "VerdictEvidence",
    "VerdictRating",
    "VerdictReview",
]


class SourceKind(StrEnum):
    """Who a source is; correspondents are kept in ``correspondents``."""

    CORRESPONDENT = "correspondent"
    OUTLET = "outlet"  # a news agency, paper, channel or site
    OFFICIAL = "official"  # a government, military or armed group's own statement
    MONITOR = "monitor"  # a documentation organisation's dataset (UCDP GED)


#: The kinds stored in ``sources``.
STORED_KINDS = (SourceKind.OUTLET, SourceKind.OFFICIAL, SourceKind.MONITOR)


class VerdictRating(StrEnum):
    """The desk's rating of a claim (definitions in docs/desk.md)."""

    ACCURATE = "accurate"
    MISLEADING = "misleading"
    FALSE = "false"
    UNPROVEN = "unproven"


def _one_of(column: str, values: tuple[StrEnum, ...] | type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


_NON_NEGATIVE = ("killed_civilians", "killed_children", "killed_women", "killed_noncivilians")


class Source(Base):
    """An outlet, official or monitor whose claims or records the desk weighs."""

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("kind", "name"),
        CheckConstraint(_one_of("kind", STORED_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # the name as the desk and its imports know it ("sana", "UCDP GED 19.1")
    name: Mapped[str] = mapped_column(String(128))
    name_ar: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class Claim(Base):
    """What a source said about an event: its date, place, actor and numbers."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("imported_from", "external_ref", "external_part"),
        *(CheckConstraint(f"{c} >= 0", name=c) for c in _NON_NEGATIVE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    # the dataset it came from ("fakes") and its id there (FA-KES unit_id); one
    # article may carry several claims, numbered 1, 2, ... in file order
    imported_from: Mapped[str | None] = mapped_column(String(32))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    external_part: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    claim_date: Mapped[date | None] = mapped_column(Date, index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    governorate: Mapped[str | None] = mapped_column(String(8), index=True)
    place_text: Mapped[str | None] = mapped_column(String(255))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    actor_text: Mapped[str | None] = mapped_column(String(255))
    cause: Mapped[str | None] = mapped_column(String(255))
    killed_civilians: Mapped[int | None] = mapped_column(Integer)
    killed_children: Mapped[int | None] = mapped_column(Integer)
    killed_women: Mapped[int | None] = mapped_column(Integer)
    killed_noncivilians: Mapped[int | None] = mapped_column(Integer)
    # the dataset's own label (FA-KES: 1 if VDC's records agree), never a verdict
    external_label: Mapped[str | None] = mapped_column(String(32))
    # SHA-256 of the claim's content as canonical JSON: what its ledger entry names
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class ClaimIncident(Base):
    """A claim is about an incident."""

    __tablename__ = "claim_incidents"
    __table_args__ = (UniqueConstraint("claim_id", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class ClaimVerdict(Base):
    """One proposed rating of a claim, with summaries and the evidence. Never edited."""

    __tablename__ = "claim_verdicts"
    __table_args__ = (CheckConstraint(_one_of("rating", VerdictRating), name="rating"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    rating: Mapped[str] = mapped_column(String(16))
    summary_ar: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))

    evidence: Mapped[list[VerdictEvidence]] = relationship(
        cascade="all, delete-orphan", order_by="VerdictEvidence.report_id"
    )


class VerdictEvidence(Base):
    """A report that shows a verdict."""

    __tablename__ = "verdict_evidence"

    verdict_id: Mapped[int] = mapped_column(ForeignKey("claim_verdicts.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), primary_key=True)


class VerdictReview(Base):
    """The one decision on a verdict; ``independent`` is False for a solo self-approval."""

    __tablename__ = "verdict_reviews"
    __table_args__ = (CheckConstraint(_one_of("decision", ReviewDecision), name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verdict_id: Mapped[int] = mapped_column(ForeignKey("claim_verdicts.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
    decision: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text)
    independent: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitorRecord(Base):
    """One event as a monitor recorded it (a UCDP GED row), for cross-checking."""

    __tablename__ = "monitor_records"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        CheckConstraint("date_prec BETWEEN 1 AND 5", name="date_prec"),
        CheckConstraint("where_prec BETWEEN 1 AND 7", name="where_prec"),
        CheckConstraint("(lat_e6 IS NULL) = (lon_e6 IS NULL)", name="coordinates"),
        # records spanning a month or a year, fetched apart (sijil.desk.nearby)
        Index("ix_monitor_records_date_prec_date_start", "date_prec", "date_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    # kept as the monitor published them: in GED 19.1, 101 events have a best
    # estimate outside their low-high range, so no order is imposed on the three
    external_id: Mapped[int] = mapped_column(BigInteger)
    # UCDP's 1 state-based, 2 non-state, 3 one-sided violence
    violence_type: Mapped[int | None] = mapped_column(Integer)
    date_start: Mapped[date] = mapped_column(Date, index=True)
    date_end: Mapped[date] = mapped_column(Date)
    date_prec: Mapped[int] = mapped_column(Integer)
    where_prec: Mapped[int] = mapped_column(Integer)
    where_name: Mapped[str | None] = mapped_column(String(255))
    adm_1: Mapped[str | None] = mapped_column(String(255))
    adm_2: Mapped[str | None] = mapped_column(String(255))
    # our governorate code (SY01..SY14) for adm_1, when it names one
    governorate: Mapped[str | None] = mapped_column(String(8), index=True)
    lat_e6: Mapped[int | None] = mapped_column(Integer)
    lon_e6: Mapped[int | None] = mapped_column(Integer)
    side_a: Mapped[str] = mapped_column(String(255))
    side_b: Mapped[str] = mapped_column(String(255))
    deaths_a: Mapped[int] = mapped_column(Integer)
    deaths_b: Mapped[int] = mapped_column(Integer)
    deaths_civilians: Mapped[int] = mapped_column(Integer)
    deaths_unknown: Mapped[int] = mapped_column(Integer)
    best: Mapped[int] = mapped_column(Integer)
    low: Mapped[int] = mapped_column(Integer)
    high: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the record's fields as canonical JSON (the ledger's batch digests)
    row_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
