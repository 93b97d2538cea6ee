"""The network's relay token at the desk: kept, handed out in invites, rotated.

Every enrolled correspondent carries the same relay token (so the relay still cannot
tell them apart); the relay serves token holders from capacity it keeps from
strangers, without proof of work (docs/relay.md, "Strangers and correspondents").

The desk keeps the current token, and the one before it, in ``relay-token.sealed``
in its home: AES-256-GCM under a key derived from the vault secret (so it opens
only after the passphrase, and a seized desk disk does not yield it). It is made
by the first invite, or by :func:`rotate`. The relay does not need the token
itself: the file the desk writes for its operator (``relay-tokens.txt``, installed
as ``sijil relay serve --token-file``) names each token by its digest, the previous
one with ``until=`` the end of its grace period (:data:`RELAY_TOKEN_GRACE_S`).

:func:`rotate` (after a device was seized, or a correspondent revoked) makes a new
token and sends it in a sealed, signed reply to every enrolled correspondent whose
key is not revoked; never to a revoked one.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.reply import send_reply
from sijil.envelope.invite import RELAY_TOKEN_PATTERN
from sijil.errors import KeyFileError, RelayError
from sijil.fsutil import atomic_write
from sijil.relay.protocol.auth import token_digest
from sijil.store import Correspondent, Revocation, Store

__all__ = [
    "RELAY_TOKENS_OUT",
    "RELAY_TOKEN_FILE",
    "RELAY_TOKEN_GRACE_S",
    "Rotation",
    "TokenState",
    "current_token",
    "ensure_token",
    "rotate",
    "send_token",
    "token_file_text",
]

RELAY_TOKEN_FILE: Final = "relay-token.sealed"  # noqa: S105 - a file name
# What the relay's operator installs as its --token-file (digests only: no secret).
RELAY_TOKENS_OUT: Final = "relay-tokens.txt"
# After a rotation the relay still honours the previous token this long, so devices
# that have not fetched their reply yet keep the reserve: a week covers a
# correspondent who checks the inbox rarely; a captor holds it no longer than that.
RELAY_TOKEN_GRACE_S: Final = 7 * 86400
_LABEL: Final = b"sijil-desk-relay-token/1"
_NONCE: Final = 12
REPLY_TEXT: Final = (
    "The network's relay token changed. Your device now uses the new one; nothing to do."
)


@dataclass(frozen=True, kw_only=True)
class TokenState:
    current: str
    previous: str | None = None
    # unix time of the last rotation (None: never rotated)
    rotated_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class Rotation:
    token_file: Path
    sent: list[str] = field(default_factory=list)
    # (codename, one-line reason) of each enrolled correspondent it could not reach
    failed: list[tuple[str, str]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


def _cipher(identity: DeskIdentity) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(identity.vault)
    return AESGCM(key)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def current_token(home: DeskHome, identity: DeskIdentity) -> TokenState | None:
    """The desk's relay tokens, or None before the first invite (or an older desk)."""
    path = home.root / RELAY_TOKEN_FILE
    try:
        sealed = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        plain = _cipher(identity).decrypt(sealed[:_NONCE], sealed[_NONCE:], _LABEL)
        doc = json.loads(plain)
        state = TokenState(
            current=str(doc["current"]),
            previous=None if doc.get("previous") is None else str(doc["previous"]),
            rotated_at=None if doc.get("rotated_at") is None else int(doc["rotated_at"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{RELAY_TOKEN_FILE} is damaged or from another desk") from exc
    if not RELAY_TOKEN_PATTERN.fullmatch(state.current):
        raise KeyFileError(f"{RELAY_TOKEN_FILE} holds no valid relay token")
    return state


def _save(home: DeskHome, identity: DeskIdentity, state: TokenState) -> None:
    doc = {"current": state.current, "previous": state.previous, "rotated_at": state.rotated_at}
    nonce = os.urandom(_NONCE)
    sealed = nonce + _cipher(identity).encrypt(nonce, json.dumps(doc).encode(), _LABEL)
    atomic_write(home.root / RELAY_TOKEN_FILE, sealed, mode=0o600)


def token_file_text(state: TokenState) -> str:
    """The relay's --token-file: the current token's digest, the previous one's until its
    grace period ends."""
    lines = [
        "# sijil relay tokens: install as `sijil relay serve --token-file` and restart the relay",
        "# digests only: this file holds no secret",
        f"sha256:{token_digest(state.current)}",
    ]
    if state.previous is not None and state.rotated_at is not None:
        until = state.rotated_at + RELAY_TOKEN_GRACE_S
        when = datetime.fromtimestamp(until, UTC).isoformat(timespec="minutes")
        lines.append(f"# the previous token, accepted until {when}")
        lines.append(f"sha256:{token_digest(state.previous)} until={until}")
    return "\n".join(lines) + "\n"


def _write_token_file(home: DeskHome, state: TokenState) -> Path:
    path = home.root / RELAY_TOKENS_OUT
    atomic_write(path, token_file_text(state).encode(), mode=0o644)
    return path


def ensure_token(home: DeskHome, identity: DeskIdentity) -> tuple[TokenState, Path | None]:
    """The desk's relay tokens, made now if there are none (then also the relay's file)."""
    state = current_token(home, identity)
    if state is not None:
        return state, None
    state = TokenState(current=_new_token())
    _save(home, identity, state)
    return state, _write_token_file(home, state)


def _recipients(store: Store) -> tuple[list[str], list[str]]:
    """Codenames of enrolled correspondents with a reply key: (not revoked, revoked)."""
    with store.session() as session:
        revoked_ids = set(session.scalars(select(Revocation.correspondent_id)))
        rows = session.execute(
            select(Correspondent.id, Correspondent.codename)
            .where(Correspondent.enrolled.is_(True), Correspondent.reply_key.is_not(None))
            .order_by(Correspondent.codename)
        ).all()
    live = [name for cid, name in rows if cid not in revoked_ids]
    revoked = [name for cid, name in rows if cid in revoked_ids]
    return live, revoked


def send_token(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    relay: str,
    proxy: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Rotation:
    """Send the current token to every enrolled, non-revoked correspondent, by sealed reply."""
    state = current_token(home, identity)
    if state is None:
        state, _ = ensure_token(home, identity)
    live, revoked = _recipients(store)
    done = Rotation(token_file=home.root / RELAY_TOKENS_OUT, revoked=revoked)
    for codename in live:
        try:
            send_reply(
                identity,
                store,
                relay=relay,
                codename=codename,
                text=REPLY_TEXT,
                proxy=proxy,
                clock=clock,
                relay_token=state.current,
            )
        except RelayError as exc:
            done.failed.append((codename, str(exc)))
            continue
        done.sent.append(codename)
    return done


def rotate(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    relay: str,
    proxy: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Rotation:
    """Make a new relay token, write the relay's token file, send it to correspondents.

    The previous token stays in the relay's file, with ``until=`` the end of the
    grace period. A token never left the desk before (an older desk) is made now.
    """
    old = current_token(home, identity)
    now = int(clock())
    state = TokenState(
        current=_new_token(), previous=None if old is None else old.current, rotated_at=now
    )
    _save(home, identity, state)
    _write_token_file(home, state)
    return send_token(home, identity, store, relay=relay, proxy=proxy, clock=clock)
