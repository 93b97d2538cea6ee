"""What the ledger says about evidence records, and how a record is compared with it.

The entries for an envelope carry its size and channel, and, for its report,
one SHA-256 per field (of the field's canonical JSON) and the list of its
attachments. The audit recomputes these from the database rows: any change to
a record names the field that no longer matches its ledger entry.
"""

from __future__ import annotations

from typing import Any

from sijil.ledger.entries import NewEntry, digest, format_time
from sijil.store import Envelope, QuarantineItem, Report

__all__ = [
    "attachment_list",
    "envelope_facts",
    "quarantine_facts",
    "register_entries",
    "report_fields",
]


def envelope_facts(envelope: Envelope) -> dict[str, Any]:
    return {"envelope": envelope.id, "size": envelope.size, "channel": envelope.channel}


def report_fields(report: Report) -> dict[str, str]:
    """One digest per evidence field of a report (never the text itself)."""
    values: dict[str, object] = {
        "envelope_id": report.envelope_id,
        "correspondent_id": report.correspondent_id,
        "title": report.title,
        "body": report.body,
        "lang": report.lang,
        "created_at": format_time(report.created_at),
        "latitude": report.latitude,
        "longitude": report.longitude,
        "location_precision_m": report.location_precision_m,
        "manifest": report.manifest,
        "signature": report.signature,
    }
    return {name: digest(value) for name, value in values.items()}


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


def quarantine_facts(item: QuarantineItem) -> dict[str, Any]:
    return {
        "item": item.id,
        "sha256": item.sha256,
        "error_type": item.error_type,
        "reason": digest(item.reason),
    }


def register_entries(envelope: Envelope, report: Report, sender_key: str) -> list[NewEntry]:
    """The three entries an opened envelope adds: received, opened, item registered."""
    return [
        NewEntry(kind="envelope.received", subject=envelope.id, data=envelope_facts(envelope)),
        NewEntry(
            kind="envelope.opened",
            subject=envelope.id,
            data={
                "envelope": envelope.id,
                "manifest_sha256": digest(report.manifest),
                "sender_key_sha256": digest(sender_key),
            },
        ),
        NewEntry(
            kind="item.registered",
            subject=envelope.id,
            data={
                "report": report.id,
                "fields": report_fields(report),
                "attachments": attachment_list(report),
            },
        ),
    ]
