"""Publication key rotation: a post of kind 'key' announces the new publication key (issue 17).

Revision ID: 0016
Revises: 0015

Only the CHECK constraint on ``publications.kind`` widens; no row changes. On
PostgreSQL the constraint is replaced. On SQLite, whose CHECK constraints cannot be
altered, the table's stored definition is edited in place as the SQLite manual
describes for changes that leave every stored row valid ("ALTER TABLE", section 7):
rebuilding the table instead would trip the foreign keys of publication_media and
of the table itself while ``foreign_keys`` is on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "kind IN ('incident', 'verdict')"
_NEW = "kind IN ('incident', 'verdict', 'key')"


def _sqlite_replace(before: str, after: str) -> None:
    bind = op.get_bind()
    sql: str = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'publications'")
    ).scalar_one()
    if before not in sql:
        raise RuntimeError("the publications table does not have the expected kind constraint")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.execute(
            sa.text(
                "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'publications'"
            ),
            {"sql": sql.replace(before, after)},
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1:d}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(_OLD, _NEW)
        return
    op.drop_constraint(op.f("ck_publications_kind"), "publications", type_="check")
    op.create_check_constraint(op.f("ck_publications_kind"), "publications", _NEW)


def downgrade() -> None:
    # a desk that rotated its publication key keeps those posts: an older sijil refuses
    # to go back over them rather than lose a link of the log
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(_NEW, _OLD)
        return
    op.drop_constraint(op.f("ck_publications_kind"), "publications", type_="check")
    op.create_check_constraint(op.f("ck_publications_kind"), "publications", _OLD)
