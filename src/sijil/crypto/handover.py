"""A key handover: the desk's old signing key and its new one both vouch for the change.

A handover is the canonical JSON (RFC 8785) statement

    {"format": "sijil-key-handover/1", "old_sign_key", "new_sign_key",
     "new_age_recipient", "at", "tree_size", "root_hash"}

(keys base64, ``tree_size`` and ``root_hash`` the custody ledger just before the
handover), with two Ed25519 signatures over ``SIGN_CONTEXT || statement``: one by
the old key (it hands over) and one by the new key (it accepts, so no one can
hand a log to a key they do not hold). The same document is the custody-ledger
entry ``key.rotated`` (its data: the statement's fields and both signatures) and
the announcement sealed to correspondents. Whoever trusts the old key can follow
a chain of handovers to the current key, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import b64, parse_age_recipient, raw_public, unb64
from sijil.errors import KeyFileError

__all__ = [
    "ANNOUNCE_MARK",
    "HANDOVER_FORMAT",
    "SIGN_CONTEXT",
    "STATEMENT_FIELDS",
    "Handover",
    "follow_chain",
    "make_handover",
    "parse_handover",
]

HANDOVER_FORMAT = "sijil-key-handover/1"
#: The line of a desk reply that carries a handover, followed by its canonical JSON.
ANNOUNCE_MARK = "SIJIL-KEY-HANDOVER/1 "
SIGN_CONTEXT = b"sijil-key-handover/1\x00"
STATEMENT_FIELDS = (
    "format",
    "old_sign_key",
    "new_sign_key",
    "new_age_recipient",
    "at",
    "tree_size",
    "root_hash",
)
# A chain longer than this is refused rather than walked (a desk rotates a few times a year).
MAX_CHAIN = 1000


@dataclass(frozen=True, kw_only=True)
class Handover:
    old_sign: bytes
    new_sign: bytes
    new_age_recipient: str
    at: str
    tree_size: int
    root_hash: str
    doc: dict[str, Any]

    @property
    def old_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.old_sign)

    @property
    def new_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.new_sign)


def make_handover(
    old: Ed25519PrivateKey,
    new: Ed25519PrivateKey,
    *,
    new_age_recipient: str,
    at: str,
    tree_size: int,
    root_hash: str,
) -> dict[str, Any]:
    """The handover document, signed by both keys."""
    statement: dict[str, Any] = {
        "format": HANDOVER_FORMAT,
        "old_sign_key": b64(raw_public(old.public_key())),
        "new_sign_key": b64(raw_public(new.public_key())),
        "new_age_recipient": new_age_recipient,
        "at": at,
        "tree_size": tree_size,
        "root_hash": root_hash,
    }
    message = SIGN_CONTEXT + canonical_json(statement)
    return {
        **statement,
        "old_signature": b64(old.sign(message)),
        "new_signature": b64(new.sign(message)),
    }


def parse_handover(doc: Mapping[str, Any]) -> Handover:
    """Check a handover's form and both signatures; KeyFileError names what is wrong."""
    if not isinstance(doc, Mapping) or doc.get("format") != HANDOVER_FORMAT:
        raise KeyFileError("not a sijil key handover")
    if set(doc) != {*STATEMENT_FIELDS, "old_signature", "new_signature"}:
        raise KeyFileError("a key handover has missing or extra fields")
    statement = {k: doc[k] for k in STATEMENT_FIELDS}
    tree_size, root_hash, at = doc["tree_size"], doc["root_hash"], doc["at"]
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise KeyFileError("a key handover has a bad tree size")
    if not isinstance(root_hash, str) or not isinstance(at, str):
        raise KeyFileError("a key handover has a bad root or time")
    old_raw = unb64(doc["old_sign_key"], size=32, what="a handover's old key")
    new_raw = unb64(doc["new_sign_key"], size=32, what="a handover's new key")
    recipient = str(doc["new_age_recipient"])
    parse_age_recipient(recipient)
    if old_raw == new_raw:
        raise KeyFileError("a key handover hands a key over to itself")
    try:
        message = SIGN_CONTEXT + canonical_json(statement)
    except ValueError as exc:
        raise KeyFileError("a key handover holds a value canonical JSON refuses") from exc
    for raw, field, who in ((old_raw, "old_signature", "old"), (new_raw, "new_signature", "new")):
        try:
            key = Ed25519PublicKey.from_public_bytes(raw)
            key.verify(unb64(doc[field], size=64, what=f"the {who} key's signature"), message)
        except (InvalidSignature, ValueError) as exc:
            raise KeyFileError(f"a key handover's {who}-key signature does not verify") from exc
    return Handover(
        old_sign=old_raw,
        new_sign=new_raw,
        new_age_recipient=recipient,
        at=at,
        tree_size=tree_size,
        root_hash=root_hash,
        doc=dict(doc),
    )


def follow_chain(start: bytes, handovers: Iterable[Handover]) -> bytes:
    """The key reached from ``start`` by following ``handovers`` in order.

    Each must hand over from the key the previous one reached; a break is a KeyFileError.
    """
    current = start
    for count, handover in enumerate(handovers):
        if count >= MAX_CHAIN:
            raise KeyFileError("a chain of key handovers is too long")
        if handover.old_sign != current:
            raise KeyFileError(
                f"a key handover of {handover.at} does not start from the key before it"
            )
        current = handover.new_sign
    return current
