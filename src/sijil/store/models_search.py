"""The search index: one row per searchable record, and its full-text part.

``search_docs`` holds what a search filters on (kind, date, place, a coarse
position) and nothing of the text. The words and keys of each record
(sijil.text.search) live only in the full-text part, which each backend keeps
its own way (migration 0009):

- SQLite: the FTS5 table ``search_fts`` (columns ``words`` and ``keys``), its
  rowid the ``search_docs`` id. It is contentless: it stores the inverted index
  but not the text, so the index stays within a small multiple of the text.
  A re-indexed record gets a new ``search_docs`` row; the old one's FTS5 entry
  is left behind unreachable (no row joins it) until the index is rebuilt.
- PostgreSQL: the column ``search_docs.tsv`` (a ``tsvector``, each word with
  its keys at the word's position) and a GIN index over it.

Neither is known to the ORM models: :data:`SEARCH_INDEX_OBJECTS` names them, so
that a schema comparison can leave them aside.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, _one_of

__all__ = ["SEARCH_INDEX_OBJECTS", "DocKind", "SearchDoc"]

#: Tables and columns that the migration creates outside the ORM models: the
#: FTS5 table with its shadow tables, and PostgreSQL's tsvector column.
SEARCH_INDEX_OBJECTS = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_docsize",
        "search_fts_config",
        "search_fts_content",
        "tsv",
        "ix_search_docs_tsv",
    }
)


class DocKind(StrEnum):
    """What a search hit is."""

    REPORT = "report"
    INCIDENT = "incident"
    CLAIM = "claim"
    SOURCE = "source"
    PLACE = "place"
    ACTOR = "actor"


class SearchDoc(Base):
    """One searchable record: what it is, and what a search can filter it by."""

    __tablename__ = "search_docs"
    __table_args__ = (
        UniqueConstraint("kind", "ref"),
        CheckConstraint(_one_of("kind", tuple(k.value for k in DocKind)), name="kind"),
        Index("ix_search_docs_lat_c_lon_c", "lat_c", "lon_c"),
        # AUTOINCREMENT: an id is never reused, so an FTS5 entry left behind by a
        # re-indexed record can never join a newer one
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # the record's id in its own table
    ref: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str | None] = mapped_column(String(8))
    # event date for incidents and claims, received date for reports
    day: Mapped[date | None] = mapped_column(Date, index=True)
    place_id: Mapped[int | None] = mapped_column(Integer, index=True)
    governorate: Mapped[str | None] = mapped_column(String(8))
    # position in hundredths of a degree (about a kilometre): enough to filter
    # by place, and no more exact than what may be kept in the clear
    lat_c: Mapped[int | None] = mapped_column(Integer)
    lon_c: Mapped[int | None] = mapped_column(Integer)
