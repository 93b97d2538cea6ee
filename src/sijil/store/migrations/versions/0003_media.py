"""Media fingerprints and near-duplicate matches.

Revision ID: 0003
Revises: 0002

Written out in full like 0001, names wrapped in ``op.f``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_prints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_inner", sa.String(length=64), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("frames", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('image', 'video', 'other', 'error')", name=op.f("ck_media_prints_kind")
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_media_prints_attachment_id_attachments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_prints")),
        sa.UniqueConstraint("attachment_id", name=op.f("uq_media_prints_attachment_id")),
    )
    op.create_table(
        "media_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("transform", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("other_score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_media_matches_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["attachments.id"], name=op.f("fk_media_matches_other_id_attachments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_matches")),
        sa.UniqueConstraint(
            "attachment_id", "other_id", name=op.f("uq_media_matches_attachment_id_other_id")
        ),
    )
    op.create_index(op.f("ix_media_matches_attachment_id"), "media_matches", ["attachment_id"])
    op.create_index(op.f("ix_media_matches_other_id"), "media_matches", ["other_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_media_matches_other_id"), table_name="media_matches")
    op.drop_index(op.f("ix_media_matches_attachment_id"), table_name="media_matches")
    op.drop_table("media_matches")
    op.drop_table("media_prints")
