"""The whole-desk audit behind ``sijil verify``: vault, records, ledger, tree heads.

Checks, each problem named by the item it concerns:
every vault blob decrypts and hashes to its address; every evidence record
(envelope, report, attachment, quarantine item) matches its ledger entry field
by field; the ledger recomputes to every signed tree head; each head is
consistent with the one before. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.errors import LedgerError, TimestampError
from sijil.ledger.audit import audit_ledger
from sijil.ledger.entries import Entry, parse_entry
from sijil.ledger.records import (
    attachment_list,
    envelope_facts,
    quarantine_facts,
    report_fields,
)
from sijil.ledger.timestamp import verify_token
from sijil.store import (
    Envelope,
    LedgerEntry,
    LedgerHead,
    QuarantineItem,
    Report,
    Store,
    VaultBlob,
)
from sijil.vault import Vault

__all__ = ["DeskAudit", "audit_desk"]

_RECORD_KINDS = ("envelope.received", "envelope.opened", "item.registered", "input.quarantined")


@dataclass
class DeskAudit:
    entries: int = 0
    heads: int = 0
    blobs: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _record_entries(session: Session, audit: DeskAudit) -> dict[tuple[str, str], list[Entry]]:
    found: dict[tuple[str, str], list[Entry]] = {}
    rows = session.execute(
        select(LedgerEntry.seq, LedgerEntry.body).where(LedgerEntry.kind.in_(_RECORD_KINDS))
    )
    for seq, body in rows:
        try:
            entry = parse_entry(body.encode())
        except LedgerError as exc:
            audit.problems.append(f"ledger entry #{seq}: {exc}")
            continue
        if entry.seq != seq:
            audit.problems.append(f"ledger entry #{seq} claims to be entry #{entry.seq}")
        found.setdefault((entry.kind, entry.subject), []).append(entry)
    return found


def _compare(where: str, entry: Entry, facts: dict[str, Any], audit: DeskAudit) -> None:
    for name, value in facts.items():
        if entry.data.get(name) != value:
            audit.problems.append(
                f"{where}: field {name!r} differs from its ledger entry #{entry.seq}"
            )


def _check_report(
    report: Report, entries: dict[tuple[str, str], list[Entry]], audit: DeskAudit
) -> None:
    where = f"report #{report.id} (envelope {report.envelope_id[:12]})"
    found = entries.get(("item.registered", report.envelope_id))
    if not found:
        audit.problems.append(f"{where}: no ledger entry registers it")
        return
    entry = found[0]
    recorded = entry.data.get("fields")
    if not isinstance(recorded, dict):
        audit.problems.append(f"{where}: its ledger entry #{entry.seq} has no field digests")
        return
    for name, value in report_fields(report).items():
        if recorded.get(name) != value:
            audit.problems.append(
                f"{where}: field {name!r} differs from its ledger entry #{entry.seq}"
            )
    now = attachment_list(report)
    then = entry.data.get("attachments")
    if not isinstance(then, list) or len(then) != len(now):
        audit.problems.append(f"{where}: its attachments differ from ledger entry #{entry.seq}")
        return
    for current, logged in zip(now, then, strict=True):
        for name, value in current.items():
            if not isinstance(logged, dict) or logged.get(name) != value:
                audit.problems.append(
                    f"attachment {current['position'] + 1} of {where}: field {name!r} "
                    f"differs from its ledger entry #{entry.seq}"
                )


def _check_records(session: Session, audit: DeskAudit) -> dict[str, str]:
    """Compare records with their entries; return blob address -> what it is."""
    entries = _record_entries(session, audit)
    expected: dict[str, str] = {}
    envelopes = session.scalars(
        select(Envelope).options(selectinload(Envelope.report).selectinload(Report.attachments))
    )
    for envelope in envelopes:
        audit.records += 1
        where = f"envelope {envelope.id[:12]}"
        received = entries.get(("envelope.received", envelope.id))
        if not received:
            audit.problems.append(f"{where}: no ledger entry records its arrival")
        else:
            _compare(where, received[0], envelope_facts(envelope), audit)
        if envelope.status != "opened":
            continue
        if not entries.get(("envelope.opened", envelope.id)):
            audit.problems.append(f"{where}: no ledger entry records its opening")
        expected[envelope.id] = f"sealed original of {where}"
        report = envelope.report
        if report is None:
            audit.problems.append(f"{where}: opened, but its report record is missing")
            continue
        audit.records += 1 + len(report.attachments)
        _check_report(report, entries, audit)
        for item in report.attachments:
            expected.setdefault(
                item.sha256, f"attachment {item.position + 1} of report #{report.id}"
            )
    for kept in session.scalars(select(QuarantineItem)):
        audit.records += 1
        where = f"quarantine item #{kept.id} ({kept.source_name})"
        logged = [
            e
            for e in entries.get(("input.quarantined", kept.sha256), [])
            if e.data.get("item") == kept.id
        ]
        if not logged:
            audit.problems.append(f"{where}: no ledger entry records it")
        else:
            _compare(where, logged[0], quarantine_facts(kept), audit)
    return expected


def _check_blobs(
    session: Session, vault: Vault, expected: dict[str, str], audit: DeskAudit
) -> None:
    rows = {row.sha256: row for row in session.scalars(select(VaultBlob))}
    for sha, what in expected.items():
        if sha not in rows:
            audit.problems.append(f"{what} (sha256 {sha[:12]}): no vault record")
    names = vault.stored_names()
    for sha, row in sorted(rows.items()):
        audit.blobs += 1
        what = expected.get(sha, f"{row.kind} blob")
        problem = vault.check(sha)
        if problem is not None:
            audit.problems.append(f"{what} (sha256 {sha[:12]}): {problem}")
        names.discard(vault.name_of(sha))
    if names:
        # an import killed between storing a blob and committing its records
        # leaves one; re-importing the same input adopts it
        audit.notes.append(
            f"{len(names)} vault blob(s) without a record (left by an interrupted import)"
        )


def _check_timestamps(session: Session, tsa_ca: bytes | None, audit: DeskAudit) -> None:
    stamped = session.scalars(select(LedgerHead).where(LedgerHead.timestamp_token.is_not(None)))
    for head in stamped:
        if tsa_ca is None:
            audit.notes.append(f"tree head #{head.id}: timestamp not checked (no authority root)")
            continue
        try:
            verify_token(head.timestamp_token or b"", head.body.encode(), tsa_ca)
        except TimestampError as exc:
            audit.problems.append(f"tree head #{head.id}: {exc}")


def audit_desk(
    store: Store, vault: Vault, key: Ed25519PublicKey, *, tsa_ca: bytes | None = None
) -> DeskAudit:
    """Run every check; the result lists each problem found, in plain words.

    ``tsa_ca`` is the timestamp authority's root: stored RFC 3161 timestamps
    are verified against it, offline.
    """
    audit = DeskAudit()
    with store.session() as session:
        ledger = audit_ledger(session.connection(), key)
        audit.entries, audit.heads = ledger.entries, ledger.heads
        audit.problems.extend(ledger.problems)
        _check_timestamps(session, tsa_ca, audit)
        if audit.heads == 0 and audit.entries:
            audit.notes.append("no signed tree head yet: run 'sijil ledger head'")
        expected = _check_records(session, audit)
        _check_blobs(session, vault, expected, audit)
    return audit
