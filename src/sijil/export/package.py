"""Evidence packages: a BagIt (RFC 8493) bag, zipped, that an investigator checks alone.

Layout (``<bag>/`` is one top folder in the zip)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    README.txt  verify_package.py           the standalone verifier, for convenience
    data/evidence.json                      reports, their fields and files, entry numbers
    data/incident.json                      with --incident: the incident's desk record
    data/reports/report-<id>/<nn>-<name>    working copies (as received, or scrubbed here)
    data/originals/<envelope id>.age        sealed originals, only with --originals
    data/ledger/entries.jsonl               the exact bytes of every entry concerned
    data/ledger/proofs.json                 an RFC 9162 inclusion proof for each
    data/ledger/tree-head.json              the signed tree head they are proven in
    data/ledger/tree-head.tsr, tsa-ca.pem   its RFC 3161 timestamp, when configured

The export itself is a ledger entry ("exported", saying whether originals left,
and which working copies were scrubbed at export), appended before the head is
signed, so the package proves its own export. That entry must be proven inside
the package, so it is appended before the zip is written: an export that fails
while writing leaves an "exported" entry for a package that never existed (the
"exported" entry records an intent; the slow, fallible scrubbing is done first).

A working copy still carrying identifying metadata (sealed with
--keep-metadata, or from a source that did not scrub) is never exported as is:
it is scrubbed losslessly into the package, and the "exported" entry records
the scrubbed derivative next to the original, each by a salted commitment
(:mod:`sijil.export.salts`; the package reveals the derivative's salt). A file the scrubber
cannot read is refused, naming the report and the file. "envelope.opened"
entries (they carry a digest of the sender's key, which links packages to one
correspondent) are left out; no proof needs them.

An incident's package (``--incident CODE``) holds the reports linked to it as
evidence, exported exactly as named reports are, and ``data/incident.json``
(:mod:`sijil.export.incident`) with the desk entries it rests on; the "exported"
entry names the incident and any desk text withheld because it names a
correspondent.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sijil import scrub
from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.records import exported_values
from sijil.desk.revocation import flags_for
from sijil.desk.signing import sign_now
from sijil.errors import ConfigError, NotFound, ScrubError, SijilError
from sijil.export.bag import Payload, report_file, write_bag
from sijil.export.incident import IncidentPart, collect_incident
from sijil.export.salts import (
    SCRUBBED_SALTS,
    ScrubbedSalts,
    commit_scrubbed,
    revealed_salts,
    salted_facts,
    store_scrubbed_salts,
)
from sijil.fsutil import sha256_file
from sijil.ledger import log
from sijil.ledger.entries import EntryKind, NewEntry
from sijil.ledger.heads import SignedHead
from sijil.ledger.timestamp import TsaConfig
from sijil.store import LedgerEntry, Report, ReportFlagKind, Store
from sijil.vault.vault import Vault

__all__ = ["ExportResult", "export_package"]


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    path: Path
    reports: int
    files: int
    entries: int
    tree_size: int
    timestamped: bool
    incident: str | None = None
    withheld: int = 0


@dataclass(kw_only=True)
class _Plan:
    """What goes into the package, settled before anything is recorded."""

    reports: list[Report]
    originals: bool
    incident: IncidentPart | None = None
    cleaned: dict[tuple[int, int], Path] = field(default_factory=dict)
    scrubbed: list[dict[str, Any]] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        """The "exported" entry's data."""
        facts: dict[str, Any] = {"reports": [r.id for r in self.reports]}
        facts["originals"] = self.originals
        if self.scrubbed:
            facts["scrubbed"] = self.scrubbed
        if self.incident is not None:
            facts["incident"] = self.incident.code
            if self.incident.withheld:
                facts["withheld"] = self.incident.withheld
        return facts


def _load_reports(store: Store, report_ids: list[int]) -> list[Report]:
    with store.session() as session:
        stmt = (
            select(Report)
            .where(Report.id.in_(report_ids))
            .options(selectinload(Report.attachments))
            .order_by(Report.id)
        )
        found = list(session.scalars(stmt))
    missing = set(report_ids) - {r.id for r in found}
    if missing:
        raise NotFound(f"no report #{min(missing)} at this desk")
    return found


