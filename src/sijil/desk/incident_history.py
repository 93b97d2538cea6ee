"""An incident's history: every saved version and what changed from the one before.

Each save of an incident keeps its fields as a revision (canonical JSON in
``IncidentRevision.data``, sijil.desk.incidents). This module reads them back,
newest first, each with the fields that differ from the version before it, and
the names of the places and users the revisions refer to by id. Read only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.incidents import get_incident
from sijil.desk.places import place_token
from sijil.store import DeskUser, IncidentRevision, Place

__all__ = ["FIELDS", "Change", "History", "Version", "diff_snapshots", "incident_history"]

#: The fields a revision holds, in the order a page shows them ("version" is the row itself).
FIELDS = (
    "title_ar",
    "title_en",
    "type",
    "state",
    "start",
    "end",
    "date_prec",
    "place",
    "lat",
    "lon",
    "where_prec",
    "governorate",
)


@dataclass(frozen=True, kw_only=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class Version:
    version: int
    saved_at: datetime
    saved_by: str | None
    sha256: str
    snapshot: dict[str, Any]
    changes: tuple[Change, ...]  # against the version before; every set field for version 1


@dataclass(frozen=True, kw_only=True)
class History:
    code: str
    current_version: int
    versions: tuple[Version, ...]  # newest first
    places: dict[int, tuple[str, str, str]]  # id -> (P- token, English name, Arabic name)


def diff_snapshots(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[Change, ...]:
    """The fields of ``new`` that differ from ``old`` (all those set, when there is no ``old``)."""
    changes = []
    for name in FIELDS:
        before = None if old is None else old.get(name)
        after = new.get(name)
        if before != after and not (old is None and after is None):
            changes.append(Change(field=name, old=before, new=after))
    return tuple(changes)


def incident_history(session: Session, code: str) -> History:
    """Every saved version of incident ``code``, newest first, with its differences."""
    incident = get_incident(session, code)
    rows = session.execute(
        select(IncidentRevision, DeskUser.name)
        .outerjoin(DeskUser, IncidentRevision.saved_by == DeskUser.id)
        .where(IncidentRevision.incident_id == incident.id)
        .order_by(IncidentRevision.version)
    ).all()
    versions: list[Version] = []
    previous: dict[str, Any] | None = None
    place_ids: set[int] = set()
    for revision, name in rows:
        snapshot: dict[str, Any] = json.loads(revision.data)
        if isinstance(snapshot.get("place"), int):
            place_ids.add(snapshot["place"])
        versions.append(
            Version(
                version=revision.version,
                saved_at=revision.saved_at,
                saved_by=name,
                sha256=revision.sha256,
                snapshot=snapshot,
                changes=diff_snapshots(previous, snapshot),
            )
        )
        previous = snapshot
    places = (
        {
            p.id: (place_token(p.id), p.name_en, p.name_ar)
            for p in session.scalars(select(Place).where(Place.id.in_(place_ids)))
        }
        if place_ids
        else {}
    )
    return History(
        code=incident.code,
        current_version=incident.version,
        versions=tuple(reversed(versions)),
        places=places,
    )
