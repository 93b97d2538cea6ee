"""The custody ledger persisted in the store: appends, proofs, tree roots.

Appends run inside the caller's transaction, so an entry commits with the
records it describes or not at all, and a batch of entries shares one commit
(group commit). Every append first locks the single ``ledger_state`` row, so two
processes take turns and sequence numbers never collide. Each append writes the
entry and every complete subtree (above the leaves) the new entries close; a
proof then reads at most ``2 log2 n`` rows by primary key, in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from sijil.errors import LedgerError, StoreError
from sijil.ledger import merkle
from sijil.ledger.entries import NewEntry, encode_entry, format_time
from sijil.store import LedgerEntry, LedgerState, store_error, utcnow

__all__ = [
    "InclusionProof",
    "NodeTable",
    "append",
    "append_bodies",
    "consistency_proof",
    "inclusion_proof",
    "lock",
    "root_at",
    "size",
]

# SQLite allows 32766 bound values per statement; a proof needs ~2 log2 n.
_MAX_IN = 500
_FIRST_INNER_ID = merkle.node_id(1, 0)
# query texts by (sqlite?, inner nodes, leaves): a few dozen shapes in all
_QUERIES: dict[tuple[bool, int, int], str] = {}
_leaf = merkle.leaf_hash


class NodeTable:
    """Reads node hashes by (level, index) over one connection, in one round trip.

    Leaf hashes (level 0) are not stored: they are the hashes of the entries'
    bytes, read from ``ledger_entries`` in the same query (UNION ALL) as the
    stored inner nodes. Storing them would double the rows every append
    writes and the audit reads.
    """

    def __init__(self, conn: Connection) -> None:
        # the driver's own cursor and placeholders: SQLAlchemy's statement
        # handling costs more than the lookup, and a proof should take microseconds
        self._conn = conn
        try:
            self._cursor = conn.connection.cursor()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _store_error(conn, exc, None, None) from exc
        self._sqlite = conn.dialect.name == "sqlite"
        self._mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._raw = "CAST(body AS BLOB)" if self._sqlite else "convert_to(body, 'UTF8')"

    def _query(self, inner: int, leaves: int) -> str:
        sql = _QUERIES.get((self._sqlite, inner, leaves))
        if sql is None:
            parts = []
            if inner:
                marks = ", ".join([self._mark] * inner)
                parts.append(f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})")  # noqa: S608 - placeholders only
            if leaves:
                marks = ", ".join([self._mark] * leaves)
                parts.append(f"SELECT seq, {self._raw} FROM ledger_entries WHERE seq IN ({marks})")  # noqa: S608
            sql = _QUERIES[(self._sqlite, inner, leaves)] = " UNION ALL ".join(parts)
        return sql

    def __call__(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        ids = [merkle.node_id(level, index) for level, index in keys]
        unique = list(dict.fromkeys(ids))
        found: dict[int, bytes] = {}
        for start in range(0, len(unique), _MAX_IN):
            chunk = unique[start : start + _MAX_IN]
            inner = [i for i in chunk if i >= _FIRST_INNER_ID]
            leaves = [i for i in chunk if i < _FIRST_INNER_ID]
            sql, params = self._query(len(inner), len(leaves)), (*inner, *leaves)
            try:
                self._cursor.execute(sql, params)
                rows = self._cursor.fetchall()
            except self._conn.dialect.loaded_dbapi.Error as exc:
                # the raw cursor bypasses SQLAlchemy, so its errors arrive unwrapped
                raise _store_error(self._conn, exc, sql, params) from exc
            for node, value in rows:
                node = int(node)
                found[node] = bytes(value) if node >= _FIRST_INNER_ID else _leaf(bytes(value))
        try:
            return [found[i] for i in ids]
        except KeyError as exc:
            raise LedgerError("the ledger is missing an entry or a node a proof needs") from exc


def _store_error(
    conn: Connection, exc: Exception, sql: str | None, params: tuple[Any, ...] | None
) -> StoreError:
    """A raw DB-API error (``sqlite3.OperationalError``, ``psycopg.Error``) as sijil's
    one-line StoreError: wrapped the way SQLAlchemy wraps the errors it sees, so the
    message is built, and scrubbed of the URL and the bound values, in one place."""
    dialect = conn.dialect
    wrapped = sa_exc.DBAPIError.instance(
        sql, params, exc, dialect.loaded_dbapi.Error, dialect=dialect
    )
    return store_error(wrapped, conn.engine.url)


def lock(session: Session) -> int:
    """Take the ledger's write lock for this transaction; return its size."""
    stmt = select(LedgerState.size).where(LedgerState.id == 1).with_for_update()
    value = session.execute(stmt).scalar_one_or_none()
    if value is None:
        raise LedgerError("the ledger has no state row (is the database migrated?)")
    return int(value)