def _entries_for(
    store: Store, subjects: set[str], seqs: Iterable[int], export_seq: int
) -> dict[int, bytes]:
    """The reports' entries (by envelope id, without envelope.opened), ``seqs``, the export
    and the key handovers (``key.rotated``)."""
    with store.session() as session:
        rows = session.execute(
            select(LedgerEntry.seq, LedgerEntry.body).where(
                (
                    LedgerEntry.subject.in_(subjects)
                    & (LedgerEntry.kind != EntryKind.ENVELOPE_OPENED)
                )
                | LedgerEntry.seq.in_([*seqs, export_seq])
                # every key handover: an investigator who pinned an earlier desk key
                # follows them to the key that signed this package's head
                | (LedgerEntry.kind == EntryKind.KEY_ROTATED)
            )
        )
        return {int(seq): body.encode() for seq, body in rows}


def _scrub_copies(
    reports: list[Report], vault: Vault, scratch: Path
) -> tuple[dict[tuple[int, int], Path], list[dict[str, Any]]]:
    """Scrub every working copy that still identifies someone; refuse what cannot be read."""
    cleaned: dict[tuple[int, int], Path] = {}
    records: list[dict[str, Any]] = []
    for report in reports:
        for item in report.attachments:
            raw = scratch / "copy"
            with raw.open("wb") as fh:
                for chunk in vault.chunks(item.sha256):
                    fh.write(chunk)
            clean = scratch / f"{report.id}-{item.position}"
            try:
                if not scrub.inspect(raw):
                    continue
                with clean.open("wb") as fh:
                    done = scrub.scrub(raw, fh)
            except SijilError as exc:
                raise ScrubError(
                    f"report #{report.id}, file {item.name!r}: cannot be checked for "
                    f"identifying metadata, so it is not exported ({exc}); leave the report "
                    "out, or export it by other means after checking the file by hand"
                ) from exc
            finally:
                raw.unlink(missing_ok=True)
            cleaned[(report.id, item.position)] = clean
            records.append(
                {
                    "report": report.id,
                    "position": item.position,
                    "of": item.sha256,
                    "sha256": sha256_file(clean),
                    "removed": sorted({f.kind for f in done.removed}),
                }
            )
    return cleaned, records


def export_package(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    report_ids: Sequence[int] = (),
    incident: str | None = None,
    out: Path,
    originals: bool = False,
) -> ExportResult:
    """Write the package of reports ``report_ids``, or of incident ``incident`` and the
    reports linked to it as evidence, to ``out`` (atomically); record the export."""
    part = None
    if incident is not None:
        if report_ids:
            raise ConfigError("export an incident or name reports, not both")
        with store.session() as session:
            part = collect_incident(session, incident)
        report_ids = part.report_ids
    elif not report_ids:
        raise ConfigError("name at least one report or an incident to export")
    plan = _Plan(reports=_load_reports(store, list(report_ids)), originals=originals, incident=part)
    vault = home.open_vault(identity)
    # plaintext scratch beside the package, whose zip will hold the same bytes
    with tempfile.TemporaryDirectory(prefix=".sijil-export-", dir=out.parent) as scratch:
        plan.cleaned, plan.scrubbed = _scrub_copies(plan.reports, vault, Path(scratch))
        return _export(home, identity, store, plan=plan, out=out)


def _report_records(
    plan: _Plan,
    by_subject: dict[tuple[str, str], int],
    payload: Payload,
    flags: dict[int, ReportFlagKind],
    salts: dict[int, dict[str, Any]],
    scrubbed_salts: ScrubbedSalts,
) -> list[dict[str, Any]]:
    """evidence.json's reports; their files go into ``payload``.

    ``flag``: "possibly coerced" or "sent under duress" when the correspondent's key
    was revoked or the envelope carried the duress mark (sijil.desk.revocation).
    """
    evidence: list[dict[str, Any]] = []
    for report in plan.reports:
        files = []
        for item in report.attachments:
            path = report_file(report.id, item.position, item.name)
            copy = plan.cleaned.get((report.id, item.position))
            payload[path] = ("vault", item.sha256) if copy is None else ("file", str(copy))
            files.append(
                {
                    "position": item.position,
                    "path": path,
                    "media_type": item.media_type,
                    "scrubbed_at_export": copy is not None,
                }
            )
        record: dict[str, Any] = {
            "report": report.id,
            "envelope": report.envelope_id,
            "fields": exported_values(report),
            "files": files,
            "flag": None if report.id not in flags else str(flags[report.id]),
            "ledger": {
                "received": by_subject.get((EntryKind.ENVELOPE_RECEIVED, report.envelope_id)),
                "registered": by_subject.get((EntryKind.ITEM_REGISTERED, report.envelope_id)),
            },
        }
        registered = record["ledger"]["registered"]
        if registered in salts:  # its entry commits with salts: reveal this report's own
            record["salts"] = salts[registered]
        own = {
            str(position): salt.hex()
            for (rid, position), salt in scrubbed_salts.items()
            if rid == report.id
        }
        if own:  # the export entry commits to its scrubbed copies' hashes
            record[SCRUBBED_SALTS] = own
        if plan.originals:
            record["original"] = f"data/originals/{report.envelope_id}.age"
            payload[record["original"]] = ("vault", report.envelope_id)
        evidence.append(record)
    return evidence


