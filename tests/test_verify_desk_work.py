"""`sijil verify` checks desk work as it checks intake, on SQLite and PostgreSQL.

Given a desk that imported real reports and did a night's work on them (an
incident edited once, two evidence links, a report link, an attribution, an
approved assessment and one sent back), each test changes the database behind
the ledger's back (a field updated, a record deleted, a row added with no
entry) and checks the audit names exactly what was done, one line each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from conftest import CliResult, Evidence
from desk_work_helpers import Clock
from incident_work import IncidentWork, incident_work
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.desk_audit import audit_desk_work
from sijil.desk.users import set_solo
from sijil.ledger.entries import parse_entry
from sijil.store import (
    Assessment,
    AssessmentReview,
    Attribution,
    CasualtyRow,
    DeskSetting,
    DeskUserRole,
    EvidenceLink,
    Incident,
    IncidentRevision,
    LedgerEntry,
    ReportLink,
    utcnow,
)

Cli = Callable[..., CliResult]


@pytest.fixture
def work(evidence: Evidence) -> IncidentWork:
    return incident_work(evidence)


def _verify(run_cli: Cli, work: IncidentWork) -> CliResult:
    return run_cli("verify", *work.evidence.desk.args)


def _problems(result: CliResult) -> list[str]:
    """The PROBLEM lines, with entry numbers as #N."""
    return sorted(
        re.sub(r"ledger entry #\d+", "ledger entry #N", line.removeprefix("PROBLEM  "))
        for line in result.out.splitlines()
        if line.startswith("PROBLEM  ")
    )


def _forge(work: IncidentWork, change: Callable[[Session, IncidentWork], None]) -> None:
    with work.evidence.desk.home.open_store() as store, store.session(write=True) as session:
        change(session, work)


def _desk_records(work: IncidentWork) -> tuple[int, list[str]]:
    with work.evidence.desk.home.open_store() as store, store.session() as session:
        checked = audit_desk_work(session)
    return checked.records, checked.problems


def test_an_honest_desk_with_incidents_assessments_and_reviews_passes(
    run_cli: Cli, work: IncidentWork
) -> None:
    # Given the night's work: 2 revisions of an incident, 2 evidence links, an
    # attribution, a report link, 2 assessments, 2 reviews, by 4 users
    before = _verify(run_cli, work)
    assert before.code == 0, before.out
    assert _desk_records(work) == (15, [])
    # and then a solo desk whose author confirms their own assessment
    with work.evidence.desk.home.open_store() as store, store.session(write=True) as session:
        clock = Clock(utcnow())
        set_solo(session, True, clock=clock)
        mine = propose_assessment(session, work.code, grading="weak", harm="unknown",
                                  summary_ar="ملخص", summary_en="One source.", by="badr",
                                  clock=clock)  # fmt: skip
        review(session, f"A-{mine.id}", approve=True, comment="", by="badr", clock=clock)
    # When audited
    after = _verify(run_cli, work)
    # Then it passes, with the setting, the assessment and its review checked too
    assert after.code == 0, after.out
    assert "OK: nothing lost, nothing altered" in after.out
    assert _desk_records(work) == (18, [])


def test_an_edited_title_is_named_with_the_entry_of_the_incidents_version(
    run_cli: Cli, work: IncidentWork
) -> None:
    # Given the English title changed in SQL, the version left as it was
    _forge(work, lambda s, w: s.execute(
        update(Incident).where(Incident.code == w.code).values(title_en="Only a weapons depot")))  # fmt: skip
    # When audited
    result = _verify(run_cli, work)
    # Then the field is named, with the entry of version 2 (the edit)
    with work.evidence.desk.home.open_store() as store, store.session() as session:
        bodies = session.scalars(select(LedgerEntry.body).where(LedgerEntry.subject == work.code))
        edited = [e for e in map(lambda b: parse_entry(b.encode()), bodies)
                  if e.data.get("action") == "incident.edited"]  # fmt: skip
    assert result.code == 1
    assert [line for line in result.out.splitlines() if line.startswith("PROBLEM")] == [
        f"PROBLEM  incident {work.code}: field 'title_en' differs from its ledger entry "
        f"#{edited[0].seq}"
    ]
    assert result.err.startswith("sijil: error: 1 problem(s) found")


def _casualties(s: Session, w: IncidentWork) -> Any:
    return s.execute(
        update(CasualtyRow)
        .where(CasualtyRow.assessment_id == 1, CasualtyRow.outcome == "killed",
               CasualtyRow.person_group == "all")
        .values(max_count=40)
    )  # fmt: skip


