"""Import FA-KES as claims: each article's claim, by its outlet, with its numbers.

FA-KES (Abu Salem et al., ICWSM 2019) is a CSV of English news articles about
the Syrian war, each with the fields its annotators extracted: outlet
(``source``), date, governorate (``location``), actor, cause of death and the
numbers of civilians, children, women and non-civilians killed, and a
``label`` of its own. It is Latin-1, with quotes and newlines inside fields.

Every record becomes a claim by its outlet (a source of kind outlet, created
on first sight). Its governorate is resolved through the gazetteer, which must
have been imported; its actor becomes the desk's actor when the desk knows that
name, and is kept as the words used either way. ``unit_id`` is the external
reference. One article may carry several claims (FA-KES repeats a ``unit_id``
with different places or numbers), so the claims of one ``unit_id`` are
numbered 1, 2, ... in file order (``external_part``).

**Bad rows.** A record whose own fields are wrong (a count that is not a
number, a date that does not read, a governorate no one knows, a record with
too many or too few fields) is skipped, named by the physical line it starts
on, and the rest are imported: the caller exits non-zero (3) so a person looks.
After a fix, importing the file again adds just the rows that were skipped.
Broken quoting, which leaves the following records' boundaries unknown,
refuses the whole file (:class:`~sijil.errors.MalformedImport`, nothing
written). A row whose reference was imported before with different content is
reported the same way and changes nothing. Re-importing the same file changes
nothing at all, the ledger included.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.actors import resolve_actor
from sijil.desk.claims import ClaimDraft, Killed, build_claim, store_claims
from sijil.desk.csvrows import BadRow, CsvRecord, decode_text, lines_of, records
from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.places import EXACT, find_places
from sijil.desk.sources import ensure_source
from sijil.desk.users import EDITING, require_user
from sijil.errors import AmbiguousName, DeskError, UnknownCode
from sijil.store import Claim, DeskActor, Place, Source
from sijil.store.models_claims import SourceKind
from sijil.store.models_desk import PlaceKind, Role

__all__ = ["FAKES", "REQUIRED", "ClaimImport", "FakesRow", "import_fakes", "parse_fakes"]

#: The ``imported_from`` of FA-KES claims.
FAKES = "fakes"
#: The columns a FA-KES file must have (``article_content``, ``cause_of_death`` and
#: ``label`` are taken when present).
REQUIRED = ("unit_id", "article_title", "source", "date", "location", "actor",
            "nb_civilians", "nb_children", "nb_women", "nb_noncivilians")  # fmt: skip
_UNIT_ID = re.compile(r"\d{1,20}")
_COUNT = re.compile(r"\d{1,7}")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})")
NO_GAZETTEER = (
    "the gazetteer is not imported, so claims cannot be placed: run "
    "'sijil desk places import FILE' first"
)


@dataclass(frozen=True, kw_only=True)
class FakesRow:
    """One FA-KES record as read, before places and actors are resolved."""

    line: int
    unit_id: str
    part: int
    outlet: str
    title: str
    body: str
    claim_date: date
    location: str
    actor: str
    cause: str | None
    killed: Killed
    label: str | None


def _date(text: str) -> date:
    text = text.strip()
    match = _US_DATE.fullmatch(text)
    try:
        if match is None:
            return date.fromisoformat(text)
        month, day, year = (int(g) for g in match.groups())
        # FA-KES writes M/D/YY; its articles are from 2011-2018
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        raise ValueError(f"date {text[:20]!r} is not M/D/YY or YYYY-MM-DD") from None


def _count(fields: dict[str, str], column: str) -> int | None:
    text = fields[column].strip()
    if not text:
        return None
    if not _COUNT.fullmatch(text):
        raise ValueError(f"{column} {text[:20]!r} is not a number of people")
    return int(text)


def _row(rec: CsvRecord, unit_id: str, part: int) -> FakesRow:
    f = rec.fields
    outlet = " ".join(f["source"].split())
    if not outlet:
        raise ValueError("no outlet (source)")
    title = " ".join(f["article_title"].split())
    if not title:
        raise ValueError("no article_title")
    location = " ".join(f["location"].split())
    if not location:
        raise ValueError("no location")
    killed = Killed(
        civilians=_count(f, "nb_civilians"),
        children=_count(f, "nb_children"),
        women=_count(f, "nb_women"),
        noncivilians=_count(f, "nb_noncivilians"),
    )
    try:
        killed.check()
    except DeskError as exc:
        raise ValueError(str(exc)) from None
    cause = f.get("cause_of_death", "").strip() or None
    label = f.get("label", "").strip() or None
    return FakesRow(line=rec.line, unit_id=unit_id, part=part, outlet=outlet, title=title,
                    body=f.get("article_content", ""), claim_date=_date(f["date"]),
                    location=location, actor=" ".join(f["actor"].split()), cause=cause,
                    killed=killed, label=label)  # fmt: skip


def parse_fakes(data: bytes) -> Iterator[FakesRow | BadRow]:
    """Each record of a FA-KES file, or a BadRow naming its line and what is wrong.

    The file is UTF-8 if it reads as such, else Latin-1 (as FA-KES is published).
    A header without the REQUIRED columns, or broken quoting, is MalformedImport.
    """
    parts: dict[str, int] = {}
    text = decode_text(data)
    for rec in records(lines_of(text), what="the FA-KES file", required=REQUIRED):
        if isinstance(rec, BadRow):
            yield rec
            continue
        unit_id = rec.fields["unit_id"].strip()
        if not _UNIT_ID.fullmatch(unit_id):
            yield BadRow(rec.line, f"unit_id {unit_id[:24]!r} is not a number")
            continue
        parts[unit_id] = part = parts.get(unit_id, 0) + 1
        try:
            yield _row(rec, unit_id, part)
        except ValueError as exc:
            yield BadRow(rec.line, str(exc))


@dataclass
class ClaimImport:
    """What an import did: claims added, found unchanged, rows skipped (by line)."""

    added: int = 0
    unchanged: int = 0
    outlets_added: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "unchanged": self.unchanged,
                "outlets_added": self.outlets_added,
                "bad": [b.to_dict() for b in self.bad]}  # fmt: skip


def _imported(claim: Claim) -> tuple[Any, ...]:
    """What a claim took from its row: equal for the same row imported twice."""
    return (claim.source_id, claim.title, claim.body, claim.claim_date, claim.place_text,
            claim.actor_text, claim.cause, claim.killed_civilians, claim.killed_children,
            claim.killed_women, claim.killed_noncivilians, claim.external_label)  # fmt: skip


class _Resolver:
    """Governorates, actors and outlets looked up once per distinct text."""

    def __init__(self, session: Session, user_id: int, result: ClaimImport, now: Any) -> None:
        self.session, self.user_id, self.result, self.now = session, user_id, result, now
        self.places: dict[str, Place | None] = {}
        self.actors: dict[str, DeskActor | None] = {}
        self.outlets: dict[str, Source] = {}

    def governorate(self, text: str) -> Place | None:
        if text not in self.places:
            self.places[text] = next(
                (c.place for c in find_places(self.session, text, limit=20)
                 if c.place.kind == PlaceKind.GOVERNORATE and c.score >= EXACT),
                None,
            )  # fmt: skip
        return self.places[text]

    def actor(self, text: str) -> DeskActor | None:
        if text not in self.actors:
            try:
                self.actors[text] = resolve_actor(self.session, text) if text else None
            except (UnknownCode, AmbiguousName):
                self.actors[text] = None
        return self.actors[text]

    def outlet(self, name: str) -> Source:
        if name not in self.outlets:
            source, new = ensure_source(
                self.session, SourceKind.OUTLET, name, user_id=self.user_id, at=self.now
            )
            self.outlets[name] = source
            self.result.outlets_added += new
        return self.outlets[name]


def import_fakes(
    session: Session, data: bytes, *, by: str | None, clock: Clock = utcnow
) -> ClaimImport:
    """Import a FA-KES file as claims (see the module's notes on bad rows)."""
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    governorates = select(Place.id).where(Place.kind == str(PlaceKind.GOVERNORATE)).limit(1)
    if session.scalar(governorates) is None:
        raise DeskError(NO_GAZETTEER)
    rows = list(parse_fakes(data))
    now = clock()
    result = ClaimImport()
    resolve = _Resolver(session, user.id, result, now)
    before = {
        (c.external_ref, c.external_part): _imported(c)
        for c in session.scalars(select(Claim).where(Claim.imported_from == FAKES))
    }
    new: list[Claim] = []
    for row in rows:
        if isinstance(row, BadRow):
            result.bad.append(row)
            continue
        place = resolve.governorate(row.location)
        if place is None:
            result.bad.append(BadRow(row.line, f"no governorate is called {row.location!r}"))
            continue
        draft = ClaimDraft(source=resolve.outlet(row.outlet), title=row.title, body=row.body,
                           claim_date=row.claim_date, place=place, place_text=row.location,
                           actor=resolve.actor(row.actor), actor_text=row.actor,
                           cause=row.cause, killed=row.killed, imported_from=FAKES,
                           external_ref=row.unit_id, external_part=row.part,
                           external_label=row.label)  # fmt: skip
        claim = build_claim(draft, user_id=user.id, at=now)
        earlier = before.get((row.unit_id, row.part))
        if earlier is not None:
            if earlier == _imported(claim):
                result.unchanged += 1
            else:
                result.bad.append(BadRow(row.line, f"unit_id {row.unit_id} (claim {row.part} of "
                                         "it) was imported before with different content; "
                                         "left as it was"))  # fmt: skip
            continue
        new.append(claim)
        before[(row.unit_id, row.part)] = _imported(claim)
    store_claims(session, new)
    result.added = len(new)
    if result.added:
        record(
            session,
            action="claims.imported",
            subject=f"claims:{FAKES}",
            by=user.id,
            data={"file_sha256": hashlib.sha256(data).hexdigest(), "added": result.added,
                  "unchanged": result.unchanged, "bad": len(result.bad)},
            at=now,
        )  # fmt: skip
    return result
