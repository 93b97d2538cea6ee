"""The safety gate: risk tiers, attestations, overrides, the deny list (issue 13).

Revision ID: 0013
Revises: 0012

sijil.store.models_publish_gate explains the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def _by(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["desk_users.id"], name=op.f(f"fk_{table}_{column}_desk_users")
    )


def upgrade() -> None:
    op.create_table(
        "incident_risk",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("jitter_ppm", sa.Integer(), nullable=False),
        sa.Column("set_at", _WHEN, nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "tier IN ('low', 'elevated', 'high', 'extreme')", name=op.f("ck_incident_risk_tier")
        ),
        sa.CheckConstraint(
            "jitter_ppm BETWEEN 0 AND 999999", name=op.f("ck_incident_risk_jitter_ppm")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_risk_incident_id_incidents")
        ),
        _by("set_by", "incident_risk"),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_risk")),
    )
    op.create_table(
        "publish_attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("checks", sa.String(length=64), nullable=False),
        sa.Column("attested_at", _WHEN, nullable=False),
        sa.Column("attested_by", sa.Integer(), nullable=False),
        _by("attested_by", "publish_attestations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_attestations")),
    )
    op.create_index(
        "ix_publish_attestations_kind_subject", "publish_attestations", ["kind", "subject"]
    )
    op.create_table(
        "publish_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("check_name", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approved_at", _WHEN, nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "check_name IN ('review', 'languages', 'delay', 'leak', 'media', 'attestation',"
            " 'flagged')",
            name=op.f("ck_publish_overrides_check_name"),
        ),
        _by("approved_by", "publish_overrides"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_overrides")),
        sa.UniqueConstraint(
            "kind",
            "subject",
            "content_sha256",
            "check_name",
            "approved_by",
            name=op.f("uq_publish_overrides_approval"),
        ),
    )
    op.create_table(
        "publish_deny_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=255), nullable=False),
        sa.Column("term_class", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("added_at", _WHEN, nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "term_class IN ('codename', 'name', 'alias', 'phone', 'device', 'handle', 'other')",
            name=op.f("ck_publish_deny_terms_term_class"),
        ),
        _by("added_by", "publish_deny_terms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_deny_terms")),
        sa.UniqueConstraint("key", name=op.f("uq_publish_deny_terms_key")),
    )


def downgrade() -> None:
    op.drop_table("publish_deny_terms")
    op.drop_table("publish_overrides")
    op.drop_index("ix_publish_attestations_kind_subject", table_name="publish_attestations")
    op.drop_table("publish_attestations")
    op.drop_table("incident_risk")
