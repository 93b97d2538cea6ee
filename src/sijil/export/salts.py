"""The salts an evidence package reveals, and the commitments its export entry makes.

A package shows its reader the salts of the values it carries (so the reader can
check each against the ledger) and nothing else: the salts of a correspondent id,
a manifest or a signature stay at the desk, so those commitments stay untestable.

The "exported" entry stays on the desk's ledger after the package has gone. It names
each working copy scrubbed at export: the original by the commitment its
``item.registered`` entry already holds (a plain SHA-256 of it would let a seized
ledger confirm that a known photo is held), the scrubbed copy by a commitment of its
own whose salt only this package reveals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.records import EXPORTED_FIELDS, SALTED
from sijil.ledger.entries import EntryKind, commit, new_salt
from sijil.store import LedgerEntry, LedgerSalt, Report

__all__ = [
    "SCRUBBED_SALTS",
    "ScrubbedSalts",
    "commit_scrubbed",
    "revealed_salts",
    "salted_facts",
    "store_scrubbed_salts",
]

#: The salts a package reveals of its reports' item.registered entries: those of the
#: values it carries (envelope id, exported fields, files), never of correspondent_id,
#: manifest or signature, whose commitments then stay untestable (docs/package.md).
_REVEALED = ("fields.envelope_id", *(f"fields.{name}" for name in EXPORTED_FIELDS))
#: evidence.json's key, per report, for the salts of its copies scrubbed at export
SCRUBBED_SALTS = "scrubbed_salts"

# (report id, position) -> the salt of the scrubbed copy's hash
ScrubbedSalts = dict[tuple[int, int], bytes]


def revealed_salts(session: Session, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per registration entry with salted commitments: the salts evidence.json carries."""
    found: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(LedgerSalt.seq, LedgerSalt.name, LedgerSalt.salt).where(
            LedgerSalt.seq.in_(list(seqs))
        )
    )
    for seq, name, salt in rows:
        kept = found.setdefault(seq, {"fields": {}, "files": {}})
        if name in _REVEALED:
            kept["fields"][name.removeprefix("fields.")] = bytes(salt).hex()
        elif name.startswith("attachments."):
            kept["files"][name.removeprefix("attachments.")] = bytes(salt).hex()
    return found


def _file_salts(session: Session, reports: list[Report]) -> dict[tuple[str, str], bytes]:
    """(envelope id, "attachments.<position>") -> salt, for salted registrations."""
    rows = session.execute(
        select(LedgerEntry.subject, LedgerSalt.name, LedgerSalt.salt)
        .join(LedgerSalt, LedgerSalt.seq == LedgerEntry.seq)
        .where(
            LedgerEntry.kind == EntryKind.ITEM_REGISTERED,
            LedgerEntry.subject.in_([r.envelope_id for r in reports]),
            LedgerSalt.name.startswith("attachments."),
        )
    )
    return {(subject, name): bytes(salt) for subject, name, salt in rows}


def commit_scrubbed(
    session: Session, reports: list[Report], scrubbed: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], ScrubbedSalts]:
    """The export entry's ``scrubbed`` records with both hashes committed to, and the
    new salts (stored under the export entry, revealed by its package only).

    ``scrubbed`` holds plain hashes (``of``: the original, ``sha256``: the copy). An
    original whose registration predates salted commitments keeps its plain ``of``:
    that entry already holds the plain hash, and the package's reader compares the two.
    """
    envelopes = {r.id: r.envelope_id for r in reports}
    file_salts = _file_salts(session, reports)
    committed: list[dict[str, Any]] = []
    salts: ScrubbedSalts = {}
    for record in scrubbed:
        rid, position = record["report"], record["position"]
        registered = file_salts.get((envelopes[rid], f"attachments.{position}"))
        salt = new_salt()
        salts[(rid, position)] = salt
        committed.append(
            {
                **record,
                "of": record["of"] if registered is None else commit(registered, record["of"]),
                "sha256": commit(salt, record["sha256"]),
            }
        )
    return committed, salts


def store_scrubbed_salts(session: Session, seq: int, salts: ScrubbedSalts) -> None:
    """Keep the scrubbed copies' salts under the export entry ``seq``."""
    session.add_all(
        LedgerSalt(seq=seq, name=f"scrubbed.{rid}.{position}", salt=salt)
        for (rid, position), salt in salts.items()
    )


def salted_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The export entry's data, marked as holding commitments where it names files."""
    return {**facts, SALTED: True} if facts.get("scrubbed") else facts
