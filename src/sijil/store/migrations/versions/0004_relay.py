"""Desk-side relay state: replies left at a relay for correspondents.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relay_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correspondent_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sealed_sha256", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["correspondent_id"],
            ["correspondents.id"],
            name=op.f("fk_relay_replies_correspondent_id_correspondents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_replies")),
        sa.UniqueConstraint("sealed_sha256", name=op.f("uq_relay_replies_sealed_sha256")),
    )
    op.create_index(
        op.f("ix_relay_replies_correspondent_id"), "relay_replies", ["correspondent_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_replies_correspondent_id"), table_name="relay_replies")
    op.drop_table("relay_replies")
