"""Evidence packages: a BagIt (RFC 8493) bag, zipped, that an investigator checks alone.

Layout (``<bag>/`` is one top folder in the zip)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    README.txt  verify_package.py           the standalone verifier, for convenience
    data/evidence.json                      reports, their fields and files, entry numbers
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
the scrubbed derivative's SHA-256 next to the original's. A file the scrubber
cannot read is refused, naming the report and the file. "envelope.opened"
entries (they carry a digest of the sender's key, which links packages to one
correspondent) are left out; no proof needs them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sijil import scrub
from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.records import exported_values
from sijil.desk.signing import sign_now
from sijil.errors import ConfigError, NotFound, ScrubError, SijilError
from sijil.export import verifier
from sijil.fsutil import atomic_writer, sha256_file
from sijil.ledger import log
from sijil.ledger.entries import EntryKind, NewEntry
from sijil.ledger.heads import SignedHead
from sijil.ledger.timestamp import TsaConfig
from sijil.store import LedgerEntry, Report, Store
from sijil.vault.vault import Vault

__all__ = ["ExportResult", "export_package"]

_README = """\
sijil evidence package
======================

This bag holds evidence exported from a sijil desk with its chain of custody.
You do not need to trust the desk or its software to check it:

1. Get the desk's public key file (desk.pub) from the desk through a channel you
   trust (not from this package) and compare its fingerprint with the one the
   desk publishes.
