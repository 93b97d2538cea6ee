"""Salted commitments in the custody ledger (issue 14, item 9).

``item.registered`` and ``envelope.opened`` commit to each value as SHA-256(salt ||
value) with a salt kept beside the ledger (``ledger_salts``), so neither the disk nor
two packages can link reports to one correspondent or confirm a known file; a package
reveals the salts of its own exported values only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from conftest import PASSPHRASE, CliResult, DeskFixture, Evidence
from export_helpers import check_package as _check
from export_helpers import package_members as _members
from export_helpers import rewrite_package as _rewrite
from sijil.desk.audit import audit_desk
from sijil.desk.records import register_entries
from sijil.ledger import log
from sijil.ledger.entries import EntryKind, digest, parse_entry
from sijil.store import Correspondent, Envelope, LedgerEntry, LedgerSalt, Report

Cli = Callable[..., CliResult]


def _entries(desk: DeskFixture, kind: EntryKind) -> list[dict[str, object]]:
    with desk.home.open_store() as store, store.session() as session:
        bodies = session.scalars(select(LedgerEntry.body).where(LedgerEntry.kind == kind))
        return [json.loads(b) for b in bodies]


def _audit(desk: DeskFixture) -> list[str]:
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        found = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
    return found.problems


def test_registration_entries_hold_no_plain_digest_a_disk_could_test(evidence: Evidence) -> None:
    desk = evidence.desk
    with desk.home.open_store() as store, store.session() as session:
        reports = session.scalars(select(Report)).all()
        ids = {r.correspondent_id for r in reports}
        files = {a.sha256 for r in reports for a in r.attachments}
        assert session.scalar(select(LedgerSalt.salt).limit(1)) is not None
    registered = _entries(desk, EntryKind.ITEM_REGISTERED)
    text = json.dumps(registered) + json.dumps(_entries(desk, EntryKind.ENVELOPE_OPENED))
    # neither the correspondent id's digest nor any file's hash is in an entry
    for value in [digest(i) for i in ids] + sorted(files):
        assert value not in text
    assert all(e["data"]["salted"] is True for e in registered)  # type: ignore[index]
    # the two reports of one correspondent commit to its id differently
    commitments = {e["data"]["fields"]["correspondent_id"] for e in registered}  # type: ignore[index]
    assert len(commitments) == len(registered)
    assert _audit(desk) == []


def test_the_audit_recomputes_commitments_and_names_a_changed_file_or_salt(
    evidence: Evidence,
) -> None:
    desk = evidence.desk
    with desk.home.open_store() as store, store.session(write=True) as session:
        report = session.scalars(select(Report).where(Report.attachments.any())).first()
        assert report is not None
        session.execute(
            update(Report).where(Report.id == report.id).values(title="a changed title")
        )
        seq = session.scalar(
            select(LedgerEntry.seq).where(
                LedgerEntry.kind == EntryKind.ITEM_REGISTERED,
                LedgerEntry.subject == report.envelope_id,
            )
        )
        session.execute(
            update(LedgerSalt)
            .where(LedgerSalt.seq == seq, LedgerSalt.name == "attachments.0")
            .values(salt=bytes(32))
        )
        rid = report.id
    problems = _audit(desk)
    assert any(f"report #{rid}" in p and "'title' differs" in p for p in problems)
    assert any(p.startswith(f"attachment 1 of report #{rid}") and "'sha256'" in p for p in problems)


def test_a_ledger_written_the_old_way_still_verifies(evidence: Evidence) -> None:
    # Given a report registered with plain digests, as before salted commitments
    desk = evidence.desk
    with desk.home.open_store() as store, store.session(write=True) as session:
        old = session.scalars(select(Report)).first()
        assert old is not None
        envelope = Envelope(
            id=hashlib.sha256(b"an old envelope").hexdigest(),
            size=10,
            channel="usb",
            status="opened",
            vault_path="",
        )
        sender = session.scalars(select(Correspondent)).first()
        report = Report(
            envelope=envelope,
            correspondent=sender,
            title="old",
            body="old body",
            lang="en",
            created_at=old.created_at,
            manifest="{}",
            signature="ab" * 64,
        )
        session.add_all([envelope, report])
        session.flush()
        entries, salts = register_entries(envelope, report, "key", salted=False)
        assert salts == [{}, {}, {}]
        log.append(session, entries)
        body = session.scalar(select(LedgerEntry.body).order_by(LedgerEntry.seq.desc()).limit(1))
    entry = parse_entry((body or "").encode())
    assert "salted" not in entry.data
    assert entry.data["fields"]["title"] == digest("old")
    # When audited: only the missing vault original is named, not its digests
    problems = _audit(desk)
    assert [p for p in problems if "differs" in p or "salt" in p] == []


def _two_packages(run_cli: Cli, ev: Evidence, tmp_path: Path) -> tuple[Path, Path]:
    """Packages of two reports of one correspondent, the first with a photo."""
    with ev.desk.home.open_store() as store, store.session() as session:
        first = session.scalar(select(Report.id).where(Report.attachments.any()).limit(1))
        second = session.scalar(select(Report.id).where(Report.id != first).limit(1))
    out = []
    for rid in (str(first), str(second)):
        path = tmp_path / f"case-{rid}.zip"
        result = run_cli("export", "package", *ev.desk.args, "--report", rid, "--out", str(path))
        assert result.code == 0, result.out + result.err
        out.append(path)
    return out[0], out[1]


def _registered(files: dict[str, bytes]) -> dict[str, object]:
    lines = files["data/ledger/entries.jsonl"].splitlines()
    (entry,) = [json.loads(x) for x in lines if json.loads(x)["kind"] == "item.registered"]
    return entry  # type: ignore[no-any-return]


def test_two_packages_from_one_correspondent_share_no_linkable_value(
    run_cli: Cli, evidence: Evidence, tmp_path: Path
) -> None:
    packages = _two_packages(run_cli, evidence, tmp_path)
    for package in packages:
        assert _check(run_cli, evidence, package).code == 0
    one, two = (_members(p) for p in packages)
    a, b = _registered(one), _registered(two)
    a_fields, b_fields = a["data"]["fields"], b["data"]["fields"]  # type: ignore[index]
    # both reports come from Raven, yet no field commitment is the same
    assert set(a_fields.values()) & set(b_fields.values()) == set()
    # and no package reveals the salt of correspondent_id, manifest or signature
    for files in (one, two):
        (report,) = json.loads(files["data/evidence.json"])["reports"]
        assert set(report["salts"]["fields"]).isdisjoint({"correspondent_id", "manifest"})
        assert "signature" not in report["salts"]["fields"]
        assert b"sender_key_sha256" not in files["data/ledger/entries.jsonl"]


def test_the_package_verifier_catches_a_wrong_salt_or_file(
    run_cli: Cli, evidence: Evidence, tmp_path: Path
) -> None:
    package, _ = _two_packages(run_cli, evidence, tmp_path)
    assert _check(run_cli, evidence, package).code == 0

    def wrong_salt(files: dict[str, bytes]) -> None:
        doc = json.loads(files["data/evidence.json"])
        doc["reports"][0]["salts"]["files"]["0"] = "00" * 32
        doc["reports"][0]["salts"]["fields"]["title"] = "11" * 32
        files["data/evidence.json"] = json.dumps(doc).encode()

    def wrong_file(files: dict[str, bytes]) -> None:
        (path,) = [p for p in files if p.startswith("data/reports/")]
        files[path] = files[path] + b"x"

    result = _check(run_cli, evidence, _rewrite(package, tmp_path / "salt.zip", wrong_salt))
    assert result.code == 1
    assert "field 'title' differs from the ledger" in result.out
    assert "differs from what the ledger recorded" in result.out
    result = _check(run_cli, evidence, _rewrite(package, tmp_path / "file.zip", wrong_file))
    assert result.code == 1
    assert "differs from what the ledger recorded" in result.out
