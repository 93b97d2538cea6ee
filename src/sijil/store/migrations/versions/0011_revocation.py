"""Captured correspondents: revocations, retired keys, report flags (issue 17 items 4-5).

Revision ID: 0011
Revises: 0010

sijil.store.models_revocation explains the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "correspondent_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correspondent_id", sa.Integer(), nullable=False),
        sa.Column("since", _WHEN, nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.CheckConstraint(
            "cause IN ('revoked', 'duress')", name=op.f("ck_correspondent_revocations_cause")
        ),
        sa.ForeignKeyConstraint(
            ["correspondent_id"],
            ["correspondents.id"],
            name=op.f("fk_correspondent_revocations_correspondent_id_correspondents"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_correspondent_revocations_report_id_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correspondent_revocations")),
    )
    op.create_index(
        op.f("ix_correspondent_revocations_correspondent_id"),
        "correspondent_revocations",
        ["correspondent_id"],
    )
    op.create_table(
        "correspondent_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correspondent_id", sa.Integer(), nullable=False),
        sa.Column("sign_key", sa.String(length=64), nullable=False),
        sa.Column("reply_key", sa.String(length=64), nullable=True),
        sa.Column("retired_at", _WHEN, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["correspondent_id"],
            ["correspondents.id"],
            name=op.f("fk_correspondent_keys_correspondent_id_correspondents"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_correspondent_keys_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correspondent_keys")),
        sa.UniqueConstraint("sign_key", name=op.f("uq_correspondent_keys_sign_key")),
    )
    op.create_index(
        op.f("ix_correspondent_keys_correspondent_id"), "correspondent_keys", ["correspondent_id"]
    )
    op.create_table(
        "report_flags",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("revocation_id", sa.Integer(), nullable=False),
        sa.Column("cleared_by", sa.Integer(), nullable=True),
        sa.Column("cleared_second_by", sa.Integer(), nullable=True),
        sa.Column("cleared_at", _WHEN, nullable=True),
        sa.CheckConstraint(
            "kind IN ('possibly coerced', 'sent under duress')", name=op.f("ck_report_flags_kind")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_flags_report_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["revocation_id"],
            ["correspondent_revocations.id"],
            name=op.f("fk_report_flags_revocation_id_correspondent_revocations"),
        ),
        sa.ForeignKeyConstraint(
            ["cleared_by"], ["desk_users.id"], name=op.f("fk_report_flags_cleared_by_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["cleared_second_by"],
            ["desk_users.id"],
            name=op.f("fk_report_flags_cleared_second_by_desk_users"),
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_flags")),
    )


def downgrade() -> None:
    op.drop_table("report_flags")
    op.drop_index(op.f("ix_correspondent_keys_correspondent_id"), table_name="correspondent_keys")
    op.drop_table("correspondent_keys")
    op.drop_index(
        op.f("ix_correspondent_revocations_correspondent_id"),
        table_name="correspondent_revocations",
    )
    op.drop_table("correspondent_revocations")
