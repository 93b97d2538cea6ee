"""Seal the values an older desk kept in the clear, the first time it opens with its key.

Migration 0018 adds the sealed columns but cannot fill them: sealing needs the
desk's key. ``Store.open(url, key=...)`` calls :func:`seal_existing`, which moves
each clear value into its sealed column and empties the old one (a report's
position keeps its rounded form there), a batch per transaction, so a crash
midway leaves every row either still clear or sealed, and the next open goes on.
The ledger's salts are sealed too: with a salt and the rounded position, the exact
one could be found by trying the few thousand candidates against the ledger's
commitment. A complete pass leaves a mark in ``desk_settings``; later opens read
only that mark.

Emptying a column does not erase what the database wrote before: PostgreSQL keeps
dead row versions, index entries and its write-ahead log, SQLite its free pages.
On PostgreSQL the pass ends with ``VACUUM FULL`` of the tables it changed (which
rewrites them and their indexes); the log, replicas and backups of that time keep
the old values (docs/security.md). A plaintext SQLite desk should be encrypted
(``sijil desk migrate-encrypt``, which copies only live rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, cast

from sqlalchemy import (
    Connection,
    Float,
    LargeBinary,
    Table,
    Text,
    column,
    func,
    insert,
    select,
    table,
    update,
)
from sqlalchemy.engine import Engine

from sijil.store.sealed import coarse

__all__ = ["BATCH", "DONE_SETTING", "seal_existing"]

# rows per transaction: small enough that a table of millions never holds one long
# lock, large enough that the round trips do not dominate
BATCH: Final = 500

_reports = table(
    "reports",
    column("id"),
    column("latitude", Float),
    column("longitude", Float),
    column("manifest", Text),
)
_replies = table("relay_replies", column("id"), column("text", Text))
_salts = table("ledger_salts", column("seq"), column("name"), column("salt", LargeBinary))
_settings = table("desk_settings", column("name"), column("value"))
#: The ``desk_settings`` row that says every clear value was sealed.
DONE_SETTING: Final = "sealed_values"
_TABLES: Final = ("reports", "relay_replies", "media_prints", "ledger_salts")

_prints = table(
    "media_prints",
    column("id"),
    column("pdq", Text),
    column("pdq_inner", Text),
    column("frames", LargeBinary),
)


def _reports_batch(conn: Connection, sealed: Mapping[str, Table]) -> int:
    rows = conn.execute(
        select(_reports.c.id, _reports.c.latitude, _reports.c.longitude, _reports.c.manifest)
        .where(_reports.c.manifest != "")
        .order_by(_reports.c.id)
        .limit(BATCH)
    ).all()
    target = sealed["reports"]
    for number, lat, lon, manifest in rows:
        conn.execute(
            update(target)
            .where(target.c.id == number)
            .values(
                latitude_sealed=lat,
                longitude_sealed=lon,
                manifest_sealed=manifest,
                latitude=coarse(cast(float | None, lat)),
                longitude=coarse(cast(float | None, lon)),
                manifest="",
            )
        )
    return len(rows)


def _replies_batch(conn: Connection, sealed: Mapping[str, Table]) -> int:
    rows = conn.execute(
        select(_replies.c.id, _replies.c.text)
        .where(_replies.c.text != "")
        .order_by(_replies.c.id)
        .limit(BATCH)
    ).all()
    target = sealed["relay_replies"]
    for number, text in rows:
        conn.execute(update(target).where(target.c.id == number).values(text_sealed=text, text=""))
    return len(rows)


def _prints_batch(conn: Connection, sealed: Mapping[str, Table]) -> int:
    rows = conn.execute(
        select(_prints.c.id, _prints.c.pdq, _prints.c.pdq_inner, _prints.c.frames)
        .where(
            _prints.c.pdq.is_not(None)
            | _prints.c.pdq_inner.is_not(None)
            | _prints.c.frames.is_not(None)
        )
        .order_by(_prints.c.id)
        .limit(BATCH)
    ).all()
    target = sealed["media_prints"]
    for number, pdq, inner, frames in rows:
        conn.execute(
            update(target)
            .where(target.c.id == number)
            .values(
                pdq_sealed=pdq,
                pdq_inner_sealed=inner,
                frames_sealed=None
                if frames is None
                else bytes(cast(bytes, frames)),  # memoryview on PG
                pdq=None,
                pdq_inner=None,
                frames=None,
            )
        )
    return len(rows)


def _salts_batch(conn: Connection, sealed: Mapping[str, Table]) -> int:
    rows = conn.execute(
        select(_salts.c.seq, _salts.c.name, _salts.c.salt)
        .where(func.length(_salts.c.salt) > 0)
        .order_by(_salts.c.seq, _salts.c.name)
        .limit(BATCH)
    ).all()
    target = sealed["ledger_salts"]
    for seq, name, salt in rows:
        conn.execute(
            update(target)
            .where(target.c.seq == seq, target.c.name == name)
            .values(salt_sealed=bytes(cast(bytes, salt)), salt=b"")
        )
    return len(rows)


def _done(conn: Connection) -> bool:
    found = conn.execute(select(_settings.c.value).where(_settings.c.name == DONE_SETTING))
    return found.scalar() == "1"


def seal_existing(engine: Engine, tables: Mapping[str, Table]) -> int:
    """Seal every clear value left by an older desk; return how many rows changed.

    ``tables`` are the mapped tables (``Base.metadata.tables``), whose sealed columns
    seal on bind.
    """
    with engine.connect() as conn:
        if _done(conn):
            return 0
    changed = 0
    for step in (_reports_batch, _replies_batch, _prints_batch, _salts_batch):
        while True:
            with engine.begin() as conn:
                done = step(conn, tables)
            changed += done
            if done < BATCH:
                break
    if changed and engine.dialect.name == "postgresql":
        # rewrite the tables and their indexes, so the emptied values' old row versions go
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in _TABLES:
                conn.exec_driver_sql(f"VACUUM FULL {name}")  # names are constants above
    with engine.begin() as conn:
        if not _done(conn):
            settings = tables["desk_settings"]  # mapped: its time column is typed
            conn.execute(
                insert(settings).values(name=DONE_SETTING, value="1", updated_at=datetime.now(UTC))
            )
    return changed