def _revision_data(s: Session, w: IncidentWork) -> Any:
    return s.execute(
        update(IncidentRevision)
        .where(IncidentRevision.version == 1)
        .values(data=func.replace(IncidentRevision.data, "Raqqa", "Tabqa"))
    )


def _user_role(s: Session, w: IncidentWork) -> Any:
    # omar, a viewer, made a reviewer
    return s.execute(insert(DeskUserRole).values(user_id=4, role="reviewer"))


CHANGED = "differs from its ledger entry #N"
CONTENT = "its grading, harm, casualties or summaries differ from its ledger entry #N"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(
            lambda s, w: s.execute(update(Incident).values(title_en="x", version=3)),
            ["incident {code}: no ledger entry records its version 3"], id="version-bumped"),
        pytest.param(
            lambda s, w: s.execute(update(Incident).values(state="published")),
            ["incident {code}: field 'state' " + CHANGED], id="incident-state"),
        pytest.param(
            lambda s, w: s.execute(update(Incident).values(grading="confirmed")),
            ["incident {code}: field 'grading' differs from its current assessment A-1"],
            id="incident-grading"),
        pytest.param(
            lambda s, w: s.execute(update(Incident).values(current_assessment_id=2)),
            ["incident {code}: field 'current_assessment' " + CHANGED], id="current-assessment"),
        pytest.param(
            _revision_data, ["incident {code} revision 1: its data differs from its ledger entry #N"],
            id="revision-data"),
        pytest.param(_casualties, ["assessment A-1 ({code}): " + CONTENT], id="casualty-number"),
        pytest.param(
            lambda s, w: s.execute(update(Assessment).where(Assessment.id == 1)
                                   .values(grading="confirmed")),
            ["assessment A-1 ({code}): " + CONTENT], id="assessment-grading"),
        pytest.param(
            lambda s, w: s.execute(update(Assessment).where(Assessment.id == 2).values(author_id=3)),
            ["assessment A-2 ({code}): field 'author' " + CHANGED], id="assessment-author"),
        pytest.param(
            lambda s, w: s.execute(update(EvidenceLink).where(EvidenceLink.id == 1)
                                   .values(role="context")),
            ["evidence link #1 (report #{r0} for {code}): field 'role' " + CHANGED],
            id="evidence-role"),
        pytest.param(
            lambda s, w: s.execute(update(EvidenceLink).where(EvidenceLink.id == 2)
                                   .values(note="seen by the hospital")),
            ["evidence link #2 (report #{r1} for {code}): field 'note' " + CHANGED],
            id="evidence-note"),
        pytest.param(
            lambda s, w: s.execute(update(Attribution).values(stance="known")),
            ["attribution #1 ({code}): field 'stance' " + CHANGED], id="attribution-stance"),
        pytest.param(
            lambda s, w: s.execute(update(AssessmentReview).where(AssessmentReview.id == 2)
                                   .values(decision="approved")),
            ["review #2 of A-2 ({code}): field 'decision' " + CHANGED], id="review-decision"),
        pytest.param(
            lambda s, w: s.execute(update(AssessmentReview).where(AssessmentReview.id == 1)
                                   .values(reviewer_id=1, comment="fine")),
            ["review #1 of A-1 ({code}): field 'comment' " + CHANGED,
             "review #1 of A-1 ({code}): field 'reviewer' " + CHANGED], id="review-reviewer"),
        pytest.param(
            lambda s, w: s.execute(update(ReportLink).values(state="rejected")),
            ["report link #1 (reports #{low} and #{high}, same_event): field 'state' " + CHANGED],
            id="report-link-state"),
        pytest.param(_user_role, ["desk user #4 (omar): field 'roles' " + CHANGED], id="user-role"),
        pytest.param(
            lambda s, w: s.execute(insert(DeskSetting).values(name="solo", value="true",
                                                              updated_at=utcnow())),
            ["desk setting 'solo': no ledger entry records it"], id="solo-setting"),
    ],
)  # fmt: skip
def test_a_record_changed_behind_the_ledgers_back_is_named(
    run_cli: Cli,
    work: IncidentWork,
    change: Callable[[Session, IncidentWork], None],
    named: list[str],
) -> None:
    # Given one change made in SQL
    _forge(work, change)
    # When audited
    result = _verify(run_cli, work)
    # Then exactly that is named
    low, high = sorted(work.reports)
    values = {"code": work.code, "r0": work.reports[0], "r1": work.reports[1], "low": low,
              "high": high}  # fmt: skip
    assert result.code == 1
    assert _problems(result) == sorted(line.format(**values) for line in named)


def _delete_incident(s: Session, w: IncidentWork) -> None:
    s.execute(update(Incident).values(current_assessment_id=None))
    for table in (AssessmentReview, CasualtyRow, Assessment, EvidenceLink, Attribution,
                  IncidentRevision, Incident):  # fmt: skip
        s.execute(delete(table))


