"""Invites: how a desk enrols a correspondent without ever learning their private key.

The desk writes an invite holding its public keys, the correspondent's codename, an
optional relay address and a random enrolment token. The correspondent's device puts
the token in the (encrypted, signed) manifest of its envelopes; the first envelope
carrying a token binds that pseudonym key to the codename at the desk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sijil.crypto.identity import DeskPublic
from sijil.errors import KeyFileError

__all__ = ["CODENAME_PATTERN", "Invite"]

INVITE_FORMAT = "sijil-invite/1"
CODENAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_TOKEN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class Invite:
    codename: str
    desk: DeskPublic
    token: str
    relay: str | None = None

    def __post_init__(self) -> None:
        if not CODENAME_PATTERN.fullmatch(self.codename):
            raise KeyFileError("codename must be 1-64 letters, digits, spaces, '.', '_' or '-'")
        if not _TOKEN.fullmatch(self.token):
            raise KeyFileError("invite token is damaged")

    def to_bytes(self) -> bytes:
        doc = {
            "format": INVITE_FORMAT,
            "codename": self.codename,
            "desk": self.desk.to_dict(),
            "relay": self.relay,
            "token": self.token,
        }
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
        return cls(
            codename=str(doc.get("codename", "")),
            desk=DeskPublic.from_dict(doc.get("desk")),
            token=str(doc.get("token", "")),
            relay=None if relay is None else str(relay),
        )