def size(session: Session) -> int:
    stmt = select(LedgerState.size).where(LedgerState.id == 1)
    value = session.execute(stmt).scalar_one_or_none()
    return int(value or 0)


def _peaks(conn: Connection, tree_size: int) -> list[tuple[int, bytes]]:
    keys = merkle.root_nodes(tree_size)
    hashes = NodeTable(conn)(keys) if keys else []
    return [(level, h) for (level, _), h in zip(keys, hashes, strict=True)]


def _insert_sql(conn: Connection, table: str, columns: Sequence[str]) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - fixed names


def append_bodies(
    session: Session, rows: Iterable[tuple[str, str, datetime, bytes]], *, start: int
) -> int:
    """Write pre-encoded entries ``(kind, subject, at, body)`` from ``start``; return new size.

    The caller holds the lock (:func:`lock`) and ``start`` is the size it read.
    Rows go to the driver's executemany directly: the ORM's per-row work would
    cost more than everything else an append does.
    """
    conn = session.connection()
    stack = _peaks(conn, start)
    column_type = LedgerEntry.__table__.c.recorded_at.type
    to_db = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    entry_rows: list[tuple[object, ...]] = []
    node_rows: list[tuple[int, bytes]] = []
    seq = start
    leaf_hash, node_hash, node_id = merkle.leaf_hash, merkle.node_hash, merkle.node_id
    last_at: datetime | None = None
    stored_at: object = None
    for kind, subject, at, body in rows:
        if at is not last_at:
            last_at, stored_at = at, (to_db(at) if to_db else at)
        entry_rows.append((seq, kind, subject, stored_at, body.decode("utf-8")))
        level, current = 0, leaf_hash(body)  # leaves are not stored
        # each trailing 1-bit of seq closes one more complete subtree
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
            node_rows.append((node_id(level, seq >> level), current))
        stack.append((level, current))
        seq += 1
    if seq == start:
        return start
    cursor_conn = conn.exec_driver_sql  # one executemany per table
    cursor_conn(
        _insert_sql(conn, "ledger_entries", ("seq", "kind", "subject", "recorded_at", "body")),
        entry_rows,
    )
    if node_rows:
        cursor_conn(_insert_sql(conn, "ledger_nodes", ("id", "hash")), node_rows)
    session.execute(update(LedgerState).where(LedgerState.id == 1).values(size=seq))
    return seq


def append(
    session: Session, entries: Sequence[NewEntry], *, at: datetime | None = None
) -> list[int]:
    """Append ``entries`` in the session's transaction; return their sequence numbers."""
    if not entries:
        return []
    when = at or utcnow()
    stamp = format_time(when)
    start = lock(session)
    rows = [
        (e.kind, e.subject, when, encode_entry(start + i, e, stamp)) for i, e in enumerate(entries)
    ]
    append_bodies(session, rows, start=start)
    return list(range(start, start + len(entries)))


def root_at(conn: Connection, tree_size: int) -> bytes:
    """The Merkle tree hash of the first ``tree_size`` entries, from O(log n) nodes."""
    return merkle.root_from_peaks([h for _, h in _peaks(conn, tree_size)])


class InclusionProof:
    """An entry's audit path to the root of a tree of ``tree_size`` entries."""

    def __init__(self, *, index: int, tree_size: int, path: list[bytes]) -> None:
        self.index, self.tree_size, self.path = index, tree_size, path

    def to_dict(self) -> dict[str, object]:
        return {
            "leaf_index": self.index,
            "tree_size": self.tree_size,
            "inclusion_path": [h.hex() for h in self.path],
        }


def inclusion_proof(conn: Connection, index: int, tree_size: int) -> InclusionProof:
    try:
        path = merkle.inclusion_proof(index, tree_size, NodeTable(conn))
    except ValueError as exc:
        raise LedgerError(f"no entry #{index} in a tree of {tree_size}") from exc
    return InclusionProof(index=index, tree_size=tree_size, path=path)


def consistency_proof(conn: Connection, old: int, new: int) -> list[bytes]:
    try:
        return merkle.consistency_proof(old, new, NodeTable(conn))
    except ValueError as exc:
        raise LedgerError(f"no consistency proof from size {old} to {new}") from exc
