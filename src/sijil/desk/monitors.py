"""Monitor records: UCDP GED events kept for cross-checking, never as the desk's incidents.

``sijil desk monitor import-ged FILE.csv.gz`` reads the UCDP Georeferenced Event
Dataset (CSV, gzip-compressed or not) as records of one monitor source (kind
monitor, "UCDP GED 19.1" unless named otherwise). Each record keeps the GED id,
its dates with their precision (``date_prec``), where it happened with its
precision (``where_prec``), the coordinates as exact integer microdegrees, the
names of the place and its units (``where_coordinates``, ``adm_1``, ``adm_2``, and
our governorate code for ``adm_1``), the two sides, the deaths by side, among
civilians and unknown, and the low, best and high estimates, exactly as UCDP
published them.

Rows go in by executemany in batches; each batch is one ``monitor.imported``
ledger entry carrying the digest of its rows' digests, in the same transaction.
The file must have every column the records keep (a file missing some is refused,
naming them). A row whose own values do not read is skipped and named by its line;
a GED id imported before is left alone (unchanged, or reported if its values
differ), so re-importing a file changes nothing.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import json_text
from sijil.desk.csvrows import BadRow, CsvRecord, records, text_lines
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.gazetteer import governorate_for, to_e6
from sijil.desk.sources import ensure_source, source_token
from sijil.desk.users import EDITING, require_user
from sijil.errors import MalformedImport
from sijil.store import MonitorRecord
from sijil.store.models_claims import SourceKind
from sijil.store.models_desk import Role

__all__ = [
    "GED_COLUMNS",
    "GED_SOURCE",
    "MonitorImport",
    "import_ged",
    "parse_ged",
    "record_digest",
    "uncompressed",
]

GED_SOURCE = "UCDP GED 19.1"
#: The GED columns a file must have: every one the records keep.
GED_COLUMNS = ("id", "type_of_violence", "date_start", "date_end", "date_prec", "where_prec",
               "where_coordinates", "adm_1", "adm_2", "latitude", "longitude", "side_a",
               "side_b", "deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown",
               "best", "low", "high")  # fmt: skip
_COUNTS = ("deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown", "best", "low", "high")
_NUMBER = re.compile(r"\d{1,15}")
BATCH = 2000
_GZIP_MAGIC = b"\x1f\x8b"
_TABLE = cast(Table, MonitorRecord.__table__)
#: The columns a record's digest covers, in the order ``_values`` makes them.
_DIGESTED = ("external_id", "violence_type", "date_start", "date_end", "date_prec",
             "where_prec", "where_name", "adm_1", "adm_2", "governorate", "lat_e6", "lon_e6",
             "side_a", "side_b", *_COUNTS)  # fmt: skip


def uncompressed(stream: IO[bytes]) -> IO[bytes]:
    """The stream itself, or its decompression if it starts as gzip does (it must seek)."""
    start = stream.tell()
    magic = stream.read(2)
    stream.seek(start)
    if magic == _GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
    return stream


def _int(fields: dict[str, str], column: str, low: int = 0, high: int = 2**53 - 1) -> int:
    text = fields[column].strip()
    if text.endswith(".0"):  # R and pandas exports write integers as 3.0
        text = text[:-2]
    if not _NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise ValueError(f"{column} {text[:20]!r} is not a whole number from {low} to {high}")
    return int(text)


def _day(fields: dict[str, str], column: str) -> date:
    text = fields[column].strip()
    if len(text) > 10 and text[10] in " T":  # "2016-01-01 00:00:00.000"
        text = text[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} {text[:24]!r} is not an ISO date") from None


def _text(fields: dict[str, str], column: str) -> str | None:
    text = " ".join(fields[column].split())
    return text[:255] or None


@functools.lru_cache(maxsize=256)
def _governorate(adm_1: str) -> str | None:
    return governorate_for(adm_1)


def _values(rec: CsvRecord) -> dict[str, Any]:
    f = rec.fields
    start, end = _day(f, "date_start"), _day(f, "date_end")
    if end < start:
        raise ValueError("date_end is before date_start")
    try:
        lat, lon = to_e6(f["latitude"].strip()), to_e6(f["longitude"].strip())
    except ValueError as exc:
        raise ValueError(f"latitude/longitude: {exc}") from None
    if (lat is None) != (lon is None):
        raise ValueError("a latitude without a longitude, or the reverse")
    if lat is not None and lon is not None and (abs(lat) > 90_000_000 or abs(lon) > 180_000_000):
        raise ValueError("coordinates off the globe")
    adm_1 = _text(f, "adm_1")
    violence = f["type_of_violence"].strip()
    values: dict[str, Any] = {
        "external_id": _int(f, "id"),
        "violence_type": _int(f, "type_of_violence", 1, 3) if violence else None,
        "date_start": start,
        "date_end": end,
        "date_prec": _int(f, "date_prec", 1, 5),
        "where_prec": _int(f, "where_prec", 1, 7),
        "where_name": _text(f, "where_coordinates"),
        "adm_1": adm_1,
        "adm_2": _text(f, "adm_2"),
        "governorate": None if adm_1 is None else _governorate(adm_1),
        "lat_e6": lat,
        "lon_e6": lon,
        "side_a": _text(f, "side_a") or "",
        "side_b": _text(f, "side_b") or "",
    }
    for column in _COUNTS:
        values[column] = _int(f, column)
    return values


def _digest(values: dict[str, Any]) -> str:
    """SHA-256 of the values' canonical JSON; they are in its subset by construction
    (strings, None, and integers of at most 15 digits), so the check is skipped."""
    plain = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
    return hashlib.sha256(json_text(plain).encode("utf-8")).hexdigest()


def record_digest(row: MonitorRecord) -> str:
    """A stored record's digest recomputed from its columns: its ``row_sha256`` unless
    the row was changed behind the ledger's back."""
    return _digest({column: getattr(row, column) for column in _DIGESTED})


