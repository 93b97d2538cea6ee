"""Desk users as an admin manages them: the list, adding, roles, removal.

Every change needs an admin, is a custody-ledger entry (``user.added`` through
sijil.desk.users, ``user.roles`` for a change of roles: none for a removed
user) and an activity-log entry (no IP address). A change of roles or a
removal ends the user's web sessions at once; a removal also ends their
password, authenticator and recovery codes, so only a new enrolment code lets
them back. The desk is never left without an admin.

A roles form carries the roles it was drawn from (``UserRow.version``); if they
changed since, the change is refused as stale rather than applied over them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.accounts import issue_enrolment
from sijil.desk.activity_log import log_activity
from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.users import add_user, get_user, require_user, roles_of
from sijil.desk.web_sessions import revoke_user_sessions
from sijil.errors import DeskError, UnknownCode, VersionConflict
from sijil.store import DeskUser, DeskUserRole, WebCredential, WebRecoveryCode, WebSession
from sijil.store.models_desk import Role

__all__ = ["UserRow", "add_desk_user", "remove_user", "roles_version", "set_roles", "user_rows"]


def roles_version(roles: Iterable[Role | str]) -> str:
    """A short stamp of a set of roles, carried by the form that shows them."""
    joined = ",".join(sorted(str(r) for r in roles))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class UserRow:
    id: int
    name: str
    roles: tuple[Role, ...]
    version: str
    enrolled: bool
    code_pending: bool
    live_sessions: int
    created_at: datetime


def user_rows(session: Session, *, now: datetime) -> list[UserRow]:
    """Every desk user, by name, with where their web sign-in stands."""
    users = session.scalars(
        select(DeskUser).options(selectinload(DeskUser.roles)).order_by(DeskUser.name)
    ).all()
    credentials = {c.user_id: c for c in session.scalars(select(WebCredential))}
    # sessions not yet revoked; an expired one ends when it is next presented
    counted = session.execute(
        select(WebSession.user_id, func.count())
        .where(WebSession.revoked_at.is_(None), WebSession.stage == "full")
        .group_by(WebSession.user_id)
    )
    live = {user_id: int(n) for user_id, n in counted}
    rows = []
    for user in users:
        roles = tuple(sorted(roles_of(user)))
        cred = credentials.get(user.id)
        pending = bool(
            cred is not None
            and cred.enrol_code_hash
            and cred.enrol_expires_at is not None
            and cred.enrol_expires_at > now
        )
        rows.append(
            UserRow(
                id=user.id,
                name=user.name,
                roles=roles,
                version=roles_version(roles),
                enrolled=cred is not None and cred.enrolled_at is not None,
                code_pending=pending,
                live_sessions=int(live.get(user.id, 0)),
                created_at=user.created_at,
            )
        )
    return rows


def add_desk_user(
    session: Session, name: str, roles: Iterable[Role], *, by: str, clock: Clock = utcnow
) -> str:
    """Add a user (``by`` an admin) and return their first web enrolment code."""
    wanted = set(roles)
    add_user(session, name, wanted, by=by, clock=clock)
    actor = require_user(session, by, Role.ADMIN)
    user = get_user(session, name)
    log_activity(session, user_id=actor.id, action="user.added", obj=f"user:{user.id}", clock=clock)
    return issue_enrolment(session, name, by=by, clock=clock)


def _target(session: Session, user_id: int) -> DeskUser:
    user = session.scalar(
        select(DeskUser).options(selectinload(DeskUser.roles)).where(DeskUser.id == user_id)
    )
    if user is None:
        raise UnknownCode(f"no desk user #{user_id}")
    return user


def _admins_besides(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(DeskUserRole)
            .where(DeskUserRole.role == str(Role.ADMIN), DeskUserRole.user_id != user_id)
        )
        or 0
    )


def _change_roles(
    session: Session,
    user: DeskUser,
    wanted: frozenset[Role],
    *,
    actor: DeskUser,
    action: str,
    now: datetime,
    clock: Clock,
) -> None:
    if Role.ADMIN not in wanted and not _admins_besides(session, user.id):
        raise DeskError("the desk must keep an admin: give the role to someone else first")
    user.roles = [DeskUserRole(role=str(r)) for r in sorted(wanted)]
    session.flush()
    revoke_user_sessions(session, user.id, now=now)
    record(
        session,
        action="user.roles",
        subject=f"user:{user.id}",
        by=actor.id,
        data={"user": user.id, "roles": sorted(str(r) for r in wanted)},
        at=now,
    )
    log_activity(session, user_id=actor.id, action=action, obj=f"user:{user.id}", clock=clock)


def set_roles(
    session: Session,
    user_id: int,
    roles: Iterable[Role],
    *,
    version: str,
    by: str,
    clock: Clock = utcnow,
) -> None:
    """Give user ``user_id`` exactly ``roles`` (at least one); their sessions end."""
    wanted = frozenset(roles)
    if not wanted:
        raise DeskError("give a desk user at least one role (or remove them)")
    begin_change(session)
    actor = require_user(session, by, Role.ADMIN)
    user = _target(session, user_id)
    current = roles_of(user)
    if roles_version(current) != version:
        raise VersionConflict("the user's roles changed since the form was drawn")
    if current == wanted:
        return
    now = clock()
    _change_roles(session, user, wanted, actor=actor, action="user.roles", now=now, clock=clock)


def remove_user(
    session: Session, user_id: int, *, version: str, by: str, clock: Clock = utcnow
) -> None:
    """Take every role from ``user_id`` and end their sign-in; the row stays (work names them)."""
    begin_change(session)
    actor = require_user(session, by, Role.ADMIN)
    user = _target(session, user_id)
    if user.id == actor.id:
        raise DeskError("an admin cannot remove themselves")
    if roles_version(roles_of(user)) != version:
        raise VersionConflict("the user's roles changed since the form was drawn")
    if not user.roles:
        raise DeskError("that user is removed already")
    now = clock()
    _change_roles(
        session, user, frozenset(), actor=actor, action="user.removed", now=now, clock=clock
    )
    credential = session.get(WebCredential, user.id)
    if credential is not None:
        credential.password_hash = credential.totp_secret = credential.enrolled_at = None
        credential.enrol_code_hash = credential.enrol_expires_at = None
    session.execute(delete(WebRecoveryCode).where(WebRecoveryCode.user_id == user.id))
