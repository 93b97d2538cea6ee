"""Assignments: a report or an incident given to one desk user (issue 12).

Revision ID: 0014
Revises: 0013

sijil.store.models_assign explains the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('report', 'incident')", name=op.f("ck_assignments_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["desk_users.id"], name=op.f("fk_assignments_user_id_desk_users")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["desk_users.id"], name=op.f("fk_assignments_assigned_by_desk_users")
        ),
        sa.PrimaryKeyConstraint("kind", "object_id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_user_id"), "assignments", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_assignments_user_id"), table_name="assignments")
    op.drop_table("assignments")
