"""Desk users and their roles, and the desk-of-one ("solo") setting.

The CLI is the operator's tool: it says who acts (``--as NAME``) and these
functions check that person's roles; the web app will prove identity with a
login and call the same functions. Roles separate duties: the author of an
assessment can never be its reviewer, unless the desk was created solo.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.errors import DeskError, PermissionDenied, UnknownCode
from sijil.store import DeskSetting, DeskUser, DeskUserRole
from sijil.store.models_desk import Role

__all__ = [
    "EDITING",
    "Role",
    "UserInfo",
    "add_user",
    "is_solo",
    "list_users",
    "require_user",
    "roles_of",
    "set_solo",
]

#: Roles that may create and edit incidents, link evidence and propose assessments.
EDITING = (Role.EDITOR, Role.ANALYST)
USER_NAME = re.compile(r"[^\W_][\w .'-]{0,63}")
SOLO = "solo"


@dataclass(frozen=True, kw_only=True)
class UserInfo:
    name: str
    roles: tuple[Role, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "roles": [str(r) for r in self.roles]}


def roles_of(user: DeskUser) -> frozenset[Role]:
    return frozenset(Role(r.role) for r in user.roles)


def _by_name(session: Session, name: str) -> DeskUser | None:
    return session.scalar(
        select(DeskUser).options(selectinload(DeskUser.roles)).where(DeskUser.name == name)
    )


def require_user(session: Session, name: str | None, *any_of: Role) -> DeskUser:
    """The desk user called ``name``, who must hold one of ``any_of`` (any role if none given)."""
    if not name:
        raise PermissionDenied("say who is acting (the CLI takes --as NAME or SIJIL_USER)")
    user = _by_name(session, name)
    if user is None:
        raise PermissionDenied(f"no desk user {name!r} (add one with 'sijil desk user add')")
    if any_of and not roles_of(user) & set(any_of):
        needed = " or ".join(str(r) for r in any_of)
        raise PermissionDenied(f"{name} needs the {needed} role for this")
    return user


def user_name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(DeskUser, user_id)
    return None if user is None else user.name


def add_user(
    session: Session,
    name: str,
    roles: Iterable[Role | str],
    *,
    by: str | None,
    clock: Clock = utcnow,
) -> UserInfo:
    """Add a desk user: the first must be an admin and needs no ``by``; later ones need an admin."""
    wanted = sorted({Role(r) for r in roles})
    if not wanted:
        raise DeskError("give a desk user at least one role")
    if not USER_NAME.fullmatch(name):
        raise DeskError("a user name is 1-64 letters, digits, spaces, '.', \"'\", '_' or '-'")
    begin_change(session)
    anyone = session.scalar(select(func.count()).select_from(DeskUser)) or 0
    actor: DeskUser | None = None
    if anyone:
        actor = require_user(session, by, Role.ADMIN)
    elif Role.ADMIN not in wanted:
        raise DeskError("the first desk user must hold the admin role")
    if _by_name(session, name) is not None:
        raise DeskError(f"there is already a desk user {name!r}")
    now = clock()
    user = DeskUser(name=name, created_at=now, roles=[DeskUserRole(role=str(r)) for r in wanted])
    session.add(user)
    session.flush()
    record(
        session,
        action="user.added",
        subject=f"user:{user.id}",
        by=None if actor is None else actor.id,
        data={"user": user.id, "roles": [str(r) for r in wanted]},
        at=now,
    )
    return UserInfo(name=name, roles=tuple(wanted))


def list_users(session: Session) -> list[UserInfo]:
    users = session.scalars(
        select(DeskUser).options(selectinload(DeskUser.roles)).order_by(DeskUser.name)
    ).all()
    return [UserInfo(name=u.name, roles=tuple(sorted(roles_of(u)))) for u in users]


def is_solo(session: Session) -> bool:
    """True in a desk of one, where an author may confirm their own assessment."""
    setting = session.get(DeskSetting, SOLO)
    return setting is not None and setting.value == "true"


def set_solo(session: Session, solo: bool = True, *, clock: Clock = utcnow) -> None:
    """Mark the desk as a desk of one (``sijil desk init --solo``), or not."""
    begin_change(session)
    now = clock()
    setting = session.get(DeskSetting, SOLO)
    value = "true" if solo else "false"
    if setting is None:
        session.add(DeskSetting(name=SOLO, value=value, updated_at=now))
    elif setting.value == value:
        return
    else:
        setting.value, setting.updated_at = value, now
    session.flush()
    record(session, action="desk.solo", subject="desk", by=None, data={"solo": solo}, at=now)


def get_user(session: Session, name: str) -> DeskUser:
    user = _by_name(session, name)
    if user is None:
        raise UnknownCode(f"no desk user {name!r}")
    return user
