"""Answer a correspondent: seal a signed reply to their key and leave it at the relay."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import select

from sijil.crypto.identity import DeskIdentity, unb64
from sijil.errors import DeskError, NotFound
from sijil.relay.protocol.auth import mailbox_id, sign_request
from sijil.relay.protocol.client import RelayClient
from sijil.relay.protocol.replies import seal_reply
from sijil.store import Correspondent, RelayReply, Revocation, Store

__all__ = ["SentReply", "send_reply"]


@dataclass(frozen=True, kw_only=True)
class SentReply:
    codename: str
    mailbox: str
    sealed_sha256: str
    size: int


def send_reply(
    identity: DeskIdentity,
    store: Store,
    *,
    relay: str,
    codename: str,
    text: str,
    proxy: str | None = None,
    clock: Callable[[], float] = time.time,
    sign_with: Ed25519PrivateKey | None = None,
    request_key: Ed25519PrivateKey | None = None,
    relay_token: str | None = None,
) -> SentReply:
    """Seal ``text`` to the correspondent's reply key and post it to their mailbox.

    ``sign_with``: sign the reply with this key instead of the desk's current one (a key
    rotation's announcement is signed by the retired key the correspondent trusts);
    ``request_key``: sign the request to the relay with it (a relay not yet given the
    new desk.pub knows only the retired key); ``relay_token``: the network's new relay
    token, signed and sealed with the reply (sijil.desk.relay_token); never in ``text``."""
    with store.session() as session:
        who = session.scalar(select(Correspondent).filter_by(codename=codename))
        if who is None:
            raise NotFound(f"no correspondent called {codename!r}")
        if not who.reply_key:
            raise NotFound(f"{codename!r} has not sent a report yet, so has no reply key")
        if session.scalar(select(Revocation.id).filter_by(correspondent_id=who.id).limit(1)):
            # whoever holds a captured key reads what arrives in its mailbox
            raise DeskError(f"replies to {codename!r} have stopped: their key is revoked")
        correspondent_id, reply_key = who.id, who.reply_key
    to = X25519PublicKey.from_public_bytes(unb64(reply_key, size=32, what="reply key"))
    sealed = seal_reply(text, desk_sign=sign_with or identity.sign, to=to, relay_token=relay_token)
    box = mailbox_id(to)
    with RelayClient(relay, proxy=proxy) as client:
        url = f"v1/desk/mailboxes/{box}"
        path = client.path_of(client.url(url))
        signer = request_key or identity.sign
        headers = sign_request(signer, method="POST", path=path, body=sealed, now=clock())
        headers["Content-Type"] = "application/octet-stream"
        client.request("POST", url, headers=headers, content=sealed, ok=(201,))
    digest = hashlib.sha256(sealed).hexdigest()
    with store.session(write=True) as session:
        session.add(RelayReply(correspondent_id=correspondent_id, text=text, sealed_sha256=digest))
    return SentReply(codename=codename, mailbox=box, sealed_sha256=digest, size=len(sealed))
