"""Evidence packages: round trip, a tampered package fails by name, RFC 3161 timestamps."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import CliResult, DeskFixture, Evidence
from export_helpers import check_package as _check
from export_helpers import export_package as _export
from export_helpers import package_members as _members
from export_helpers import rewrite_package as _rewrite
from sijil.desk.records import EXPORTED_FIELDS, REPORT_FIELDS
from sijil.export import verifier
from sijil.ledger.entries import EntryKind
from sijil.store import LedgerEntry
from tsa_helpers import local_authority


def test_working_copies_round_trip_and_the_export_is_recorded(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # When two reports are exported with their working copies
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    # Then the package verifies with only the desk's public key
    result = _check(run_cli, evidence, package)
    assert result.code == 0, result.out
    assert "OK: the package verifies" in result.out
    files = _members(package)
    assert not any(name.startswith("data/originals/") for name in files)
    # each report carries exactly the fields the desk declares exported, in that order
    reports = json.loads(files["data/evidence.json"])["reports"]
    assert [tuple(r["fields"]) for r in reports] == [EXPORTED_FIELDS] * 2
    photos = [n for n in files if n.startswith("data/reports/") and n.endswith(".jpg")]
    assert photos and all(files[p].startswith(b"\xff\xd8") for p in photos)
    assert {"bagit.txt", "bag-info.txt", "README.txt", "verify_package.py"} <= set(files)
    with evidence.desk.home.open_store() as store, store.session() as session:
        exported = session.scalars(select(LedgerEntry).filter_by(kind=EntryKind.EXPORTED)).one()
        assert '"originals":false' in exported.body
    # and the desk still audits clean afterwards
    assert run_cli("verify", *evidence.desk.args).code == 0


def test_sealed_originals_only_on_request_and_recorded(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    package = tmp_path / "originals.zip"
    _export(run_cli, evidence, package, "--originals")
    files = _members(package)
    originals = [n for n in files if n.startswith("data/originals/")]
    assert len(originals) == 2
    for name in originals:
        envelope_id = Path(name).stem
        assert hashlib.sha256(files[name]).hexdigest() == envelope_id
        assert (evidence.inbox / f"{envelope_id}.age").read_bytes() == files[name]
    entries = [json.loads(line) for line in files["data/ledger/entries.jsonl"].splitlines()]
    assert [e["data"]["originals"] for e in entries if e["kind"] == "exported"] == [True]
    assert _check(run_cli, evidence, package).code == 0


def test_the_standalone_verifier_keeps_the_desks_field_list_and_kinds() -> None:
    # The verifier may import nothing from sijil, so it keeps copies: they must agree
    assert verifier.EXPORTED_FIELDS == EXPORTED_FIELDS
    assert set(EXPORTED_FIELDS) < {f.name for f in REPORT_FIELDS}
    # the fields that identify a sender never leave the desk
    assert not {"correspondent_id", "manifest", "signature"} & set(EXPORTED_FIELDS)
    copies = (verifier._RECEIVED, verifier._REGISTERED, verifier._EXPORTED)
    assert copies == (EntryKind.ENVELOPE_RECEIVED, EntryKind.ITEM_REGISTERED, EntryKind.EXPORTED)


def _flip_photo(files: dict[str, bytes]) -> None:
    name = next(n for n in files if n.endswith(".jpg"))
    files[name] = files[name][:-3] + b"\x00\x00\x00"


def _edit_entry(files: dict[str, bytes]) -> None:
    files["data/ledger/entries.jsonl"] = files["data/ledger/entries.jsonl"].replace(
        b'"channel":"usb"', b'"channel":"relay"', 1
    )


def _edit_field(files: dict[str, bytes]) -> None:
    doc = json.loads(files["data/evidence.json"])
    doc["reports"][0]["fields"]["title"] = "a different title"
    files["data/evidence.json"] = json.dumps(doc).encode()


def _drop_field(files: dict[str, bytes]) -> None:
    doc = json.loads(files["data/evidence.json"])
    del doc["reports"][0]["fields"]["body"]
    files["data/evidence.json"] = json.dumps(doc).encode()


def _edit_head(files: dict[str, bytes]) -> None:
    doc = json.loads(files["data/ledger/tree-head.json"])
    head = json.loads(doc["tree_head"])
    head["timestamp"] = "2016-01-01T00:00:00.000000Z"
    doc["tree_head"] = json.dumps(head, sort_keys=True, separators=(",", ":"))
    files["data/ledger/tree-head.json"] = json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_flip_photo, "differs from what the ledger recorded"),
        (_edit_entry, "not in the signed log (proof fails)"),
        (_edit_field, "field 'title' differs from the ledger"),
        (_drop_field, "evidence.json leaves out field(s) body"),
        (_edit_head, "tree head: the desk's signature does not verify"),
    ],
)
def test_a_tampered_package_fails_and_names_the_problem(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None],
    named: str,
) -> None:
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    forged = _rewrite(package, tmp_path / "forged.zip", change)
    result = _check(run_cli, evidence, forged)
    assert result.code == 1
    assert named in result.out
    assert result.err.startswith("sijil: error: the package does not verify")


def test_an_unlisted_change_fails_the_bag_manifest_and_another_key_fails(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    tmp_path: Path,
    make_desk: Callable[..., DeskFixture],
) -> None:
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    files = _members(package)
    _flip_photo(files)
    crude = tmp_path / "crude.zip"
    with zipfile.ZipFile(crude, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"bag/{name}", data)
    assert (
        "does not match its SHA-256 in manifest-sha256.txt" in _check(run_cli, evidence, crude).out
    )
    stranger = make_desk(None, name="other-desk")
    result = run_cli("verify-package", str(package), "--desk-key", str(stranger.home.public_file))
    assert result.code == 1 and "tree head" in result.out
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK not really")
    assert (
        run_cli("verify-package", str(junk), "--desk-key", str(stranger.home.public_file)).code == 1
    )


def test_the_verifier_runs_alone_from_the_package(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given only the package, the verifier copied out of it, and desk.pub
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    script = tmp_path / "alone" / "verify_package.py"
    script.parent.mkdir()
    script.write_bytes(_members(package)["verify_package.py"])
    # When run with -I (isolated: no sijil on the path, no user site)
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            str(script),
            str(package),
            "--desk-key",
            str(evidence.desk.home.public_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=script.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: the package verifies" in done.stdout


def test_timestamps_from_a_local_authority_verify_offline(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    with local_authority(tmp_path / "tsa") as authority:
        # Given the desk configured with an RFC 3161 authority
        home = str(evidence.desk.home.root)
        assert (
            run_cli(
                "ledger",
                "timestamps",
                "--home",
                home,
                "--url",
                authority.url,
                "--ca",
                str(authority.ca_file),
            ).code
            == 0
        )
        # When a head is signed and a package exported
        signed = run_cli("ledger", "head", *evidence.desk.args)
        assert signed.code == 0 and "(timestamped)" in signed.out
        package = tmp_path / "stamped.zip"
        _export(run_cli, evidence, package)
    # Then, with the authority gone, the stored timestamps still verify
    files = _members(package)
    assert "data/ledger/tree-head.tsr" in files and "data/ledger/tsa-ca.pem" in files
    root = ("--tsa-ca", str(authority.ca_file))
    result = _check(run_cli, evidence, package, *root)
    assert result.code == 0 and "timestamp: RFC 3161 token verifies" in result.out
    # without the investigator's own copy of the root, the token is not vouched for
    unanchored = _check(run_cli, evidence, package)
    assert "timestamp: present but NOT checked against a trusted root" in unanchored.out
    assert "token verifies" not in unanchored.out
    audit = run_cli("verify", *evidence.desk.args)
    assert audit.code == 0, audit.out

    # and a token moved onto another head does not
    def swap(files: dict[str, bytes]) -> None:
        files["data/ledger/tree-head.tsr"] = files["data/ledger/tree-head.tsr"][:-1] + b"\x00"

    forged = _rewrite(package, tmp_path / "forged.zip", swap)
    assert (
        "timestamp: the RFC 3161 token does not verify"
        in _check(run_cli, evidence, forged, *root).out
    )

    # and a root planted in the package is not trusted: only --tsa-ca is
    def plant(files: dict[str, bytes]) -> None:
        files["data/ledger/tsa-ca.pem"] = b"-----BEGIN CERTIFICATE-----\nforged\n"

    planted = _check(run_cli, evidence, _rewrite(package, tmp_path / "planted.zip", plant), *root)
    assert planted.code == 0 and "timestamp: RFC 3161 token verifies" in planted.out

    # and an openssl that does not finish in time is one problem line, never a traceback
    script = tmp_path / "alone" / "verify_package.py"
    script.parent.mkdir()
    script.write_bytes(files["verify_package.py"])
    key = ("--desk-key", str(evidence.desk.home.public_file))
    hurried = subprocess.run(
        [sys.executable, "-I", str(script), str(package), *key, *root, "--openssl-timeout", "1e-6"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=script.parent,
    )
    assert hurried.returncode == 1 and hurried.stderr == ""
    problems = [line for line in hurried.stdout.splitlines() if line.startswith("PROBLEM")]
    assert problems == [
        "PROBLEM  timestamp: openssl did not finish within 1e-06 s, so the RFC 3161 token "
        "is NOT verified (try again, or raise --openssl-timeout)"
    ]
    assert hurried.stdout.endswith("FAILED\n")
    same = _check(run_cli, evidence, package, *root, "--openssl-timeout", "1e-6")
    assert same.code == 1 and problems[0] in same.out


def test_export_needs_reports_and_names_a_missing_one(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    out = tmp_path / "x.zip"
    missing = run_cli("export", "package", *evidence.desk.args, "--report", "99", "--out", str(out))
    assert missing.code == 1 and "no report #99" in missing.err and not out.exists()
    incident = run_cli(
        "export", "package", *evidence.desk.args, "--incident", "SJ-2026-1", "--out", str(out)
    )
    assert incident.code == 1 and "no incident SJ-2026-0001" in incident.err
    due = run_cli("ledger", "head", *evidence.desk.args, "--if-due")
    assert due.code == 0 and "no tree head due" in due.out


def test_an_unreachable_authority_leaves_the_head_signed_and_the_export_going(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    from tsa_helpers import make_authority_files

    (tmp_path / "tsa").mkdir()
    make_authority_files(tmp_path / "tsa")
    home = str(evidence.desk.home.root)
    # port 9 (discard) on the loopback: nothing listens, the connection is refused
    assert (
        run_cli(
            "ledger",
            "timestamps",
            "--home",
            home,
            "--url",
            "http://127.0.0.1:9/",
            "--ca",
            str(tmp_path / "tsa" / "ca.pem"),
        ).code
        == 0
    )
    head = run_cli("ledger", "head", *evidence.desk.args)
    assert head.code == 1 and "timestamp authority did not answer" in head.err
    package = tmp_path / "late.zip"
    result = _export(run_cli, evidence, package)
    assert "not timestamped" in result.err
    assert "data/ledger/tree-head.tsr" not in _members(package)
    assert _check(run_cli, evidence, package).code == 0
    assert run_cli("verify", *evidence.desk.args).code == 0
