"""`sijil export package --incident CODE`: an incident's evidence with its desk record and custody.

Given a desk that imported Raven's reports and did a night's work on them, the
incident is exported and checked by the standalone verifier in a separate,
isolated Python (as an investigator runs it); a package whose incident record
was changed, or a desk record changed in SQL before the export, fails by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from conftest import CliResult, Evidence
from desk_work_helpers import Clock, Desk
from export_helpers import check_package, package_members, rewrite_package
from incident_work import IncidentWork, incident_work
from sijil.desk.assessments import NOT_INDEPENDENT, propose_assessment, review
from sijil.desk.desk_records import Action
from sijil.desk.users import set_solo
from sijil.export import verifier
from sijil.ledger.entries import EntryKind
from sijil.store import EvidenceLink, LedgerEntry, utcnow

Cli = Callable[..., CliResult]


@pytest.fixture
def work(evidence: Evidence) -> IncidentWork:
    return incident_work(evidence)


def _export(run_cli: Cli, work: IncidentWork, out: Path, *extra: str) -> CliResult:
    result = run_cli("export", "package", *work.evidence.desk.args, "--incident", work.code,
                     "--out", str(out), *extra)  # fmt: skip
    assert result.code == 0, result.err
    return result


def _run_alone(
    package: Path, work: IncidentWork, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The verifier copied out of the package, run with ``python -I`` (no sijil in reach)."""
    script = tmp_path / "alone" / "verify_package.py"
    script.parent.mkdir(exist_ok=True)
    script.write_bytes(package_members(package)["verify_package.py"])
    key = str(work.evidence.desk.home.public_file)
    return subprocess.run(
        [sys.executable, "-I", str(script), str(package), "--desk-key", key],
        capture_output=True, text=True, timeout=120, cwd=script.parent,
    )  # fmt: skip


def test_an_incident_exports_and_verifies_alone(
    run_cli: Cli, work: IncidentWork, tmp_path: Path
) -> None:
    # When the incident is exported
    package = tmp_path / "incident.zip"
    result = _export(run_cli, work, package)
    # Then the verifier, alone in a separate process, checks the reports and the incident
    done = _run_alone(package, work, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"incident {work.code}: 2 revision(s), 2 evidence link(s), 1 attribution(s), "
        "1 approved assessment(s) match the ledger" in done.stdout
    )
    assert done.stdout.endswith("OK: the package verifies\n")
    assert f"wrote {package}: incident {work.code} with 2 report(s)" in result.out
    # and the package holds the linked reports and the incident's record as the desk has it
    files = package_members(package)
    reports = json.loads(files["data/evidence.json"])["reports"]
    assert sorted(r["report"] for r in reports) == sorted(work.reports)
    doc = json.loads(files["data/incident.json"])
    assert doc["incident"]["fields"]["title_en"] == "Airstrike on the Raqqa vegetable market"
    assert doc["incident"]["current_assessment"] == work.approved == "A-1"
    assert [r["version"] for r in doc["revisions"]] == [1, 2]
    assert [(e["report"], e["role"]) for e in doc["evidence"]] == [
        (work.reports[0], "primary"), (work.reports[1], "corroborating")]  # fmt: skip
    assert doc["evidence"][0]["file"] in files and doc["evidence"][1]["file"] is None
    assert doc["attributions"][0]["actor"]["name_en"] == "Coalition"
    # only approved assessments leave the desk: the one sent back stays
    [assessment] = doc["assessments"]
    assert assessment["assessment"] == "A-1" and assessment["current"] is True
    assert assessment["content"]["casualties"][0] == {
        "outcome": "injured", "status": "civilian", "group": "all", "min": 10, "max": 20}  # fmt: skip
    assert assessment["review"]["decision"] == "approved" and assessment["review_mark"] is None
    # and the export entry names the incident; the desk still audits clean
    entries = [json.loads(line) for line in files["data/ledger/entries.jsonl"].splitlines()]
    [exported] = [e["data"] for e in entries if e["kind"] == EntryKind.EXPORTED]
    assert exported["incident"] == work.code and sorted(exported["reports"]) == sorted(work.reports)
    assert run_cli("verify", *work.evidence.desk.args).code == 0


