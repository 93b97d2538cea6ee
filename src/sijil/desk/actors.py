"""Actors: the belligerents and armed groups incidents are attributed to.

An actor has an English and an Arabic name and any number of aliases; all are
matched by :func:`sijil.text.name_key`, so "ISIS", "Islamic State" and "داعش" can
name the same actor once those aliases are recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.users import EDITING, require_user
from sijil.errors import AmbiguousName, DeskError, UnknownCode
from sijil.store import ActorName, DeskActor
from sijil.store.models_desk import Role
from sijil.text import name_key

__all__ = ["actor_dict", "add_actor", "list_actors", "resolve_actor"]


def actor_dict(actor: DeskActor) -> dict[str, Any]:
    names = {actor.name_en, actor.name_ar}
    return {
        "name_en": actor.name_en,
        "name_ar": actor.name_ar,
        "aliases": sorted(n.name for n in actor.names if n.name not in names),
    }


def add_actor(
    session: Session,
    *,
    name_en: str,
    name_ar: str,
    aliases: Iterable[str] = (),
    by: str | None,
    clock: Clock = utcnow,
) -> DeskActor:
    """Record an actor; a name or alias another actor already answers to is refused."""
    name_en, name_ar = name_en.strip(), name_ar.strip()
    if not name_en or not name_ar:
        raise DeskError("an actor needs an English and an Arabic name")
    begin_change(session)
    user = require_user(session, by, Role.ADMIN, *EDITING)
    rows: dict[str, ActorName] = {}
    for name in (name_en, name_ar, *(a.strip() for a in aliases)):
        key = name_key(name)
        if name and key and key not in rows:
            rows[key] = ActorName(name=name[:255], key=key[:255])
    taken = session.scalars(
        select(ActorName).options(selectinload(ActorName.actor)).where(ActorName.key.in_(rows))
    ).first()
    if taken is not None:
        raise DeskError(f"{taken.name!r} already names the actor {taken.actor.name_en!r}")
    now = clock()
    actor = DeskActor(
        name_en=name_en[:255],
        name_ar=name_ar[:255],
        created_at=now,
        created_by=user.id,
        names=list(rows.values()),
    )
    session.add(actor)
    session.flush()
    record(
        session,
        action="actor.added",
        subject=f"actor:{actor.id}",
        by=user.id,
        data={"actor": actor.id, "names": len(rows)},
        at=now,
    )
    return actor


def list_actors(session: Session) -> list[DeskActor]:
    return list(
        session.scalars(
            select(DeskActor).options(selectinload(DeskActor.names)).order_by(DeskActor.name_en)
        )
    )


def resolve_actor(session: Session, text: str) -> DeskActor:
    """The actor one of whose names or aliases ``text`` is, in any spelling."""
    key = name_key(text)
    actors = {
        row.actor_id: row.actor
        for row in session.scalars(
            select(ActorName).options(selectinload(ActorName.actor)).where(ActorName.key == key)
        )
    }
    if not actors:
        raise UnknownCode(f"no actor is called {text!r} (add it with 'sijil desk actor add')")
    if len(actors) > 1:
        names = ", ".join(sorted(a.name_en for a in actors.values()))
        raise AmbiguousName(f"{text!r} names several actors: {names}")
    return next(iter(actors.values()))
