"""Signed tree heads: the ledger's size and root, signed with the desk's Ed25519 key.

A head is the canonical JSON ``{"format", "tree_size", "root_hash", "timestamp",
"log_key"}`` and a detached Ed25519 signature over exactly those bytes. Heads are
issued on demand (``sijil ledger head``, every export) and on a schedule (an
import signs one when the newest is older than the interval; a timer may run
``sijil ledger head --if-due``). An RFC 3161 timestamp may be attached to a head.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import raw_public
from sijil.errors import LedgerError
from sijil.faults import FaultHook, no_faults
from sijil.ledger import log
from sijil.ledger.entries import format_time
from sijil.ledger.merkle import HASH_SIZE
from sijil.store import LedgerEntry, LedgerHead, utcnow

__all__ = [
    "HEAD_FORMAT",
    "HEAD_INTERVAL",
    "SignedHead",
    "TreeHead",
    "head_due",
    "issue_head",
    "latest_head",
]

HEAD_FORMAT = "sijil-tree-head/1"
# How stale the newest head may get while the ledger grows: an hour bounds
# how long an entry can exist without a signature outsiders can hold us to.
HEAD_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    log_key: bytes

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "format": HEAD_FORMAT,
                "tree_size": self.tree_size,
                "root_hash": self.root_hash.hex(),
                "timestamp": self.timestamp,
                "log_key": base64.b64encode(self.log_key).decode("ascii"),
            }
        )

    @classmethod
    def from_bytes(cls, body: bytes) -> TreeHead:
        try:
            doc: Any = json.loads(body)
            if not isinstance(doc, dict) or doc.get("format") != HEAD_FORMAT:
                raise LedgerError("not a sijil tree head")
            head = cls(
                tree_size=int(doc["tree_size"]),
                root_hash=bytes.fromhex(doc["root_hash"]),
                timestamp=str(doc["timestamp"]),
                log_key=base64.b64decode(doc["log_key"], validate=True),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise LedgerError("a tree head does not parse") from exc
        if head.to_bytes() != body or len(head.root_hash) != HASH_SIZE:
            raise LedgerError("a tree head is not in canonical form")
        return head


@dataclass(frozen=True, kw_only=True)
class SignedHead:
    body: bytes
    signature: bytes

    def verify(self, key: Ed25519PublicKey) -> TreeHead:
        """Return the head if the signature verifies under ``key``; else LedgerError."""
        head = TreeHead.from_bytes(self.body)
        if head.log_key != raw_public(key):
            raise LedgerError("the tree head names another desk's key")
        try:
            key.verify(self.signature, self.body)
        except InvalidSignature as exc:
            raise LedgerError("the tree head's signature does not verify") from exc
        return head

    def to_dict(self) -> dict[str, str]:
        return {
            "tree_head": self.body.decode(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def of_row(cls, row: LedgerHead) -> SignedHead:
        try:
            return cls(body=row.body.encode(), signature=bytes.fromhex(row.signature))
        except ValueError as exc:
            raise LedgerError(f"tree head #{row.id} has a damaged signature field") from exc


def sign_head(key: Ed25519PrivateKey, *, tree_size: int, root: bytes, at: datetime) -> SignedHead:
    head = TreeHead(
        tree_size=tree_size,
        root_hash=root,
        timestamp=format_time(at),
        log_key=raw_public(key.public_key()),
    )
    body = head.to_bytes()
    return SignedHead(body=body, signature=key.sign(body))


def latest_head(session: Session) -> LedgerHead | None:
    stmt = select(LedgerHead).order_by(LedgerHead.id.desc()).limit(1)
    return session.scalars(stmt).first()


def head_due(session: Session, *, now: datetime, interval: timedelta = HEAD_INTERVAL) -> bool:
    """True when the ledger has entries no head covers and the newest head is stale,
    or covers no entry at all (a desk's first import signs at once, whatever the hour)."""
    newest = latest_head(session)
    current = log.size(session)
    if newest is None or newest.tree_size == 0:
        return current > 0
    return current > newest.tree_size and now - newest.issued_at >= interval


def _refuse_retired(session: Session, key: Ed25519PrivateKey) -> None:
    """Refuse to sign with a key the ledger has handed over (``key.rotated``): a process
    that unlocked the desk before a rotation must not sign heads after it."""
    ours = base64.b64encode(raw_public(key.public_key())).decode("ascii")
    newest = latest_head(session)
    if newest is not None and f'"log_key":"{ours}"' in newest.body:
        return  # the newest head is ours: no rotation since (the usual, cheap case)
    stmt = select(LedgerEntry.body).where(LedgerEntry.kind == "key.rotated")
    for body in session.scalars(stmt):
        if f'"old_sign_key":"{ours}"' in body:
            raise LedgerError(
                "this process holds a retired desk key (the keys were rotated): restart it"
            )


def issue_head(
    session: Session,
    key: Ed25519PrivateKey,
    *,
    at: datetime | None = None,
    faults: FaultHook = no_faults,
) -> tuple[LedgerHead, SignedHead]:
    """Sign the ledger's current size and root; store and return the head."""
    when = at or utcnow()
    tree_size = log.lock(session)
    _refuse_retired(session, key)
    root = log.root_at(session.connection(), tree_size)
    signed = sign_head(key, tree_size=tree_size, root=root, at=when)
    row = LedgerHead(
        tree_size=tree_size,
        root_hash=root.hex(),
        issued_at=when,
        body=signed.body.decode(),
        signature=signed.signature.hex(),
    )
    session.add(row)
    session.flush()
    faults("head.before_commit")
    return row, signed