def test_the_package_names_no_correspondent_beyond_a_report_export(
    run_cli: Cli, work: IncidentWork, tmp_path: Path
) -> None:
    # Given the incident exported
    package = tmp_path / "incident.zip"
    _export(run_cli, work, package)
    files = package_members(package)
    data = b"".join(body for name, body in files.items() if name.startswith("data/"))
    # Then nothing names Raven, nor carries the sender's key or manifest
    assert b"raven" not in data.lower()
    for secret in (b"sender_key_sha256", b"correspondent", b'"manifest"', b'"signature"'):
        assert secret not in files["data/evidence.json"] + files["data/incident.json"]
    kinds = {json.loads(line)["kind"] for line in files["data/ledger/entries.jsonl"].splitlines()}
    assert EntryKind.ENVELOPE_OPENED not in kinds
    # and desk users appear as the ids the ledger holds, not by name
    assert b"amal" not in data and b"dima" not in data


def test_a_note_naming_a_correspondent_is_withheld_and_the_withholding_recorded(
    run_cli: Cli, evidence: Evidence, tmp_path: Path
) -> None:
    # Given an editor's note that names the correspondent by codename
    work = incident_work(evidence, note="RAVEN's cousin saw the strike")
    package = tmp_path / "incident.zip"
    # When exported
    result = _export(run_cli, work, package)
    # Then the note is withheld, the export entry says so, and the package verifies
    assert "1 desk text(s) naming a correspondent were withheld" in result.err
    files = package_members(package)
    assert b"raven" not in files["data/incident.json"].lower()
    doc = json.loads(files["data/incident.json"])
    assert doc["evidence"][0]["note"] is None
    entries = [json.loads(line) for line in files["data/ledger/entries.jsonl"].splitlines()]
    [exported] = [e["data"] for e in entries if e["kind"] == EntryKind.EXPORTED]
    assert exported["withheld"] == [{"record": "evidence", "id": 1, "field": "note"}]
    checked = check_package(run_cli, work.evidence, package)
    assert checked.code == 0, checked.out
    assert "(1 text(s) withheld at export, recorded)" in checked.out

    # and a note emptied without that record is caught
    def unrecorded(files: dict[str, bytes]) -> None:
        doc = json.loads(files["data/incident.json"])
        doc["evidence"][1]["note"] = None
        doc["attributions"][0]["basis"] = None
        files["data/incident.json"] = json.dumps(doc).encode()

    forged = rewrite_package(package, tmp_path / "forged.zip", unrecorded)
    assert "attribution #1: field 'basis' differs from the ledger" in (
        check_package(run_cli, work.evidence, forged).out
    )


def _edit(change: Callable[[dict[str, object]], None]) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        doc = json.loads(files["data/incident.json"])
        change(doc)
        files["data/incident.json"] = json.dumps(doc, ensure_ascii=False).encode()

    return apply


