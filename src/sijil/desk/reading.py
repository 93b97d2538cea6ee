"""What a desk user may read, a page at a time: the inbox, one report, the search scope.

Reports are what correspondents sent, before anyone checked them or removed what
could name them from the text; they are for the people working on them
(``REPORT_READERS``). A viewer reads the desk's own records: incidents, claims,
places and actors. ``search_scope`` turns roles into the kinds a search may
rank, so nothing else is counted or quoted (sijil.desk.search).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.activity_log import log_activity, search_object
from sijil.desk.custody import Clock, utcnow
from sijil.desk.neardup.lookup import ReportMatch, matches_by_report
from sijil.desk.search import Hit, SearchFilters, SearchScope, search
from sijil.errors import PermissionDenied, UnknownCode
from sijil.store import DocKind, Report
from sijil.store.models_desk import Role

__all__ = [
    "INBOX_PAGE",
    "REPORT_READERS",
    "InboxRow",
    "ReportPage",
    "inbox",
    "read_report",
    "search_as",
    "search_scope",
]

#: Reports per inbox page: a screen's worth, fetched with one indexed query.
INBOX_PAGE = 50
REPORT_READERS = frozenset({Role.EDITOR, Role.ANALYST, Role.REVIEWER})
_PUBLIC_KINDS = frozenset({DocKind.INCIDENT, DocKind.CLAIM, DocKind.PLACE, DocKind.ACTOR})
#: Languages written right to left, for the ``dir`` of a report's own text.
RTL_LANGS = frozenset({"ar", "fa", "ur", "ku", "ckb", "he", "ps"})


def search_scope(roles: frozenset[Role]) -> SearchScope:
    """The kinds a user holding ``roles`` may find: everything for report readers."""
    if roles & REPORT_READERS:
        return SearchScope()
    if roles:
        return SearchScope(kinds=_PUBLIC_KINDS)
    return SearchScope(kinds=frozenset())


def _require_reader(roles: frozenset[Role]) -> None:
    if not roles & REPORT_READERS:
        raise PermissionDenied("reading reports needs the editor, analyst or reviewer role")


@dataclass(frozen=True, kw_only=True)
class InboxRow:
    id: int
    title: str
    lang: str
    direction: str
    correspondent: str
    channel: str
    received_at: datetime
    attachments: int
    near_duplicates: int


def direction(lang: str) -> str:
    return "rtl" if lang.split("-")[0].lower() in RTL_LANGS else "ltr"


def inbox(session: Session, roles: frozenset[Role], *, before: int | None = None) -> list[InboxRow]:
    """The newest reports (with ids below ``before``), ``INBOX_PAGE`` at most."""
    _require_reader(roles)
    query = (
        select(Report)
        .options(
            selectinload(Report.attachments),
            selectinload(Report.correspondent),
            selectinload(Report.envelope),
        )
        .order_by(Report.id.desc())
        .limit(INBOX_PAGE)
    )
    if before is not None:
        query = query.where(Report.id < before)
    reports = session.scalars(query).all()
    matches = matches_by_report(session, [r.id for r in reports])
    return [
        InboxRow(
            id=r.id,
            title=r.title,
            lang=r.lang,
            direction=direction(r.lang),
            correspondent=r.correspondent.codename,
            channel=r.envelope.channel,
            received_at=r.received_at,
            attachments=len(r.attachments),
            near_duplicates=len(matches.get(r.id, ())),
        )
        for r in reports
    ]


@dataclass(frozen=True, kw_only=True)
class ReportPage:
    id: int
    title: str
    body: str
    lang: str
    direction: str
    correspondent: str
    channel: str
    created_at: datetime
    received_at: datetime
    attachments: tuple[tuple[str, str, int], ...]
    matches: tuple[ReportMatch, ...]


def read_report(
    session: Session, roles: frozenset[Role], report_id: int, *, user_id: int, clock: Clock = utcnow
) -> ReportPage:
    """One report for reading; the view is written to the activity log."""
    _require_reader(roles)
    report = session.scalars(
        select(Report)
        .options(
            selectinload(Report.attachments),
            selectinload(Report.correspondent),
            selectinload(Report.envelope),
        )
        .where(Report.id == report_id)
    ).one_or_none()
    if report is None:
        raise UnknownCode(f"no report #{report_id}")
    log_activity(
        session, user_id=user_id, action="report.view", obj=f"report:{report.id}", clock=clock
    )
    return ReportPage(
        id=report.id,
        title=report.title,
        body=report.body,
        lang=report.lang,
        direction=direction(report.lang),
        correspondent=report.correspondent.codename,
        channel=report.envelope.channel,
        created_at=report.created_at,
        received_at=report.received_at,
        attachments=tuple((a.name, a.media_type, a.size) for a in report.attachments),
        matches=tuple(matches_by_report(session, [report.id]).get(report.id, ())),
    )


def search_as(
    session: Session,
    roles: frozenset[Role],
    query_text: str,
    *,
    user_id: int,
    filters: SearchFilters | None = None,
    clock: Clock = utcnow,
) -> list[Hit]:
    """sijil.desk.search within the user's scope; the search (not its words) is logged."""
    hits = search(session, query_text, filters, search_scope(roles))
    log_activity(
        session, user_id=user_id, action="search", obj=search_object(query_text), clock=clock
    )
    return hits
