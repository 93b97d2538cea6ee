"""Read-only views of what the desk has received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sijil.desk.neardup.lookup import ReportMatch, matches_by_report
from sijil.desk.revocation import flags_for
from sijil.store import Report, Store

__all__ = ["ReportRow", "list_reports"]


@dataclass(frozen=True, kw_only=True)
class ReportRow:
    id: int
    envelope_id: str
    title: str
    lang: str
    correspondent: str
    enrolled: bool
    created_at: datetime
    received_at: datetime
    location: dict[str, Any] | None
    attachments: tuple[dict[str, Any], ...]
    # near-duplicate photos/videos in other reports (sijil.media)
    matches: tuple[ReportMatch, ...] = ()
    # "possibly coerced" or "sent under duress" (sijil.desk.revocation), else None
    flag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "envelope_id": self.envelope_id,
            "title": self.title,
            "lang": self.lang,
            "correspondent": self.correspondent,
            "enrolled": self.enrolled,
            "created_at": self.created_at.isoformat(),
            "received_at": self.received_at.isoformat(),
            "location": self.location,
            "attachments": list(self.attachments),
            "matches": [m.to_dict() for m in self.matches],
            "flag": self.flag,
        }


def list_reports(store: Store) -> list[ReportRow]:
    with store.session() as session:
        reports = session.scalars(
            select(Report)
            .options(selectinload(Report.attachments), selectinload(Report.correspondent))
            .order_by(Report.received_at.desc(), Report.id.desc())
        ).all()
        matches = matches_by_report(session, [r.id for r in reports])
        flags = flags_for(session, [r.id for r in reports])
        return [
            ReportRow(
                id=r.id,
                envelope_id=r.envelope_id,
                title=r.title,
                lang=r.lang,
                correspondent=r.correspondent.codename,
                enrolled=r.correspondent.enrolled,
                created_at=r.created_at,
                received_at=r.received_at,
                location=None
                if r.latitude is None
                else {
                    "lat": r.latitude,
                    "lon": r.longitude,
                    "precision_m": r.location_precision_m,
                },
                attachments=tuple(
                    {"name": a.name, "media_type": a.media_type, "size": a.size, "sha256": a.sha256}
                    for a in r.attachments
                ),
                matches=tuple(matches.get(r.id, ())),
                flag=None if r.id not in flags else str(flags[r.id]),
            )
            for r in reports
        ]
