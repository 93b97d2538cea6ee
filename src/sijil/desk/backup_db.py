"""The desk database as rows: a logical dump that loads on SQLite or PostgreSQL alike.

A dump is a sequence of parts, each one table's rows in primary-key order as JSON
lines (the first line names the table and its columns), at most ``PART_BYTES``
long so that neither side ever holds a whole table in memory. Tables come in
foreign-key order, so a load inserts parents before children; a foreign key
that closes a cycle (an incident's current assessment) is loaded as NULL and set
once every row is in. Values JSON has no type for are tagged: ``{"b64": ...}``
for bytes, ``{"dt": ...}`` for a UTC timestamp, ``{"d": ...}`` for a date.

Derived tables are not dumped: the search index (``search_docs``, whose columns
differ by backend, and SQLite's FTS5 virtual table with its shadow tables) is
rebuilt from the rows it indexes, so a restore marks it stale
(:data:`DERIVED_TABLES`); the schema's revision is recorded instead of
``alembic_version``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import ForeignKeyConstraint, sort_tables_and_constraints

from sijil.errors import ConfigError
from sijil.store import Base

__all__ = ["DERIVED_TABLES", "PART_BYTES", "DbLoader", "DumpPart", "dump_parts", "dumped_tables"]

# One part is built in memory before it goes into the archive (a tar member needs
# its size first): 8 MiB keeps memory flat and the member count small.
PART_BYTES = 8 << 20
# Rows fetched per round trip while dumping.
FETCH_ROWS = 5000
# What SQLite names the shadow tables of a virtual table (FTS3/4/5, R*Tree).
_SHADOW_SUFFIXES = frozenset(
    ("_data", "_idx", "_content", "_docsize", "_config", "_segments", "_segdir", "_stat")
) | frozenset(("_node", "_rowid", "_parent"))
#: Tables rebuilt from other rows (sijil.desk.search_index), never dumped.
DERIVED_TABLES = frozenset({"search_docs"})
_NOT_DUMPED = {"alembic_version", *DERIVED_TABLES}


@dataclass(frozen=True)
class DumpPart:
    table: str
    data: bytes
    rows: int


def _derived_sqlite_tables(conn: Connection) -> set[str]:
    query = text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    rows = [(str(n), str(s or "")) for n, s in conn.execute(query).all()]
    virtual = {name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL")}
    shadows = {
        name
        for name, _ in rows
        for base in virtual
        if name.startswith(base + "_") and name[len(base) :] in _SHADOW_SUFFIXES
    }
    internal = {name for name, _ in rows if name.startswith("sqlite_")}
    return virtual | shadows | internal


def dumped_tables(conn: Connection) -> tuple[list[Table], set[tuple[str, str]]]:
    """The tables a dump holds, in foreign-key order, and the (table, column) pairs
    whose foreign key closes a cycle (loaded as NULL, then set)."""
    skip = set(_NOT_DUMPED)
    if conn.dialect.name == "sqlite":
        skip |= _derived_sqlite_tables(conn)
    names = {name for name in inspect(conn).get_table_names() if name not in skip}
    if names <= set(Base.metadata.tables):
        # the models describe every table: their types carry UTC and bytes exactly,
        # and reading them costs nothing (reflecting 40 tables costs a third of a second)
        tables = [table for name, table in Base.metadata.tables.items() if name in names]
    else:
        metadata = MetaData()
        metadata.reflect(conn, only=sorted(names))
        tables = list(metadata.tables.values())
    ordered: list[Table] = []
    late: set[tuple[str, str]] = set()
    pairs = sort_tables_and_constraints(tables)  # type: ignore[no-untyped-call]
    for table, constraints in pairs:
        if table is not None:
            ordered.append(table)
            for constraint in table.foreign_key_constraints:
                if constraint.referred_table is table:  # a row may point at a later row
                    late |= _columns(constraint)
        else:
            for constraint in constraints:
                if isinstance(constraint, ForeignKeyConstraint):
                    late |= _columns(constraint)
    return ordered, late


def _columns(constraint: ForeignKeyConstraint) -> set[tuple[str, str]]:
    table = constraint.table
    return {(table.name, col.name) for col in constraint.columns}


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return {"dt": aware.astimezone(UTC).isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, dict):
        return {"json": value}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ConfigError("the backup's database dump is damaged (a value has no known tag)")
    ((tag, inner),) = value.items()
    if tag == "b64":
        return base64.b64decode(inner, validate=True)
    if tag == "dt":
        return datetime.fromisoformat(inner).astimezone(UTC)
    if tag == "d":
        return date.fromisoformat(inner)
    if tag == "json":
        return inner
    raise ConfigError("the backup's database dump is damaged (a value has an unknown tag)")


def _order(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns) or list(table.columns)


def dump_parts(conn: Connection, tables: Iterable[Table]) -> Iterator[DumpPart]:
    """Every row of ``tables`` as parts of at most about PART_BYTES each."""
    for table in tables:
        head = json.dumps({"table": table.name, "columns": [c.name for c in table.columns]})
        lines: list[bytes] = [head.encode() + b"\n"]
        size = rows = 0
        query = select(table).order_by(*_order(table))
        result = conn.execution_options(yield_per=FETCH_ROWS).execute(query)
        for row in result:
            line = json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":"))
            lines.append(line.encode() + b"\n")
            size += len(lines[-1])
            rows += 1
            if size >= PART_BYTES:
                yield DumpPart(table=table.name, data=b"".join(lines), rows=rows)
                lines, size, rows = [lines[0]], 0, 0
        if rows or len(lines) == 1:
            yield DumpPart(table=table.name, data=b"".join(lines), rows=rows)


@dataclass
class DbLoader:
    """Load dump parts into a freshly migrated database, inside the caller's transaction."""

    conn: Connection
    tables: dict[str, Table] = field(init=False)
    late: set[tuple[str, str]] = field(init=False)
    counts: dict[str, int] = field(default_factory=dict, init=False)
    _pending: list[tuple[Table, dict[str, Any], dict[str, Any]]] = field(
        default_factory=list, init=False
    )

    def __post_init__(self) -> None:
        ordered, self.late = dumped_tables(self.conn)
        self.tables = {table.name: table for table in ordered}
        # a migration may seed rows (the ledger's state); the dump's rows replace them
        for table in reversed(ordered):
            self.conn.execute(table.delete())

    def load(self, data: bytes) -> None:
        lines = data.split(b"\n")
        try:
            head = json.loads(lines[0])
            table = self.tables[head["table"]]
            columns = [str(name) for name in head["columns"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                "the backup's database dump names a table this sijil does not have"
            ) from exc
        if any(name not in table.columns for name in columns):
            raise ConfigError(f"the backup's table {table.name} has columns this sijil lacks")
        late = [name for name in columns if (table.name, name) in self.late]
        keys = [c.name for c in table.primary_key.columns]
        batch: list[dict[str, Any]] = []
        for line in lines[1:]:
            if not line:
                continue
            try:
                values = json.loads(line)
            except ValueError as exc:
                raise ConfigError("the backup's database dump is damaged") from exc
            row = {n: _decode(v) for n, v in zip(columns, values, strict=True)}
            for name in late:
                if row[name] is not None:
                    self._pending.append((table, {k: row[k] for k in keys}, {name: row[name]}))
                    row[name] = None
            batch.append(row)
        if batch:
            self.conn.execute(table.insert(), batch)
        self.counts[table.name] = self.counts.get(table.name, 0) + len(batch)

    def finish(self) -> dict[str, int]:
        """Set the cycle-closing keys, restart PostgreSQL sequences; return rows per table."""
        for table, key, values in self._pending:
            where = [table.c[name] == value for name, value in key.items()]
            self.conn.execute(table.update().where(*where).values(**values))
        if self.conn.dialect.name == "postgresql":
            for table in self.tables.values():
                keys = list(table.primary_key.columns)
                if len(keys) == 1 and keys[0].type.python_type is int:
                    self._restart_sequence(table, keys[0])
        return dict(self.counts)

    def _restart_sequence(self, table: Table, key: Column[Any]) -> None:
        sequence = self.conn.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key.name}
        )
        if sequence is None:
            return
        top = self.conn.scalar(select(func.max(key)))
        if top is None:
            self.conn.execute(text("SELECT setval(:s, 1, false)"), {"s": sequence})
        else:
            self.conn.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": top})
