"""Seal the values an older desk kept in the clear, the first time it opens with its key.

Migration 0018 adds the sealed columns but cannot fill them: sealing needs the
desk's key. ``Store.open(url, key=...)`` calls :func:`seal_existing`, which moves
each clear value into its sealed column and empties the old one (a report's
position keeps its rounded form there), a batch per transaction, so a crash
midway leaves every row either still clear or sealed, and the next open goes on.
Once everything is sealed it costs three indexed queries that find nothing.

What an older database file held in the clear may survive in its free pages (on
SQLite) or in PostgreSQL's dead tuples until they are reused: VACUUM (which the
first run does on PostgreSQL tables it changed) reclaims them, and a seized disk
image taken before this ran shows them regardless (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, cast

from sqlalchemy import Connection, Float, LargeBinary, Table, Text, column, select, table, update
from sqlalchemy.engine import Engine

from sijil.store.sealed import coarse

__all__ = ["BATCH", "seal_existing"]

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


def seal_existing(engine: Engine, tables: Mapping[str, Table]) -> int:
    """Seal every clear value left by an older desk; return how many rows changed.

    ``tables`` are the mapped tables (``Base.metadata.tables``), whose sealed columns
    seal on bind.
    """
    changed = 0
    for step in (_reports_batch, _replies_batch, _prints_batch):
        while True:
            with engine.begin() as conn:
                done = step(conn, tables)
            changed += done
            if done < BATCH:
                break
    if changed and engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("reports", "relay_replies", "media_prints"):
                conn.exec_driver_sql(f"VACUUM {name}")  # table names are constants above
    return changed
