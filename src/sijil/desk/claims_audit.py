"""The audit's checks of claims, verdicts, sources and monitor records (part of ``sijil verify``).

Each record is compared with the entry its change wrote (:mod:`sijil.desk.claims`,
:mod:`sijil.desk.verdicts`, :mod:`sijil.desk.sources`, :mod:`sijil.desk.monitors`),
one problem line per difference, in the words of :mod:`sijil.desk.desk_audit`:

- a source (``source.added``): its kind, who added it and when;
- a claim (``claim.created``): its source and external reference, and the digest
  of what it says (``claims.claim_content``: title, text, date, place, actor,
  numbers), who recorded it and when; its governorate is its place's;
- a claim link (``claim.linked``): the claim and the incident;
- a verdict (``verdict.proposed``): its claim and the digest of its rating,
  summaries and evidence (``verdicts.verdict_content``), its author and time;
- a verdict review (``verdict.approved`` / ``verdict.changes_requested``): the
  decision, independence, comment digest, reviewer and time;
- monitor records: each ``monitor.imported`` entry covers one batch, the records
  inserted after the previous batch's up to its ``last``; their number, first
  external id and the digest of their recomputed digests (``monitors.record_digest``)
  must be the entry's. A changed record is named when its stored digest still
  shows what it was; otherwise its batch is.

And the other way round: every record an entry names still exists, and every
row has an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from sijil.desk.claims import claim_content
from sijil.desk.custody import canonical_sha256
from sijil.desk.desk_audit_links import WorkAudit, compare
from sijil.desk.desk_records import DESK_KINDS, text_digest
from sijil.desk.monitors import record_digest
from sijil.desk.verdicts import verdict_content
from sijil.errors import LedgerError
from sijil.ledger.entries import Entry, format_time, parse_entry
from sijil.store import (
    Claim,
    ClaimIncident,
    ClaimVerdict,
    Incident,
    LedgerEntry,
    MonitorRecord,
    Place,
    Source,
    VerdictReview,
)

__all__ = ["audit_claims"]

#: data.action -> the data field naming the record the entry is about
_KEYS = {"source.added": "source", "claim.created": "claim", "claim.linked": "link",
         "verdict.proposed": "verdict", "verdict.approved": "review",
         "verdict.changes_requested": "review"}  # fmt: skip
_REVIEWS = ("verdict.approved", "verdict.changes_requested")


@dataclass
class _Entries:
    """The claims work's entries: (action, record id) -> entries; monitor batches by source."""

    records: dict[tuple[str, int], list[Entry]] = field(default_factory=dict)
    batches: dict[int, list[Entry]] = field(default_factory=dict)

    def first(self, action: str, number: int) -> Entry | None:
        found = self.records.get((action, number))
        return found[0] if found else None

    def review(self, number: int) -> Entry | None:
        found = [e for a in _REVIEWS for e in self.records.get((a, number), [])]
        return min(found, key=lambda e: e.seq) if found else None

    def missing(self, actions: Sequence[str], seen: set[int]) -> list[tuple[int, Entry]]:
        """Each record the entries of ``actions`` name that is not in ``seen``, in order."""
        gone = {(n, e[0].seq): e[0] for (a, n), e in self.records.items()
                if a in actions and n not in seen}  # fmt: skip
        return [(n, gone[(n, seq)]) for n, seq in sorted(gone)]


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _entries(session: Session) -> _Entries:
    """Parse the entries about sources, claims and verdicts (unreadable ones are named
    by the desk-work audit)."""
    index = _Entries()
    rows = session.execute(
        select(LedgerEntry.body).where(
            LedgerEntry.kind.in_(DESK_KINDS),
            or_(*(LedgerEntry.subject.like(f"{p}-%") for p in ("C", "V", "S"))))
        .order_by(LedgerEntry.seq)
    )  # fmt: skip
    for (body,) in rows:
        try:
            entry = parse_entry(body.encode())
        except LedgerError:
            continue
        action = str(entry.data.get("action"))
        if action == "monitor.imported":
            source = _number(entry.data.get("source"))
            if source is not None:
                index.batches.setdefault(source, []).append(entry)
        elif action in _KEYS and (number := _number(entry.data.get(_KEYS[action]))) is not None:
            index.records.setdefault((action, number), []).append(entry)
    return index


