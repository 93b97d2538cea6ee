"""Factories for the claims, verdicts, sources and monitor tests: small FA-KES and GED files,
a database shared by a module's tests, and reports by a named correspondent."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import TEST_DB_KEY, _postgres_schema_url
from desk_work_helpers import T0, Desk
from sijil.crypto.sealed_value import ValueSealer
from sijil.ledger.entries import parse_entry
from sijil.store import Attachment, Correspondent, Envelope, LedgerEntry, Report, Store
from sijil.store.sealed import attach_sealer

FAKES_HEADER = ("unit_id", "article_title", "article_content", "source", "date", "location",
                "actor", "cause_of_death", "nb_children", "nb_civilians", "nb_noncivilians",
                "nb_women", "label")  # fmt: skip
FAKES_FILE = ("claims", "fakes.csv")
GED_FILE = ("incidents", "ucdp-ged-syria-2016-2019.csv.gz")


def fakes_row(unit_id: str = "1", **fields: str) -> dict[str, str]:
    """One FA-KES record; any field can be given."""
    row = {"unit_id": unit_id, "article_title": f"Shelling kills civilians ({unit_id})",
           "article_content": "Shells fell on the market.\nMany were hurt.", "source": "sana",
           "date": "4/5/17", "location": "raqqa", "actor": "unknown",
           "cause_of_death": "shelling", "nb_children": "1", "nb_civilians": "6",
           "nb_noncivilians": "0", "nb_women": "2", "label": "1"}  # fmt: skip
    row.update(fields)
    return row


def fakes_csv(rows: Sequence[dict[str, str]], *, header: Sequence[str] = FAKES_HEADER) -> bytes:
    """A FA-KES file as published: Latin-1, CRLF, quoted where needed."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode("latin-1")


def ged_slice(corpus: Path, count: int) -> tuple[list[str], list[list[str]]]:
    """The header and the first ``count`` rows of the real GED file."""
    with gzip.open(corpus.joinpath(*GED_FILE), "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [row for _, row in zip(range(count), reader, strict=False)]


def ged_csv(header: Sequence[str], rows: Sequence[Sequence[str]], *, gz: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8")
    return gzip.compress(data, mtime=0) if gz else data


def shared_store(request: pytest.FixtureRequest, folder: Path) -> Iterator[Store]:
    """A migrated Store shared by a module's tests, on ``request.param``'s database."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([Store.sqlite_url(folder / "sijil.db")])
    else:
        urls = _postgres_schema_url()
    url = next(urls)
    store = Store.open(url)
    attach_sealer(store.engine, ValueSealer(TEST_DB_KEY))  # as the ``store`` fixture's
    try:
        yield store
    finally:
        store.close()
        for _ in urls:  # drop the PostgreSQL schema
            pass


def report_by(desk: Desk, codename: str, title: str = "Seen") -> int:
    """A report registered from correspondent ``codename`` (enrolled, with keys)."""
    desk.reports += 1
    n = desk.reports
    with desk.tx() as session:
        person = session.scalar(select(Correspondent).where(Correspondent.codename == codename))
        if person is None:
            person = Correspondent(codename=codename, enrolled=True, created_at=T0,
                                   enrolled_at=T0, sign_key=f"SIGNKEY{codename}",
                                   reply_key=f"REPLYKEY{codename}",
                                   fingerprint=f"FINGERPRINT{codename}")  # fmt: skip
        envelope = Envelope(id=f"{n:064x}", size=100, channel="usb", status="opened",
                            received_at=T0)  # fmt: skip
        report = Report(envelope=envelope, correspondent=person, title=title, body="نص",
                        lang="ar", created_at=T0, received_at=T0, manifest="{}",
                        signature=f"{n:0128x}",
                        attachments=[Attachment(position=0, name="a.jpg", media_type="image/jpeg",
                                                size=10, sha256=f"{n:064x}")])  # fmt: skip
        session.add(report)
        session.flush()
        return report.id


def ledger_data(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    """Every ledger entry as (kind, subject, data), in order."""
    with store.session() as session:
        bodies = session.scalars(select(LedgerEntry.body).order_by(LedgerEntry.seq)).all()
    parsed = [parse_entry(b.encode()) for b in bodies]
    return [(str(e.kind), e.subject, e.data) for e in parsed]
