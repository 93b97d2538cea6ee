"""Factories for search tests: reports with given text, on a desk-work Desk."""

from __future__ import annotations

from datetime import datetime

from desk_work_helpers import T0, Desk
from sijil.desk.search import SearchFilters, search
from sijil.store import Correspondent, Envelope, Report


def add_report(
    desk: Desk,
    title: str,
    body: str = "",
    *,
    lang: str = "ar",
    received: datetime = T0,
    at: tuple[float, float] | None = None,
) -> int:
    """A registered report with this text (and position), as intake would leave it."""
    desk.reports += 1
    n = desk.reports
    with desk.tx() as session:
        report = Report(
            envelope=Envelope(id=f"{n:064x}", size=100, channel="usb", status="opened",
                              received_at=received),
            correspondent=Correspondent(codename=f"finch-{n}", enrolled=True, created_at=T0),
            title=title, body=body, lang=lang, created_at=received, received_at=received,
            latitude=at[0] if at else None, longitude=at[1] if at else None,
            manifest="{}", signature=f"{n:0128x}",
        )  # fmt: skip
        session.add(report)
        session.flush()
        return report.id


def found(desk: Desk, query: str, **filters: object) -> list[str]:
    """The typed ids a search returns, best first."""
    with desk.store.session() as session:
        hits = search(session, query, SearchFilters(**filters))  # type: ignore[arg-type]
    return [hit.id for hit in hits]
