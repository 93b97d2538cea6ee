"""The whole-desk audit behind ``sijil verify``: vault, records, ledger, tree heads.

Checks, each problem named by the item it concerns:
every vault blob decrypts and hashes to its address; every evidence record
(envelope, report, attachment, quarantine item) matches its ledger entry field
by field, and, the other way round, every record the ledger names still exists
(with its vault blobs, and each quarantined input's stored file); the ledger
recomputes to every signed tree head; each head is consistent with the one
before. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.records import (
    attachment_list,
    envelope_facts,
    quarantine_facts,
    report_fields,
)
from sijil.errors import ConfigError, LedgerError, TimestampError
from sijil.fsutil import confine, sha256_file
from sijil.ledger.audit import audit_ledger
from sijil.ledger.entries import Entry, parse_entry
from sijil.ledger.heads import HEAD_INTERVAL
from sijil.ledger.timestamp import verify_token
from sijil.store import (
    Envelope,
    LedgerEntry,
    LedgerHead,
    QuarantineItem,
    Report,
    Store,
    VaultBlob,
    utcnow,
)
from sijil.vault import Vault
from sijil.vault.blobstore import FolderBlobStore

__all__ = ["DeskAudit", "audit_desk"]

_RECORD_KINDS = ("envelope.received", "envelope.opened", "item.registered", "input.quarantined")
# Quarantined files are hashed in pieces: one may be as large as any input.
_HASH_CHUNK = 1 << 20
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


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


@dataclass
class _Seen:
    """What the records hold, for checking the ledger's entries against them."""

    envelopes: dict[str, str] = field(default_factory=dict)  # id -> status
    reports: set[str] = field(default_factory=set)  # envelope ids with a report
    quarantined: set[int] = field(default_factory=set)


def _check_envelope(
    envelope: Envelope,
    entries: dict[tuple[str, str], list[Entry]],
    expected: dict[str, str],
    audit: DeskAudit,
) -> None:
    where = f"envelope {envelope.id[:12]}"
    received = entries.get(("envelope.received", envelope.id))
    if not received:
        audit.problems.append(f"{where}: no ledger entry records its arrival")
    else:
        _compare(where, received[0], envelope_facts(envelope), audit)
    opened = entries.get(("envelope.opened", envelope.id))
    if envelope.status != "opened":
        if not opened:
            return  # quarantined on arrival: no report to check
        # the status is not in the ledger: flipping it must not hide the report
        audit.problems.append(
            f"{where}: ledger entry #{opened[0].seq} records it opened, "
            f"but its status is now {envelope.status!r}"
        )
    elif not opened:
        audit.problems.append(f"{where}: no ledger entry records its opening")
    expected[envelope.id] = f"sealed original of {where}"
    report = envelope.report
    if report is None:
        audit.problems.append(f"{where}: opened, but its report record is missing")
        return
    audit.records += 1 + len(report.attachments)
    _check_report(report, entries, audit)
    for item in report.attachments:
        expected.setdefault(item.sha256, f"attachment {item.position + 1} of report #{report.id}")


def _quarantine_file_problem(home: Path, kept: QuarantineItem) -> str | None:
    try:
        found = sha256_file(confine(home, kept.stored_path))
    except ConfigError:
        return "its stored path leaves the desk's folder"
    except FileNotFoundError:
        return "its stored file is missing from the quarantine folder"
    except OSError as exc:
        return f"its stored file is unreadable: {exc.strerror or type(exc).__name__}"
    return None if found == kept.sha256 else "its stored file no longer hashes to its sha256"


def _check_records(
    session: Session,
    audit: DeskAudit,
    entries: dict[tuple[str, str], list[Entry]],
    seen: _Seen,
    home: Path | None,
) -> dict[str, str]:
    """Compare records with their entries; return blob address -> what it is."""
    expected: dict[str, str] = {}
    envelopes = session.scalars(
        select(Envelope).options(selectinload(Envelope.report).selectinload(Report.attachments))
    )
    for envelope in envelopes:
        audit.records += 1
        seen.envelopes[envelope.id] = envelope.status
        if envelope.report is not None:
            seen.reports.add(envelope.id)
        _check_envelope(envelope, entries, expected, audit)
    # the same bytes quarantined twice share one stored file: hash it once
    problems: dict[tuple[str, str], str | None] = {}
    for kept in session.scalars(select(QuarantineItem)):
        audit.records += 1
        seen.quarantined.add(kept.id)
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
        if home is not None:
            key = (kept.stored_path, kept.sha256)
            if key not in problems:
                problems[key] = _quarantine_file_problem(home, kept)
            if problems[key] is not None:
                audit.problems.append(f"{where}: {problems[key]}")
    return expected


