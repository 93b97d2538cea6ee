"""Claims and verdicts, sources (outlets, officials, monitors) and monitor records.

Revision ID: 0007
Revises: 0006

Written out in full like the earlier migrations; the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KILLED = ("killed_children", "killed_civilians", "killed_noncivilians", "killed_women")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_ar", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('outlet', 'official', 'monitor')", name=op.f("ck_sources_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_sources_created_by_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_sources_kind_name")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("imported_from", sa.String(length=32), nullable=True),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("external_part", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("claim_date", sa.Date(), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("governorate", sa.String(length=8), nullable=True),
        sa.Column("place_text", sa.String(length=255), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_text", sa.String(length=255), nullable=True),
        sa.Column("cause", sa.String(length=255), nullable=True),
        sa.Column("killed_civilians", sa.Integer(), nullable=True),
        sa.Column("killed_children", sa.Integer(), nullable=True),
        sa.Column("killed_women", sa.Integer(), nullable=True),
        sa.Column("killed_noncivilians", sa.Integer(), nullable=True),
        sa.Column("external_label", sa.String(length=32), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        *(sa.CheckConstraint(f"{c} >= 0", name=op.f(f"ck_claims_{c}")) for c in _KILLED),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_claims_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_claims_created_by_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_claims_place_id_places")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_claims_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint(
            "imported_from",
            "external_ref",
            "external_part",
            name=op.f("uq_claims_imported_from_external_ref_external_part"),
        ),
    )
    op.create_index(op.f("ix_claims_claim_date"), "claims", ["claim_date"])
    op.create_index(op.f("ix_claims_governorate"), "claims", ["governorate"])
    op.create_index(op.f("ix_claims_source_id"), "claims", ["source_id"])
    op.create_table(
        "claim_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_incidents_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["desk_users.id"], name=op.f("fk_claim_incidents_created_by_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_claim_incidents_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_incidents")),
        sa.UniqueConstraint(
            "claim_id", "incident_id", name=op.f("uq_claim_incidents_claim_id_incident_id")
        ),
    )
    op.create_index(op.f("ix_claim_incidents_claim_id"), "claim_incidents", ["claim_id"])
    op.create_index(op.f("ix_claim_incidents_incident_id"), "claim_incidents", ["incident_id"])
    op.create_table(
        "claim_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=False),
        sa.Column("summary_ar", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "rating IN ('accurate', 'misleading', 'false', 'unproven')",
            name=op.f("ck_claim_verdicts_rating"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["desk_users.id"], name=op.f("fk_claim_verdicts_author_id_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_verdicts_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_verdicts")),
    )
    op.create_index(op.f("ix_claim_verdicts_claim_id"), "claim_verdicts", ["claim_id"])
    op.create_table(
        "verdict_evidence",
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_verdict_evidence_report_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["verdict_id"],
            ["claim_verdicts.id"],
            name=op.f("fk_verdict_evidence_verdict_id_claim_verdicts"),
        ),
        sa.PrimaryKeyConstraint("verdict_id", "report_id", name=op.f("pk_verdict_evidence")),
    )
    op.create_table(
        "verdict_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("independent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'changes_requested')",
            name=op.f("ck_verdict_reviews_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["desk_users.id"],
            name=op.f("fk_verdict_reviews_reviewer_id_desk_users"),
        ),
        sa.ForeignKeyConstraint(
            ["verdict_id"],
            ["claim_verdicts.id"],
            name=op.f("fk_verdict_reviews_verdict_id_claim_verdicts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdict_reviews")),
        sa.UniqueConstraint("verdict_id", name=op.f("uq_verdict_reviews_verdict_id")),
    )
    op.create_table(
        "monitor_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.BigInteger(), nullable=False),
        sa.Column("violence_type", sa.Integer(), nullable=True),
        sa.Column("date_start", sa.Date(), nullable=False),
        sa.Column("date_end", sa.Date(), nullable=False),
        sa.Column("date_prec", sa.Integer(), nullable=False),
        sa.Column("where_prec", sa.Integer(), nullable=False),
        sa.Column("where_name", sa.String(length=255), nullable=True),
        sa.Column("adm_1", sa.String(length=255), nullable=True),
        sa.Column("adm_2", sa.String(length=255), nullable=True),
        sa.Column("governorate", sa.String(length=8), nullable=True),
        sa.Column("lat_e6", sa.Integer(), nullable=True),
        sa.Column("lon_e6", sa.Integer(), nullable=True),
        sa.Column("side_a", sa.String(length=255), nullable=False),
        sa.Column("side_b", sa.String(length=255), nullable=False),
        sa.Column("deaths_a", sa.Integer(), nullable=False),
        sa.Column("deaths_b", sa.Integer(), nullable=False),
        sa.Column("deaths_civilians", sa.Integer(), nullable=False),
        sa.Column("deaths_unknown", sa.Integer(), nullable=False),
        sa.Column("best", sa.Integer(), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("row_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(lat_e6 IS NULL) = (lon_e6 IS NULL)", name=op.f("ck_monitor_records_coordinates")
        ),
        sa.CheckConstraint("date_prec BETWEEN 1 AND 5", name=op.f("ck_monitor_records_date_prec")),
        sa.CheckConstraint(
            "where_prec BETWEEN 1 AND 7", name=op.f("ck_monitor_records_where_prec")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_monitor_records_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_records")),
        sa.UniqueConstraint(
            "source_id", "external_id", name=op.f("uq_monitor_records_source_id_external_id")
        ),
    )
    op.create_index(op.f("ix_monitor_records_date_start"), "monitor_records", ["date_start"])
    op.create_index(op.f("ix_monitor_records_governorate"), "monitor_records", ["governorate"])


def downgrade() -> None:
    op.drop_index(op.f("ix_monitor_records_governorate"), table_name="monitor_records")
    op.drop_index(op.f("ix_monitor_records_date_start"), table_name="monitor_records")
    op.drop_table("monitor_records")
    op.drop_table("verdict_reviews")
    op.drop_table("verdict_evidence")
    op.drop_index(op.f("ix_claim_verdicts_claim_id"), table_name="claim_verdicts")
    op.drop_table("claim_verdicts")
    op.drop_index(op.f("ix_claim_incidents_incident_id"), table_name="claim_incidents")
    op.drop_index(op.f("ix_claim_incidents_claim_id"), table_name="claim_incidents")
    op.drop_table("claim_incidents")
    op.drop_index(op.f("ix_claims_source_id"), table_name="claims")
    op.drop_index(op.f("ix_claims_governorate"), table_name="claims")
    op.drop_index(op.f("ix_claims_claim_date"), table_name="claims")
    op.drop_table("claims")
    op.drop_table("sources")
