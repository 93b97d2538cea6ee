"""Fetch the desk's replies from the relay mailbox named by our reply key, and keep them.

Each request proves we hold the reply key (a fresh relay challenge answered with
an X25519 Diffie-Hellman MAC, see ``sijil.relay.protocol.auth``). Replies are opened and
checked against the desk's signing key, then kept in ``outbox/inbox.sealed``
(age, to our own key, like the outbox index, so a wipe removes them too) before
the relay is told to delete them. The relay's ids are not trusted: a reply's id
must be the SHA-256 of its bytes, and replies are de-duplicated on those bytes
and on the signed words inside, so an old reply served again is never new.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sijil.crypto.handover import ANNOUNCE_MARK
from sijil.envelope.age import AgeReader, AgeWriter
from sijil.errors import ConfigError, EnvelopeError, KeyFileError, RelayError
from sijil.field.home import FieldSession
from sijil.fsutil import atomic_write
from sijil.relay.protocol.auth import answer_challenge, mailbox_id
from sijil.relay.protocol.client import RelayClient
from sijil.relay.protocol.replies import open_reply

if TYPE_CHECKING:
    import httpx

__all__ = ["INBOX_FILE", "InboxItem", "adopted_relay_token", "fetch_inbox", "load_inbox"]

INBOX_FILE = "inbox.sealed"
# One fetch takes at most this many replies; the rest wait for the next one.
MAX_FETCH = 200
# A reply's id at the relay is the SHA-256 of its sealed bytes.
_REPLY_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class InboxItem:
    id: str
    text: str
    created_at: str
    received_at: str
    problem: str = ""  # set when a reply could not be opened or was not from the desk
    new: bool = False


def load_inbox(session: FieldSession) -> list[dict[str, Any]]:
    path = session.home.outbox / INBOX_FILE
    if not path.exists():
        return []
    with path.open("rb") as handle:
        doc = json.loads(AgeReader(handle, session.identity.box).read())
    if not isinstance(doc, list):
        raise KeyFileError("the inbox file is damaged")
    return [dict(item) for item in doc]


def _save_inbox(session: FieldSession, items: list[dict[str, Any]]) -> None:
    buf = io.BytesIO()
    writer = AgeWriter(buf, session.identity.box.public_key())
    writer.write(json.dumps(items, ensure_ascii=False).encode())
    writer.close()
    atomic_write(session.home.outbox / INBOX_FILE, buf.getvalue())


def reseal_inbox(old: FieldSession, new: FieldSession) -> None:
    """Re-encrypt the kept replies and the desk's announced keys from ``old``'s key to
    ``new``'s (``sijil field rekey``)."""
    if (old.home.outbox / INBOX_FILE).exists():
        _save_inbox(new, load_inbox(old))
    adopted = old.adopted_handovers()
    if adopted:
        new.save_handovers(adopted)


