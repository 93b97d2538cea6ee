"""Key handovers in the custody ledger: which key signs the heads of which tree sizes.

A ``key.rotated`` entry at position ``h`` (its data a handover, sijil.crypto.handover,
whose ``tree_size`` is ``h`` and ``root_hash`` the root of the first ``h`` entries)
says: heads of ``h`` entries or fewer are signed by the old key, heads covering the
handover (more than ``h`` entries) by the new key, until the next handover. The
handovers must form one chain ending at the desk's current key, so heads signed
before and after a rotation verify as one history.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sijil.crypto.handover import Handover, make_handover, parse_handover
from sijil.crypto.identity import age_recipient_string, raw_public
from sijil.errors import KeyFileError, LedgerError
from sijil.faults import FaultHook, no_faults
from sijil.ledger import log
from sijil.ledger.entries import EntryKind, NewEntry, format_time, parse_entry
from sijil.ledger.heads import issue_head
from sijil.store import LedgerEntry, utcnow

__all__ = [
    "KeySchedule",
    "append_handover",
    "find_handover",
    "handover_subject",
    "key_schedule",
]


def handover_subject(new_sign: bytes) -> str:
    """A handover entry's subject: SHA-256 (hex) of the new signing key's raw bytes."""
    return hashlib.sha256(new_sign).hexdigest()


def find_handover(session: Session, new_sign: bytes) -> int | None:
    """The seq of the entry handing the log over to ``new_sign``, if there is one."""
    stmt = select(LedgerEntry.seq).where(
        LedgerEntry.kind == EntryKind.KEY_ROTATED.value,
        LedgerEntry.subject == handover_subject(new_sign),
    )
    return session.scalars(stmt.order_by(LedgerEntry.seq).limit(1)).first()


def append_handover(
    session: Session,
    old: Ed25519PrivateKey,
    new: Ed25519PrivateKey,
    *,
    new_age: X25519PublicKey,
    at: datetime | None = None,
    faults: FaultHook = no_faults,
) -> int:
    """Append the handover from ``old`` to ``new`` and sign a head with ``new``, in the
    caller's transaction: no head covering the handover is ever signed by ``old``."""
    when = at or utcnow()
    size = log.lock(session)
    root = log.root_at(session.connection(), size)
    recipient = age_recipient_string(new_age)
    doc = make_handover(
        old,
        new,
        new_age_recipient=recipient,
        at=format_time(when),
        tree_size=size,
        root_hash=root.hex(),
    )
    subject = handover_subject(raw_public(new.public_key()))
    (seq,) = log.append(
        session, [NewEntry(kind=EntryKind.KEY_ROTATED, subject=subject, data=doc)], at=when
    )
    faults("rotate.before_head")
    issue_head(session, new, at=when, faults=faults)
    return seq


@dataclass
class KeySchedule:
    """The chain of handovers in a ledger and the key each tree size is signed by."""

    first: bytes
    # (seq, handover), in ledger order, only those that verified and continue the chain
    handovers: list[tuple[int, Handover]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def key_for(self, tree_size: int) -> Ed25519PublicKey:
        """The key that must sign a head of ``tree_size`` entries."""
        seqs = [seq for seq, _ in self.handovers]
        index = bisect_left(seqs, tree_size)  # handovers at seq < tree_size are covered
        raw = self.first if index == 0 else self.handovers[index - 1][1].new_sign
        return Ed25519PublicKey.from_public_bytes(raw)

    @property
    def keys(self) -> list[bytes]:
        return [self.first, *(h.new_sign for _, h in self.handovers)]


def _handover_rows(conn: Connection) -> list[tuple[int, str]]:
    stmt = (
        select(LedgerEntry.seq, LedgerEntry.body)
        .where(LedgerEntry.kind == EntryKind.KEY_ROTATED.value)
        .order_by(LedgerEntry.seq)
    )
    return [(int(seq), str(body)) for seq, body in conn.execute(stmt).all()]


def key_schedule(conn: Connection, current: Ed25519PublicKey) -> KeySchedule:
    """Read and check every handover; the chain must end at ``current`` (desk.pub's key).

    A handover that does not verify, does not continue the chain, or whose tree size
    or root is not the ledger's at its position is a problem and is left out.
    """
    current_raw = raw_public(current)
    checked: list[tuple[int, Handover]] = []
    problems: list[str] = []
    for seq, body in _handover_rows(conn):
        try:
            entry = parse_entry(body.encode())
            handover = parse_handover(entry.data)
        except (LedgerError, KeyFileError) as exc:
            problems.append(f"key handover in ledger entry #{seq}: {exc}")
            continue
        if entry.seq != seq or handover.tree_size != seq:
            problems.append(f"key handover in ledger entry #{seq}: it names another position")
            continue
        if entry.subject != handover_subject(handover.new_sign):
            problems.append(f"key handover in ledger entry #{seq}: its subject is not its new key")
            continue
        try:
            root = log.root_at(conn, seq).hex()
        except LedgerError:
            root = ""
        if root != handover.root_hash:
            problems.append(
                f"key handover in ledger entry #{seq}: the ledger before it no longer has "
                "the root both keys signed"
            )
            continue
        if checked and handover.old_sign != checked[-1][1].new_sign:
            problems.append(
                f"key handover in ledger entry #{seq}: it does not start from the key "
                "the previous handover introduced"
            )
            continue
        checked.append((seq, handover))
    first = checked[0][1].old_sign if checked else current_raw
    schedule = KeySchedule(first=first, handovers=checked, problems=problems)
    if schedule.keys[-1] != current_raw:
        problems.append(
            "the ledger's key handovers do not end at the desk's current signing key "
            "(desk.pub): a rotation is unrecorded, or desk.pub is another desk's"
        )
    return schedule
