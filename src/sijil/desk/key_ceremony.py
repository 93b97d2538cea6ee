"""WebAuthn ceremonies: the relying party, the challenges, the browser's answers.

The relying party is the domain security keys are bound to, and the origins allowed.

A key signs for one relying-party id, a domain name (``localhost`` by default):
browsers refuse an IP address, so one is refused here at start-up rather than at
the first key. The origin the browser reports must be that domain exactly (over
https; over http only for ``localhost``, which browsers treat as secure), on any
port, or the one origin configured (``sijil desk serve --rp-origin``).

A challenge is random, bound to the web session that asked for it, kept in the
database (any ``serve`` process may see the answer) and taken once, right or
wrong, before ``CHALLENGE_TTL`` runs out.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException

from sijil.errors import ConfigError
from sijil.store import KeyCeremony, SecurityKeyChallenge, WebSession

__all__ = [
    "CHALLENGE_TTL",
    "DEFAULT_RP_ID",
    "MAX_RESPONSE",
    "RelyingParty",
    "answer_of",
    "new_challenge",
    "take_challenge",
]

#: Touching a key takes seconds; the browser itself gives up after a minute.
CHALLENGE_TTL = timedelta(minutes=2)
#: An answer with "none" attestation is under 2 KiB; this bounds what is parsed.
MAX_RESPONSE = 8 * 1024
CHALLENGE_BYTES = 32

DEFAULT_RP_ID = "localhost"
#: A DNS name: labels of letters, digits and hyphens, 253 characters at most.
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
#: Browsers treat these as secure contexts over plain http.
_LOOPBACK_NAMES = ("localhost",)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _origin_parts(origin: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return parts.scheme, parts.hostname or "", port


@dataclass(frozen=True)
class RelyingParty:
    """``id``: the domain keys are bound to; ``origin``: the one allowed origin, or None for
    any origin on ``id`` itself."""

    id: str = DEFAULT_RP_ID
    origin: str | None = None

    def __post_init__(self) -> None:
        if _is_ip(self.id):
            raise ConfigError(
                f"the relying-party id must be a domain name, not an IP address: {self.id}"
            )
        if not _DOMAIN.fullmatch(self.id):
            raise ConfigError(
                "the relying-party id must be a lower-case domain name, like localhost"
            )
        if self.origin is not None and not self._on_domain(self.origin):
            raise ConfigError(
                f"the origin must be https:// (or http://localhost) on {self.id}: {self.origin}"
            )

    def _on_domain(self, origin: str) -> bool:
        parts = _origin_parts(origin)
        if parts is None:
            return False
        scheme, host, _port = parts
        plain = scheme == "http" and host in _LOOPBACK_NAMES
        return host == self.id and (scheme == "https" or plain)

    def accepts(self, origin: str) -> bool:
        """Whether a browser reporting ``origin`` is on this desk (not a look-alike site)."""
        if self.origin is not None:
            return origin == self.origin.rstrip("/")
        return self._on_domain(origin) and not origin.endswith("/")


def new_challenge(session: Session, row: WebSession, ceremony: KeyCeremony, now: datetime) -> bytes:
    """A fresh challenge for this session; any earlier one of it, and every expired one, go."""
    session.execute(
        delete(SecurityKeyChallenge).where(
            (SecurityKeyChallenge.session_hash == row.token_hash)
            | (SecurityKeyChallenge.expires_at < now)
        )
    )
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    session.add(
        SecurityKeyChallenge(
            session_hash=row.token_hash,
            user_id=row.user_id,
            ceremony=str(ceremony),
            challenge=bytes_to_base64url(challenge),
            expires_at=now + CHALLENGE_TTL,
        )
    )
    return challenge


def take_challenge(
    session: Session, row: WebSession, ceremony: KeyCeremony, now: datetime
) -> bytes | None:
    """This session's challenge for ``ceremony``, deleted as it is taken; None if expired."""
    found = session.scalar(
        select(SecurityKeyChallenge).where(
            SecurityKeyChallenge.session_hash == row.token_hash,
            SecurityKeyChallenge.ceremony == str(ceremony),
        )
    )
    if found is None:
        return None
    session.delete(found)
    if found.expires_at < now or found.user_id != row.user_id:
        return None
    return base64url_to_bytes(found.challenge)


def answer_of(response: str, rp: RelyingParty) -> tuple[dict[str, Any], str] | None:
    """The parsed answer and the origin it reports, if small, well-formed and from our origin."""
    if len(response) > MAX_RESPONSE:
        return None
    try:
        parsed = json.loads(response)
        client_data = base64url_to_bytes(parsed["response"]["clientDataJSON"])
        origin = parse_client_data_json(client_data).origin
    except (ValueError, KeyError, TypeError, WebAuthnException):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("id"), str):
        return None
    return (parsed, origin) if rp.accepts(origin) else None
