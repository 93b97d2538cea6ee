"""Web sessions, kept in the database so any number of ``serve`` processes share them.

The browser holds a random token; the database holds its SHA-256, so a copy of
the database opens no session. A session is first at stage ``totp`` (the
password was right; the second factor is awaited, for a few minutes) and then
``full`` under a new token. It ends at logout, after ``IDLE_TIMEOUT`` without a
request, ``ABSOLUTE_TIMEOUT`` after it began, or as soon as the user's roles
differ from those it began with.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from sijil.desk.users import roles_of
from sijil.store import DeskUser, Store, WebCredential, WebSession
from sijil.store.models_desk import Role

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "IDLE_TIMEOUT",
    "SECOND_FACTOR_TIMEOUT",
    "SessionInfo",
    "end_session",
    "resolve_session",
    "revoke_user_sessions",
    "roles_digest",
    "start_session",
    "token_digest",
]

#: A desk left open and unattended is closed after half an hour.
IDLE_TIMEOUT = timedelta(minutes=30)
#: One night's shift; then sign in again, with the second factor.
ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: Between the password and the authenticator code: long enough to type it.
SECOND_FACTOR_TIMEOUT = timedelta(minutes=5)
#: ``last_seen_at`` is written at most this often, not on every request.
TOUCH_EVERY = timedelta(seconds=60)
TOKEN_BYTES = 32
FULL, SECOND = "full", "totp"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def roles_digest(roles: frozenset[Role]) -> str:
    return hashlib.sha256(",".join(sorted(str(r) for r in roles)).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class SessionInfo:
    user_id: int
    name: str
    roles: frozenset[Role]
    lang: str
    csrf: str
    stage: str

    @property
    def signed_in(self) -> bool:
        return self.stage == FULL


def start_session(session: Session, user: DeskUser, *, stage: str, now: datetime) -> str:
    """A new session for ``user``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSession(
            token_hash=token_digest(token),
            user_id=user.id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
            roles_digest=roles_digest(roles_of(user)),
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def _expired(row: WebSession, now: datetime) -> bool:
    if row.revoked_at is not None:
        return True
    if row.stage == SECOND:
        return now - row.created_at > SECOND_FACTOR_TIMEOUT
    return now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT


def resolve_session(store: Store, token: str | None, *, now: datetime) -> SessionInfo | None:
    """The live session behind ``token``, or None (ending it if it has just expired).

    Read in a read-only session: most requests change nothing, and on SQLite a write
    session would make every page wait for the one writer. The row is written only
    when the session has expired or its last-seen time is due a touch.
    """
    if not token or len(token) > 2 * TOKEN_BYTES:
        return None
    digest = token_digest(token)
    with store.session() as session:
        row = session.get(WebSession, digest)
        if row is None:
            return None
        user = session.scalars(
            select(DeskUser).options(selectinload(DeskUser.roles)).where(DeskUser.id == row.user_id)
        ).one()
        roles = roles_of(user)
        ended = _expired(row, now) or row.roles_digest != roles_digest(roles)
        due = (ended and row.revoked_at is None) or now - row.last_seen_at > TOUCH_EVERY
        credential = session.get(WebCredential, user.id)
        info = SessionInfo(
            user_id=user.id,
            name=user.name,
            roles=roles,
            lang=credential.lang if credential is not None else "ar",
            csrf=row.csrf_token,
            stage=row.stage,
        )
    if due:
        with store.session(write=True) as session:
            row = session.get(WebSession, digest)
            if row is not None and ended and row.revoked_at is None:
                row.revoked_at = now
            elif row is not None and not ended and now - row.last_seen_at > TOUCH_EVERY:
                row.last_seen_at = now
    return None if ended else info


def end_session(session: Session, token: str, *, now: datetime) -> int | None:
    """Revoke the session behind ``token``; return its user's id (None if there was none)."""
    row = session.get(WebSession, token_digest(token))
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
    return row.user_id


def revoke_user_sessions(session: Session, user_id: int, *, now: datetime) -> None:
    """End every live session of a user (new enrolment, lost device)."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
