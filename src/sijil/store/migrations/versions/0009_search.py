"""The search index: ``search_docs``, and its full-text part on each backend.

Revision ID: 0009
Revises: 0008

SQLite gets a contentless FTS5 table ``search_fts(words, keys)`` whose rowid is
the ``search_docs`` id, tokenized by ``unicode61`` over text sijil has already
folded (sijil.text.search), with prefix indexes of two and three characters for
prefix queries. PostgreSQL gets a ``tsvector`` column on ``search_docs`` and a
GIN index over it. sijil.store.models_search explains both.

A desk that already holds records when it reaches this revision has an empty
index: the migration marks it stale (desk setting ``search_index``), and the
desk fills it on the next search (sijil.desk.search_index.ensure_index).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from sijil.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = "kind IN ('report', 'incident', 'claim', 'source', 'place', 'actor')"
_INDEXED_TABLES = ("reports", "incidents", "claims", "sources", "places", "actors")


def upgrade() -> None:
    op.create_table(
        "search_docs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("governorate", sa.String(length=8), nullable=True),
        sa.Column("lat_c", sa.Integer(), nullable=True),
        sa.Column("lon_c", sa.Integer(), nullable=True),
        sa.CheckConstraint(_KINDS, name=op.f("ck_search_docs_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_docs")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_search_docs_kind_ref")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_search_docs_day"), "search_docs", ["day"])
    op.create_index(op.f("ix_search_docs_place_id"), "search_docs", ["place_id"])
    op.create_index(op.f("ix_search_docs_lat_c_lon_c"), "search_docs", ["lat_c", "lon_c"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_docs ADD COLUMN tsv tsvector NOT NULL DEFAULT ''")
        op.execute("CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "words, keys, content='', tokenize='unicode61 remove_diacritics 0', "
            "prefix='2 3')"
        )
    bind = op.get_bind()
    held = any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()  # noqa: S608
        for table in _INDEXED_TABLES
    )
    if held:
        settings = sa.table(
            "desk_settings",
            sa.column("name", sa.String()),
            sa.column("value", sa.String()),
            sa.column("updated_at", UTCDateTime()),
        )
        op.bulk_insert(
            settings, [{"name": "search_index", "value": "stale", "updated_at": datetime.now(UTC)}]
        )


def downgrade() -> None:
    op.execute("DELETE FROM desk_settings WHERE name = 'search_index'")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_docs")
