"""Sources: the outlets, officials and monitors whose word the desk weighs.

Correspondents are sources too, but they are the ``correspondents`` of intake
and are never copied here; :mod:`sijil.desk.source_view` shows both kinds side
by side with their track records. A source here has a kind, a name unique
within its kind (``sana``, ``UCDP GED 19.1``) and optionally an Arabic name;
its typed id is ``S-<n>``. Imports create the outlets and monitors they meet
(:func:`ensure_source`); ``sijil desk source add`` records any other, such as
an official who makes claims.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.codes import parse_token
from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.users import EDITING, require_user
from sijil.errors import AmbiguousName, DeskError, UnknownCode
from sijil.store import Correspondent, Source
from sijil.store.models_claims import STORED_KINDS, SourceKind
from sijil.store.models_desk import Role

__all__ = [
    "SourceKind",
    "add_source",
    "ensure_source",
    "find_source",
    "get_source",
    "source_token",
]

_TOKEN = re.compile(r"[Ss]-\d{1,12}")
MAX_NAME = 128


def source_token(source_id: int) -> str:
    """The typed id of a source as the CLI shows it: ``S-3``."""
    return f"S-{source_id}"


def _check(kind: SourceKind | str, name: str) -> tuple[SourceKind, str]:
    kind = SourceKind(kind)
    if kind not in STORED_KINDS:
        raise DeskError("correspondents are sources already: enrol them with an invite")
    name = " ".join(name.split())
    if not name:
        raise DeskError("a source needs a name")
    if len(name) > MAX_NAME:
        raise DeskError(f"a source's name is at most {MAX_NAME} characters")
    return kind, name


def _new(
    session: Session, kind: SourceKind, name: str, name_ar: str | None, user_id: int, at: datetime
) -> Source:
    source = Source(kind=str(kind), name=name, name_ar=name_ar, created_at=at, created_by=user_id)
    session.add(source)
    session.flush()
    record(
        session,
        action="source.added",
        subject=source_token(source.id),
        by=user_id,
        data={"source": source.id, "kind": str(kind)},
        at=at,
    )
    return source


def ensure_source(
    session: Session, kind: SourceKind | str, name: str, *, user_id: int, at: datetime
) -> tuple[Source, bool]:
    """The source of ``kind`` called ``name``, created (with its ledger entry) on first sight.

    For imports, inside a change already begun; returns the source and whether it is new.
    """
    kind, name = _check(kind, name)
    found = session.scalar(select(Source).where(Source.kind == str(kind), Source.name == name))
    if found is not None:
        return found, False
    return _new(session, kind, name, None, user_id, at), True


def add_source(
    session: Session,
    kind: SourceKind | str,
    name: str,
    *,
    name_ar: str | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> Source:
    """Record an outlet, official or monitor; one of the same kind and name is refused."""
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    kind, name = _check(kind, name)
    name_ar = " ".join(name_ar.split())[:255] if name_ar and name_ar.strip() else None
    if session.scalar(select(Source.id).where(Source.kind == str(kind), Source.name == name)):
        raise DeskError(f"there is already a source of kind {kind} called {name!r}")
    return _new(session, kind, name, name_ar, user.id, clock())


def get_source(session: Session, token: str) -> Source:
    """The outlet, official or monitor ``S-<n>`` names."""
    _, number = parse_token(token, "S")
    source = session.get(Source, number)
    if source is None:
        raise UnknownCode(f"no source {source_token(number)}")
    return source


def find_source(session: Session, text: str) -> Source | Correspondent:
    """A source by its id (``S-3``), its name (``sana``) or a correspondent's codename."""
    text = text.strip()
    if _TOKEN.fullmatch(text):
        return get_source(session, text)
    named: list[Source | Correspondent] = list(
        session.scalars(select(Source).where(Source.name == text))
    )
    named += session.scalars(select(Correspondent).where(Correspondent.codename == text))
    if not named:
        raise UnknownCode(f"no source is called {text!r} (see 'sijil desk source list')")
    if len(named) > 1:
        raise AmbiguousName(f"{text!r} names several sources; give its S- id")
    return named[0]
