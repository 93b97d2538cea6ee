"""Quarantine in the vault: size, channel and state of each quarantined input.

From here on a quarantined input is a vault blob (encrypted, under a keyed name)
addressed by its ``sha256``, and its row says how large it was, which channel
brought it and whether a retry released it. Rows of an existing desk keep their
``stored_path`` (a clear file under ``quarantine/``) and stay readable by
``sijil desk quarantine list`` and ``retry``; a retry moves such a file into the
vault. Their size and channel were never recorded and stay empty; every one of
them is still ``quarantined``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHANNELS = "channel IN ('usb', 'text', 'file', 'relay')"
_STATES = "state IN ('quarantined', 'released')"


def upgrade() -> None:
    # plain ADD COLUMN works on both backends; the default fills existing rows
    op.add_column("quarantine_items", sa.Column("size", sa.BigInteger(), nullable=True))
    op.add_column("quarantine_items", sa.Column("channel", sa.String(length=16), nullable=True))
    op.add_column(
        "quarantine_items",
        sa.Column("state", sa.String(length=16), nullable=False, server_default="quarantined"),
    )
    op.add_column(
        "quarantine_items",
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
    )
    # SQLite cannot alter a column or add a CHECK in place: batch mode rebuilds the table
    with op.batch_alter_table("quarantine_items") as batch:
        batch.alter_column("stored_path", existing_type=sa.String(length=255), nullable=True)
        batch.alter_column(
            "state",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            server_default=None,
        )
        batch.create_check_constraint(op.f("ck_quarantine_items_channel"), _CHANNELS)
        batch.create_check_constraint(op.f("ck_quarantine_items_state"), _STATES)
        batch.create_index(op.f("ix_quarantine_items_state"), ["state"])


def downgrade() -> None:
    # An older sijil needs a path; a vault-kept input has none it could read
    # (its audit then reports the file missing, which is the truth for it).
    op.execute("UPDATE quarantine_items SET stored_path = '' WHERE stored_path IS NULL")
    with op.batch_alter_table("quarantine_items") as batch:
        batch.drop_index(op.f("ix_quarantine_items_state"))
        batch.drop_constraint(op.f("ck_quarantine_items_state"), type_="check")
        batch.drop_constraint(op.f("ck_quarantine_items_channel"), type_="check")
        batch.alter_column("stored_path", existing_type=sa.String(length=255), nullable=False)
        batch.drop_column("released_at")
        batch.drop_column("state")
        batch.drop_column("channel")
        batch.drop_column("size")
