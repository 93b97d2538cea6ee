"""The whole-desk audit behind ``sijil verify``: vault, records, ledger, tree heads.

Checks, each problem named by the item it concerns:
every vault blob decrypts and hashes to its address; every evidence record
(envelope, report, attachment, quarantine item) and every near-duplicate match
matches its ledger entry field by field, and, the other way round, every record
the ledger names still exists (with its vault blobs, and each quarantined input's
kept bytes: sijil.desk.quarantine_audit); desk work (incidents, revisions,
evidence, attribution, assessments, reviews) matches its entries both ways
(sijil.desk.desk_audit), and so do sources, claims, verdicts and monitor records
(sijil.desk.claims_audit); the ledger recomputes to every signed tree head; each
head is consistent with the one before; and what is kept without a record (a vault
blob no row accounts for, an older desk's quarantine file no row names, an
attachment without its media fingerprint) is named in the notes
(sijil.desk.unrecorded_audit). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from sijil.desk.activity_log import audit_activity
from sijil.desk.claims_audit import audit_claims
from sijil.desk.desk_audit import audit_desk_work
from sijil.desk.quarantine_audit import audit_quarantine
from sijil.desk.records import (
    MATCH_SALTS,
    SALTED,
    attachment_list,
    committed_attachments,
    committed_fields,
    envelope_facts,
    match_facts,
    records_a_match,
    report_fields,
)
from sijil.desk.unrecorded_audit import audit_unrecorded
from sijil.errors import LedgerError, TimestampError
from sijil.ledger.audit import audit_ledger
from sijil.ledger.entries import Entry, EntryKind, parse_entry
from sijil.ledger.timestamp import verify_token
from sijil.store import (
    Attachment,
    Envelope,
    LedgerEntry,
    LedgerHead,
    LedgerSalt,
    MediaMatch,
    Report,
    Store,
    VaultBlob,
    utcnow,
)
from sijil.vault import Vault
from sijil.vault.blobstore import FolderBlobStore

__all__ = ["DeskAudit", "audit_desk"]

_RECORD_KINDS = (
    EntryKind.ENVELOPE_RECEIVED,
    EntryKind.ENVELOPE_OPENED,
    EntryKind.ITEM_REGISTERED,
    EntryKind.INPUT_QUARANTINED,
    EntryKind.INPUT_RELEASED,
)
# a match is logged as MEDIA_MATCHED; ledgers from before it hold DERIVATIVE_MADE ones
_MATCH_KINDS = (EntryKind.MEDIA_MATCHED, EntryKind.DERIVATIVE_MADE)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class DeskAudit:
    entries: int = 0
    heads: int = 0
    blobs: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # vault blobs and quarantine files kept without a record (named in the notes)
    unrecorded: int = 0
    # attachments without a media fingerprint (named in the notes)
    unprinted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _record_entries(session: Session, audit: DeskAudit) -> dict[tuple[EntryKind, str], list[Entry]]:
    found: dict[tuple[EntryKind, str], list[Entry]] = {}
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


# entries whose salts one query asks for: under every backend's bound-parameter limit
_SALT_BATCH = 5000

#: The salts of each entry's commitments (``ledger_salts``): seq -> name -> salt.
_Salts = dict[int, dict[str, bytes]]


def _load_salts(session: Session, seqs: list[int] | None = None) -> _Salts:
    """The salts of every entry, or of the entries ``seqs``."""
    salts: _Salts = {}
    query = select(LedgerSalt.seq, LedgerSalt.name, LedgerSalt.salt)
    if seqs is None:
        batches = [query]
    else:
        batches = [
            query.where(LedgerSalt.seq.in_(seqs[start : start + _SALT_BATCH]))
            for start in range(0, len(seqs), _SALT_BATCH)
        ]
    for batch in batches:
        for seq, name, salt in session.execute(batch):
            salts.setdefault(seq, {})[name] = bytes(salt)
    return salts


def _check_report(
    report: Report,
    entries: dict[tuple[EntryKind, str], list[Entry]],
    audit: DeskAudit,
    salts: _Salts,
) -> None:
    where = f"report #{report.id} (envelope {report.envelope_id[:12]})"
    found = entries.get((EntryKind.ITEM_REGISTERED, report.envelope_id))
    if not found:
        audit.problems.append(f"{where}: no ledger entry registers it")
        return
    entry = found[0]
    recorded = entry.data.get("fields")
    if not isinstance(recorded, dict):
        audit.problems.append(f"{where}: its ledger entry #{entry.seq} has no field digests")
        return
    # an entry with salted commitments is recomputed from the record and its salts;
    # one written before them holds plain digests (docs/ledger.md)
    salted = entry.data.get(SALTED) is True
    kept = salts.get(entry.seq, {})
    digests = committed_fields(report, kept) if salted else report_fields(report)
    for name, value in digests.items():
        if value is None:
            audit.problems.append(
                f"{where}: field {name!r}: the salt of its ledger entry #{entry.seq} is missing"
            )
        elif recorded.get(name) != value:
            audit.problems.append(
                f"{where}: field {name!r} differs from its ledger entry #{entry.seq}"
            )
    now = committed_attachments(report, kept) if salted else attachment_list(report)
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


def _check_envelope(
    envelope: Envelope,
    entries: dict[tuple[EntryKind, str], list[Entry]],
    expected: dict[str, str],
    audit: DeskAudit,
    salts: _Salts,
) -> None:
    where = f"envelope {envelope.id[:12]}"
    received = entries.get((EntryKind.ENVELOPE_RECEIVED, envelope.id))
    if not received:
        audit.problems.append(f"{where}: no ledger entry records its arrival")
    else:
        _compare(where, received[0], envelope_facts(envelope), audit)
    opened = entries.get((EntryKind.ENVELOPE_OPENED, envelope.id))
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
    _check_report(report, entries, audit, salts)
    for item in report.attachments:
        expected.setdefault(item.sha256, f"attachment {item.position + 1} of report #{report.id}")


def _check_records(
    session: Session,
    audit: DeskAudit,
    entries: dict[tuple[EntryKind, str], list[Entry]],
    seen: _Seen,
    salts: _Salts,
) -> dict[str, str]:
    """Compare records with their entries; return blob address -> what it is.

    Quarantine rows are checked by sijil.desk.quarantine_audit."""
    expected: dict[str, str] = {}
    envelopes = session.scalars(
        select(Envelope).options(selectinload(Envelope.report).selectinload(Report.attachments))
    )
    for envelope in envelopes:
        audit.records += 1
        seen.envelopes[envelope.id] = envelope.status
        if envelope.report is not None:
            seen.reports.add(envelope.id)
        _check_envelope(envelope, entries, expected, audit, salts)
    return expected


def _check_entries_have_records(
    entries: dict[tuple[EntryKind, str], list[Entry]],
    seen: _Seen,
    expected: dict[str, str],
    audit: DeskAudit,
) -> None:
    """The other way round: each record the ledger names must still be there."""
    for (kind, subject), found in sorted(entries.items()):
        entry = found[0]
        if kind is EntryKind.ENVELOPE_RECEIVED and subject not in seen.envelopes:
            audit.problems.append(
                f"envelope {subject[:12]}: its arrival is in ledger entry #{entry.seq}, "
                "but its record is missing"
            )
        elif kind is EntryKind.ENVELOPE_OPENED:
            # the original and attachments are checked in the vault even when
            # every row about them is gone
            expected.setdefault(subject, f"sealed original of envelope {subject[:12]}")
        elif kind is EntryKind.ITEM_REGISTERED:
            report = entry.data.get("report")
            if subject not in seen.reports:
                audit.problems.append(
                    f"report #{report} (envelope {subject[:12]}): registered in ledger entry "
                    f"#{entry.seq}, but its record is missing"
                )
            logged = entry.data.get("attachments")
            if entry.data.get(SALTED) is True:
                # its files' hashes are commitments, not addresses: the report's record
                # named them above; without it, each file is named by its position only
                _name_committed_files(entry, subject in seen.reports, audit)
                logged = None
            for item in logged if isinstance(logged, list) else []:
                if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                    position = item.get("position")
                    number = position + 1 if isinstance(position, int) else "?"
                    expected.setdefault(item["sha256"], f"attachment {number} of report #{report}")


def _name_committed_files(entry: Entry, recorded: bool, audit: DeskAudit) -> None:
    """A salted registration whose report record is gone: its files can no longer be
    looked up (the ledger commits to their addresses, it does not name them)."""
    logged = entry.data.get("attachments")
    if recorded or not isinstance(logged, list):
        return
    report = entry.data.get("report")
    for item in logged:
        position = item.get("position") if isinstance(item, dict) else None
        number = position + 1 if isinstance(position, int) else "?"
        audit.problems.append(
            f"attachment {number} of report #{report}: registered in ledger entry "
            f"#{entry.seq}, but no record names its file (the entry commits to its "
            "address without naming it)"
        )


def _check_matches(session: Session, audit: DeskAudit) -> None:
    """Each near-duplicate match row has its ledger entry, with the same facts.

    Entries of either form count: ``media.matched``, and the ``derivative.made``
    (``derived: media.match``) that ledgers written before that kind existed hold.
    """
    logged: dict[tuple[str, object], list[Entry]] = {}
    # salted entries name their files by commitments: found by the two reports instead
    salted: dict[tuple[object, object], list[Entry]] = {}
    rows = session.execute(
        select(LedgerEntry.seq, LedgerEntry.body).where(LedgerEntry.kind.in_(_MATCH_KINDS))
    )
    for seq, body in rows:
        try:
            entry = parse_entry(body.encode())
        except LedgerError as exc:
            audit.problems.append(f"ledger entry #{seq}: {exc}")
            continue
        if records_a_match(entry) and entry.data.get(SALTED) is True:
            pair = (entry.data.get("report"), entry.data.get("other_report"))
            salted.setdefault(pair, []).append(entry)
        elif records_a_match(entry):
            key = (entry.subject, entry.data.get("other_attachment"))
            logged.setdefault(key, []).append(entry)
    salts = _load_salts(session, [e.seq for found in salted.values() for e in found])
    new, old = aliased(Attachment), aliased(Attachment)
    matches = session.execute(
        select(MediaMatch, new, old)
        .join(new, MediaMatch.attachment_id == new.id)
        .join(old, MediaMatch.other_id == old.id)
        .order_by(MediaMatch.id)
    )
    for match, mine, other in matches:
        audit.records += 1
        where = (
            f"media match #{match.id} (attachment {mine.position + 1} of report "
            f"#{mine.report_id} like attachment {other.position + 1} of report #{other.report_id})"
        )
        facts = match_facts(match, mine, other)
        found = logged.get((mine.sha256, other.sha256), [])
        for entry in salted.get((mine.report_id, other.report_id), []):
            kept = salts.get(entry.seq, {})
            if all(name in kept for name in MATCH_SALTS):
                committed = match_facts(match, mine, other, kept)
                if committed["attachment"] == entry.subject:
                    facts = committed  # this match's own entry: compare all its facts
                    found = [entry]
                    break
        if not found:
            audit.problems.append(f"{where}: no ledger entry records it")
        elif not any(all(e.data.get(k) == v for k, v in facts.items()) for e in found):
            _compare(where, found[0], facts, audit)


def _check_blobs(
    session: Session,
    vault: Vault,
    expected: dict[str, str],
    audit: DeskAudit,
    quarantined: set[str],
) -> set[str]:
    """``quarantined``: addresses of quarantined inputs (checked with their rows).

    Returns the stored names of blobs no row accounts for."""
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
    names -= {vault.name_of(sha) for sha in quarantined}
    # an import killed between storing a blob and committing its records leaves
    # one; re-importing the same input adopts it (sijil.desk.unrecorded_audit names it)
    return names


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
    """No signed head over a ledger with entries: the heads were deleted. A desk signs a
    head of its empty ledger when it is made (``sijil desk init``) and another at its
    first import, whatever the hour, so no desk is ever without one: a desk made before
    that rule whose first import was killed before signing is fixed by
    ``sijil ledger head``."""
    first = session.scalar(select(LedgerEntry.body).order_by(LedgerEntry.seq).limit(1))
    try:
        at = datetime.strptime(parse_entry((first or "").encode()).at, _TIME_FORMAT)
        age = f"{_age(now - at.replace(tzinfo=now.tzinfo))} old"
    except (LedgerError, ValueError):
        age = "unreadable"  # already a problem of its own
    audit.problems.append(
        f"no signed tree head, though the ledger has entries (its first is {age}): "
        "the heads were deleted, or no import ever finished (run 'sijil ledger head')"
    )


def _age(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    if hours == 0:
        return f"{max(int(span.total_seconds() // 60), 0)} minute(s)"
    return f"{hours} hour(s)" if hours < 48 else f"{hours // 24} day(s)"


def _quarantine_home(vault: Vault) -> Path | None:
    # a folder vault lives at <desk home>/vault, beside an older desk's quarantine/
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
    are verified against it, offline. ``home`` is the desk's folder, where a desk
    older than migration 0005 kept quarantined inputs in the clear (by default,
    the folder holding the vault); newer ones are vault blobs.
    """
    audit = DeskAudit()
    home = home if home is not None else _quarantine_home(vault)
    with store.session() as session:
        ledger = audit_ledger(session.connection(), key)
        audit.entries, audit.heads = ledger.entries, ledger.heads
        audit.problems.extend(ledger.problems)
        _check_timestamps(session, tsa_ca, audit)
        if audit.heads == 0 and audit.entries:
            _check_heads_exist(session, now or utcnow(), audit)
        entries = _record_entries(session, audit)
        seen = _Seen()
        expected = _check_records(session, audit, entries, seen, _load_salts(session))
        _check_entries_have_records(entries, seen, expected, audit)
        kept = audit_quarantine(session, vault, home, entries)
        audit.records += kept.records
        audit.problems.extend(kept.problems)
        if kept.unchecked:
            audit.notes.append(
                f"{kept.unchecked} quarantined file(s) of an older desk not checked "
                "(desk folder unknown)"
            )
        _check_matches(session, audit)
        for work in (audit_desk_work(session), audit_claims(session), audit_activity(session)):
            audit.records += work.records
            audit.problems += work.problems
        orphans = _check_blobs(session, vault, expected, audit, kept.blobs)
        unrecorded = audit_unrecorded(session, vault, home, orphans)
        audit.notes += unrecorded.notes
        audit.unrecorded, audit.unprinted = unrecorded.kept, unrecorded.unprinted
    return audit