2. Run: python3 verify_package.py THIS.zip --desk-key desk.pub [--tsa-ca root.pem]
   (needs Python 3.11+ and the 'cryptography' package; openssl for timestamps;
   root.pem is the timestamp authority's root, obtained from the authority).
   Or re-implement the checks from the description below; they are short.

What is checked: every file against manifest-sha256.txt (BagIt); the desk's
Ed25519 signature on data/ledger/tree-head.json; each line of
data/ledger/entries.jsonl is proven in that tree head (RFC 9162: leaf hash
SHA-256(0x00 || line), node hash SHA-256(0x01 || left || right), proofs in
data/ledger/proofs.json); every payload file is data/reports/report-<id>/<nn>-<name>
for an attachment the "item.registered" entry lists (or a sealed original named
by its envelope id, or the ledger files) and nothing else is in data/; each hashes
to what the ledger recorded when it arrived (or, if scrubbed at export, to the
derivative the "exported" entry records); every field in data/evidence.json
hashes (SHA-256 of its canonical JSON) to the digest in its "item.registered"
entry. With a tree-head.tsr, an RFC 3161 authority attests when the head existed:
openssl ts -verify -digest <sha256 of the tree_head text> -in tree-head.tsr -CAfile ROOT
where ROOT is the authority's root certificate from the authority itself; the
tsa-ca.pem in this package is only a hint of which authority to ask.
"""


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    path: Path
    reports: int
    files: int
    entries: int
    tree_size: int
    timestamped: bool


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


def _entries_for(store: Store, subjects: set[str], export_seq: int) -> dict[int, bytes]:
    with store.session() as session:
        rows = session.execute(
            select(LedgerEntry.seq, LedgerEntry.body).where(
                (
                    LedgerEntry.subject.in_(subjects)
                    & (LedgerEntry.kind != EntryKind.ENVELOPE_OPENED)
                )
                | (LedgerEntry.seq == export_seq)
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
    report_ids: list[int],
    out: Path,
    originals: bool = False,
) -> ExportResult:
    """Write the package to ``out`` (atomically); record the export in the ledger."""
    if not report_ids:
        raise ConfigError("name at least one report to export")
    reports = _load_reports(store, report_ids)
    vault = home.open_vault(identity)
    envelopes = {r.envelope_id for r in reports}
    # plaintext scratch beside the package, whose zip will hold the same bytes
    with tempfile.TemporaryDirectory(prefix=".sijil-export-", dir=out.parent) as scratch:
        cleaned, scrubbed = _scrub_copies(reports, vault, Path(scratch))
        return _export(
            home,
            identity,
            store,
            reports=reports,
            envelopes=envelopes,
            out=out,
            originals=originals,
            cleaned=cleaned,
            scrubbed=scrubbed,
        )


def _export(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    reports: list[Report],
    envelopes: set[str],
    out: Path,
    originals: bool,
    cleaned: dict[tuple[int, int], Path],
    scrubbed: list[dict[str, Any]],
) -> ExportResult:
    vault = home.open_vault(identity)
    facts: dict[str, Any] = {"reports": [r.id for r in reports], "originals": originals}
    if scrubbed:
        facts["scrubbed"] = scrubbed
    with store.session(write=True) as session:
        (export_seq,) = log.append(
            session,
            [
                NewEntry(
                    kind=EntryKind.EXPORTED,
                    subject=hashlib.sha256(out.name.encode()).hexdigest(),
                    data=facts,
                )
            ],
        )
    head_row = sign_now(home, store, identity.sign, strict=False)
    signed = SignedHead.of_row(head_row)
    entries = _entries_for(store, envelopes, export_seq)
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
    # path -> bytes, ("vault", sha) or ("file", scrubbed copy)
    payload: dict[str, bytes | tuple[str, str]] = {}
    evidence: list[dict[str, Any]] = []
    for report in reports:
        folder = f"data/reports/report-{report.id}"
        files = []
        for item in report.attachments:
            path = f"{folder}/{item.position + 1:02d}-{item.name}"
            copy = cleaned.get((report.id, item.position))
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
            "ledger": {
                "received": by_subject.get((EntryKind.ENVELOPE_RECEIVED, report.envelope_id)),
                "registered": by_subject.get((EntryKind.ITEM_REGISTERED, report.envelope_id)),
            },
        }
        if originals:
            record["original"] = f"data/originals/{report.envelope_id}.age"
            payload[record["original"]] = ("vault", report.envelope_id)
        evidence.append(record)
    payload["data/evidence.json"] = json.dumps(
        {"reports": evidence, "originals": originals}, ensure_ascii=False, indent=1
    ).encode()
    payload["data/ledger/entries.jsonl"] = b"".join(entries[s] + b"\n" for s in sorted(entries))
    payload["data/ledger/proofs.json"] = json.dumps(proofs, indent=1).encode()
    payload["data/ledger/tree-head.json"] = json.dumps(signed.to_dict(), indent=1).encode()
    if head_row.timestamp_token:
        payload["data/ledger/tree-head.tsr"] = head_row.timestamp_token
        config = TsaConfig.load(home.tsa_config)
        if config is not None:
            payload["data/ledger/tsa-ca.pem"] = config.ca_pem
    _write_bag(out, bag, payload, vault=vault, reports=len(reports))
    return ExportResult(
        path=out,
        reports=len(reports),
        files=sum(len(r.attachments) for r in reports),
        entries=len(entries),
        tree_size=head_row.tree_size,
        timestamped=bool(head_row.timestamp_token),
    )


def _content(content: bytes | tuple[str, str], vault: Vault) -> Iterable[bytes]:
    if isinstance(content, bytes):
        return [content]
    where, ref = content
    return vault.chunks(ref) if where == "vault" else _file_chunks(Path(ref))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(1 << 20), b"")


def _write_bag(
    out: Path,
    bag: str,
    payload: dict[str, bytes | tuple[str, str]],
    *,
    vault: Vault,
    reports: int,
) -> None:
    manifest: list[str] = []
    total = 0
    with atomic_writer(out) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(payload.items()):
            hasher = hashlib.sha256()
            with archive.open(f"{bag}/{path}", "w", force_zip64=True) as member:
                chunks = _content(content, vault)
                for chunk in chunks:
                    hasher.update(chunk)
                    member.write(chunk)
                    total += len(chunk)
            manifest.append(f"{hasher.hexdigest()}  {path}\n")
        verifier_source = Path(verifier.__file__).read_bytes()
        tags = {
            "bagit.txt": verifier.BAGIT_TXT,
            "bag-info.txt": (
                f"Source-Organization: sijil desk\n"
                f"Bagging-Date: {datetime.now(UTC):%Y-%m-%d}\n"
                f"Payload-Oxum: {total}.{len(payload)}\n"
                f"External-Description: {reports} report(s) with chain of custody\n"
            ).encode(),
            "manifest-sha256.txt": "".join(manifest).encode(),
            "README.txt": _README.encode(),
            "verify_package.py": verifier_source,
        }
        for name, data in tags.items():
            archive.writestr(f"{bag}/{name}", data)
        tagmanifest = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
        )
        archive.writestr(f"{bag}/tagmanifest-sha256.txt", tagmanifest)
