"""The public record: publications, the log's checkpoints, published derivatives (issue 13).

Revision ID: 0012
Revises: 0011

sijil.store.models_publish explains the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "publication_checkpoints",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_publication_checkpoints")),
    )
    op.create_table(
        "publications",
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("minisig", sa.Text(), nullable=False),
        sa.Column("sshsig", sa.Text(), nullable=False),
        sa.Column("independently_reviewed", sa.Boolean(), nullable=False),
        sa.Column("published_at", _WHEN, nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "action IN ('post', 'correction', 'retraction')", name=op.f("ck_publications_action")
        ),
        sa.CheckConstraint("kind IN ('incident', 'verdict')", name=op.f("ck_publications_kind")),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["desk_users.id"],
            name=op.f("fk_publications_published_by_desk_users"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["publications.log_index"],
            name=op.f("fk_publications_supersedes_publications"),
        ),
        sa.PrimaryKeyConstraint("log_index", name=op.f("pk_publications")),
        sa.UniqueConstraint(
            "kind", "subject", "version", name=op.f("uq_publications_kind_subject_version")
        ),
    )
    op.create_index(op.f("ix_publications_subject"), "publications", ["subject"])
    op.create_table(
        "publication_media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["log_index"],
            ["publications.log_index"],
            name=op.f("fk_publication_media_log_index_publications"),
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_publication_media")),
    )
    op.create_index(op.f("ix_publication_media_log_index"), "publication_media", ["log_index"])


def downgrade() -> None:
    op.drop_index(op.f("ix_publication_media_log_index"), table_name="publication_media")
    op.drop_table("publication_media")
    op.drop_index(op.f("ix_publications_subject"), table_name="publications")
    op.drop_table("publications")
    op.drop_table("publication_checkpoints")
