"""Security keys (WebAuthn) as a second factor, beside TOTP.

A signed-in user registers a key: the desk issues a challenge bound to that web
session (kept in the database, so any ``serve`` process can finish the
ceremony), the browser has the key sign it, and py_webauthn checks the answer
against the relying party (its id and the origin the browser reports). The
desk keeps the credential id, the public key, the signature counter and a
label. At the second-factor step a user with a key may answer a challenge with
it instead of a TOTP code: a wrong answer counts as a failed sign-in
(sijil.desk.accounts throttles it), a counter that does not move forward is
refused (a cloned key), a key of another user is refused. Each challenge is
answered once, right or wrong, within ``CHALLENGE_TTL``.

Adding and removing a key are custody-ledger entries (``security_key.added`` /
``security_key.removed``, ids and digests only) and activity-log entries;
signing in with a key is a ``login`` whose object names the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sijil.desk.accounts import record_failure
from sijil.desk.activity_log import log_activity
from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.key_ceremony import (
    CHALLENGE_TTL,
    MAX_RESPONSE,
    RelyingParty,
    answer_of,
    new_challenge,
    take_challenge,
)
from sijil.desk.web_sessions import FULL, SECOND, start_session, token_digest
from sijil.errors import FormError, SignInRefused, UnknownCode
from sijil.store import (
    DeskUser,
    KeyCeremony,
    SecurityKey,
    Store,
    WebCredential,
    WebSession,
)
from sijil.store.models_security_keys import CREDENTIAL_ID_CHARS

__all__ = [
    "CHALLENGE_TTL",
    "MAX_KEYS",
    "MAX_LABEL",
    "MAX_RESPONSE",
    "KeyRow",
    "RelyingParty",
    "add_key",
    "has_keys",
    "list_keys",
    "registration_options",
    "remove_key",
    "sign_in_options",
    "sign_in_with_key",
]

#: How long the browser waits for a touch of the key (``CHALLENGE_TTL`` outlasts it).
TIMEOUT_MS = 60_000
#: A label tells the user's keys apart ("blue key", "spare in the drawer").
MAX_LABEL = 64
#: A key in use and a few spares; more is not a second factor but a collection.
MAX_KEYS = 10
RP_NAME = "sijil desk"


@dataclass(frozen=True, kw_only=True)
class KeyRow:
    id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None


def _refuse(reason: str) -> SignInRefused:
    messages = {
        "security_key": "the security key's answer was not accepted",
        "key_limit": f"a user may register at most {MAX_KEYS} security keys",
        "session": "the sign-in has expired: start again",
        "credentials": "the name, password or code is wrong",
        "throttled": "too many failed attempts: wait a few minutes and try again",
    }
    return SignInRefused(messages[reason], reason=reason)


def _live(session: Session, token: str, stage: str) -> WebSession:
    row = session.get(WebSession, token_digest(token))
    if row is None or row.stage != stage or row.revoked_at is not None:
        raise _refuse("session")
    return row


def _keys(session: Session, user_id: int) -> list[SecurityKey]:
    query = select(SecurityKey).where(SecurityKey.user_id == user_id).order_by(SecurityKey.id)
    return list(session.scalars(query))


def _descriptors(keys: list[SecurityKey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id)) for k in keys]


def _clean_label(label: str) -> str:
    label = " ".join(label.split())
    if not 0 < len(label) <= MAX_LABEL or not label.isprintable():
        raise FormError(f"a key's label is 1 to {MAX_LABEL} printable characters", field="label")
    return label


def registration_options(
    store: Store, token: str, rp: RelyingParty, *, clock: Clock = utcnow
) -> str:
    """The JSON options for ``navigator.credentials.create`` for the signed-in session's user."""
    with store.session(write=True) as session:
        row = _live(session, token, FULL)
        user = session.get(DeskUser, row.user_id)
        keys = _keys(session, row.user_id)
        if user is None or len(keys) >= MAX_KEYS:
            raise _refuse("key_limit")
        options = generate_registration_options(
            rp_id=rp.id,
            rp_name=RP_NAME,
            user_name=user.name,
            user_id=user.id.to_bytes(8, "big"),
            challenge=new_challenge(session, row, KeyCeremony.REGISTER, clock()),
            timeout=TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=_descriptors(keys),
        )
        return options_to_json(options)