def _check_sources(session: Session, index: _Entries, result: WorkAudit) -> None:
    seen: set[int] = set()
    for source in session.scalars(select(Source).order_by(Source.id)):
        result.records += 1
        seen.add(source.id)
        where = f"source S-{source.id} ({source.name})"
        entry = index.first("source.added", source.id)
        if entry is None:
            result.unrecorded(where)
            continue
        by, at = ("created_by", source.created_by), ("created_at", source.created_at)
        compare(where, entry, {"kind": source.kind}, result, by=by, at=at)
    for number, entry in index.missing(["source.added"], seen):
        result.missing(f"source S-{number}", entry)


def _check_claims(session: Session, index: _Entries, result: WorkAudit) -> None:
    governorates = {n: g for n, g in session.execute(select(Place.id, Place.governorate))}
    seen: set[int] = set()
    for claim in session.scalars(select(Claim).order_by(Claim.id)):
        result.records += 1
        seen.add(claim.id)
        where = f"claim C-{claim.id}"
        entry = index.first("claim.created", claim.id)
        if entry is None:
            result.unrecorded(where)
            continue
        facts = {"claim": claim.id, "source": claim.source_id, "external_ref": claim.external_ref,
                 "external_part": claim.external_part}  # fmt: skip
        by, at = ("created_by", claim.created_by), ("created_at", claim.created_at)
        compare(where, entry, facts, result, by=by, at=at)
        logged = entry.data.get("content_sha256")
        if canonical_sha256(claim_content(claim)) != logged:
            said = "what it says (title, text, date, place, actor or numbers)"
            result.problems.append(f"{where}: {said} differs from its ledger entry #{entry.seq}")
        elif claim.content_sha256 != logged:
            result.differs(where, "content_sha256", entry)
        if claim.governorate != governorates.get(claim.place_id or -1):
            result.problems.append(f"{where}: field 'governorate' is not its place's")
    for number, entry in index.missing(["claim.created"], seen):
        result.missing(f"claim C-{number}", entry)


def _check_claim_links(session: Session, index: _Entries, result: WorkAudit) -> None:
    codes = {n: code for n, code in session.execute(select(Incident.id, Incident.code))}
    seen: set[int] = set()
    for link in session.scalars(select(ClaimIncident).order_by(ClaimIncident.id)):
        result.records += 1
        seen.add(link.id)
        code = codes.get(link.incident_id, "?")
        where = f"claim link #{link.id} (C-{link.claim_id} to {code})"
        entry = index.first("claim.linked", link.id)
        if entry is None:
            result.unrecorded(where)
            continue
        by, at = ("created_by", link.created_by), ("created_at", link.created_at)
        facts = {"claim": link.claim_id, "incident": code, "link": link.id}
        compare(where, entry, facts, result, by=by, at=at)
    for number, entry in index.missing(["claim.linked"], seen):
        what = f"C-{entry.data.get('claim')} to {entry.data.get('incident')}"
        result.missing(f"claim link #{number} ({what})", entry)


def _check_verdicts(session: Session, index: _Entries, result: WorkAudit) -> None:
    claim_of: dict[int, int] = {}
    verdicts = select(ClaimVerdict).options(selectinload(ClaimVerdict.evidence))
    for verdict in session.scalars(verdicts.order_by(ClaimVerdict.id)):
        result.records += 1
        claim_of[verdict.id] = verdict.claim_id
        where = f"verdict V-{verdict.id} (C-{verdict.claim_id})"
        entry = index.first("verdict.proposed", verdict.id)
        if entry is None:
            result.unrecorded(where)
            continue
        by, at = ("author", verdict.author_id), ("created_at", verdict.created_at)
        compare(where, entry, {"claim": verdict.claim_id, "verdict": verdict.id}, result,
                by=by, at=at)  # fmt: skip
        if canonical_sha256(verdict_content(verdict)) != entry.data.get("content_sha256"):
            result.problems.append(f"{where}: its rating, summaries or evidence differ from its "
                                   f"ledger entry #{entry.seq}")  # fmt: skip
    for number, entry in index.missing(["verdict.proposed"], seen=set(claim_of)):
        result.missing(f"verdict V-{number} (C-{entry.data.get('claim')})", entry)
    seen: set[int] = set()
    for review in session.scalars(select(VerdictReview).order_by(VerdictReview.id)):
        result.records += 1
        seen.add(review.id)
        claim = claim_of.get(review.verdict_id, "?")
        where = f"review #{review.id} of V-{review.verdict_id} (C-{claim})"
        logged = index.review(review.id)
        if logged is None:
            result.unrecorded(where)
            continue
        facts = {"claim": claim, "verdict": review.verdict_id, "review": review.id,
                 "independent": review.independent,
                 "comment_sha256": text_digest(review.comment)}  # fmt: skip
        by, at = ("reviewer", review.reviewer_id), ("created_at", review.created_at)
        compare(where, logged, facts, result, by=by, at=at)
        if logged.data.get("action") != f"verdict.{review.decision}":
            result.differs(where, "decision", logged)
    for number, entry in index.missing(_REVIEWS, seen):
        what = f"V-{entry.data.get('verdict')} (C-{entry.data.get('claim')})"
        result.missing(f"review #{number} of {what}", entry)


