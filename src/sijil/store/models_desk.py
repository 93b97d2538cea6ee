"""The verification desk: users, places, actors, incidents, evidence, assessments.

Coordinates are stored as integer microdegrees (``lat_e6``: 35.953074 degrees is
35953074), exact on both backends and fit for canonical JSON, which has no floats.
Assessments, their casualty counts and reviews are append-only: a new view is a
new row. An incident's ``current_assessment_id`` and ``grading`` repeat what the
latest approved assessment says, so a list can filter on them with an index.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sijil.store.models import Base, Report, utcnow

__all__ = [
    "ActorName",
    "Assessment",
    "AssessmentReview",
    "Attribution",
    "CasualtyRow",
    "Confidence",
    "DeskActor",
    "DeskCounter",
    "DeskSetting",
    "DeskUser",
    "DeskUserRole",
    "EvidenceLink",
    "EvidenceRole",
    "Grading",
    "Harm",
    "Incident",
    "IncidentRevision",
    "IncidentState",
    "IncidentType",
    "LinkOrigin",
    "LinkState",
    "Place",
    "PlaceKind",
    "PlaceName",
    "ReportLink",
    "ReportLinkKind",
    "ReviewDecision",
    "Role",
    "Stance",
]


class Role(StrEnum):
    """What a desk user may do; a user may hold several."""

    ADMIN = "admin"  # adds users, changes desk settings
    EDITOR = "editor"  # creates and edits incidents, links evidence, proposes assessments
    ANALYST = "analyst"  # the same desk work as an editor
    REVIEWER = "reviewer"  # approves or sends back other people's assessments
    VIEWER = "viewer"  # reads


class PlaceKind(StrEnum):
    GOVERNORATE = "governorate"
    DISTRICT = "district"
    SUBDISTRICT = "subdistrict"
    PLACE = "place"  # a town, village or neighbourhood


class IncidentType(StrEnum):
    AIRSTRIKE = "airstrike"
    SHELLING = "shelling"
    EXPLOSION = "explosion"  # car bomb, IED, mine
    GROUND_FIGHTING = "ground_fighting"
    EXECUTION = "execution"
    KILLING = "killing"
    ARREST = "arrest"
    ABDUCTION = "abduction"
    TORTURE = "torture"
    CLOSURE = "closure"  # a market, school, road or crossing closed
    DISPLACEMENT = "displacement"
    SIEGE = "siege"
    OTHER = "other"


class IncidentState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class EvidenceRole(StrEnum):
    PRIMARY = "primary"
    CORROBORATING = "corroborating"
    CONTRADICTING = "contradicting"
    CONTEXT = "context"


class Confidence(StrEnum):
    MAYBE = "maybe"
    LIKELY = "likely"
    CERTAIN = "certain"


class ReportLinkKind(StrEnum):
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    SAME_EVENT = "same_event"
    SERIES = "series"


class LinkOrigin(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


class LinkState(StrEnum):
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Stance(StrEnum):
    """How an actor stands to an incident: the desk's view, or the actor's own word."""

    KNOWN = "known"
    SUSPECTED = "suspected"
    CLAIMING = "claiming"
    DENYING = "denying"


class Grading(StrEnum):
    """Airwars' grading of an alleged civilian-harm incident (docs/desk.md)."""

    CONFIRMED = "confirmed"
    FAIR = "fair"
    WEAK = "weak"
    CONTESTED = "contested"
    DISCOUNTED = "discounted"


class Harm(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class DeskSetting(Base):
    """A desk-wide setting, e.g. ``solo`` for a desk of one."""

    __tablename__ = "desk_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskUser(Base):
    """A person working at the desk (not a correspondent: those are sources)."""

    __tablename__ = "desk_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[DeskUserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="DeskUserRole.role"
    )


class DeskUserRole(Base):
    __tablename__ = "desk_user_roles"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)

    user: Mapped[DeskUser] = relationship(back_populates="roles")


