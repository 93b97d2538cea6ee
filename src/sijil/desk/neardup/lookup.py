"""Answers to "where have we seen this?": recorded matches, and ad-hoc look-ups of a file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from sijil.desk.neardup.catalog import Found, MatchKind
from sijil.desk.neardup.intake import catalog_for
from sijil.fsutil import sha256_file
from sijil.media.fingerprint import MediaPrint, fingerprint_file
from sijil.media.index import DEFAULT_RADIUS
from sijil.store import Attachment, MediaMatch, MediaPrintRow, Report, Store

__all__ = ["Direction", "ReportMatch", "SeenAt", "look_up", "matches_by_report"]


@dataclass(frozen=True, kw_only=True)
class SeenAt:
    """One earlier attachment that a looked-up file resembles."""

    report_id: int
    attachment: str
    received_at: datetime
    created_at: datetime
    kind: MatchKind
    distance: int
    transform: str | None = None
    score: float | None = None
    other_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "attachment": self.attachment,
            "received_at": self.received_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "kind": self.kind.value,
            "distance": self.distance,
            "transform": self.transform,
            "score": self.score,
            "other_score": self.other_score,
        }


class Direction(StrEnum):
    """Which way round a recorded match is seen from a report."""

    SEEN_BEFORE = "seen before"  # the report's item is the later one
    SEEN_AGAIN = "seen again"  # the report's item is the earlier one


@dataclass(frozen=True, kw_only=True)
class ReportMatch:
    """One recorded match of a report's attachment, seen from that report."""

    kind: MatchKind
    distance: int
    transform: str | None
    score: float | None
    other_score: float | None
    attachment: str  # the report's attachment (its name)
    direction: Direction
    other_report_id: int
    other_attachment: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "distance": self.distance,
            "transform": self.transform,
            "score": self.score,
            "other_score": self.other_score,
            "attachment": self.attachment,
            "direction": self.direction.value,
            "other_report_id": self.other_report_id,
            "other_attachment": self.other_attachment,
        }


def matches_by_report(session: Session, report_ids: Iterable[int]) -> dict[int, list[ReportMatch]]:
    """Recorded matches of each report's attachments to earlier ones, both ways round."""
    ids = list(report_ids)
    if not ids:
        return {}
    mine, other = aliased(Attachment), aliased(Attachment)
    rows = session.execute(
        select(MediaMatch, mine, other)
        .join(mine, MediaMatch.attachment_id == mine.id)
        .join(other, MediaMatch.other_id == other.id)
        .where(or_(mine.report_id.in_(ids), other.report_id.in_(ids)))
        .order_by(MediaMatch.id)
    ).all()
    found: dict[int, list[ReportMatch]] = {}
    for match, new, old in rows:
        # the later item points back ("seen before"), the earlier forward ("seen again")
        found.setdefault(new.report_id, []).append(
            _seen_from(match, new, old, Direction.SEEN_BEFORE)
        )
        if old.report_id != new.report_id:
            found.setdefault(old.report_id, []).append(
                _seen_from(match, old, new, Direction.SEEN_AGAIN)
            )
    return {k: v for k, v in found.items() if k in ids}


def _seen_from(
    match: MediaMatch, mine: Attachment, other: Attachment, direction: Direction
) -> ReportMatch:
    return ReportMatch(
        kind=MatchKind(match.kind),
        distance=match.distance,
        transform=match.transform,
        score=match.score,
        other_score=match.other_score,
        attachment=mine.name,
        direction=direction,
        other_report_id=other.report_id,
        other_attachment=other.name,
    )


def _describe(store: Store, found: list[Found], sha256: str) -> list[SeenAt]:
    by_print = {f.print_id: f for f in found}
    with store.session() as session:
        rows = session.execute(
            select(MediaPrintRow.id, Attachment, Report)
            .join(Attachment, MediaPrintRow.attachment_id == Attachment.id)
            .join(Report, Attachment.report_id == Report.id)
            .where(MediaPrintRow.id.in_(list(by_print)))
        ).all()
        exact = session.execute(
            select(Attachment, Report)
            .join(Report, Attachment.report_id == Report.id)
            .where(Attachment.sha256 == sha256)
        ).all()
        seen: dict[int, SeenAt] = {}
        for attachment, report in exact:
            seen[attachment.id] = SeenAt(
                report_id=report.id, attachment=attachment.name, received_at=report.received_at,
                created_at=report.created_at, kind=MatchKind.EXACT, distance=0,
            )  # fmt: skip
        for print_id, attachment, report in rows:
            if attachment.id in seen:
                continue
            f = by_print[print_id]
            seen[attachment.id] = SeenAt(
                report_id=report.id, attachment=attachment.name, received_at=report.received_at,
                created_at=report.created_at, kind=f.kind, distance=f.distance,
                transform=f.transform, score=f.score, other_score=f.other_score,
            )  # fmt: skip
    return sorted(seen.values(), key=lambda s: (s.distance, s.received_at, s.report_id))


def look_up(
    store: Store, home: Path | None, path: Path, *, radius: int = DEFAULT_RADIUS
) -> tuple[MediaPrint, list[SeenAt]]:
    """Fingerprint ``path``; list every earlier item it resembles (MediaError if it cannot)."""
    media = fingerprint_file(path)
    sha256 = sha256_file(path)
    catalog = catalog_for(store, home, radius=radius)
    found = catalog.match(media)
    catalog.save_if_due()
    return media, _describe(store, found, sha256)
