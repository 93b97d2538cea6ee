"""The desk web app's records: sign-in credentials, sessions and the activity log.

Credentials live beside a desk user (``desk_users``), not in it, so the custody
ledger's user records are unchanged. Secrets are stored as digests: the password
as an argon2id hash, enrolment and recovery codes and session tokens as SHA-256
of random values (so a copy of the database opens no session). The TOTP secret
must be readable to check a code; on SQLite it is inside the encrypted database.

The activity log is append-only and hash-chained: each row's ``digest`` covers
its fields and the previous row's digest, and ``web_activity_head`` holds the
newest one under a row lock, so appends from several processes take turns.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base

__all__ = ["ActivityEntry", "ActivityHead", "WebCredential", "WebRecoveryCode", "WebSession"]


class WebCredential(Base):
    """How one desk user signs in to the web app (one row per enrolled or invited user)."""

    __tablename__ = "web_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), primary_key=True)
    # SHA-256 of the one-time enrolment code; None once used
    enrol_code_hash: Mapped[str | None] = mapped_column(String(64))
    enrol_expires_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    lang: Mapped[str] = mapped_column(String(8), default="ar")
    enrolled_at: Mapped[datetime | None]


class WebRecoveryCode(Base):
    """A single-use recovery code (its SHA-256), for a lost authenticator."""

    __tablename__ = "web_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A server-side session: the cookie holds a token, this row its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    # "totp": the password was right, the second factor is awaited; "full": signed in
    stage: Mapped[str] = mapped_column(String(8))
    csrf_token: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the user's roles when the session began: a role change ends it
    roles_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ActivityEntry(Base):
    """One thing a person did in the web app: who, what, on which object; never where from."""

    __tablename__ = "web_activity"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))
    action: Mapped[str] = mapped_column(String(32))
    object: Mapped[str] = mapped_column(String(128))
    # SHA-256 (hex) over the previous digest and this row's canonical JSON
    digest: Mapped[str] = mapped_column(String(64))


class ActivityHead(Base):
    """The newest activity entry (a single row, id 1): locked by each append."""

    __tablename__ = "web_activity_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
