"""Incidents: one event in time and place, saved under an optimistic lock, kept per revision.

Every save names the version it was based on. The update is conditional
(``UPDATE ... WHERE id = :id AND version = :read``), so of two editors who read
version 3, the first to save makes version 4 and the second gets a
:class:`~sijil.errors.VersionConflict`, never a silent overwrite. Each version's
fields are kept as a revision (canonical JSON, Bayanat's "revision per save")
and its digest goes into the custody ledger in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.desk.codes import allocate_code, normalize_code
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.places import format_e6, resolve_place
from sijil.desk.users import EDITING, require_user
from sijil.errors import DeskError, UnknownCode, VersionConflict
from sijil.store import Incident, IncidentRevision, Place
from sijil.store.models_desk import Grading, IncidentState, IncidentType, PlaceKind

__all__ = [
    "IncidentChanges",
    "create_incident",
    "edit_incident",
    "get_incident",
    "incident_snapshot",
    "list_incidents",
    "parse_coordinates",
    "parse_when",
    "revisions",
]

# UCDP GED where_prec for a place of each kind: 1 the exact place, 3 its
# district (admin-2), 4 its governorate (admin-1)
_WHERE_PREC = {PlaceKind.PLACE: 1, PlaceKind.SUBDISTRICT: 3, PlaceKind.DISTRICT: 3,
               PlaceKind.GOVERNORATE: 4}  # fmt: skip
# which states an incident may move to from each state
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.DRAFT: frozenset({IncidentState.IN_REVIEW, IncidentState.WITHDRAWN}),
    IncidentState.IN_REVIEW: frozenset(
        {IncidentState.DRAFT, IncidentState.PUBLISHED, IncidentState.WITHDRAWN}
    ),
    IncidentState.PUBLISHED: frozenset({IncidentState.IN_REVIEW, IncidentState.WITHDRAWN}),
    IncidentState.WITHDRAWN: frozenset({IncidentState.DRAFT}),
}
MAX_TITLE = 500
_E6 = Decimal(1_000_000)


def parse_when(text: str) -> datetime:
    """An ISO date (taken as 00:00 UTC) or a date and time with its offset (``Z``, ``+03:00``)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise DeskError(f"{text[:40]!r} is not an ISO date or time (2017-06-06, "
                        "2017-06-06T04:30+03:00)") from None  # fmt: skip
    if when.tzinfo is None:
        raise DeskError(f"{text!r} has no time zone: add Z for UTC or an offset like +03:00")
    return when.astimezone(UTC)


def in_utc(when: datetime) -> datetime:
    """``when`` in UTC; the store and the ledger's snapshots hold UTC only."""
    if when.tzinfo is None:
        raise DeskError("a time without a time zone: give an offset like +03:00 or Z")
    return when.astimezone(UTC)


def parse_coordinates(text: str) -> tuple[int, int]:
    """``LAT,LON`` in decimal degrees as integer microdegrees (finer digits are rounded)."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = (int((Decimal(v.strip()) * _E6).to_integral_value())
                    for v in (lat_text, lon_text))  # fmt: skip
    except (ValueError, InvalidOperation):
        raise DeskError(f"{text[:40]!r} is not LAT,LON in decimal degrees") from None
    if not (-90 * _E6 <= lat <= 90 * _E6 and -180 * _E6 <= lon <= 180 * _E6):
        raise DeskError(f"{text!r} is off the globe")
    return lat, lon


def _check_precisions(date_prec: int, where_prec: int) -> None:
    if not 1 <= date_prec <= 5:
        raise DeskError("date precision is 1 (the day) to 5 (only the year), as in UCDP GED")
    if not 1 <= where_prec <= 7:
        raise DeskError(
            "where precision is 1 (the exact place) to 7 (international waters), as in UCDP GED"
        )


def _check_titles(title_ar: str, title_en: str) -> None:
    for lang, title in (("Arabic", title_ar), ("English", title_en)):
        if not title.strip():
            raise DeskError(f"an incident needs an {lang} title")
        if len(title) > MAX_TITLE:
            raise DeskError(f"the {lang} title is over {MAX_TITLE} characters")


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    """The incident's own fields as canonical-JSON-able data: what one revision holds."""
    return {
        "code": incident.code,
        "version": incident.version,
        "title_ar": incident.title_ar,
        "title_en": incident.title_en,
        "type": incident.incident_type,
        "state": incident.state,
        "start": incident.start_at.isoformat(),
        "end": None if incident.end_at is None else incident.end_at.isoformat(),
        "date_prec": incident.date_prec,
        "place": incident.place_id,
        "lat": format_e6(incident.lat_e6),
        "lon": format_e6(incident.lon_e6),
        "where_prec": incident.where_prec,
        "governorate": incident.governorate,
    }


