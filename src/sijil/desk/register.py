"""Register an opened envelope: its report, its files, and who sent it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.crypto.identity import fingerprint, unb64
from sijil.desk.records import register_entries
from sijil.desk.rekey import mark_registration, retired_owner
from sijil.envelope.manifest import Manifest
from sijil.envelope.sealing import OpenedEnvelope
from sijil.errors import AlreadyRegistered, ResealedReport
from sijil.faults import FaultHook, no_faults
from sijil.ledger import log as ledger_log
from sijil.store import (
    Attachment,
    Correspondent,
    Envelope,
    LedgerSalt,
    Report,
    Store,
    utcnow,
)
from sijil.vault import BlobRef, record_blob

__all__ = ["UNENROLLED_PREFIX", "register_report", "resolve_sender"]

# The codename of a key the desk never enrolled: the prefix, then its fingerprint's digits.
UNENROLLED_PREFIX = "unenrolled-"


def resolve_sender(session: Session, manifest: Manifest) -> Correspondent:
    """Find who signed ``manifest``: a known key, an invite being used, or a new source.

    An unknown pseudonym is kept as an unenrolled source, never rejected: a
    correspondent who lost their phone and made a new key is still a source.
    """
    known = session.scalar(select(Correspondent).filter_by(sign_key=manifest.sign_key))
    if known is not None:
        return known
    moved_on = retired_owner(session, manifest.sign_key)  # a key from before a rekey
    if moved_on is not None:
        return moved_on
    sign_raw = unb64(manifest.sign_key, size=32, what="sender key")
    reply_raw = unb64(manifest.reply_key, size=32, what="reply key")
    fp = fingerprint(sign_raw, reply_raw)
    if manifest.enrol_token:
        token_hash = hashlib.sha256(manifest.enrol_token.encode()).hexdigest()
        invited = session.scalar(select(Correspondent).filter_by(invite_token_hash=token_hash))
        if invited is not None and invited.sign_key is None:
            invited.sign_key = manifest.sign_key
            invited.reply_key = manifest.reply_key
            invited.fingerprint = fp
            invited.enrolled_at = utcnow()
            return invited
    # A used invite presented by another key lands here too: possibly a seized
    # invite, so it must not inherit the trusted codename.
    digits = fp.replace(" ", "")
    codename = UNENROLLED_PREFIX + digits[:10]
    # A key ground to collide with a known codename's prefix must not fail the import.
    for length in range(12, len(digits) + 1, 2):
        if session.scalar(select(Correspondent.id).filter_by(codename=codename)) is None:
            break
        codename = UNENROLLED_PREFIX + digits[:length]
    stranger = Correspondent(
        codename=codename,
        sign_key=manifest.sign_key,
        reply_key=manifest.reply_key,
        fingerprint=fp,
        enrolled=False,
    )
    session.add(stranger)
    return stranger


def register_report(
    store: Store,
    *,
    opened: OpenedEnvelope,
    envelope_id: str,
    size: int,
    channel: str,
    vault_path: str,
    original: BlobRef | None = None,
    files: Sequence[BlobRef] = (),
    faults: FaultHook = no_faults,
    release: bool = False,
) -> tuple[int, str]:
    """Store the envelope, its report, attachments, vault records and ledger entries.

    All in one transaction, so after a crash an envelope is registered fully or
    not at all. Raises AlreadyRegistered if another process registered it first.
    ``release``: a quarantine retry; an envelope row still ``quarantined`` is
    opened in place (its arrival is in the ledger already), not a duplicate.
    """
    manifest = opened.manifest
    with store.session(write=True) as session:
        # the ledger lock first: it serialises registrations across processes,
        # so the check below sees any registration that committed before ours
        ledger_log.lock(session)
        arrived = session.get(Envelope, envelope_id)
        if arrived is not None and not (release and arrived.status == "quarantined"):
            raise AlreadyRegistered(f"envelope {envelope_id[:16]} was registered meanwhile")
        earlier = session.scalar(select(Report.id).filter_by(signature=opened.signature.hex()))
        if earlier is not None:
            # same signed manifest, new ciphertext: only the desk's key can do that
            raise ResealedReport(f"report {earlier} arrived before; this is a re-sealed copy")
        sender = resolve_sender(session, manifest)
        if arrived is None:
            envelope = Envelope(
                id=envelope_id, size=size, channel=channel, status="opened", vault_path=vault_path
            )
        else:
            envelope = arrived
            envelope.status, envelope.vault_path = "opened", vault_path
        location = manifest.location
        report = Report(
            envelope=envelope,
            correspondent=sender,
            title=manifest.title[:500],
            body=manifest.body,
            lang=manifest.lang,
            created_at=manifest.created,
            latitude=None if location is None else float(Decimal(location.lat)),
            longitude=None if location is None else float(Decimal(location.lon)),
            location_precision_m=None if location is None else location.precision_m,
            manifest=opened.manifest_bytes.decode("utf-8"),
            signature=opened.signature.hex(),
            attachments=[
                Attachment(
                    position=i,
                    name=item.entry.name,
                    media_type=item.entry.media_type,
                    size=item.entry.size,
                    sha256=item.entry.sha256,
                )
                for i, item in enumerate(opened.attachments)
            ],
        )
        session.add_all([envelope, report])
        session.flush()
        # a revoked key, a duress mark, a rekey statement (sijil.desk.rekey)
        mark_registration(session, report, sender, manifest, report.received_at)
        if original is not None:
            record_blob(session, original, kind="original")
        for ref in files:
            record_blob(session, ref, kind="attachment", parent=envelope_id)
        entries, salts = register_entries(envelope, report, manifest.sign_key)
        if arrived is not None:
            entries, salts = entries[1:], salts[1:]  # its envelope.received is in already
        seqs = ledger_log.append(session, entries)
        # the commitments' salts, beside the entries and never in them (docs/ledger.md)
        session.add_all(
            LedgerSalt(seq=seq, name=name, salt=salt)
            for seq, kept in zip(seqs, salts, strict=True)
            for name, salt in kept.items()
        )
        faults("register.before_commit")
        return report.id, sender.codename