def _drop_incident(files: dict[str, bytes]) -> None:
    del files["data/incident.json"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(_edit(lambda d: d["incident"]["fields"].update(title_en="A weapons depot")),
                     "incident {code}: field 'title_en' differs from the ledger", id="title"),
        pytest.param(_edit(lambda d: d["revisions"][0]["fields"].update(state="published")),
                     "incident {code} revision 1: its fields differ from the ledger",
                     id="revision"),
        pytest.param(_edit(lambda d: d["assessments"][0]["content"]["casualties"][1].update(max=2)),
                     "assessment A-1: its grading, harm, casualties or summaries differ from "
                     "the ledger", id="casualty-number"),
        pytest.param(_edit(lambda d: d["incident"].update(grading="confirmed")),
                     "incident {code}: field 'grading' differs from its current assessment",
                     id="grading"),
        pytest.param(_edit(lambda d: d["evidence"][0].update(role="context")),
                     "evidence link #1 (report #{r0}): field 'role' differs from the ledger",
                     id="evidence-role"),
        pytest.param(_edit(lambda d: d["assessments"][0]["review"].update(independent=False)),
                     "assessment A-1's review: field 'independent' differs from the ledger",
                     id="review"),
        pytest.param(_edit(lambda d: d["assessments"][0].update(by=2)),
                     "assessment A-1: field 'by' differs from the ledger", id="author"),
        pytest.param(_edit(lambda d: d["evidence"][0].update(file="data/evidence.json")),
                     "evidence link #1 (report #{r0}): its file is not one of the report's in "
                     "the package", id="evidence-file"),
        pytest.param(_edit(lambda d: d["evidence"].pop()),
                     "incident {code}: its evidence links name other reports than the package "
                     "holds", id="evidence-dropped"),
        pytest.param(_drop_incident, "incident {code}: data/incident.json is missing",
                     id="record-dropped"),
    ],
)  # fmt: skip
def test_a_tampered_incident_record_in_the_package_is_caught(
    run_cli: Cli,
    work: IncidentWork,
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None],
    named: str,
) -> None:
    # Given the package changed, its BagIt manifests re-hashed to match
    package = tmp_path / "incident.zip"
    _export(run_cli, work, package)
    forged = rewrite_package(package, tmp_path / "forged.zip", change)
    # When verified alone
    done = _run_alone(forged, work, tmp_path)
    # Then the change is named and the package fails
    assert done.returncode == 1
    assert f"PROBLEM  {named.format(code=work.code, r0=work.reports[0])}\n" in done.stdout
    assert done.stdout.endswith("FAILED\n") and done.stderr == ""


def test_a_desk_record_changed_before_the_export_fails_the_package(
    run_cli: Cli, work: IncidentWork, tmp_path: Path
) -> None:
    # Given an evidence link's role changed in SQL, behind the ledger's back
    with work.evidence.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(update(EvidenceLink).where(EvidenceLink.id == 1).values(role="context"))
    # When exported and verified
    package = tmp_path / "incident.zip"
    _export(run_cli, work, package)
    result = check_package(run_cli, work.evidence, package)
    # Then the package's record disagrees with the entry it carries
    assert result.code == 1
    assert (
        f"PROBLEM  evidence link #1 (report #{work.reports[0]}): field 'role' differs from the "
        "ledger" in result.out
    )


def test_a_solo_desks_mark_travels_and_a_report_export_carries_no_incident(
    run_cli: Cli, evidence: Evidence, tmp_path: Path
) -> None:
    # Given a solo desk's author confirming their own, newer assessment
    work = incident_work(evidence)
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        clock = Clock(utcnow())
        set_solo(session, True, clock=clock)
        mine = propose_assessment(session, work.code, grading="weak", harm="unknown",
                                  summary_ar="ملخص", summary_en="One source.", by="badr",
                                  clock=clock)  # fmt: skip
        review(session, f"A-{mine.id}", approve=True, comment="", by="badr", clock=clock)
    # When exported
    package = tmp_path / "incident.zip"
    _export(run_cli, work, package)
    # Then the new one is current, carrying its mark, and the package verifies
    doc = json.loads(package_members(package)["data/incident.json"])
    assert doc["incident"]["current_assessment"] == f"A-{mine.id}"
    assert [(a["assessment"], a["current"], a["review_mark"]) for a in doc["assessments"]] == [
        ("A-1", False, None), (f"A-{mine.id}", True, NOT_INDEPENDENT)]  # fmt: skip
    assert check_package(run_cli, evidence, package).code == 0

    # and an incident record planted in a package of reports is not accounted for
    reports = tmp_path / "reports.zip"
    assert run_cli("export", "package", *evidence.desk.args, "--report", "1",
                   "--out", str(reports)).code == 0  # fmt: skip

    def plant(files: dict[str, bytes]) -> None:
        files["data/incident.json"] = package_members(package)["data/incident.json"]

    planted = check_package(run_cli, evidence, rewrite_package(reports, tmp_path / "p.zip", plant))
    assert "PROBLEM  data/incident.json: a file the ledger does not account for" in planted.out


