"""Evidence vault records and the custody ledger's tables.

The ledger lives in four tables: ``ledger_entries`` (the canonical JSON of each
entry, exactly the bytes that are hashed), ``ledger_nodes`` (every complete
subtree hash, written once and never changed), ``ledger_heads`` (signed tree
heads, with an optional RFC 3161 timestamp) and ``ledger_state`` (one row: the
size, locked by every append so writers take turns on either backend).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow
from sijil.store.sealed import SealedBytes

__all__ = [
    "BLOB_KINDS",
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "LedgerSalt",
    "LedgerState",
    "VaultBlob",
]

#: original: a sealed envelope as received; attachment: a file opened from one;
#: derived: anything the desk made from those (working copy, thumbnail).
BLOB_KINDS = ("original", "attachment", "derived")

# INTEGER PRIMARY KEY on SQLite is the rowid itself: a proof's node lookups
# and the audit's ordered scans then need no second index.
_RowId = BigInteger().with_variant(Integer(), "sqlite")


class VaultBlob(Base):
    """A blob in the evidence vault, by the SHA-256 of its plaintext."""

    __tablename__ = "vault_blobs"
    __table_args__ = (
        CheckConstraint("kind IN ('original', 'attachment', 'derived')", name="kind"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    # the blob this one came from (an attachment's envelope, a derivative's source)
    parent_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # what a derived blob is: "working-copy", "thumbnail", ...
    role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One custody-ledger entry; ``body`` is the canonical JSON that is hashed."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    # what the entry is about: an envelope id, a blob's SHA-256, a report
    subject: Mapped[str] = mapped_column(String(64), index=True)
    recorded_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


class LedgerSalt(Base):
    """The secret salt of one value an entry commits to (``SHA-256(salt || value)``).

    Kept beside the ledger, never in an entry: without it a commitment cannot be
    tested against a guessed value (a correspondent id, a known file's hash).
    ``name`` says which value of entry ``seq``: ``fields.title``, ``attachments.0``.
    """

    __tablename__ = "ledger_salts"

    seq: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # sealed (sijil.store.sealed): a salt beside a commitment to a rounded-off value
    # (a position kept to a kilometre) would let the exact one be found by trial
    salt: Mapped[bytes] = mapped_column(
        "salt_sealed", SealedBytes("ledger_salts.salt"), nullable=True
    )
    # where desks before sealed values kept it in the clear; emptied when sealed
    clear_salt: Mapped[bytes] = mapped_column("salt", LargeBinary(32), default=b"")


class LedgerNode(Base):
    """A complete subtree's hash; ``id`` packs (level, index), see sijil.ledger.merkle."""

    __tablename__ = "ledger_nodes"

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerHead(Base):
    """A signed tree head, exactly as signed, and its optional RFC 3161 timestamp."""

    __tablename__ = "ledger_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class LedgerState(Base):
    """The ledger's size; its single row is the lock appends take turns on."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
