"""Factories for desk-work tests: a desk on a store with users, places, reports, incidents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sijil.desk.incidents import create_incident
from sijil.desk.places import import_gazetteer
from sijil.desk.users import add_user
from sijil.store import Attachment, Correspondent, Envelope, Report, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = datetime(2017, 6, 6, 1, 40, tzinfo=UTC)
GAZETTEER = ("gazetteer", "syria-locations.json")
# Ar-Raqqa's places, a few Aleppo neighbourhoods and Afrin villages: enough to
# match against without importing 5,997 places in every test
SMALL_IDS = set(range(0, 6)) | set(range(2150, 2261)) | set(range(5622, 5630)) | {5880}


class Clock:
    """A clock that ticks one second per reading, from T0."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def small_gazetteer(corpus: Path) -> bytes:
    items = json.loads((corpus.joinpath(*GAZETTEER)).read_bytes())
    return json.dumps([i for i in items if i["id"] in SMALL_IDS]).encode()


@dataclass
class Desk:
    """A desk's database with a clock; ``tx()`` is one write transaction."""

    store: Store
    clock: Clock = field(default_factory=Clock)
    reports: int = 0

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with self.store.session(write=True) as session:
            yield session

    def users(self, **people: str) -> None:
        """``users(amal="admin editor", badr="reviewer")``: the first must be an admin."""
        with self.tx() as session:
            first = None
            for name, roles in people.items():
                add_user(session, name, roles.split(), by=first, clock=self.clock)
                first = first or name

    def places(self, data: bytes, by: str = "amal") -> None:
        with self.tx() as session:
            import_gazetteer(session, data, by=by, clock=self.clock)

    def incident(self, by: str = "amal", **fields: Any) -> str:
        values: dict[str, Any] = {
            "title_ar": "غارة على سوق الرقة",
            "title_en": "Airstrike on a Raqqa market",
            "incident_type": "airstrike",
            "start": START,
            "at": "35.9530,39.0060",
        }
        values.update(fields)
        with self.tx() as session:
            return create_incident(session, by=by, clock=self.clock, **values).code

    def report(self, title: str = "Market hit", files: tuple[str, ...] = ("a.jpg",)) -> int:
        """A registered report with attachments, as intake would leave it."""
        self.reports += 1
        n = self.reports
        with self.tx() as session:
            source = Correspondent(codename=f"raven-{n}", enrolled=True, created_at=T0)
            envelope = Envelope(
                id=f"{n:064x}", size=100, channel="usb", status="opened", received_at=T0
            )
            report = Report(
                envelope=envelope,
                correspondent=source,
                title=title,
                body="نص",
                lang="ar",
                created_at=T0,
                received_at=T0,
                manifest="{}",
                signature=f"{n:0128x}",
                attachments=[
                    Attachment(position=i, name=name, media_type="image/jpeg", size=10,
                               sha256=f"{n:032x}{i:032x}")
                    for i, name in enumerate(files)
                ],
            )  # fmt: skip
            session.add(report)
            session.flush()
            return report.id
