"""Who may pull from the relay, and who may read a mailbox: signatures and proofs.

Desk requests carry an Ed25519 signature by the desk's signing key over the
method, path, a timestamp, a one-time nonce and the SHA-256 of the body. The relay
knows only the desk's public key. A signature older or newer than
``AUTH_WINDOW_S`` is refused, and so is a nonce seen before (replay).

A correspondent's mailbox is named by a hash of their X25519 reply key. To read
it they prove they hold that key: the relay hands out a MAC'd one-time challenge
and its own per-process X25519 key; the client answers with an HMAC keyed by the
Diffie-Hellman secret of the two keys. The relay's key opens nothing: replies are
age-sealed to the correspondent with fresh ephemeral keys.

Both sides of each scheme live here (sign/verify, answer/check) so they cannot
drift apart; all functions are pure apart from the replay guard's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sijil.crypto.identity import b64, raw_public, unb64
from sijil.errors import KeyFileError, RelayAuthError

__all__ = [
    "AUTH_WINDOW_S",
    "RELAY_TOKEN_HEADER",
    "ChallengeIssuer",
    "DeskSignature",
    "ReplayGuard",
    "answer_challenge",
    "body_digest",
    "check_desk_headers",
    "mailbox_id",
    "sign_request",
    "token_digest",
    "verify_desk_request",
]

# Clocks on a desk laptop and a relay drift; five minutes covers that and still
# makes a captured request useless soon after.
AUTH_WINDOW_S = 300
# Only validly signed requests reach the guard, so this bounds memory, not abuse.
MAX_REMEMBERED_NONCES = 100_000
SIGN_CONTEXT = b"sijil-relay-request/1\n"
PROOF_INFO = b"sijil-mailbox-proof/1"
MAILBOX_CONTEXT = b"sijil-mailbox/1\x00"


# The network's relay token (from the invite): senders carrying it use the capacity the
# relay keeps for correspondents. Every enrolled device sends the same token, so the
# relay learns "one of ours", never which one.
RELAY_TOKEN_HEADER = "Sijil-Relay-Token"  # noqa: S105 - a header name, not a secret
TOKEN_CONTEXT = b"sijil-relay-token/1\0"


def token_digest(token: str) -> str:
    """What the relay keeps of a token (it needs no more to check one)."""
    return hashlib.sha256(TOKEN_CONTEXT + token.encode("utf-8", "surrogateescape")).hexdigest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def mailbox_id(reply_key: X25519PublicKey | bytes) -> str:
    """A mailbox's name: a hash of the correspondent's X25519 reply key, not the key."""
    raw = reply_key if isinstance(reply_key, bytes) else raw_public(reply_key)
    return hashlib.sha256(MAILBOX_CONTEXT + raw).hexdigest()


def _message(method: str, path: str, timestamp: int, nonce: str, digest: str) -> bytes:
    return SIGN_CONTEXT + f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign_request(
    key: Ed25519PrivateKey, *, method: str, path: str, body: bytes, now: float
) -> dict[str, str]:
    """Headers that prove the desk made this request now."""
    timestamp, nonce = int(now), secrets.token_hex(16)
    signature = key.sign(_message(method, path, timestamp, nonce, body_digest(body)))
    return {"Sijil-Time": str(timestamp), "Sijil-Nonce": nonce, "Sijil-Signature": b64(signature)}


@dataclass
class ReplayGuard:
    """Nonces seen within the window; a second use is a replay."""

    window_s: float = AUTH_WINDOW_S
    _seen: dict[str, float] = field(default_factory=dict)

    def check(self, nonce: str, *, now: float) -> None:
        """Refuse a nonce already used, without using it up."""
        if self._seen.get(nonce, 0.0) > now:
            raise RelayAuthError("this request was already used (replay)", status=401)

    def use(self, nonce: str, *, now: float) -> None:
        if len(self._seen) >= MAX_REMEMBERED_NONCES:
            self._seen = {n: t for n, t in self._seen.items() if t > now}
        self.check(nonce, now=now)
        self._seen[nonce] = now + 2 * self.window_s


def _fresh(raw: str | None, now: float, window: float) -> int:
    # isdigit() alone takes "²" (a header is Latin-1), which int() then refuses
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise RelayAuthError("the request is not signed", status=401)
    timestamp = int(raw)
    if abs(now - timestamp) > window:
        raise RelayAuthError("the signature has expired (or the clocks differ)", status=401)
    return timestamp


@dataclass(frozen=True, kw_only=True)
class DeskSignature:
    """A desk request's signature headers, checked as far as they can be without the body."""

    timestamp: int
    nonce: str
    signature: bytes