def _delete_assessment(s: Session, w: IncidentWork) -> None:
    for table in (AssessmentReview, CasualtyRow, Assessment):
        column = table.assessment_id if table is not Assessment else Assessment.id
        s.execute(delete(table).where(column == 2))


MISSING = "recorded in ledger entry #N, but its record is missing"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(
            lambda s, w: s.execute(delete(EvidenceLink).where(EvidenceLink.id == 2)),
            ["evidence link #2 (report #{r1} for {code}): " + MISSING], id="evidence-link"),
        pytest.param(
            lambda s, w: s.execute(delete(AssessmentReview).where(AssessmentReview.id == 1)),
            ["review #1 of A-1 ({code}): " + MISSING], id="review"),
        pytest.param(
            _delete_assessment,
            ["assessment A-2 ({code}): " + MISSING, "review #2 of A-2 ({code}): " + MISSING],
            id="assessment-with-its-review"),
        pytest.param(
            _delete_incident,
            ["incident {code}: created in ledger entry #N, but its record is missing",
             "incident {code} revision 1: " + MISSING, "incident {code} revision 2: " + MISSING,
             "evidence link #1 (report #{r0} for {code}): " + MISSING,
             "evidence link #2 (report #{r1} for {code}): " + MISSING,
             "attribution #1 ({code}): " + MISSING,
             "assessment A-1 ({code}): " + MISSING, "assessment A-2 ({code}): " + MISSING,
             "review #1 of A-1 ({code}): " + MISSING, "review #2 of A-2 ({code}): " + MISSING],
            id="whole-incident"),
    ],
)  # fmt: skip
def test_a_record_deleted_whose_entry_remains_is_named(
    run_cli: Cli,
    work: IncidentWork,
    change: Callable[[Session, IncidentWork], None],
    named: list[str],
) -> None:
    _forge(work, change)
    result = _verify(run_cli, work)
    values = {"code": work.code, "r0": work.reports[0], "r1": work.reports[1]}
    assert result.code == 1
    assert _problems(result) == sorted(line.format(**values) for line in named)


def _forged_approval(s: Session, w: IncidentWork) -> None:
    # an assessment and an approval written straight into the tables, made current
    incident = s.scalars(select(Incident)).one()
    now = utcnow()
    s.execute(insert(Assessment).values(
        id=3, incident_id=incident.id, grading="confirmed", harm="yes", summary_ar="س",
        summary_en="s", incident_version=2, created_at=now, author_id=2))  # fmt: skip
    s.execute(insert(AssessmentReview).values(
        id=3, assessment_id=3, reviewer_id=3, decision="approved", comment="", independent=True,
        created_at=now))  # fmt: skip
    s.execute(update(Incident).values(current_assessment_id=3, grading="confirmed"))


def _unlogged_incident(s: Session, w: IncidentWork) -> None:
    now = utcnow()
    s.execute(insert(Incident).values(
        id=99, code="SJ-2026-0099", title_ar="ع", title_en="e", incident_type="other",
        state="draft", start_at=now, date_prec=1, lat_e6=1, lon_e6=1, where_prec=1, version=1,
        created_at=now, created_by=1, updated_at=now, updated_by=1))  # fmt: skip
    s.execute(insert(IncidentRevision).values(
        incident_id=99, version=1, data="{}", sha256="0" * 64, saved_at=now, saved_by=1))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(
            lambda s, w: s.execute(insert(EvidenceLink).values(
                incident_id=1, report_id=w.reports[1], attachment_id=None, role="primary",
                confidence="certain", created_at=utcnow(), created_by=1)),
            ["evidence link #3 (report #{r1} for {code}): no ledger entry records it"],
            id="evidence-link"),
        pytest.param(
            _forged_approval,
            ["assessment A-3 ({code}): no ledger entry records it",
             "review #3 of A-3 ({code}): no ledger entry records it",
             "incident {code}: field 'current_assessment' " + CHANGED],
            id="forged-approval"),
        pytest.param(
            _unlogged_incident,
            ["incident SJ-2026-0099: no ledger entry records it",
             "incident SJ-2026-0099 revision 1: no ledger entry records it"],
            id="incident"),
    ],
)  # fmt: skip
def test_a_row_with_no_entry_is_named(
    run_cli: Cli,
    work: IncidentWork,
    change: Callable[[Session, IncidentWork], None],
    named: list[str],
) -> None:
    _forge(work, change)
    result = _verify(run_cli, work)
    values = {"code": work.code, "r1": work.reports[1]}
    assert result.code == 1
    assert _problems(result) == sorted(line.format(**values) for line in named)
