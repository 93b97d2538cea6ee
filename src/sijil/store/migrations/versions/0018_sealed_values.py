"""Sealed values (issue 14, item 1): exact places, manifests, reply texts, fingerprints.

Revision ID: 0018
Revises: 0017

Adds a ``*_sealed`` column beside each value the desk now seals itself
(sijil.store.sealed): ``reports.latitude_sealed``, ``longitude_sealed``,
``manifest_sealed``; ``relay_replies.text_sealed``; ``media_prints.pdq_sealed``,
``pdq_inner_sealed``, ``frames_sealed``; ``ledger_salts.salt_sealed``. No row
changes here: sealing needs the desk's key, which a migration does not have. The
first open with the key seals every value still in the clear and empties its old column, in batches
(sijil.store.seal_existing); ``reports.latitude`` and ``longitude`` then keep the
position rounded to about a kilometre.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "reports": ("latitude_sealed", "longitude_sealed", "manifest_sealed"),
    "relay_replies": ("text_sealed",),
    "media_prints": ("pdq_sealed", "pdq_inner_sealed", "frames_sealed"),
    "ledger_salts": ("salt_sealed",),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    conn = op.get_bind()
    for table, columns in COLUMNS.items():
        for column in columns:
            held = conn.execute(
                sa.text(f"SELECT 1 FROM {table} WHERE {column} IS NOT NULL LIMIT 1")  # noqa: S608
            ).first()
            if held is not None:
                # their clear columns were emptied when they were sealed: dropping loses them
                raise RuntimeError(
                    f"{table}.{column} holds sealed values: this desk cannot go back "
                    "to a schema before sealed values"
                )
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