def _save_revision(
    session: Session, incident: Incident, *, action: str, user_id: int, at: datetime
) -> None:
    snapshot = incident_snapshot(incident)
    body = canonical_json(snapshot).decode("utf-8")
    digest = canonical_sha256(snapshot)
    session.add(
        IncidentRevision(
            incident_id=incident.id,
            version=incident.version,
            data=body,
            sha256=digest,
            saved_at=at,
            saved_by=user_id,
        )
    )
    record(
        session,
        action=action,
        subject=incident.code,
        by=user_id,
        data={"incident": incident.code, "version": incident.version, "revision_sha256": digest},
        at=at,
    )


def _location(
    session: Session, place: str | None, at: str | None, where_prec: int | None
) -> dict[str, Any]:
    if place is None and at is None:
        raise DeskError("an incident needs a place or coordinates (LAT,LON)")
    found: Place | None = None if place is None else resolve_place(session, place)
    lat = lon = None
    if at is not None:
        lat, lon = parse_coordinates(at)
    if where_prec is None:
        where_prec = 1 if at is not None or found is None else _WHERE_PREC[PlaceKind(found.kind)]
    return {
        "place_id": None if found is None else found.id,
        "lat_e6": lat,
        "lon_e6": lon,
        "where_prec": where_prec,
        "governorate": None if found is None else found.governorate,
    }


