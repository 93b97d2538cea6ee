"""Signing in to the desk web app: enrolment, passwords, TOTP, recovery codes, throttling.

An admin (or the operator, for the first admin) issues a one-time enrolment code
(``sijil desk user add`` / ``user enrol``). With it the user chooses a password
(kept as an argon2id hash), adds the TOTP secret to an authenticator and receives
recovery codes (kept as SHA-256). Signing in takes the password, then a TOTP code
or an unused recovery code. Failures are counted per account in the database:
after ``FREE_FAILURES`` each one locks the account for twice as long as the last,
up to ``MAX_LOCK``, whichever process served the attempt. Every sign-in, failure
and enrolment is written to the activity log (sijil.desk.activity_log).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sijil.desk.activity_log import log_activity
from sijil.desk.custody import Clock, utcnow
from sijil.desk.users import USER_NAME, get_user, require_user, roles_of
from sijil.desk.web_sessions import (
    FULL,
    SECOND,
    end_session,
    revoke_user_sessions,
    start_session,
    token_digest,
)
from sijil.errors import SignInRefused, UnknownCode
from sijil.store import DeskUser, Store, WebCredential, WebRecoveryCode, WebSession
from sijil.store.models_desk import Role

__all__ = [
    "ENROL_TTL",
    "LANGUAGES",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "Enrolment",
    "finish_enrolment",
    "issue_enrolment",
    "record_failure",
    "second_factor",
    "set_language",
    "sign_in",
    "sign_out",
    "start_enrolment",
]

#: An enrolment code handed over in person or on a call is used within three days.
ENROL_TTL = timedelta(days=3)
#: Long passphrases beat complexity rules (NIST SP 800-63B); 12 is the floor here.
MIN_PASSWORD = 12
#: Bounds the work one request can ask of argon2.
MAX_PASSWORD = 1024
#: Failures allowed before the account locks (typos happen at 4 a.m.).
FREE_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
#: Backoff stops doubling here: an attacker gets ~100 guesses a day, a user waits at most this.
MAX_LOCK = timedelta(minutes=15)
RECOVERY_CODES = 10
TOTP_ISSUER = "sijil desk"
LANGUAGES = ("ar", "en")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud
_MAX_CODE = 64


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106's second recommended parameters


@cache
def _dummy_hash() -> str:
    """Verified against for an unknown name, so it costs what a known one does."""
    return _hasher().hash(secrets.token_hex(16))


def _code(groups: int) -> str:
    return "-".join(
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(groups)
    )


def _code_digest(code: str) -> str:
    clean = "".join(ch for ch in code.upper() if ch.isalnum())[:_MAX_CODE]
    return hashlib.sha256(clean.encode("ascii", "replace")).hexdigest()


def _refuse(reason: str) -> SignInRefused:
    messages = {
        "credentials": "the name, password or code is wrong",
        "throttled": "too many failed attempts: wait a few minutes and try again",
        "enrolment": "that enrolment code is not valid (ask an admin for a new one)",
        "password": f"choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters",
        "session": "the sign-in has expired: start again",
    }
    return SignInRefused(messages[reason], reason=reason)


def issue_enrolment(session: Session, name: str, *, by: str | None, clock: Clock = utcnow) -> str:
    """A one-time enrolment code for ``name``; any earlier credentials and sessions end.

    ``by`` must be an admin, except for the desk's first user (its admin, added by
    the operator who holds the desk's passphrase).
    """
    user = get_user(session, name)
    others = session.scalar(select(DeskUser.id).where(DeskUser.id != user.id).limit(1))
    actor = require_user(session, by, Role.ADMIN) if (others is not None or by) else user
    now = clock()
    code = _code(5)
    credential = session.get(WebCredential, user.id)
    if credential is None:
        credential = WebCredential(user_id=user.id, totp_last_step=0, failed_logins=0, lang="ar")
        session.add(credential)
    credential.enrol_code_hash, credential.enrol_expires_at = _code_digest(code), now + ENROL_TTL
    credential.password_hash = credential.totp_secret = credential.enrolled_at = None
    credential.failed_logins, credential.locked_until = 0, None
    session.execute(delete(WebRecoveryCode).where(WebRecoveryCode.user_id == user.id))
    revoke_user_sessions(session, user.id, now=now)
    log_activity(
        session, user_id=actor.id, action="enrol.issued", obj=f"user:{user.id}", clock=clock
    )
    return code


@dataclass(frozen=True)
class Enrolment:
    name: str
    totp_secret: str
    totp_uri: str


def _enrolling(session: Session, name: str, code: str, now: datetime) -> WebCredential:
    user = (
        session.scalar(select(DeskUser).where(DeskUser.name == name))
        if USER_NAME.fullmatch(name)
        else None
    )
    credential = None if user is None else session.get(WebCredential, user.id)
    if (
        credential is None
        or credential.enrol_code_hash is None
        or credential.enrol_expires_at is None
        or credential.enrol_expires_at < now
        or not hmac.compare_digest(credential.enrol_code_hash, _code_digest(code))
    ):
        raise _refuse("enrolment")
    return credential


def start_enrolment(store: Store, name: str, code: str, *, clock: Clock = utcnow) -> Enrolment:
    """Check the enrolment code and give the TOTP secret to show (the same until finished)."""
    with store.session(write=True) as session:
        credential = _enrolling(session, name, code, clock())
        if credential.totp_secret is None:
            credential.totp_secret = pyotp.random_base32()
        uri = pyotp.TOTP(credential.totp_secret).provisioning_uri(
            name=name, issuer_name=TOTP_ISSUER
        )
        return Enrolment(name=name, totp_secret=credential.totp_secret, totp_uri=uri)


def _totp_step(credential: WebCredential, code: str, now: datetime) -> int | None:
    """The time step ``code`` is valid for (this one or either neighbour), if not used before."""
    if credential.totp_secret is None or not code.isascii() or not code.strip().isdigit():
        return None
    totp = pyotp.TOTP(credential.totp_secret)
    step = totp.timecode(now)
    for candidate in (step, step - 1, step + 1):
        expected = totp.generate_otp(candidate)
        if candidate > credential.totp_last_step and hmac.compare_digest(expected, code.strip()):
            return candidate
    return None


def finish_enrolment(
    store: Store, name: str, code: str, password: str, totp_code: str, *, clock: Clock = utcnow
) -> list[str]:
    """Set the password and confirm the authenticator; return the recovery codes to show once."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise _refuse("password")
    with store.session(write=True) as session:
        now = clock()
        credential = _enrolling(session, name, code, now)
        step = _totp_step(credential, totp_code, now)
        if step is None:
            log_activity(
                session, user_id=credential.user_id, action="enrol.failed", obj="totp", clock=clock
            )
            failed = _refuse("credentials")
        else:
            credential.password_hash = _hasher().hash(password)
            credential.totp_last_step, credential.enrolled_at = step, now
            credential.enrol_code_hash = credential.enrol_expires_at = None
            codes = [_code(3) for _ in range(RECOVERY_CODES)]
            for each in codes:
                session.add(
                    WebRecoveryCode(user_id=credential.user_id, code_hash=_code_digest(each))
                )
            log_activity(
                session, user_id=credential.user_id, action="enrol", obj="totp", clock=clock
            )
            return codes
    raise failed  # after the commit, so the failure stays in the log