def _export(
    home: DeskHome, identity: DeskIdentity, store: Store, *, plan: _Plan, out: Path
) -> ExportResult:
    vault = home.open_vault(identity)
    # the name's bytes as the file system holds them: a name need not be UTF-8
    subject = hashlib.sha256(os.fsencode(out.name)).hexdigest()
    with store.session(write=True) as session:
        plan.scrubbed, scrubbed_salts = commit_scrubbed(session, plan.reports, plan.scrubbed)
        facts = salted_facts(plan.facts())
        (export_seq,) = log.append(
            session, [NewEntry(kind=EntryKind.EXPORTED, subject=subject, data=facts)]
        )
        store_scrubbed_salts(session, export_seq, scrubbed_salts)
    head_row = sign_now(home, store, identity.sign, strict=False)
    signed = SignedHead.of_row(head_row)
    desk_seqs = set() if plan.incident is None else plan.incident.seqs
    entries = _entries_for(store, {r.envelope_id for r in plan.reports}, desk_seqs, export_seq)
    with store.session() as session:
        conn = session.connection()
        proofs = [
            log.inclusion_proof(conn, seq, head_row.tree_size).to_dict() for seq in sorted(entries)
        ]
    by_subject: dict[tuple[str, str], int] = {}
    for seq, body in entries.items():
        doc = json.loads(body)
        by_subject.setdefault((doc["kind"], doc["subject"]), seq)
    bag = f"sijil-evidence-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    payload: Payload = {}
    with store.session() as session:
        flags = flags_for(session, [r.id for r in plan.reports])
    registered = [s for (kind, _), s in by_subject.items() if kind == EntryKind.ITEM_REGISTERED]
    with store.session() as session:
        salts = revealed_salts(session, registered)
    evidence = _report_records(plan, by_subject, payload, flags, salts, scrubbed_salts)
    payload["data/evidence.json"] = json.dumps(
        {"reports": evidence, "originals": plan.originals}, ensure_ascii=False, indent=1
    ).encode()
    description = f"{len(plan.reports)} report(s) with chain of custody"
    if plan.incident is not None:
        payload["data/incident.json"] = json.dumps(
            plan.incident.document, ensure_ascii=False, indent=1
        ).encode()
        description = f"incident {plan.incident.code}: {description}"
    payload["data/ledger/entries.jsonl"] = b"".join(entries[s] + b"\n" for s in sorted(entries))
    payload["data/ledger/proofs.json"] = json.dumps(proofs, indent=1).encode()
    payload["data/ledger/tree-head.json"] = json.dumps(signed.to_dict(), indent=1).encode()
    if head_row.timestamp_token:
        payload["data/ledger/tree-head.tsr"] = head_row.timestamp_token
        config = TsaConfig.load(home.tsa_config)
        if config is not None:
            payload["data/ledger/tsa-ca.pem"] = config.ca_pem
    write_bag(out, bag, payload, vault=vault, description=description)
    return ExportResult(
        path=out,
        reports=len(plan.reports),
        files=sum(len(r.attachments) for r in plan.reports),
        entries=len(entries),
        tree_size=head_row.tree_size,
        timestamped=bool(head_row.timestamp_token),
        incident=None if plan.incident is None else plan.incident.code,
        withheld=0 if plan.incident is None else len(plan.incident.withheld),
    )
