"""Claims: what an outlet, an official or a monitor said about an event.

A claim names its source, the date and place of what it reports, who did it
(an actor the desk knows, else the words used) and the numbers it claims: the
civilians, children, women and non-civilians killed. A claim records what was
said, right or wrong; it is never edited. The desk's judgement of it is a
verdict (:mod:`sijil.desk.verdicts`), and a claim may be linked to the
incidents it is about. Claims are ``C-<n>``; an imported claim keeps the
dataset's own id as its external reference (FA-KES ``unit_id``).

Each claim's content is digested (canonical JSON, SHA-256) into its
``claim.created`` ledger entry, in the same transaction as the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.actors import resolve_actor
from sijil.desk.casualties import MAX_COUNT
from sijil.desk.codes import parse_token
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.incidents import get_incident
from sijil.desk.places import resolve_place
from sijil.desk.sources import find_source, source_token
from sijil.desk.users import EDITING, require_user
from sijil.errors import AmbiguousName, DeskError, UnknownCode
from sijil.store import Claim, ClaimIncident, DeskActor, Incident, Place, Source

__all__ = [
    "ClaimDraft",
    "Killed",
    "add_claim",
    "build_claim",
    "claim_content",
    "claim_token",
    "get_claim",
    "incidents_of",
    "link_claim",
    "list_claims",
    "store_claim",
    "store_claims",
]

MAX_TITLE = 2_000
MAX_BODY = 100_000


def claim_token(claim_id: int) -> str:
    """The typed id of a claim: ``C-40``."""
    return f"C-{claim_id}"


@dataclass(frozen=True, kw_only=True)
class Killed:
    """The numbers of dead a claim states; None where it says nothing."""

    civilians: int | None = None
    children: int | None = None
    women: int | None = None
    noncivilians: int | None = None

    def check(self) -> Killed:
        for name, value in self.to_dict().items():
            if value is not None and not 0 <= value <= MAX_COUNT:
                raise DeskError(f"{name} killed must be 0 to {MAX_COUNT}, not {value}")
        return self

    def to_dict(self) -> dict[str, int | None]:
        return {
            "civilians": self.civilians,
            "children": self.children,
            "women": self.women,
            "noncivilians": self.noncivilians,
        }


@dataclass(frozen=True, kw_only=True)
class ClaimDraft:
    """A claim before it is stored; places and actors already resolved."""

    source: Source
    title: str
    body: str = ""
    lang: str = "en"
    claim_date: date | None = None
    place: Place | None = None
    place_text: str | None = None
    actor: DeskActor | None = None
    actor_text: str | None = None
    cause: str | None = None
    killed: Killed = Killed()
    imported_from: str | None = None
    external_ref: str | None = None
    external_part: int | None = None
    external_label: str | None = None


def _short(text: str | None, limit: int = 255) -> str | None:
    if text is None or not text.strip():
        return None
    return " ".join(text.split())[:limit]


def claim_content(claim: Claim) -> dict[str, Any]:
    """What a claim says, as canonical-JSON-able data (its ledger digest is of this)."""
    return {
        "source": claim.source_id,
        "imported_from": claim.imported_from,
        "external_ref": claim.external_ref,
        "external_part": claim.external_part,
        "title": claim.title,
        "body": claim.body,
        "lang": claim.lang,
        "date": None if claim.claim_date is None else claim.claim_date.isoformat(),
        "place": claim.place_id,
        "place_text": claim.place_text,
        "actor": claim.actor_id,
        "actor_text": claim.actor_text,
        "cause": claim.cause,
        "killed": {
            "civilians": claim.killed_civilians,
            "children": claim.killed_children,
            "women": claim.killed_women,
            "noncivilians": claim.killed_noncivilians,
        },
        "external_label": claim.external_label,
    }


def build_claim(draft: ClaimDraft, *, user_id: int, at: datetime) -> Claim:
    """The row for ``draft`` (checked, not yet added), with its content digest."""
    title = " ".join(draft.title.split())
    if not title:
        raise DeskError("a claim needs a title: what was claimed, in a line")
    if len(title) > MAX_TITLE or len(draft.body) > MAX_BODY:
        raise DeskError(f"a claim's title is at most {MAX_TITLE} characters, its text {MAX_BODY}")
    killed = draft.killed.check()
    claim = Claim(
        source_id=draft.source.id,
        imported_from=draft.imported_from,
        external_ref=draft.external_ref,
        external_part=draft.external_part,
        title=title,
        body=draft.body.strip(),
        lang=draft.lang,
        claim_date=draft.claim_date,
        place_id=None if draft.place is None else draft.place.id,
        governorate=None if draft.place is None else draft.place.governorate,
        place_text=_short(draft.place_text),
        actor_id=None if draft.actor is None else draft.actor.id,
        actor_text=_short(draft.actor_text),
        cause=_short(draft.cause),
        killed_civilians=killed.civilians,
        killed_children=killed.children,
        killed_women=killed.women,
        killed_noncivilians=killed.noncivilians,
        external_label=_short(draft.external_label, 32),
        created_at=at,
        created_by=user_id,
    )
    claim.content_sha256 = canonical_sha256(claim_content(claim))
    return claim


def store_claims(session: Session, claims: Sequence[Claim]) -> None:
    """Add built claims and a ``claim.created`` entry for each (inside a change begun)."""
    session.add_all(claims)
    session.flush()
    for claim in claims:
        record(
            session,
            action="claim.created",
            subject=claim_token(claim.id),
            by=claim.created_by,
            data={"claim": claim.id, "source": claim.source_id, "external_ref": claim.external_ref,
                  "external_part": claim.external_part, "content_sha256": claim.content_sha256},
            at=claim.created_at,
        )  # fmt: skip


def store_claim(session: Session, claim: Claim) -> Claim:
    """Add one built claim and its ``claim.created`` entry (inside a change begun)."""
    store_claims(session, [claim])
    return claim


def add_claim(
    session: Session,
    *,
    source: str,
    title: str,
    body: str = "",
    lang: str = "en",
    claim_date: date | None = None,
    place: str | None = None,
    actor: str | None = None,
    cause: str | None = None,
    killed: Killed | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> Claim:
    """Record a claim by ``source`` (an S- id or name); place and actor are resolved.

    An actor the desk does not know is kept as the words given.
    """
    begin_change(session)
    user = require_user(session, by, *EDITING)
    found = find_source(session, source)
    if not isinstance(found, Source):
        raise DeskError("a correspondent's word is a report, not a claim")
    known_actor: DeskActor | None = None
    if actor is not None and actor.strip():
        try:
            known_actor = resolve_actor(session, actor)
        except (UnknownCode, AmbiguousName):
            known_actor = None
    draft = ClaimDraft(
        source=found,
        title=title,
        body=body,
        lang=lang,
        claim_date=claim_date,
        place=None if place is None else resolve_place(session, place),
        place_text=place,
        actor=known_actor,
        actor_text=actor,
        cause=cause,
        killed=killed or Killed(),
    )
    return store_claim(session, build_claim(draft, user_id=user.id, at=clock()))


def get_claim(session: Session, token: str) -> Claim:
    """The claim ``C-<n>`` names."""
    _, number = parse_token(token, "C")
    claim = session.get(Claim, number)
    if claim is None:
        raise UnknownCode(f"no claim {claim_token(number)}")
    return claim


def list_claims(
    session: Session,
    *,
    outlet: str | None = None,
    incident: str | None = None,
    limit: int | None = None,
) -> list[Claim]:
    """Claims, by date (newest first), of one source (S- id or name) or about one incident."""
    query = select(Claim)
    if outlet is not None:
        found = find_source(session, outlet)
        if not isinstance(found, Source):
            return []
        query = query.where(Claim.source_id == found.id)
    if incident is not None:
        linked = get_incident(session, incident)
        query = query.join(ClaimIncident, ClaimIncident.claim_id == Claim.id).where(
            ClaimIncident.incident_id == linked.id
        )
    query = query.order_by(Claim.claim_date.desc(), Claim.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def link_claim(
    session: Session, token: str, *, incident: str, by: str | None, clock: Clock = utcnow
) -> ClaimIncident:
    """Say that claim ``token`` is about incident ``incident``."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    claim = get_claim(session, token)
    found = get_incident(session, incident)
    twice = session.scalar(
        select(ClaimIncident.id).where(
            ClaimIncident.claim_id == claim.id, ClaimIncident.incident_id == found.id
        )
    )
    if twice is not None:
        raise DeskError(f"{claim_token(claim.id)} is already linked to {found.code}")
    now = clock()
    link = ClaimIncident(
        claim_id=claim.id, incident_id=found.id, created_at=now, created_by=user.id
    )
    session.add(link)
    session.flush()
    record(
        session,
        action="claim.linked",
        subject=claim_token(claim.id),
        by=user.id,
        data={"claim": claim.id, "incident": found.code, "link": link.id,
              "source": source_token(claim.source_id)},
        at=now,
    )  # fmt: skip
    return link


def incidents_of(session: Session, claim: Claim) -> list[str]:
    """The codes of the incidents a claim is linked to, in linking order."""
    return list(
        session.scalars(
            select(Incident.code)
            .join(ClaimIncident, ClaimIncident.incident_id == Incident.id)
            .where(ClaimIncident.claim_id == claim.id)
            .order_by(ClaimIncident.id)
        )
    )