def check_desk_headers(
    headers: Mapping[str, str], *, now: float, guard: ReplayGuard
) -> DeskSignature:
    """Refuse an unsigned, stale or replayed request before reading any of its body."""
    timestamp = _fresh(headers.get("sijil-time"), now, guard.window_s)
    nonce = headers.get("sijil-nonce") or ""
    if len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce):
        raise RelayAuthError("the request is not signed", status=401)
    guard.check(nonce, now=now)
    try:
        signature = unb64(headers.get("sijil-signature"), size=64, what="signature")
    except KeyFileError as exc:
        raise RelayAuthError("the request is not signed by this relay's desk", status=403) from exc
    return DeskSignature(timestamp=timestamp, nonce=nonce, signature=signature)


def verify_desk_request(
    headers: Mapping[str, str],
    *,
    key: Ed25519PublicKey,
    method: str,
    path: str,
    digest: str,
    now: float,
    guard: ReplayGuard,
) -> None:
    """Refuse unless the desk signed exactly this request, recently, once."""
    signed = check_desk_headers(headers, now=now, guard=guard)
    try:
        key.verify(signed.signature, _message(method, path, signed.timestamp, signed.nonce, digest))
    except InvalidSignature as exc:
        raise RelayAuthError("the request is not signed by this relay's desk", status=403) from exc
    guard.use(signed.nonce, now=now)


def _proof_key(shared: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=PROOF_INFO).derive(shared)


def _proof(key: bytes, challenge: str, method: str, path: str) -> bytes:
    return hmac.new(key, f"{challenge}\n{method.upper()}\n{path}".encode(), "sha256").digest()


def answer_challenge(
    identity: X25519PrivateKey, *, relay_key: str, challenge: str, method: str, path: str
) -> dict[str, str]:
    """Headers proving we hold the reply key, for one request to ``path``."""
    try:
        relay = X25519PublicKey.from_public_bytes(unb64(relay_key, size=32, what="relay key"))
        shared = identity.exchange(relay)
    except ValueError as exc:
        raise RelayAuthError("the relay sent an unusable key", status=502) from exc
    proof = _proof(_proof_key(shared), challenge, method, path)
    return {
        "Sijil-Key": b64(raw_public(identity.public_key())),
        "Sijil-Challenge": challenge,
        "Sijil-Proof": b64(proof),
    }


class ChallengeIssuer:
    """The relay's side of mailbox proofs; its secrets live only in this process."""

    def __init__(self, *, window_s: float = AUTH_WINDOW_S) -> None:
        self._key = X25519PrivateKey.generate()
        self._mac_key = secrets.token_bytes(32)
        self.guard = ReplayGuard(window_s=window_s)

    @property
    def public(self) -> str:
        return b64(raw_public(self._key.public_key()))

    def _mac(self, body: str) -> str:
        return hmac.new(self._mac_key, body.encode(), "sha256").hexdigest()[:32]

    def issue(self, *, now: float) -> str:
        body = f"{int(now)}.{secrets.token_hex(16)}"
        return f"{body}.{self._mac(body)}"

    def check(
        self, headers: Mapping[str, str], *, box: str, method: str, path: str, now: float
    ) -> None:
        """Refuse unless the caller holds the key whose hash names ``box``."""
        challenge = headers.get("sijil-challenge") or ""
        parts = challenge.split(".")
        # compare_digest refuses non-ASCII str (TypeError): a header can be any Latin-1
        if (
            len(parts) != 3
            or not challenge.isascii()
            or not hmac.compare_digest(self._mac(".".join(parts[:2])), parts[2])
        ):
            raise RelayAuthError("missing or unknown challenge; ask for a new one", status=401)
        _fresh(parts[0], now, self.guard.window_s)
        try:
            raw = unb64(headers.get("sijil-key"), size=32, what="key")
            proof = unb64(headers.get("sijil-proof"), size=32, what="proof")
            shared = self._key.exchange(X25519PublicKey.from_public_bytes(raw))
        except (KeyFileError, ValueError) as exc:
            raise RelayAuthError("the mailbox proof is malformed", status=401) from exc
        expected = _proof(_proof_key(shared), challenge, method, path)
        if mailbox_id(raw) != box or not hmac.compare_digest(expected, proof):
            raise RelayAuthError("the proof does not match this mailbox", status=403)
        self.guard.use(parts[1], now=now)