def test_bad_requests_are_one_line_errors_and_write_nothing(
    run_cli: Cli, work: IncidentWork, tmp_path: Path
) -> None:
    out = tmp_path / "x.zip"
    args = (*work.evidence.desk.args, "--out", str(out))
    unknown = run_cli("export", "package", *args, "--incident", "SJ-2026-0042")
    assert unknown.code == 1 and unknown.err == "sijil: error: no incident SJ-2026-0042\n"
    malformed = run_cli("export", "package", *args, "--incident", "42")
    assert malformed.code == 1 and "is not an incident code" in malformed.err
    both = run_cli("export", "package", *args, "--incident", work.code, "--report", "1")
    assert both.code != 0 and "not both" in both.err
    # and a desk record no entry vouches for cannot be proven, so the export is refused
    with work.evidence.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(insert(EvidenceLink).values(
            incident_id=1, report_id=work.reports[1], attachment_id=None, role="primary",
            confidence="certain", created_at=utcnow(), created_by=1))  # fmt: skip
    unproven = run_cli("export", "package", *args, "--incident", work.code)
    assert unproven.code == 1 and unproven.err == (
        f"sijil: error: {work.code}: evidence link #3 has no ledger entry, so it cannot be "
        "proven; run 'sijil verify'\n"
    )
    assert not out.exists() and list(tmp_path.glob("*.zip")) == []
    with work.evidence.desk.home.open_store() as store, store.session() as session:
        assert session.scalars(select(LedgerEntry).filter_by(kind=EntryKind.EXPORTED)).all() == []


def test_an_incident_without_evidence_exports_its_record_alone(
    run_cli: Cli, evidence: Evidence, tmp_path: Path
) -> None:
    # Given a new incident, nothing linked to it yet
    with evidence.desk.home.open_store() as store:
        desk = Desk(store, clock=Clock(utcnow()))
        desk.users(amal="admin editor")
        code = desk.incident()
    # When exported
    package = tmp_path / "bare.zip"
    result = run_cli("export", "package", *evidence.desk.args, "--incident", code,
                     "--out", str(package))  # fmt: skip
    # Then it holds the record alone, and verifies
    assert result.code == 0, result.err
    assert f"incident {code} with 0 report(s)" in result.out
    checked = check_package(run_cli, evidence, package)
    assert checked.code == 0, checked.out
    assert f"incident {code}: 1 revision(s), 0 evidence link(s)" in checked.out


def test_the_standalone_verifier_keeps_the_desks_kinds_and_actions() -> None:
    # The verifier may import nothing from sijil, so it keeps copies: they must agree
    assert (verifier._USER_ACTION, verifier._ASSESSMENT) == (
        EntryKind.USER_ACTION, EntryKind.ASSESSMENT_CHANGED)  # fmt: skip
    assert (verifier._CREATED, verifier._EDITED, verifier._LINKED) == (
        Action.INCIDENT_CREATED, Action.INCIDENT_EDITED, Action.EVIDENCE_LINKED)  # fmt: skip
    assert (verifier._ATTRIBUTED, verifier._PROPOSED) == (
        Action.ATTRIBUTED, Action.ASSESSMENT_PROPOSED)  # fmt: skip
    assert verifier._REVIEWED == (Action.ASSESSMENT_APPROVED, Action.CHANGES_REQUESTED)
    assert verifier.NOT_INDEPENDENT == NOT_INDEPENDENT
