"""An incident as the desk shows it: its fields, evidence, attribution and assessments.

``incident_dict`` is what ``sijil desk incident show --json`` prints and what the
web app and publishing will read; ``incident_row`` is the short form of a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.assessments import assessment_dict, assessments_of
from sijil.desk.incidents import get_incident
from sijil.desk.places import format_e6, place_dict, place_token
from sijil.desk.users import user_name
from sijil.store import Attachment, Attribution, DeskActor, EvidenceLink, Incident, Place

__all__ = ["incident_dict", "incident_row", "incident_rows", "show_incident"]


def _place(session: Session, incident: Incident) -> dict[str, Any] | None:
    if incident.place_id is None:
        return None
    place = session.get(Place, incident.place_id)
    return None if place is None else place_dict(place)


def incident_row(
    session: Session, incident: Incident, places: dict[int, Place] | None = None
) -> dict[str, Any]:
    """The fields a list shows; ``places`` saves a lookup per row (see ``incident_rows``)."""
    place = None
    if incident.place_id is not None:
        place = (places or {}).get(incident.place_id) or session.get(Place, incident.place_id)
    return {
        "code": incident.code,
        "state": incident.state,
        "version": incident.version,
        "type": incident.incident_type,
        "titles": {"ar": incident.title_ar, "en": incident.title_en},
        "start": incident.start_at.isoformat(),
        "place": None if place is None else {"id": place_token(place.id), "name_en": place.name_en,
                                             "name_ar": place.name_ar},
        "governorate": incident.governorate,
        "grading": incident.grading,
    }  # fmt: skip


def incident_rows(session: Session, incidents: Sequence[Incident]) -> list[dict[str, Any]]:
    """List rows for many incidents, their places fetched in one query, not one per row."""
    wanted = {i.place_id for i in incidents if i.place_id is not None}
    # held in this dict, not only in the session's weak identity map
    places = (
        {p.id: p for p in session.scalars(select(Place).where(Place.id.in_(wanted)))}
        if wanted
        else {}
    )
    return [incident_row(session, i, places) for i in incidents]


def _evidence(session: Session, incident: Incident) -> list[dict[str, Any]]:
    rows = session.execute(
        select(EvidenceLink, Attachment)
        .outerjoin(Attachment, EvidenceLink.attachment_id == Attachment.id)
        .where(EvidenceLink.incident_id == incident.id)
        .order_by(EvidenceLink.id)
    ).all()
    return [
        {
            "report": link.report_id,
            "attachment": None if file is None else {"position": file.position, "name": file.name},
            "role": link.role,
            "confidence": link.confidence,
            "note": link.note,
            "author": user_name(session, link.created_by),
            "linked_at": link.created_at.isoformat(),
        }
        for link, file in rows
    ]


def _attributions(session: Session, incident: Incident) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Attribution, DeskActor)
        .join(DeskActor, Attribution.actor_id == DeskActor.id)
        .where(Attribution.incident_id == incident.id)
        .order_by(Attribution.id)
    ).all()
    return [
        {
            "actor": {"en": actor.name_en, "ar": actor.name_ar},
            "stance": row.stance,
            "basis": row.basis,
            "author": user_name(session, row.created_by),
            "at": row.created_at.isoformat(),
        }
        for row, actor in rows
    ]


def incident_dict(session: Session, incident: Incident) -> dict[str, Any]:
    """Everything the desk knows of one incident."""
    assessments = [assessment_dict(session, a) for a in assessments_of(session, incident)]
    current = next(
        (a for a in assessments if a["id"] == f"A-{incident.current_assessment_id}"), None
    )
    return {
        "code": incident.code,
        "state": incident.state,
        "version": incident.version,
        "type": incident.incident_type,
        "titles": {"ar": incident.title_ar, "en": incident.title_en},
        "start": incident.start_at.isoformat(),
        "end": None if incident.end_at is None else incident.end_at.isoformat(),
        "date_prec": incident.date_prec,
        "place": _place(session, incident),
        "coordinates": None
        if incident.lat_e6 is None
        else {"lat": format_e6(incident.lat_e6), "lon": format_e6(incident.lon_e6)},
        "where_prec": incident.where_prec,
        "governorate": incident.governorate,
        "current_assessment": current,
        "assessments": assessments,
        "evidence": _evidence(session, incident),
        "attributions": _attributions(session, incident),
        "created_at": incident.created_at.isoformat(),
        "created_by": user_name(session, incident.created_by),
        "updated_at": incident.updated_at.isoformat(),
        "updated_by": user_name(session, incident.updated_by),
    }


def show_incident(session: Session, code: str) -> dict[str, Any]:
    return incident_dict(session, get_incident(session, code))