def add_key(
    store: Store, token: str, label: str, response: str, rp: RelyingParty, *, clock: Clock = utcnow
) -> int:
    """Verify the browser's answer to the registration challenge and keep the key; its id."""
    label = _clean_label(label)
    with store.session(write=True) as session:
        begin_change(session)
        now = clock()
        row = _live(session, token, FULL)
        challenge = take_challenge(session, row, KeyCeremony.REGISTER, now)
        answer = answer_of(response, rp)
        verified = None
        if challenge is not None and answer is not None:
            try:
                verified = verify_registration_response(
                    credential=answer[0],
                    expected_challenge=challenge,
                    expected_rp_id=rp.id,
                    expected_origin=answer[1],
                )
            except (WebAuthnException, ValueError, KeyError, TypeError):
                verified = None
        credential_id = "" if verified is None else bytes_to_base64url(verified.credential_id)
        known = session.scalar(
            select(SecurityKey.id).where(SecurityKey.credential_id == credential_id)
        )
        if verified is None or known is not None or len(credential_id) > CREDENTIAL_ID_CHARS:
            refusal = _refuse("security_key")
        elif len(_keys(session, row.user_id)) >= MAX_KEYS:
            refusal = _refuse("key_limit")
        else:
            key = SecurityKey(
                user_id=row.user_id,
                credential_id=credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                label=label,
                created_at=now,
            )
            session.add(key)
            session.flush()
            _ledger(session, "security_key.added", key, now)
            log_activity(
                session, user_id=row.user_id, action="key.added", obj=f"key:{key.id}", clock=clock
            )
            return key.id
    raise refusal  # after the commit: the challenge is spent either way


def _ledger(session: Session, action: str, key: SecurityKey, now: datetime) -> None:
    digest = hashlib.sha256(key.credential_id.encode("ascii")).hexdigest()
    record(
        session,
        action=action,
        subject=f"user:{key.user_id}",
        by=key.user_id,
        data={"key": key.id, "credential": digest},
        at=now,
    )


def list_keys(store: Store, user_id: int) -> list[KeyRow]:
    with store.session() as session:
        return [
            KeyRow(id=k.id, label=k.label, created_at=k.created_at, last_used_at=k.last_used_at)
            for k in _keys(session, user_id)
        ]


def has_keys(store: Store, user_id: int) -> bool:
    with store.session() as session:
        count = session.scalar(
            select(func.count()).select_from(SecurityKey).where(SecurityKey.user_id == user_id)
        )
        return bool(count)


def remove_key(store: Store, user_id: int, key_id: int, *, clock: Clock = utcnow) -> None:
    """Remove one of the user's own keys (another user's is not found)."""
    with store.session(write=True) as session:
        begin_change(session)
        key = session.get(SecurityKey, key_id)
        if key is None or key.user_id != user_id:
            raise UnknownCode("no such security key")
        now = clock()
        _ledger(session, "security_key.removed", key, now)
        session.delete(key)
        log_activity(
            session, user_id=user_id, action="key.removed", obj=f"key:{key_id}", clock=clock
        )


def sign_in_options(store: Store, token: str, rp: RelyingParty, *, clock: Clock = utcnow) -> str:
    """The JSON options for ``navigator.credentials.get`` at the second-factor step."""
    with store.session(write=True) as session:
        row = _live(session, token, SECOND)
        keys = _keys(session, row.user_id)
        if not keys:
            raise _refuse("security_key")
        options = generate_authentication_options(
            rp_id=rp.id,
            challenge=new_challenge(session, row, KeyCeremony.SIGN_IN, clock()),
            timeout=TIMEOUT_MS,
            allow_credentials=_descriptors(keys),
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return options_to_json(options)


def _verified_key(
    session: Session, row: WebSession, response: str, rp: RelyingParty, now: datetime
) -> SecurityKey | None:
    """The user's key that signed this session's challenge, its counter moved forward; or None."""
    challenge = take_challenge(session, row, KeyCeremony.SIGN_IN, now)
    answer = answer_of(response, rp)
    if challenge is None or answer is None:
        return None
    key = session.scalar(
        select(SecurityKey).where(
            SecurityKey.credential_id == answer[0]["id"], SecurityKey.user_id == row.user_id
        )
    )
    if key is None:
        return None
    try:
        verified = verify_authentication_response(
            credential=answer[0],
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=answer[1],
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    # a counter that stays or goes back means a copy of the key signed (WebAuthn §6.1.1)
    if (verified.new_sign_count or key.sign_count) and verified.new_sign_count <= key.sign_count:
        return None
    key.sign_count, key.last_used_at = verified.new_sign_count, now
    return key


def sign_in_with_key(
    store: Store, token: str, response: str, rp: RelyingParty, *, clock: Clock = utcnow
) -> str:
    """Check a security key's answer at the second-factor step; return the full session's token."""
    with store.session(write=True) as session:
        now = clock()
        row = _live(session, token, SECOND)
        credential = session.get(WebCredential, row.user_id)
        user = session.get(DeskUser, row.user_id)
        if credential is None or user is None:  # pragma: no cover - sign_in needs both
            raise _refuse("session")
        if credential.locked_until and credential.locked_until > now:
            refusal = _refuse("throttled")
        else:
            key = _verified_key(session, row, response, rp, now)
            if key is not None:
                credential.failed_logins, credential.locked_until = 0, None
                row.revoked_at = now
                log_activity(
                    session, user_id=user.id, action="login", obj=f"key:{key.id}", clock=clock
                )
                return start_session(session, user, stage=FULL, now=now)
            record_failure(session, credential, now, clock)
            refusal = _refuse("credentials")
    raise refusal  # after the commit, so the failure stays counted and logged
