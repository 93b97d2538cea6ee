"""Evidence vault blobs and custody ledger.

Revision ID: 0002
Revises: 0001

Written out in full, like 0001, and every name wrapped in ``op.f``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rowid() -> sa.types.TypeEngine[int]:
    # INTEGER PRIMARY KEY is SQLite's rowid: lookups by id need no extra index
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "vault_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("parent_sha256", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "kind IN ('original', 'attachment', 'derived')", name=op.f("ck_vault_blobs_kind")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_vault_blobs")),
    )
    op.create_index(op.f("ix_vault_blobs_parent_sha256"), "vault_blobs", ["parent_sha256"])
    op.create_table(
        "ledger_entries",
        sa.Column("seq", _rowid(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        _timestamp("recorded_at"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_subject"), "ledger_entries", ["subject"])
    op.create_table(
        "ledger_nodes",
        sa.Column("id", _rowid(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_nodes")),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        _timestamp("issued_at"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_heads")),
    )
    op.create_index(op.f("ix_ledger_heads_tree_size"), "ledger_heads", ["tree_size"])
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_state")),
    )
    # the one row every append locks; it exists from the start so no two
    # writers can race to create it
    op.bulk_insert(state, [{"id": 1, "size": 0}])


def downgrade() -> None:
    op.drop_table("ledger_state")
    op.drop_index(op.f("ix_ledger_heads_tree_size"), table_name="ledger_heads")
    op.drop_table("ledger_heads")
    op.drop_table("ledger_nodes")
    op.drop_index(op.f("ix_ledger_entries_subject"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_vault_blobs_parent_sha256"), table_name="vault_blobs")
    op.drop_table("vault_blobs")