def create_incident(
    session: Session,
    *,
    title_ar: str,
    title_en: str,
    incident_type: IncidentType | str,
    start: datetime,
    end: datetime | None = None,
    date_prec: int = 1,
    place: str | None = None,
    at: str | None = None,
    where_prec: int | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> Incident:
    """Record a new incident as a draft at version 1; return it with its new public code."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    kind = IncidentType(incident_type)
    _check_titles(title_ar, title_en)
    start, end = in_utc(start), None if end is None else in_utc(end)
    if end is not None and end < start:
        raise DeskError("the incident ends before it starts")
    location = _location(session, place, at, where_prec)
    _check_precisions(date_prec, location["where_prec"])
    now = clock()
    incident = Incident(
        code=allocate_code(session, now.year),
        title_ar=title_ar.strip(),
        title_en=title_en.strip(),
        incident_type=str(kind),
        state=str(IncidentState.DRAFT),
        start_at=start,
        end_at=end,
        date_prec=date_prec,
        version=1,
        created_at=now,
        created_by=user.id,
        updated_at=now,
        updated_by=user.id,
        **location,
    )
    session.add(incident)
    session.flush()
    _save_revision(session, incident, action="incident.created", user_id=user.id, at=now)
    return incident


@dataclass(frozen=True, kw_only=True)
class IncidentChanges:
    """What an edit changes; None leaves a field as it is."""

    title_ar: str | None = None
    title_en: str | None = None
    incident_type: IncidentType | str | None = None
    start: datetime | None = None
    end: datetime | None = None
    clear_end: bool = False
    date_prec: int | None = None
    place: str | None = None
    at: str | None = None
    where_prec: int | None = None
    state: IncidentState | str | None = None

    def empty(self) -> bool:
        return all(getattr(self, f.name) in (None, False) for f in fields(self))


def get_incident(session: Session, code: str) -> Incident:
    """The incident with public code ``code`` (any letter case, with or without leading zeros)."""
    code = normalize_code(code)
    incident = session.scalar(select(Incident).where(Incident.code == code))
    if incident is None:
        raise UnknownCode(f"no incident {code}")
    return incident


def _new_values(session: Session, incident: Incident, changes: IncidentChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.title_ar is not None:
        values["title_ar"] = changes.title_ar.strip()
    if changes.title_en is not None:
        values["title_en"] = changes.title_en.strip()
    _check_titles(
        values.get("title_ar", incident.title_ar), values.get("title_en", incident.title_en)
    )
    if changes.incident_type is not None:
        values["incident_type"] = str(IncidentType(changes.incident_type))
    if changes.start is not None:
        values["start_at"] = in_utc(changes.start)
    if changes.clear_end:
        values["end_at"] = None
    elif changes.end is not None:
        values["end_at"] = in_utc(changes.end)
    end, start = values.get("end_at", incident.end_at), values.get("start_at", incident.start_at)
    if end is not None and end < start:
        raise DeskError("the incident would end before it starts")
    if changes.date_prec is not None:
        values["date_prec"] = changes.date_prec
    if changes.place is not None or changes.at is not None:
        values |= _location(session, changes.place, changes.at, changes.where_prec)
    elif changes.where_prec is not None:
        values["where_prec"] = changes.where_prec
    _check_precisions(values.get("date_prec", incident.date_prec),
                      values.get("where_prec", incident.where_prec))  # fmt: skip
    if changes.state is not None:
        new, old = IncidentState(changes.state), IncidentState(incident.state)
        if new != old:
            if new not in TRANSITIONS[old]:
                raise DeskError(f"{incident.code} cannot go from {old} to {new}")
            if new == IncidentState.PUBLISHED and incident.current_assessment_id is None:
                raise DeskError(f"{incident.code} has no reviewed assessment to publish")
            values["state"] = str(new)
    return {k: v for k, v in values.items() if getattr(incident, k) != v}


def edit_incident(
    session: Session,
    code: str,
    *,
    if_version: int,
    changes: IncidentChanges,
    by: str | None,
    clock: Clock = utcnow,
) -> Incident:
    """Save ``changes`` over version ``if_version``; a newer version raises VersionConflict."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    incident = get_incident(session, code)
    if incident.version != if_version:
        raise VersionConflict(
            f"{incident.code} is at version {incident.version}, not {if_version}: someone saved "
            "it since you read it; look at it again and redo your change"
        )
    values = _new_values(session, incident, changes)
    if not values:
        raise DeskError(f"nothing to change in {incident.code}")
    now = clock()
    result = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.version == if_version)
        .values(**values, version=if_version + 1, updated_at=now, updated_by=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise VersionConflict(
            f"{incident.code} was saved by someone else meanwhile; redo your change"
        )
    session.refresh(incident)
    _save_revision(session, incident, action="incident.edited", user_id=user.id, at=now)
    return incident


def revisions(session: Session, code: str) -> list[dict[str, Any]]:
    """Every saved version of the incident, oldest first, as it was saved."""
    incident = get_incident(session, code)
    rows = session.scalars(
        select(IncidentRevision)
        .where(IncidentRevision.incident_id == incident.id)
        .order_by(IncidentRevision.version)
    ).all()
    return [json.loads(r.data) | {"saved_at": r.saved_at.isoformat()} for r in rows]


def list_incidents(
    session: Session,
    *,
    place: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    grading: Grading | str | None = None,
    state: IncidentState | str | None = None,
    limit: int | None = None,
) -> list[Incident]:
    """Incidents, newest first, filtered by place (a governorate takes in all its places),
    start time, the current assessment's grading and state."""
    query = select(Incident)
    if place is not None:
        found = resolve_place(session, place)
        if found.kind == PlaceKind.GOVERNORATE:
            query = query.where(Incident.governorate == found.governorate)
        else:
            query = query.where(Incident.place_id == found.id)
    if since is not None:
        query = query.where(Incident.start_at >= since)
    if until is not None:
        query = query.where(Incident.start_at <= until)
    if grading is not None:
        query = query.where(Incident.grading == str(Grading(grading)))
    if state is not None:
        query = query.where(Incident.state == str(IncidentState(state)))
    query = query.order_by(Incident.start_at.desc(), Incident.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