def _proven(client: RelayClient, session: FieldSession, method: str, path: str) -> dict[str, str]:
    response = client.request("GET", "v1/mailbox/challenge", ok=(200,))
    try:
        doc = response.json()
        relay_key, challenge = str(doc["relay_key"]), str(doc["challenge"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RelayError("the relay's challenge does not parse", status=502) from exc
    return answer_challenge(
        session.identity.box, relay_key=relay_key, challenge=challenge, method=method, path=path
    )


def _open(
    session: FieldSession, served_id: str, data: str, *, received_at: str
) -> dict[str, Any] | None:
    """One served reply as an inbox item, checked; None if its id is no reply id at all."""
    if not _REPLY_ID.fullmatch(served_id):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raw = data.encode("utf-8", "replace")
    item: dict[str, Any] = {"id": hashlib.sha256(raw).hexdigest(), "received_at": received_at}
    try:
        reply = open_reply(raw, identity=session.identity.box, desk=session.desk.sign)
    except (EnvelopeError, ValueError) as exc:
        # kept with the reason, not dropped: a forged reply is worth knowing of
        item.update(text="", created_at="", problem=str(exc)[:200])
        return item
    # the signed digest is kept even for a suspect one: a replay of it is then known
    item.update(text=reply.text, created_at=reply.created_at, signed=reply.signed_sha256)
    if item["id"] != served_id:
        problem = "the relay served this reply under an id that is not its hash"
        item.update(text="", created_at="", problem=problem)
        return item
    _adopt_announced_key(session, reply.text, item)
    if reply.relay_token is not None:
        # a rotated relay token, signed by our desk: 'field send' uses the newest one
        item["relay_token"] = reply.relay_token
    return item


def adopted_relay_token(session: FieldSession) -> str | None:
    """The newest relay token the desk sent in a verified reply, or None."""
    try:
        items = load_inbox(session)
    except (EnvelopeError, KeyFileError, ValueError):
        return None  # damaged: the invite's token still works until it is rotated out
    carrying = [
        item
        for item in items
        if item.get("relay_token") and not item.get("problem") and item.get("created_at")
    ]
    if not carrying:
        return None
    return str(max(carrying, key=lambda item: str(item["created_at"]))["relay_token"])


def _adopt_announced_key(session: FieldSession, text: str, item: dict[str, Any]) -> None:
    """A reply (signed by the desk key we trust) announcing a key rotation: adopt the new
    key for the next envelopes. A handover that does not check is kept as a problem."""
    for line in text.splitlines():
        if not line.startswith(ANNOUNCE_MARK):
            continue
        try:
            doc = json.loads(line[len(ANNOUNCE_MARK) :])
            if not isinstance(doc, dict):
                raise KeyFileError("a desk key handover does not parse")
            session.adopt_desk_key(doc)
        except (KeyFileError, ValueError) as exc:
            item["problem"] = f"the desk's key announcement was not adopted: {exc}"[:200]


def fetch_inbox(
    session: FieldSession,
    *,
    relay: str | None = None,
    proxy: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[InboxItem]:
    """Fetch, open, keep and acknowledge new replies; return every kept reply.

    ``transport`` carries the requests instead of the network (see ``RelayClient``).
    """
    relay = relay or session.settings.get("relay") or None
    if not relay:
        raise ConfigError("no relay address: give --relay (the invite named none)")
    box = mailbox_id(session.identity.box.public_key())
    kept = load_inbox(session)
    known = {str(item["id"]) for item in kept}
    seen_signed = {str(item["signed"]) for item in kept if item.get("signed")}
    fresh: set[str] = set()
    served: list[str] = []  # the relay's ids, to acknowledge: new, replayed or damaged
    with RelayClient(relay, proxy=proxy, transport=transport) as client:
        url = client.url(f"v1/mailbox/{box}")
        path = client.path_of(url)
        response = client.request(
            "GET", url, headers=_proven(client, session, "GET", path), ok=(200,)
        )
        try:
            listed = [(str(r["id"]), str(r["data"])) for r in response.json()["replies"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise RelayError("the relay's mailbox answer does not parse", status=502) from exc
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for served_id, data in listed[:MAX_FETCH]:
            item = _open(session, served_id, data, received_at=now)
            if item is None:
                continue  # a relay id that cannot name a reply: nothing to keep or delete
            served.append(served_id)
            # the relay names replies; it is not trusted to: dedupe on the bytes
            # (the id is their SHA-256) and on what the desk signed inside them
            signed = str(item.get("signed", ""))
            if item["id"] in known or (signed and signed in seen_signed):
                continue
            kept.append(item)
            known.add(str(item["id"]))
            if signed:
                seen_signed.add(signed)
            fresh.add(str(item["id"]))
        _save_inbox(session, kept)
        for reply_id in sorted(set(served)):
            headers = _proven(client, session, "DELETE", f"{path}/{reply_id}")
            client.request("DELETE", f"{url}/{reply_id}", headers=headers, ok=(204, 404))
    return [
        InboxItem(
            id=str(item["id"]),
            text=str(item.get("text", "")),
            created_at=str(item.get("created_at", "")),
            received_at=str(item.get("received_at", "")),
            problem=str(item.get("problem", "")),
            new=str(item["id"]) in fresh,
        )
        for item in kept
    ]
