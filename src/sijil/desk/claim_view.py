"""A claim as the desk shows it: what was said, by whom, the incidents and the verdicts.

``claim_dict`` is what ``sijil desk claim show --json`` prints; ``claim_rows`` is
the short form of a list, with the claim's current verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.claims import claim_token, get_claim, incidents_of
from sijil.desk.places import place_token
from sijil.desk.sources import source_token
from sijil.desk.users import user_name
from sijil.desk.verdicts import current_ratings, current_verdict, verdict_dict, verdicts_of
from sijil.store import Claim, DeskActor, Place, Source

__all__ = ["claim_dict", "claim_rows", "show_claim"]

_CHUNK = 500  # claim ids per IN (...) list


def _source(session: Session, claim: Claim) -> dict[str, Any]:
    source = session.get(Source, claim.source_id)
    if source is None:  # pragma: no cover - foreign key
        return {"id": source_token(claim.source_id)}
    return {"id": source_token(source.id), "kind": source.kind, "name": source.name}


def _killed(claim: Claim) -> dict[str, int | None]:
    return {
        "civilians": claim.killed_civilians,
        "children": claim.killed_children,
        "women": claim.killed_women,
        "noncivilians": claim.killed_noncivilians,
    }


def _external(claim: Claim) -> dict[str, Any] | None:
    if claim.imported_from is None:
        return None
    return {"dataset": claim.imported_from, "ref": claim.external_ref,
            "part": claim.external_part, "label": claim.external_label}  # fmt: skip


def claim_rows(session: Session, claims: Sequence[Claim]) -> list[dict[str, Any]]:
    """The fields a list shows, with each claim's current verdict (id and rating)."""
    ratings: dict[int, tuple[int, str]] = {}
    for start in range(0, len(claims), _CHUNK):
        ratings |= current_ratings(session, [c.id for c in claims[start : start + _CHUNK]])
    sources = {s.id: s for s in session.scalars(select(Source))}
    return [_row(c, sources.get(c.source_id), ratings.get(c.id)) for c in claims]


def _row(claim: Claim, source: Source | None, current: tuple[int, str] | None) -> dict[str, Any]:
    return {
        "id": claim_token(claim.id),
        "source": None if source is None else {"id": source_token(source.id), "kind": source.kind,
                                               "name": source.name},
        "date": None if claim.claim_date is None else claim.claim_date.isoformat(),
        "title": claim.title,
        "governorate": claim.governorate,
        "place_text": claim.place_text,
        "actor_text": claim.actor_text,
        "killed": _killed(claim),
        "external": _external(claim),
        "verdict": None if current is None else {"id": f"V-{current[0]}", "rating": current[1]},
    }  # fmt: skip


def claim_dict(session: Session, claim: Claim) -> dict[str, Any]:
    """Everything the desk holds on one claim."""
    place = None if claim.place_id is None else session.get(Place, claim.place_id)
    actor = None if claim.actor_id is None else session.get(DeskActor, claim.actor_id)
    verdicts = [verdict_dict(session, v) for v in verdicts_of(session, claim)]
    current = current_verdict(session, claim)
    return {
        "id": claim_token(claim.id),
        "source": _source(session, claim),
        "external": _external(claim),
        "title": claim.title,
        "text": claim.body,
        "lang": claim.lang,
        "date": None if claim.claim_date is None else claim.claim_date.isoformat(),
        "place": None if place is None else {"id": place_token(place.id), "kind": place.kind,
                                             "name_en": place.name_en, "name_ar": place.name_ar,
                                             "governorate": place.governorate},
        "place_text": claim.place_text,
        "actor": None if actor is None else {"en": actor.name_en, "ar": actor.name_ar},
        "actor_text": claim.actor_text,
        "cause": claim.cause,
        "killed": _killed(claim),
        "incidents": incidents_of(session, claim),
        "current_verdict": next((v for v in verdicts if current and v["id"] == f"V-{current.id}"),
                                None),
        "verdicts": verdicts,
        "content_sha256": claim.content_sha256,
        "created_at": claim.created_at.isoformat(),
        "created_by": user_name(session, claim.created_by),
    }  # fmt: skip


def show_claim(session: Session, token: str) -> dict[str, Any]:
    return claim_dict(session, get_claim(session, token))
