"""The reply format: a desk-signed note sealed with age to one correspondent.

Plaintext inside the age layer (age v1, X25519, the correspondent's reply key)::

    b"SIJIL-REPLY/1\\n"    format line
    uint32 big-endian     length of the JSON
    JSON                  {"created_at", "text", "to"} and, when the desk hands out a
                          new relay token, "relay_token": canonical (sorted keys, UTF-8)
    64 bytes              Ed25519 signature by the desk over SIGN_CONTEXT || JSON

``to`` is the mailbox id, so a reply cannot be passed off as meant for someone
else. ``relay_token`` (signed with the rest) is the network's new relay token after a
rotation; a phone adopts it for its next uploads, and older phones ignore it. The
relay stores the ciphertext only; it cannot read or forge a reply.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sijil.envelope.age import AgeReader, AgeWriter
from sijil.envelope.invite import RELAY_TOKEN_PATTERN
from sijil.errors import BadSignature, EnvelopeError, MalformedEnvelope
from sijil.relay.protocol.auth import mailbox_id

__all__ = ["MAX_REPLY_TEXT", "Reply", "open_reply", "seal_reply"]

FORMAT_LINE = b"SIJIL-REPLY/1\n"
SIGN_CONTEXT = b"sijil-reply/1\x00"
# A reply is a message, not a file: a few screens of text at most.
MAX_REPLY_TEXT = 16_000


@dataclass(frozen=True, kw_only=True)
class Reply:
    text: str
    created_at: str
    to: str
    # SHA-256 of the signed JSON and its signature: what the desk wrote, whatever
    # ciphertext or id the relay serves it under (a replay keeps this, not those)
    signed_sha256: str = ""
    # the network's new relay token, when the desk rotated it (never shown as text)
    relay_token: str | None = None


def seal_reply(
    text: str,
    *,
    desk_sign: Ed25519PrivateKey,
    to: X25519PublicKey,
    now: datetime | None = None,
    relay_token: str | None = None,
) -> bytes:
    if not text.strip():
        raise MalformedEnvelope("a reply needs some text")
    if len(text) > MAX_REPLY_TEXT:
        raise MalformedEnvelope(f"a reply is limited to {MAX_REPLY_TEXT} characters")
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    doc = {
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "text": text,
        "to": mailbox_id(to),
    }
    if relay_token is not None:
        if not RELAY_TOKEN_PATTERN.fullmatch(relay_token):
            raise MalformedEnvelope("a relay token must be 32-128 URL-safe characters")
        doc["relay_token"] = relay_token
    body = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    out = io.BytesIO()
    writer = AgeWriter(out, to)
    writer.write(FORMAT_LINE + len(body).to_bytes(4, "big") + body)
    writer.write(desk_sign.sign(SIGN_CONTEXT + body))
    writer.close()
    return out.getvalue()


def open_reply(data: bytes, *, identity: X25519PrivateKey, desk: Ed25519PublicKey) -> Reply:
    """Decrypt and verify; a reply not signed by our desk is refused."""
    reader = AgeReader(io.BytesIO(data), identity)
    if reader.read(len(FORMAT_LINE)) != FORMAT_LINE:
        raise MalformedEnvelope("not a sijil reply")
    length = int.from_bytes(reader.read_exact(4), "big")
    if length > 4 * MAX_REPLY_TEXT + 256:
        raise MalformedEnvelope("the reply is too large")
    body = reader.read_exact(length)
    signature = reader.read_exact(64)
    if not reader.at_end():
        raise MalformedEnvelope("the reply carries data after its signature")
    try:
        desk.verify(signature, SIGN_CONTEXT + body)
    except InvalidSignature as exc:
        raise BadSignature("the reply is not signed by your desk") from exc
    try:
        doc = json.loads(body)
        token = doc.get("relay_token")
        if token is not None and not RELAY_TOKEN_PATTERN.fullmatch(str(token)):
            raise MalformedEnvelope("the reply's relay token is damaged")
        reply = Reply(
            text=str(doc["text"]),
            created_at=str(doc["created_at"]),
            to=str(doc["to"]),
            signed_sha256=hashlib.sha256(body + signature).hexdigest(),
            relay_token=None if token is None else str(token),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedEnvelope("the reply's contents do not parse") from exc
    if reply.to != mailbox_id(identity.public_key()):
        raise EnvelopeError("the reply was addressed to someone else")
    return reply
