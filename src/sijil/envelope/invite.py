"""Invites: how a desk enrols a correspondent without ever learning their private key.

The desk writes an invite holding its public keys, the correspondent's codename, the
relay addresses to try, in order (none, one, or several: an onion and a mirror), and
a random enrolment token. ``relay`` holds the first address, so a sijil that reads
only that field still finds a relay; ``relays`` holds them all. ``relay_token``
(optional; absent from invites written before it, and then not written at all) is
the network's relay token: one secret shared by every correspondent, which lets
them use the capacity the relay keeps for them, without proof of work. The
correspondent's device puts the enrolment token in the (encrypted, signed) manifest
of its envelopes; the first envelope carrying a token binds that pseudonym key to the
codename at the desk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sijil.crypto.identity import DeskPublic
from sijil.errors import KeyFileError

__all__ = ["CODENAME_PATTERN", "MAX_RELAYS", "RELAY_TOKEN_PATTERN", "Invite"]

INVITE_FORMAT = "sijil-invite/1"
CODENAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_TOKEN = re.compile(r"[0-9a-f]{64}")
#: The network's relay token: URL-safe base64, long enough not to be guessed.
RELAY_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,128}")
#: An invite lists a few fallbacks (an onion, a mirror, another network), never hundreds.
MAX_RELAYS = 8


@dataclass(frozen=True, kw_only=True)
class Invite:
    codename: str
    desk: DeskPublic
    token: str
    # the first address; given alone, it is the only one
    relay: str | None = None
    # every address, tried in order; its first is ``relay``
    relays: tuple[str, ...] = ()
    # the network's relay token (a secret shared by every correspondent), or None
    relay_token: str | None = None

    def __post_init__(self) -> None:
        if not CODENAME_PATTERN.fullmatch(self.codename):
            raise KeyFileError("codename must be 1-64 letters, digits, spaces, '.', '_' or '-'")
        if not _TOKEN.fullmatch(self.token):
            raise KeyFileError("invite token is damaged")
        if self.relay_token is not None and not RELAY_TOKEN_PATTERN.fullmatch(self.relay_token):
            raise KeyFileError("the invite's relay token is damaged")
        given = self.relays or ((self.relay,) if self.relay else ())
        relays = tuple(dict.fromkeys(str(r) for r in given))
        if len(relays) > MAX_RELAYS:
            raise KeyFileError(f"an invite names at most {MAX_RELAYS} relays")
        if any(not r or any(c.isspace() for c in r) for r in relays):
            raise KeyFileError("a relay address is empty or holds a space")
        if self.relay and relays and self.relay != relays[0]:
            raise KeyFileError("the invite's first relay is not its relay")
        object.__setattr__(self, "relays", relays)
        object.__setattr__(self, "relay", relays[0] if relays else None)

    def to_bytes(self) -> bytes:
        doc = {
            "format": INVITE_FORMAT,
            "codename": self.codename,
            "desk": self.desk.to_dict(),
            "relay": self.relay,
            "relays": list(self.relays),
            "token": self.token,
        }
        if self.relay_token is not None:
            doc["relay_token"] = self.relay_token
        return (json.dumps(doc, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Invite:
        try:
            doc: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise KeyFileError("not a sijil invite file") from exc
        if not isinstance(doc, dict) or doc.get("format") != INVITE_FORMAT:
            raise KeyFileError("not a sijil invite file")
        relay = doc.get("relay")
        relays = doc.get("relays") or []  # absent from invites written before it
        relay_token = doc.get("relay_token")  # so is this
        if not isinstance(relays, list):
            raise KeyFileError("the invite's relay list is damaged")
        return cls(
            codename=str(doc.get("codename", "")),
            desk=DeskPublic.from_dict(doc.get("desk")),
            token=str(doc.get("token", "")),
            relay=None if relay is None else str(relay),
            relays=tuple(str(r) for r in relays),
            relay_token=None if relay_token is None else str(relay_token),
        )