def record_failure(
    session: Session, credential: WebCredential | None, now: datetime, clock: Clock
) -> None:
    """Count a failed sign-in (password, code or security key) and lock after too many."""
    if credential is not None:
        credential.failed_logins += 1
        over = credential.failed_logins - FREE_FAILURES
        if over >= 0:
            credential.locked_until = now + min(MAX_LOCK, FIRST_LOCK * (2 ** min(over, 16)))
    user = None if credential is None else credential.user_id
    obj = "user:unknown" if user is None else f"user:{user}"
    log_activity(session, user_id=user, action="login.failed", obj=obj, clock=clock)


def sign_in(store: Store, name: str, password: str, *, clock: Clock = utcnow) -> str:
    """Check name and password; return a session token at the second-factor stage."""
    with store.session(write=True) as session:
        now = clock()
        user = session.scalar(select(DeskUser).where(DeskUser.name == name[:64]))
        credential = None if user is None else session.get(WebCredential, user.id)
        if credential is not None and credential.locked_until and credential.locked_until > now:
            refusal = _refuse("throttled")
        else:
            stored = None if credential is None else credential.password_hash
            good: bool
            try:
                good = _hasher().verify(stored or _dummy_hash(), password[:MAX_PASSWORD])
            except (VerificationError, InvalidHashError):
                good = False
            if good and stored is not None and user is not None:
                return start_session(session, user, stage=SECOND, now=now)
            record_failure(session, credential, now, clock)
            refusal = _refuse("credentials")
    raise refusal


def second_factor(store: Store, token: str, code: str, *, clock: Clock = utcnow) -> str:
    """Check a TOTP or recovery code for a session at that stage; return the full session's token.

    The token changes here, so a token seen before sign-in is worth nothing after.
    """
    with store.session(write=True) as session:
        now = clock()
        row = session.get(WebSession, token_digest(token))
        if row is None or row.stage != SECOND or row.revoked_at is not None:
            raise _refuse("session")
        credential = session.get(WebCredential, row.user_id)
        if credential is None:  # pragma: no cover - sign_in needs one
            raise _refuse("session")
        if credential.locked_until and credential.locked_until > now:
            refusal = _refuse("throttled")
        else:
            step = _totp_step(credential, code, now)
            recovery = None
            if step is None:
                recovery = session.scalar(
                    select(WebRecoveryCode).where(
                        WebRecoveryCode.user_id == credential.user_id,
                        WebRecoveryCode.code_hash == _code_digest(code),
                        WebRecoveryCode.used_at.is_(None),
                    )
                )
            if step is not None or recovery is not None:
                if step is not None:
                    credential.totp_last_step = step
                if recovery is not None:
                    recovery.used_at = now
                credential.failed_logins, credential.locked_until = 0, None
                row.revoked_at = now
                user = get_user(session, _name(session, credential.user_id))
                factor = "totp" if recovery is None else "recovery"
                log_activity(session, user_id=user.id, action="login", obj=factor, clock=clock)
                return start_session(session, user, stage=FULL, now=now)
            record_failure(session, credential, now, clock)
            refusal = _refuse("credentials")
    raise refusal


def _name(session: Session, user_id: int) -> str:
    user = session.get(DeskUser, user_id)
    if user is None:  # pragma: no cover - a foreign key
        raise UnknownCode("no such desk user")
    return user.name


def sign_out(store: Store, token: str, *, clock: Clock = utcnow) -> None:
    with store.session(write=True) as session:
        user_id = end_session(session, token, now=clock())
        if user_id is not None:
            log_activity(session, user_id=user_id, action="logout", obj="session", clock=clock)


def set_language(store: Store, user_id: int, lang: str) -> None:
    """The user's interface language, kept with their credentials."""
    if lang not in LANGUAGES:
        raise SignInRefused("unknown language", reason="language")
    with store.session(write=True) as session:
        credential = session.get(WebCredential, user_id)
        if credential is None:
            credential = WebCredential(user_id=user_id, totp_last_step=0, failed_logins=0)
            session.add(credential)
        credential.lang = lang


def user_roles(session: Session, name: str) -> frozenset[Role]:
    return roles_of(get_user(session, name))