def parse_ged(lines: Iterable[str]) -> Iterator[dict[str, Any] | BadRow]:
    """Each GED row's values (with ``row_sha256``), or a BadRow naming its line."""
    for rec in records(lines, what="the GED file", required=GED_COLUMNS):
        if isinstance(rec, BadRow):
            yield rec
            continue
        try:
            values = _values(rec)
        except ValueError as exc:
            yield BadRow(rec.line, str(exc))
            continue
        values["row_sha256"] = _digest(values)
        values["line"] = rec.line
        yield values


@dataclass
class MonitorImport:
    """What a GED import did."""

    source: str
    added: int = 0
    unchanged: int = 0
    batches: int = 0
    bad: list[BadRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.unchanged + len(self.bad)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "added": self.added,
                "unchanged": self.unchanged, "batches": self.batches,
                "bad": [b.to_dict() for b in self.bad]}  # fmt: skip


class _Loader:
    """Takes parsed rows, keeps the new ones and inserts them a batch at a time."""

    def __init__(self, session: Session, source_id: int, user_id: int, at: datetime) -> None:
        self.session, self.source_id, self.user_id, self.at = session, source_id, user_id, at
        self.result = MonitorImport(source=source_token(source_id))
        stored = session.execute(
            select(MonitorRecord.external_id, MonitorRecord.row_sha256).where(
                MonitorRecord.source_id == source_id
            )
        )
        self.known: dict[int, str] = {external_id: digest for external_id, digest in stored}
        self.batch: list[dict[str, Any]] = []

    def take(self, item: dict[str, Any] | BadRow) -> int:
        """Keep or judge one row; return how many rows are waiting for the next batch."""
        if isinstance(item, BadRow):
            self.result.bad.append(item)
            return len(self.batch)
        line = item.pop("line")
        earlier = self.known.get(item["external_id"])
        if earlier == item["row_sha256"]:
            self.result.unchanged += 1
        elif earlier is not None:
            why = f"GED id {item['external_id']} was imported before with other values"
            self.result.bad.append(BadRow(line, why + "; left as it was"))
        else:
            self.known[item["external_id"]] = item["row_sha256"]
            self.batch.append(item | {"source_id": self.source_id, "imported_at": self.at})
        return len(self.batch)

    def flush(self) -> None:
        """Insert the waiting rows (one executemany) and log them as one ledger entry."""
        batch = self.batch
        if not batch:
            return
        # Core, not the ORM's bulk insert: that splits a batch by which values are None
        self.session.connection().execute(insert(_TABLE), batch)
        self.result.batches += 1
        record(
            self.session,
            action="monitor.imported",
            subject=self.result.source,
            by=self.user_id,
            data={"source": self.source_id, "batch": self.result.batches,
                  "records": len(batch), "first": batch[0]["external_id"],
                  "last": batch[-1]["external_id"],
                  "rows_sha256": canonical_sha256([r["row_sha256"] for r in batch])},
            at=self.at,
        )  # fmt: skip
        self.result.added += len(batch)
        self.batch = []


def import_ged(
    session: Session,
    stream: IO[bytes],
    *,
    by: str | None,
    clock: Clock = utcnow,
    name: str = GED_SOURCE,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> MonitorImport:
    """Import a UCDP GED CSV (gzip or plain, a seekable stream) as records of monitor ``name``.

    All in the session's transaction; ``progress`` is told the number of rows read
    after every ``batch_size`` rows.
    """
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    now: datetime = clock()
    source, _ = ensure_source(session, SourceKind.MONITOR, name, user_id=user.id, at=now)
    loader = _Loader(session, source.id, user.id, now)
    try:
        with text_lines(uncompressed(stream)) as lines:
            for read, item in enumerate(parse_ged(lines), start=1):
                if loader.take(item) >= batch_size:
                    loader.flush()
                if progress is not None and read % batch_size == 0:
                    progress(read)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # a damaged gzip stream
        raise MalformedImport(f"the GED file cannot be read: {exc}") from None
    loader.flush()
    return loader.result
