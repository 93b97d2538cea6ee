"""Salted commitments in the custody ledger: the salts, kept beside it (issue 14, item 9).

Revision ID: 0017
Revises: 0016

``ledger_salts(seq, name, salt)`` holds the secret 32-byte salt of each value an
entry commits to as ``SHA-256(salt || value)`` (docs/ledger.md). Entries written
before have no salts and keep their plain digests; no row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_salts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", "name", name=op.f("pk_ledger_salts")),
    )


def downgrade() -> None:
    op.drop_table("ledger_salts")
