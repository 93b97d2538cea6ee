"""What the ledger says about evidence records, and how a record is compared with it.

The entries for an envelope carry its size and channel, and, for its report,
one SHA-256 per field (of the field's canonical JSON) and the list of its
attachments. The audit recomputes these from the database rows: any change to
a record names the field that no longer matches its ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

from sijil.ledger.entries import Entry, EntryKind, NewEntry, commit, digest, format_time, new_salt
from sijil.store import Attachment, Envelope, MediaMatch, QuarantineItem, Report

__all__ = [
    "EXPORTED_FIELDS",
    "INPUT_SALT",
    "LEGACY_MATCH",
    "MATCH_SALTS",
    "QUARANTINE_FACTS_SINCE_0005",
    "REPORT_FIELDS",
    "SALTED",
    "ReportField",
    "attachment_list",
    "committed_attachments",
    "committed_fields",
    "envelope_facts",
    "exported_values",
    "match_facts",
    "quarantine_facts",
    "records_a_match",
    "register_entries",
    "release_facts",
    "report_fields",
]


@dataclass(frozen=True)
class ReportField:
    """One evidence field of a report: its name in the ledger, and how it is read."""

    name: str
    read: Callable[[Report], object]
    # carried in evidence packages; the others identify the sender or are named otherwise
    exported: bool


#: The report's evidence fields, in ledger order: the one list the ledger entry,
#: the audit and evidence packages are built from. (The standalone package verifier
#: keeps a copy of the exported names; a test holds it to this list.)
REPORT_FIELDS: Final = (
    # a package names it as the report's "envelope"
    ReportField("envelope_id", attrgetter("envelope_id"), exported=False),
    ReportField("correspondent_id", attrgetter("correspondent_id"), exported=False),
    ReportField("title", attrgetter("title"), exported=True),
    ReportField("body", attrgetter("body"), exported=True),
    ReportField("lang", attrgetter("lang"), exported=True),
    ReportField("created_at", lambda r: format_time(r.created_at), exported=True),
    ReportField("latitude", attrgetter("latitude"), exported=True),
    ReportField("longitude", attrgetter("longitude"), exported=True),
    ReportField("location_precision_m", attrgetter("location_precision_m"), exported=True),
    # the signed manifest carries the sender's key; the signature is over it
    ReportField("manifest", attrgetter("manifest"), exported=False),
    ReportField("signature", attrgetter("signature"), exported=False),
)
EXPORTED_FIELDS: Final = tuple(f.name for f in REPORT_FIELDS if f.exported)


def envelope_facts(envelope: Envelope) -> dict[str, Any]:
    return {"envelope": envelope.id, "size": envelope.size, "channel": envelope.channel}


def report_fields(report: Report) -> dict[str, str]:
    """One digest per evidence field of a report (never the text itself)."""
    return {f.name: digest(f.read(report)) for f in REPORT_FIELDS}


def exported_values(report: Report) -> dict[str, object]:
    """The values of the fields an evidence package carries (each digested in the ledger)."""
    return {f.name: f.read(report) for f in REPORT_FIELDS if f.exported}


def attachment_list(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "position": a.position,
            "name": a.name,
            "media_type": a.media_type,
            "size": a.size,
            "sha256": a.sha256,
        }
        for a in report.attachments
    ]


#: Facts ``input.quarantined`` entries carry only since migration 0005; the audit
#: compares them when the entry has them, so ledgers written before keep verifying.
QUARANTINE_FACTS_SINCE_0005 = ("size", "channel")


#: The ``ledger_salts`` name of the salt of a quarantine or release entry's input hash.
INPUT_SALT: Final = "sha256"


def _input_hash(item: QuarantineItem, salt: bytes | None) -> dict[str, Any]:
    # with a salt (entries written since salted commitments) a commitment to the input's
    # hash, so a ledger copied off the desk cannot confirm a known file was dropped here
    if salt is None:
        return {"sha256": item.sha256}
    return {"sha256": commit(salt, item.sha256), SALTED: True}


def quarantine_facts(item: QuarantineItem, salt: bytes | None = None) -> dict[str, Any]:
    """What an ``input.quarantined`` entry says of the row (``salt``: see ``_input_hash``)."""
    return {
        "item": item.id,
        **_input_hash(item, salt),
        "error_type": item.error_type,
        "reason": digest(item.reason),
        "size": item.size,
        "channel": item.channel,
    }


def release_facts(item: QuarantineItem, salt: bytes | None = None) -> dict[str, Any]:
    """What an ``input.released`` entry says of the row (it adds the retry's outcome)."""
    released = item.released_at
    return {
        "item": item.id,
        **_input_hash(item, salt),
        "released_at": None if released is None else format_time(released),
    }


#: ``data.salted`` is true in an entry whose digests are salted commitments
#: (``SHA-256(salt || canonical JSON of the value)``, one salt per value, kept in
#: ``ledger_salts`` under ``fields.<name>``, ``attachments.<position>``, ``manifest``,
#: ``sender_key``); entries without it hold plain digests and verify as they always did.
SALTED: Final = "salted"


def committed_fields(report: Report, salts: dict[str, bytes]) -> dict[str, str | None]:
    """The report's field commitments under ``salts`` (None where a salt is missing)."""
    found = {}
    for f in REPORT_FIELDS:
        salt = salts.get(f"fields.{f.name}")
        found[f.name] = None if salt is None else commit(salt, f.read(report))
    return found


def committed_attachments(report: Report, salts: dict[str, bytes]) -> list[dict[str, Any]]:
    """:func:`attachment_list` with each file's SHA-256 committed to (None: salt missing)."""
    items = attachment_list(report)
    for item in items:
        salt = salts.get(f"attachments.{item['position']}")
        item["sha256"] = None if salt is None else commit(salt, item["sha256"])
    return items


def register_entries(
    envelope: Envelope, report: Report, sender_key: str, *, salted: bool = True
) -> tuple[list[NewEntry], list[dict[str, bytes]]]:
    """The three entries an opened envelope adds (received, opened, item registered), and
    the salts of each (store them beside the entries: ``ledger_salts``).

    ``salted=False`` writes the plain digests of ledgers before salted commitments
    (kept for tests that hold old ledgers to today's audit)."""
    received = NewEntry(
        kind=EntryKind.ENVELOPE_RECEIVED, subject=envelope.id, data=envelope_facts(envelope)
    )
    if not salted:
        return [
            received,
            NewEntry(
                kind=EntryKind.ENVELOPE_OPENED,
                subject=envelope.id,
                data={
                    "envelope": envelope.id,
                    "manifest_sha256": digest(report.manifest),
                    "sender_key_sha256": digest(sender_key),
                },
            ),
            NewEntry(
                kind=EntryKind.ITEM_REGISTERED,
                subject=envelope.id,
                data={
                    "report": report.id,
                    "fields": report_fields(report),
                    "attachments": attachment_list(report),
                },
            ),
        ], [{}, {}, {}]
    opened_salts = {"manifest": new_salt(), "sender_key": new_salt()}
    item_salts = {f"fields.{f.name}": new_salt() for f in REPORT_FIELDS}
    item_salts.update({f"attachments.{a.position}": new_salt() for a in report.attachments})
    return [
        received,
        NewEntry(
            kind=EntryKind.ENVELOPE_OPENED,
            subject=envelope.id,
            data={
                "envelope": envelope.id,
                "manifest_sha256": commit(opened_salts["manifest"], report.manifest),
                "sender_key_sha256": commit(opened_salts["sender_key"], sender_key),
                SALTED: True,
            },
        ),
        NewEntry(
            kind=EntryKind.ITEM_REGISTERED,
            subject=envelope.id,
            data={
                "report": report.id,
                "fields": committed_fields(report, item_salts),
                "attachments": committed_attachments(report, item_salts),
                SALTED: True,
            },
        ),
    ], [{}, opened_salts, item_salts]


#: Before the ledger had a kind for near-duplicate matches, each was logged as a fact
#: derived from two blobs: kind ``derivative.made`` with ``data.derived`` set to this.
#: Those entries stay valid; new ones are ``media.matched``, without ``derived``.
LEGACY_MATCH: Final = "media.match"


def records_a_match(entry: Entry) -> bool:
    """True for a match entry, in today's form or in the form written before it had a kind."""
    return entry.kind is EntryKind.MEDIA_MATCHED or (
        entry.kind is EntryKind.DERIVATIVE_MADE and entry.data.get("derived") == LEGACY_MATCH
    )


#: The salts of a ``media.matched`` entry's commitments (``ledger_salts`` names).
MATCH_SALTS: Final = ("attachment", "other_attachment")


def match_facts(
    match: MediaMatch, mine: Attachment, other: Attachment, salts: dict[str, bytes] | None = None
) -> dict[str, Any]:
    """What the ledger records of a near-duplicate match (``data``; the subject is the
    ``attachment`` value): both attachments and reports, and how alike they are.

    With ``salts`` (entries written since salted commitments) each attachment is a
    salted commitment to its SHA-256, not the hash: a ledger copied off the desk cannot
    confirm that a known photo is held. Without, the plain hashes of older entries."""
    data: dict[str, Any] = {
        "attachment": mine.sha256 if salts is None else commit(salts["attachment"], mine.sha256),
        "report": mine.report_id,
        "other_attachment": other.sha256
        if salts is None
        else commit(salts["other_attachment"], other.sha256),
        "other_report": other.report_id,
        "kind": str(match.kind),  # plain JSON, whether read back or just matched
        "distance": match.distance,
    }
    if salts is not None:
        data[SALTED] = True
    if match.transform is not None:
        data["transform"] = match.transform
    if match.score is not None:
        # floats are not canonical JSON across implementations; per-mille integers are
        data["score_permille"] = round(match.score * 1000)
        data["other_score_permille"] = round((match.other_score or 0) * 1000)
    return data
