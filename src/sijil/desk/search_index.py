"""Keeping the search index current: in the transaction of every write, and rebuilt whole.

:func:`install` hooks SQLAlchemy's ``after_flush`` on every ORM session: when a
flush writes a report, incident, assessment, claim, source, place (or a name of
one) or actor, the touched records are re-indexed on the same connection, in the
same transaction. A report is searchable the moment its registration commits,
and a rolled-back write leaves no trace in the index. ``sijil.desk`` installs the
hook when imported, so every desk code path has it.

:func:`rebuild` empties and refills the whole index (``sijil desk search
--reindex``); :func:`ensure_index` does so when migration 0009 marked an existing
desk's index stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, delete, event, func, insert, select, text
from sqlalchemy.orm import Session, UOWTransaction

from sijil.desk.search_docs import BUILDERS, IndexDoc, chunks
from sijil.store import (
    ActorName,
    Assessment,
    Claim,
    DeskActor,
    DeskSetting,
    DocKind,
    Incident,
    IncidentRevision,
    Place,
    PlaceName,
    Report,
    SearchDoc,
    Source,
)

__all__ = ["STALE_SETTING", "ensure_index", "install", "rebuild", "tsvector_literal", "write_docs"]

#: The desk setting migration 0009 leaves when the records predate the index.
STALE_SETTING = "search_index"
#: PostgreSQL keeps positions up to 16,383 and 256 per lexeme; beyond, a phrase
#: deep in a very long text may be missed there (never on SQLite).
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS = 255
#: PostgreSQL refuses a tsvector over 1 MB (lexemes and positions); a report body
#: may be 1 MiB of distinct words. Stop adding lexemes well before the limit.
_PG_MAX_TSVECTOR_BYTES = 900_000
_PG_LEXEME_OVERHEAD = 8  # its entry, and a few positions


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(words: list[str], word_keys: list[tuple[str, ...]]) -> str:
    """A ``tsvector`` in PostgreSQL's input syntax: each word with its keys at its position.

    Written out here rather than left to ``to_tsvector``, whose parser would
    split the words differently from sijil.text (hyphens, e-mail addresses). A
    word and its keys share a position, so a phrase matches in any spelling and
    a key equal to its word costs nothing more.
    """
    positions: dict[str, list[int]] = {}
    size = 0
    for index, (word, keys) in enumerate(zip(words, word_keys, strict=True)):
        position = min(index + 1, _PG_MAX_POSITION)
        for token in (word, *keys):
            if token not in positions:
                size += len(token.encode()) + _PG_LEXEME_OVERHEAD
                if size > _PG_MAX_TSVECTOR_BYTES:
                    # the rest of a very long text stays unsearched on PostgreSQL
                    return _literal(positions)
            slots = positions.setdefault(token, [])
            if len(slots) < _PG_MAX_POSITIONS and (not slots or slots[-1] != position):
                slots.append(position)
    return _literal(positions)


def _literal(positions: dict[str, list[int]]) -> str:
    return " ".join(f"{_quote(t)}:{','.join(map(str, p))}" for t, p in positions.items())


def write_docs(conn: Connection, kind: DocKind, refs: list[int], docs: list[IndexDoc]) -> None:
    """Replace the index entries of ``refs`` (of ``kind``) by ``docs``."""
    conn.execute(delete(SearchDoc).where(SearchDoc.kind == kind.value, SearchDoc.ref.in_(refs)))
    if not docs:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "INSERT INTO search_docs (kind, ref, lang, day, place_id, governorate, lat_c,"
                " lon_c, tsv) VALUES (:kind, :ref, :lang, :day, :place_id, :governorate,"
                " :lat_c, :lon_c, CAST(:tsv AS tsvector))"
            ),
            [doc.row() | {"tsv": tsvector_literal(doc.words, doc.word_keys)} for doc in docs],
        )
        return
    ids = conn.execute(
        insert(SearchDoc).returning(SearchDoc.id, sort_by_parameter_order=True),
        [doc.row() for doc in docs],
    ).scalars()
    conn.execute(
        text("INSERT INTO search_fts (rowid, words, keys) VALUES (:id, :words, :keys)"),
        [
            {"id": doc_id, "words": " ".join(doc.words), "keys": " ".join(doc.keys)}
            for doc_id, doc in zip(ids, docs, strict=True)
        ],
    )


def index_records(conn: Connection, kind: DocKind, refs: Iterable[int]) -> int:
    """Re-index the records ``refs`` of ``kind`` as they now are; the count indexed."""
    build = BUILDERS[kind][1]
    done = 0
    for batch in chunks(sorted(set(refs))):
        docs = build(conn, batch)
        write_docs(conn, kind, batch, docs)
        done += len(docs)
    return done


# which records a flushed object touches: (kind, id of the record to re-index)
_TOUCHES: dict[type[Any], Callable[[Any], tuple[DocKind, int | None]]] = {
    Report: lambda o: (DocKind.REPORT, o.id),
    Incident: lambda o: (DocKind.INCIDENT, o.id),
    # an edit is a bulk UPDATE (optimistic lock) that no flush sees; the revision
    # it saves with it is flushed, and names the incident
    IncidentRevision: lambda o: (DocKind.INCIDENT, o.incident_id),
    Assessment: lambda o: (DocKind.INCIDENT, o.incident_id),
    Claim: lambda o: (DocKind.CLAIM, o.id),
    Source: lambda o: (DocKind.SOURCE, o.id),
    Place: lambda o: (DocKind.PLACE, o.id),
    PlaceName: lambda o: (DocKind.PLACE, o.place_id),
    DeskActor: lambda o: (DocKind.ACTOR, o.id),
    ActorName: lambda o: (DocKind.ACTOR, o.actor_id),
}


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    touched: dict[DocKind, set[int]] = {}
    changed = [o for o in session.dirty if session.is_modified(o, include_collections=False)]
    for obj in (*session.new, *changed, *session.deleted):
        touch = _TOUCHES.get(type(obj))
        if touch is None:
            continue
        kind, ref = touch(obj)
        if ref is not None:
            touched.setdefault(kind, set()).add(ref)
    if not touched:
        return
    conn = session.connection()
    places = touched.get(DocKind.PLACE)
    if places:
        # incidents and claims carry their place's position and governorate
        for kind, model in ((DocKind.INCIDENT, Incident), (DocKind.CLAIM, Claim)):
            for batch in chunks(sorted(places)):
                found = conn.execute(select(model.id).where(model.place_id.in_(batch)))
                touched.setdefault(kind, set()).update(found.scalars())
    for kind, refs in touched.items():
        # a deleted record's builder finds nothing, and its entry goes
        index_records(conn, kind, refs)


def install() -> None:
    """Keep the index current on every ORM session of this process (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def _clear(conn: Connection) -> None:
    conn.execute(delete(SearchDoc))
    if conn.dialect.name != "postgresql":
        # contentless FTS5: 'delete-all' drops every entry, the unreachable ones too
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))


def rebuild(session: Session, *, progress: Callable[[DocKind, int], None] | None = None) -> int:
    """Empty the index and index every record again; the number of documents."""
    conn = session.connection()
    _clear(conn)
    total = 0
    for kind, (model, _build) in BUILDERS.items():
        ids: list[int] = list(conn.execute(select(model.id).order_by(model.id)).scalars())
        for batch in chunks(ids):
            total += index_records(conn, kind, batch)
            if progress is not None:
                progress(kind, total)
    if conn.dialect.name != "postgresql":
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('optimize')"))
    session.execute(delete(DeskSetting).where(DeskSetting.name == STALE_SETTING))
    return total


def ensure_index(session: Session) -> bool:
    """Rebuild the index if it was marked stale; True if it was rebuilt."""
    stale = session.execute(
        select(func.count()).select_from(DeskSetting).where(DeskSetting.name == STALE_SETTING)
    ).scalar_one()
    if not stale:
        return False
    rebuild(session)
    return True
