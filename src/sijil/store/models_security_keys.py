"""Security keys (WebAuthn) as a second factor, and the challenges they answer.

``web_security_keys`` holds one row per registered key: its credential id
(base64url, as the browser names it), its COSE public key, the signature counter
it last reported (a counter that goes back means a cloned key: refused) and a
label the user chose. No private material is stored; the public key only checks
signatures.

``web_key_challenges`` holds the random challenge of each registration or
sign-in ceremony, bound to the web session that asked for it (by the session
token's SHA-256) and valid for a short time. It is in the database, not in a
process's memory, so the ceremony may finish on another ``serve`` process
behind the same proxy; a challenge is deleted when it is answered, right or wrong.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base

__all__ = ["KeyCeremony", "SecurityKey", "SecurityKeyChallenge"]

#: WebAuthn allows credential ids up to 1023 bytes: 1364 characters of base64url.
CREDENTIAL_ID_CHARS = 1364


class KeyCeremony(StrEnum):
    """What a challenge is for."""

    REGISTER = "register"
    SIGN_IN = "sign_in"


class SecurityKey(Base):
    """A WebAuthn credential a desk user registered as a second factor."""

    __tablename__ = "web_security_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    # base64url of the credential id; one key belongs to one user
    credential_id: Mapped[str] = mapped_column(String(CREDENTIAL_ID_CHARS), unique=True)
    # the COSE_Key from the attestation (an EC2, OKP or RSA public key)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class SecurityKeyChallenge(Base):
    """A challenge issued to one web session, answered once, before ``expires_at``."""

    __tablename__ = "web_key_challenges"
    __table_args__ = (
        CheckConstraint(
            f"ceremony IN ({', '.join(repr(str(c)) for c in KeyCeremony)})", name="ceremony"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the session token that asked: another session cannot answer it
    session_hash: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
    ceremony: Mapped[str] = mapped_column(String(16))
    # base64url of the random challenge
    challenge: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