def _segment(rows: list[MonitorRecord], start: int, entry: Entry, following: Entry | None,
             position: dict[int, int]) -> int:  # fmt: skip
    """Where the batch ``entry`` logs ends (exclusive) among ``rows``, from ``start``."""
    last = position.get(_number(entry.data.get("last")) or -1, -1)
    if last >= start:
        return last + 1
    after = -1
    if following is not None:
        after = position.get(_number(following.data.get("first")) or -1, -1)
    if after >= start:
        return after
    return min(len(rows), start + (_number(entry.data.get("records")) or 0))


def _name(row: MonitorRecord) -> str:
    return f"monitor record #{row.id} (S-{row.source_id}, external id {row.external_id})"


def _check_batch(rows: list[MonitorRecord], entry: Entry, where: str, result: WorkAudit) -> None:
    count, first = entry.data.get("records"), entry.data.get("first")
    if not rows:
        result.problems.append(f"{where}: recorded in ledger entry #{entry.seq}, but its records "
                               "are missing")  # fmt: skip
    elif len(rows) != count:
        result.problems.append(f"{where}: {count} records in ledger entry #{entry.seq}, "
                               f"{len(rows)} in the database")  # fmt: skip
    elif rows[0].external_id != first:
        result.differs(where, "first", entry)
    elif canonical_sha256([record_digest(r) for r in rows]) != entry.data.get("rows_sha256"):
        changed = [r for r in rows if record_digest(r) != r.row_sha256]
        for row in changed:
            result.problems.append(f"{_name(row)}: its values differ from its ledger entry "
                                   f"#{entry.seq}")  # fmt: skip
        if not changed:
            result.problems.append(f"{where}: its records differ from ledger entry #{entry.seq}")
    if any(format_time(r.imported_at) != entry.at for r in rows):
        result.differs(where, "imported_at", entry)


def _check_monitor_records(session: Session, index: _Entries, result: WorkAudit) -> None:
    by_source: dict[int, list[MonitorRecord]] = {}
    for row in session.scalars(select(MonitorRecord).order_by(MonitorRecord.id)):
        result.records += 1
        by_source.setdefault(row.source_id, []).append(row)
    for source in sorted(set(by_source) | set(index.batches)):
        rows, batches = by_source.get(source, []), index.batches.get(source, [])
        position = {row.external_id: i for i, row in enumerate(rows)}
        start = 0
        for n, entry in enumerate(batches):
            following = batches[n + 1] if n + 1 < len(batches) else None
            end = _segment(rows, start, entry, following, position)
            where = (f"monitor batch {entry.data.get('batch')} of S-{source} (external ids "
                     f"{entry.data.get('first')} to {entry.data.get('last')})")  # fmt: skip
            _check_batch(rows[start:end], entry, where, result)
            start = max(start, end)
        for row in rows[start:]:
            result.unrecorded(_name(row))


def audit_claims(session: Session) -> WorkAudit:
    """Compare sources, claims, claim links, verdicts, their reviews and monitor records
    with their ledger entries, both ways."""
    result = WorkAudit()
    index = _entries(session)
    _check_sources(session, index, result)
    _check_claims(session, index, result)
    _check_claim_links(session, index, result)
    _check_verdicts(session, index, result)
    _check_monitor_records(session, index, result)
    return result