class Place(Base):
    """A gazetteer entry: a governorate (the project's own table) or an imported place."""

    __tablename__ = "places"
    __table_args__ = (
        UniqueConstraint("source", "source_ref"),
        CheckConstraint(_one_of("kind", PlaceKind), name="kind"),
        # the gazetteer place nearest to coordinates (sijil.desk.suggest)
        Index("ix_places_lat_e6_lon_e6", "lat_e6", "lon_e6"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_en: Mapped[str] = mapped_column(String(255))
    name_ar: Mapped[str] = mapped_column(String(255))
    # OCHA-style place code (C5710, SY11); not unique in every gazetteer
    code: Mapped[str | None] = mapped_column(String(32), index=True)
    # where the entry came from ("sijil" for the governorates) and its id there
    source: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(64))
    # the administrative units it lies in, as the gazetteer writes them
    admin_en: Mapped[str | None] = mapped_column(String(255))
    admin_ar: Mapped[str | None] = mapped_column(String(255))
    # code of its governorate (SY01..SY14), when known
    governorate: Mapped[str | None] = mapped_column(String(8), index=True)
    lat_e6: Mapped[int | None] = mapped_column(Integer)
    lon_e6: Mapped[int | None] = mapped_column(Integer)

    names: Mapped[list[PlaceName]] = relationship(
        back_populates="place", cascade="all, delete-orphan"
    )


class PlaceName(Base):
    """One way of writing a place's name, with its match keys (sijil.text)."""

    __tablename__ = "place_names"
    __table_args__ = (UniqueConstraint("place_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), index=True)
    skeleton: Mapped[str] = mapped_column(String(255), index=True)

    place: Mapped[Place] = relationship(back_populates="names")


class DeskActor(Base):
    """A belligerent or armed group that incidents are attributed to."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_en: Mapped[str] = mapped_column(String(255), unique=True)
    name_ar: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))

    names: Mapped[list[ActorName]] = relationship(
        back_populates="actor", cascade="all, delete-orphan"
    )


class ActorName(Base):
    """An actor's English or Arabic name or an alias, with its match key."""

    __tablename__ = "actor_names"
    __table_args__ = (UniqueConstraint("actor_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), index=True)

    actor: Mapped[DeskActor] = relationship(back_populates="names")


class DeskCounter(Base):
    """A named sequence (``incident:2026``), advanced atomically by an upsert."""

    __tablename__ = "desk_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    """One event in time and place, known to the public by its code."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_one_of("incident_type", IncidentType), name="incident_type"),
        CheckConstraint(_one_of("state", IncidentState), name="state"),
        CheckConstraint("date_prec BETWEEN 1 AND 5", name="date_prec"),
        CheckConstraint("where_prec BETWEEN 1 AND 7", name="where_prec"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("end_at IS NULL OR end_at >= start_at", name="end_after_start"),
        CheckConstraint("place_id IS NOT NULL OR lat_e6 IS NOT NULL", name="located"),
        CheckConstraint("(lat_e6 IS NULL) = (lon_e6 IS NULL)", name="coordinates"),
        CheckConstraint(
            "lat_e6 BETWEEN -90000000 AND 90000000 AND lon_e6 BETWEEN -180000000 AND 180000000",
            name="coordinate_range",
        ),
        # incident list by governorate or place, grading and dates, read in index order
        Index("ix_incidents_governorate_grading_start_at", "governorate", "grading", "start_at"),
        Index("ix_incidents_place_id_start_at", "place_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title_ar: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    incident_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime | None]
    # UCDP GED date_prec: 1 exact day .. 5 only the year (docs/desk.md)
    date_prec: Mapped[int] = mapped_column(Integer)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"), index=True)
    lat_e6: Mapped[int | None] = mapped_column(Integer)
    lon_e6: Mapped[int | None] = mapped_column(Integer)
    # UCDP GED where_prec: 1 exact place .. 6 only the country, 7 international waters
    where_prec: Mapped[int] = mapped_column(Integer)
    governorate: Mapped[str | None] = mapped_column(String(8), index=True)
    # optimistic lock: every save names the version it read, and bumps it
    version: Mapped[int] = mapped_column(Integer)
    current_assessment_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_assessments.id", use_alter=True)
    )
    grading: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class IncidentRevision(Base):
    """The incident's fields as one save left them (canonical JSON), one row per version."""

    __tablename__ = "incident_revisions"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class EvidenceLink(Base):
    """A report (or one of its files) offered as evidence for or against an incident."""

    __tablename__ = "incident_evidence"
    __table_args__ = (
        CheckConstraint(_one_of("role", EvidenceRole), name="role"),
        CheckConstraint(_one_of("confidence", Confidence), name="confidence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    role: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class ReportLink(Base):
    """Two reports related: duplicates, the same event, a series (report_id < other_id)."""

    __tablename__ = "report_links"
    __table_args__ = (
        UniqueConstraint("report_id", "other_id", "kind"),
        CheckConstraint("report_id < other_id", name="ordered"),
        CheckConstraint(_one_of("kind", ReportLinkKind), name="kind"),
        CheckConstraint(_one_of("origin", LinkOrigin), name="origin"),
        CheckConstraint(_one_of("state", LinkState), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # null for a machine's suggestion
    created_by: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))


class Attribution(Base):
    """An actor's relation to an incident, with the basis for saying so."""

    __tablename__ = "incident_attributions"
    __table_args__ = (CheckConstraint(_one_of("stance", Stance), name="stance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    stance: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class Assessment(Base):
    """One proposed view of an incident: grading, harm, casualties, summaries. Never edited."""

    __tablename__ = "incident_assessments"
    __table_args__ = (
        CheckConstraint(_one_of("grading", Grading), name="grading"),
        CheckConstraint(_one_of("harm", Harm), name="harm"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    grading: Mapped[str] = mapped_column(String(16))
    harm: Mapped[str] = mapped_column(String(8))
    summary_ar: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    # the incident version the author was looking at
    incident_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))

    casualties: Mapped[list[CasualtyRow]] = relationship(
        cascade="all, delete-orphan",
        order_by="(CasualtyRow.outcome, CasualtyRow.status, CasualtyRow.person_group)",
    )


class CasualtyRow(Base):
    """A min-max count of people by outcome, status and group (sijil.desk.casualties)."""

    __tablename__ = "assessment_casualties"
    __table_args__ = (
        CheckConstraint("outcome IN ('killed', 'injured', 'missing')", name="outcome"),
        CheckConstraint("status IN ('civilian', 'combatant', 'unknown')", name="status"),
        CheckConstraint("person_group IN ('all', 'child', 'woman', 'man')", name="person_group"),
        CheckConstraint("min_count >= 0 AND min_count <= max_count", name="range"),
    )

    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("incident_assessments.id"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_group: Mapped[str] = mapped_column(String(8), primary_key=True)
    min_count: Mapped[int] = mapped_column(Integer)
    max_count: Mapped[int] = mapped_column(Integer)


class AssessmentReview(Base):
    """The one decision on an assessment: approved, or sent back with a comment.

    ``independent`` is False when the author confirmed their own assessment in a
    solo desk: "not independently reviewed" travels with the assessment.
    """

    __tablename__ = "assessment_reviews"
    __table_args__ = (CheckConstraint(_one_of("decision", ReviewDecision), name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("incident_assessments.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
    decision: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text)
    independent: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The desk's searches on intake's table (sijil.desk.nearby): the reports written in
# a window of days, their coarse coordinates read from the index without visiting the rows.
Index(
    "ix_reports_created_at_latitude_longitude",
    Report.created_at,
    Report.coarse_latitude,
    Report.coarse_longitude,
)
