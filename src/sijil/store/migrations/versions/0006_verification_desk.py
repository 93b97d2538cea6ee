"""The verification desk: users and roles, places and actors, incidents, evidence,
attribution, append-only assessments with casualty ranges, and their reviews.

Revision ID: 0006
Revises: 0005

Written out in full like the earlier migrations. ``incidents`` and
``incident_assessments`` point at each other (an assessment belongs to an
incident; an incident names its current assessment). PostgreSQL needs the
second table to exist before the foreign key to it, so there the key is added
afterwards; SQLite cannot add a constraint to an existing table but does not
check the target of a REFERENCES clause when a table is created, so there it is
declared inline. Both end with the same schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT_FK = "fk_incidents_current_assessment_id_incident_assessments"


def _current_assessment_fk(*, inline: bool) -> list[sa.ForeignKeyConstraint]:
    if not inline:
        return []
    return [
        sa.ForeignKeyConstraint(
            ["current_assessment_id"], ["incident_assessments.id"], name=op.f(_CURRENT_FK)
        )
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "desk_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_desk_counters")),
    )
    op.create_table(
        "desk_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_desk_settings")),
    )
    op.create_table(
        "desk_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_desk_users_name")),
    )
    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("name_ar", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=False),
        sa.Column("admin_en", sa.String(length=255), nullable=True),
        sa.Column("admin_ar", sa.String(length=255), nullable=True),
        sa.Column("governorate", sa.String(length=8), nullable=True),
        sa.Column("lat_e6", sa.Integer(), nullable=True),
        sa.Column("lon_e6", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('governorate', 'district', 'subdistrict', 'place')",
            name=op.f("ck_places_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("source", "source_ref", name=op.f("uq_places_source_source_ref")),
    )
    op.create_index(op.f("ix_places_code"), "places", ["code"])
    op.create_index(op.f("ix_places_governorate"), "places", ["governorate"])
    op.create_table(
        "actors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("name_ar", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_actors_created_by_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actors")),
        sa.UniqueConstraint("name_en", name=op.f("uq_actors_name_en")),
    )
    op.create_table(
        "desk_user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'editor', 'analyst', 'reviewer', 'viewer')",
            name=op.f("ck_desk_user_roles_role"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["desk_users.id"], name=op.f("fk_desk_user_roles_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_desk_user_roles")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("title_ar", sa.String(length=500), nullable=False),
        sa.Column("title_en", sa.String(length=500), nullable=False),
        sa.Column("incident_type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("date_prec", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("lat_e6", sa.Integer(), nullable=True),
        sa.Column("lon_e6", sa.Integer(), nullable=True),
        sa.Column("where_prec", sa.Integer(), nullable=False),
        sa.Column("governorate", sa.String(length=8), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current_assessment_id", sa.Integer(), nullable=True),
        sa.Column("grading", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "incident_type IN ("
            "'airstrike', 'shelling', 'explosion', 'ground_fighting', 'execution', "
            "'killing', 'arrest', 'abduction', 'torture', "
            "'closure', 'displacement', 'siege', 'other')",
            name=op.f("ck_incidents_incident_type"),
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'in_review', 'published', 'withdrawn')",
            name=op.f("ck_incidents_state"),
        ),
        sa.CheckConstraint(
            "(lat_e6 IS NULL) = (lon_e6 IS NULL)", name=op.f("ck_incidents_coordinates")
        ),
        sa.CheckConstraint("date_prec BETWEEN 1 AND 5", name=op.f("ck_incidents_date_prec")),
        sa.CheckConstraint(
            "end_at IS NULL OR end_at >= start_at", name=op.f("ck_incidents_end_after_start")
        ),
        sa.CheckConstraint(
            "lat_e6 BETWEEN -90000000 AND 90000000 AND lon_e6 BETWEEN -180000000 AND 180000000",
            name=op.f("ck_incidents_coordinate_range"),
        ),
        sa.CheckConstraint(
            "place_id IS NOT NULL OR lat_e6 IS NOT NULL", name=op.f("ck_incidents_located")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_incidents_version")),
        sa.CheckConstraint("where_prec BETWEEN 1 AND 7", name=op.f("ck_incidents_where_prec")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_incidents_created_by_desk_users")
        ),
        *_current_assessment_fk(inline=sqlite),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_incidents_place_id_places")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["desk_users.id"], name=op.f("fk_incidents_updated_by_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("code", name=op.f("uq_incidents_code")),
    )
    op.create_index(op.f("ix_incidents_governorate"), "incidents", ["governorate"])
    op.create_index(op.f("ix_incidents_grading"), "incidents", ["grading"])
    op.create_index(op.f("ix_incidents_place_id"), "incidents", ["place_id"])
    op.create_index(op.f("ix_incidents_start_at"), "incidents", ["start_at"])
    op.create_index(op.f("ix_incidents_state"), "incidents", ["state"])
    op.create_table(
        "place_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("skeleton", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_place_names_place_id_places")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_names")),
        sa.UniqueConstraint("place_id", "key", name=op.f("uq_place_names_place_id_key")),
    )
    op.create_index(op.f("ix_place_names_key"), "place_names", ["key"])
    op.create_index(op.f("ix_place_names_place_id"), "place_names", ["place_id"])
    op.create_index(op.f("ix_place_names_skeleton"), "place_names", ["skeleton"])
    op.create_table(
        "actor_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_actor_names_actor_id_actors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actor_names")),
        sa.UniqueConstraint("actor_id", "key", name=op.f("uq_actor_names_actor_id_key")),
    )
    op.create_index(op.f("ix_actor_names_actor_id"), "actor_names", ["actor_id"])
    op.create_index(op.f("ix_actor_names_key"), "actor_names", ["key"])
    op.create_table(
        "incident_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("grading", sa.String(length=16), nullable=False),
        sa.Column("harm", sa.String(length=8), nullable=False),
        sa.Column("summary_ar", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("incident_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "grading IN ('confirmed', 'fair', 'weak', 'contested', 'discounted')",
            name=op.f("ck_incident_assessments_grading"),
        ),
        sa.CheckConstraint(
            "harm IN ('yes', 'no', 'unknown')", name=op.f("ck_incident_assessments_harm")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["desk_users.id"],
            name=op.f("fk_incident_assessments_author_id_desk_users"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_assessments_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_assessments")),
    )
    op.create_index(
        op.f("ix_incident_assessments_incident_id"), "incident_assessments", ["incident_id"]
    )
    if not sqlite:
        op.create_foreign_key(
            op.f(_CURRENT_FK),
            "incidents",
            "incident_assessments",
            ["current_assessment_id"],
            ["id"],
        )
    op.create_table(
        "incident_attributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("stance", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "stance IN ('known', 'suspected', 'claiming', 'denying')",
            name=op.f("ck_incident_attributions_stance"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_incident_attributions_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["desk_users.id"],
            name=op.f("fk_incident_attributions_created_by_desk_users"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_attributions_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_attributions")),
    )
    op.create_index(
        op.f("ix_incident_attributions_actor_id"), "incident_attributions", ["actor_id"]
    )
    op.create_index(
        op.f("ix_incident_attributions_incident_id"), "incident_attributions", ["incident_id"]
    )
    op.create_table(
        "incident_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_revisions_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["saved_by"], ["desk_users.id"], name=op.f("fk_incident_revisions_saved_by_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_revisions")),
        sa.UniqueConstraint(
            "incident_id", "version", name=op.f("uq_incident_revisions_incident_id_version")
        ),
    )
    op.create_table(
        "report_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('duplicate', 'near_duplicate', 'same_event', 'series')",
            name=op.f("ck_report_links_kind"),
        ),
        sa.CheckConstraint("origin IN ('human', 'machine')", name=op.f("ck_report_links_origin")),
        sa.CheckConstraint(
            "state IN ('suggested', 'confirmed', 'rejected')", name=op.f("ck_report_links_state")
        ),
        sa.CheckConstraint("report_id < other_id", name=op.f("ck_report_links_ordered")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_report_links_created_by_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["desk_users.id"], name=op.f("fk_report_links_decided_by_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["reports.id"], name=op.f("fk_report_links_other_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_links_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_links")),
        sa.UniqueConstraint(
            "report_id", "other_id", "kind", name=op.f("uq_report_links_report_id_other_id_kind")
        ),
    )
    op.create_index(op.f("ix_report_links_other_id"), "report_links", ["other_id"])
    op.create_index(op.f("ix_report_links_report_id"), "report_links", ["report_id"])
    op.create_table(
        "assessment_casualties",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("person_group", sa.String(length=8), nullable=False),
        sa.Column("min_count", sa.Integer(), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('killed', 'injured', 'missing')",
            name=op.f("ck_assessment_casualties_outcome"),
        ),
        sa.CheckConstraint(
            "person_group IN ('all', 'child', 'woman', 'man')",
            name=op.f("ck_assessment_casualties_person_group"),
        ),
        sa.CheckConstraint(
            "status IN ('civilian', 'combatant', 'unknown')",
            name=op.f("ck_assessment_casualties_status"),
        ),
        sa.CheckConstraint(
            "min_count >= 0 AND min_count <= max_count", name=op.f("ck_assessment_casualties_range")
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["incident_assessments.id"],
            name=op.f("fk_assessment_casualties_assessment_id_incident_assessments"),
        ),
        sa.PrimaryKeyConstraint(
            "assessment_id",
            "outcome",
            "status",
            "person_group",
            name=op.f("pk_assessment_casualties"),
        ),
    )
    op.create_table(
        "assessment_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("independent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'changes_requested')",
            name=op.f("ck_assessment_reviews_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["incident_assessments.id"],
            name=op.f("fk_assessment_reviews_assessment_id_incident_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["desk_users.id"],
            name=op.f("fk_assessment_reviews_reviewer_id_desk_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_reviews")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_assessment_reviews_assessment_id")),
    )
    op.create_table(
        "incident_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "confidence IN ('maybe', 'likely', 'certain')",
            name=op.f("ck_incident_evidence_confidence"),
        ),
        sa.CheckConstraint(
            "role IN ('primary', 'corroborating', 'contradicting', 'context')",
            name=op.f("ck_incident_evidence_role"),
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_incident_evidence_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["desk_users.id"],
            name=op.f("fk_incident_evidence_created_by_desk_users"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_evidence_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_incident_evidence_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_evidence")),
    )
    op.create_index(op.f("ix_incident_evidence_incident_id"), "incident_evidence", ["incident_id"])
    op.create_index(op.f("ix_incident_evidence_report_id"), "incident_evidence", ["report_id"])


def downgrade() -> None:
    # the cycle first: no incident may point at an assessment about to go
    op.execute("UPDATE incidents SET current_assessment_id = NULL")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(_CURRENT_FK), "incidents", type_="foreignkey")
    op.drop_index(op.f("ix_incident_evidence_report_id"), table_name="incident_evidence")
    op.drop_index(op.f("ix_incident_evidence_incident_id"), table_name="incident_evidence")
    op.drop_table("incident_evidence")
    op.drop_table("assessment_reviews")
    op.drop_table("assessment_casualties")
    op.drop_index(op.f("ix_report_links_report_id"), table_name="report_links")
    op.drop_index(op.f("ix_report_links_other_id"), table_name="report_links")
    op.drop_table("report_links")
    op.drop_table("incident_revisions")
    op.drop_index(op.f("ix_incident_attributions_incident_id"), table_name="incident_attributions")
    op.drop_index(op.f("ix_incident_attributions_actor_id"), table_name="incident_attributions")
    op.drop_table("incident_attributions")
    op.drop_index(op.f("ix_incident_assessments_incident_id"), table_name="incident_assessments")
    op.drop_table("incident_assessments")
    op.drop_index(op.f("ix_actor_names_key"), table_name="actor_names")
    op.drop_index(op.f("ix_actor_names_actor_id"), table_name="actor_names")
    op.drop_table("actor_names")
    op.drop_index(op.f("ix_place_names_skeleton"), table_name="place_names")
    op.drop_index(op.f("ix_place_names_place_id"), table_name="place_names")
    op.drop_index(op.f("ix_place_names_key"), table_name="place_names")
    op.drop_table("place_names")
    op.drop_index(op.f("ix_incidents_state"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_start_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_place_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_grading"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_governorate"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("desk_user_roles")
    op.drop_table("actors")
    op.drop_index(op.f("ix_places_governorate"), table_name="places")
    op.drop_index(op.f("ix_places_code"), table_name="places")
    op.drop_table("places")
    op.drop_table("desk_users")
    op.drop_table("desk_settings")
    op.drop_table("desk_counters")