def _check_entries_have_records(
    entries: dict[tuple[str, str], list[Entry]],
    seen: _Seen,
    expected: dict[str, str],
    audit: DeskAudit,
) -> None:
    """The other way round: each record the ledger names must still be there."""
    for (kind, subject), found in sorted(entries.items()):
        entry = found[0]
        if kind == "envelope.received" and subject not in seen.envelopes:
            audit.problems.append(
                f"envelope {subject[:12]}: its arrival is in ledger entry #{entry.seq}, "
                "but its record is missing"
            )
        elif kind == "envelope.opened":
            # the original and attachments are checked in the vault even when
            # every row about them is gone
            expected.setdefault(subject, f"sealed original of envelope {subject[:12]}")
        elif kind == "item.registered":
            report = entry.data.get("report")
            if subject not in seen.reports:
                audit.problems.append(
                    f"report #{report} (envelope {subject[:12]}): registered in ledger entry "
                    f"#{entry.seq}, but its record is missing"
                )
            logged = entry.data.get("attachments")
            for item in logged if isinstance(logged, list) else []:
                if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                    position = item.get("position")
                    number = position + 1 if isinstance(position, int) else "?"
                    expected.setdefault(item["sha256"], f"attachment {number} of report #{report}")
        elif kind == "input.quarantined":
            for logged_item in found:
                item_id = logged_item.data.get("item")
                if item_id not in seen.quarantined:
                    audit.problems.append(
                        f"quarantine item #{item_id} (sha256 {subject[:12]}): recorded in "
                        f"ledger entry #{logged_item.seq}, but its record is missing"
                    )


def _check_blobs(
    session: Session, vault: Vault, expected: dict[str, str], audit: DeskAudit
) -> None:
    rows = {row.sha256: row for row in session.scalars(select(VaultBlob))}
    for sha, what in expected.items():
        if sha not in rows:
            problem = vault.check(sha)
            also = "" if problem is None else f", and {problem}"
            audit.problems.append(f"{what} (sha256 {sha[:12]}): no vault record{also}")
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


def _check_heads_exist(session: Session, now: datetime, audit: DeskAudit) -> None:
    """No signed head over a ledger with entries: the heads were deleted, unless
    the desk's first import was killed before signing (an import signs a head
    when it ends, whenever one is due, and with none one is always due)."""
    first = session.scalar(select(LedgerEntry.body).order_by(LedgerEntry.seq).limit(1))
    try:
        at = datetime.strptime(parse_entry((first or "").encode()).at, _TIME_FORMAT)
        oldest = at.replace(tzinfo=now.tzinfo)
    except (LedgerError, ValueError):
        oldest = now - 2 * HEAD_INTERVAL  # unreadable: already a problem, assume the worst
    if now - oldest >= HEAD_INTERVAL:
        audit.problems.append(
            f"no signed tree head, though the ledger's first entry is "
            f"{_age(now - oldest)} old: the heads were deleted, or no import ever finished"
        )
    else:
        audit.notes.append("no signed tree head yet: run 'sijil ledger head'")


def _age(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours} hour(s)" if hours < 48 else f"{hours // 24} day(s)"


def _quarantine_home(vault: Vault) -> Path | None:
    # a folder vault lives at <desk home>/vault, beside quarantine/
    if isinstance(vault.blobs, FolderBlobStore):
        return vault.blobs.root.parent
    return None


def audit_desk(
    store: Store,
    vault: Vault,
    key: Ed25519PublicKey,
    *,
    tsa_ca: bytes | None = None,
    home: Path | None = None,
    now: datetime | None = None,
) -> DeskAudit:
    """Run every check; the result lists each problem found, in plain words.

    ``tsa_ca`` is the timestamp authority's root: stored RFC 3161 timestamps
    are verified against it, offline. ``home`` is the desk's folder, where
    quarantined inputs are kept (by default, the folder holding the vault).
    """
    audit = DeskAudit()
    home = home if home is not None else _quarantine_home(vault)
    if home is None:
        audit.notes.append("quarantined files not checked (desk folder unknown)")
    with store.session() as session:
        ledger = audit_ledger(session.connection(), key)
        audit.entries, audit.heads = ledger.entries, ledger.heads
        audit.problems.extend(ledger.problems)
        _check_timestamps(session, tsa_ca, audit)
        if audit.heads == 0 and audit.entries:
            _check_heads_exist(session, now or utcnow(), audit)
        entries = _record_entries(session, audit)
        seen = _Seen()
        expected = _check_records(session, audit, entries, seen, home)
        _check_entries_have_records(entries, seen, expected, audit)
        _check_blobs(session, vault, expected, audit)
    return audit
