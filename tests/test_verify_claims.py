"""`sijil verify` checks sources, claims, claim links, verdicts, their reviews and monitor
records against the ledger, on SQLite and PostgreSQL.

Given a desk's claims work (FA-KES rows by two outlets, an official's claim linked to
an incident and rated false with evidence, approved; another verdict sent back; GED
records imported in batches of two), each test changes the database behind the
ledger's back and checks the audit names exactly what was done, one line each.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from claims_helpers import fakes_csv, fakes_row, ged_csv
from conftest import CliResult, Evidence
from desk_work_helpers import Clock, Desk, small_gazetteer
from sijil.desk.claims import Killed, add_claim, link_claim
from sijil.desk.claims_audit import audit_claims
from sijil.desk.fakes_import import import_fakes
from sijil.desk.monitors import GED_COLUMNS, import_ged
from sijil.desk.sources import add_source
from sijil.desk.verdicts import propose_verdict, review_verdict
from sijil.store import (
    Claim,
    ClaimIncident,
    ClaimVerdict,
    MonitorRecord,
    Source,
    Store,
    VerdictEvidence,
    VerdictReview,
    utcnow,
)

Cli = Callable[..., CliResult]


def _ged(number: int) -> list[str]:
    values = {"id": number, "type_of_violence": 1, "date_start": "2017-06-06",
              "date_end": "2017-06-06", "date_prec": 1, "where_prec": 1,
              "where_coordinates": f"P{number}", "adm_1": "Ar Raqqah Governorate", "adm_2": "",
              "latitude": 35.95, "longitude": 39.0, "side_a": "A", "side_b": "B", "deaths_a": 0,
              "deaths_b": 0, "deaths_civilians": number, "deaths_unknown": 0, "best": number,
              "low": number, "high": number}  # fmt: skip
    return [str(values[c]) for c in GED_COLUMNS]


@dataclass
class ClaimsWork:
    desk: Desk
    code: str
    monitor: int  # the monitor source's id


def claims_work(desk: Desk, corpus: Path, reports: list[int]) -> ClaimsWork:
    """Sources S-1 (MoD), S-2 sana, S-3 reuters, S-4 the monitor, S-5 (nothing said);
    claims C-1, C-2 (FA-KES), C-3 (MoD's, linked, V-1 false approved); V-2 on C-1 sent
    back; monitor records with external ids 11..15 in batches of 2, 2 and 1."""
    desk.users(amal="admin editor", dima="reviewer")
    desk.places(small_gazetteer(corpus))
    code = desk.incident()
    data = fakes_csv([fakes_row("1", source="sana", nb_civilians="0"),
                      fakes_row("2", source="reuters", location="idlib")])  # fmt: skip
    with desk.tx() as s:
        add_source(s, "official", "MoD", by="amal", clock=desk.clock)
        import_fakes(s, data, by="amal", clock=desk.clock)
        add_claim(s, source="MoD", title="Only a weapons depot was hit", place="SY11",
                  claim_date=date(2017, 6, 6), killed=Killed(civilians=0), by="amal",
                  clock=desk.clock)  # fmt: skip
        link_claim(s, "C-3", incident=code, by="amal", clock=desk.clock)
        rows = [_ged(n) for n in range(11, 16)]
        import_ged(s, io.BytesIO(ged_csv(GED_COLUMNS, rows)), by="amal", clock=desk.clock,
                   batch_size=2)  # fmt: skip
        add_source(s, "official", "Ministry of Information", by="amal", clock=desk.clock)
        propose_verdict(s, "C-3", rating="false", summary_ar="الصور تظهر السوق",
                        summary_en="The photos show the market.", evidence=reports, by="amal",
                        clock=desk.clock)  # fmt: skip
        review_verdict(s, "V-1", approve=True, comment="seen", by="dima", clock=desk.clock)
        propose_verdict(s, "C-1", rating="unproven", summary_ar="غير مثبت",
                        summary_en="Not shown either way.", by="amal", clock=desk.clock)  # fmt: skip
        review_verdict(s, "V-2", approve=False, comment="ask the hospital", by="dima",
                       clock=desk.clock)  # fmt: skip
        monitor = s.scalars(select(Source.id).where(Source.kind == "monitor")).one()
    return ClaimsWork(desk, code, monitor)


@pytest.fixture
def work(store: Store, corpus: Path) -> ClaimsWork:
    desk = Desk(store)
    return claims_work(desk, corpus, [desk.report("Market", ()), desk.report("Depot", ())])


def _problems(problems: list[str]) -> list[str]:
    return sorted(re.sub(r"ledger entry #\d+", "ledger entry #N", p) for p in problems)


def _audit(work: ClaimsWork) -> tuple[int, list[str]]:
    with work.desk.store.session() as s:
        checked = audit_claims(s)
    return checked.records, _problems(checked.problems)


def _forge(work: ClaimsWork, change: Callable[[Session, ClaimsWork], Any]) -> None:
    with work.desk.tx() as s:
        change(s, work)


def test_honest_claims_work_passes_the_audit(work: ClaimsWork) -> None:
    # 5 sources, 3 claims, 1 claim link, 2 verdicts, 2 reviews, 5 monitor records
    assert _audit(work) == (18, [])


def _recomputed(s: Session, w: ClaimsWork) -> None:
    # a record's deaths changed and its stored digest recomputed to match: only the
    # batch's digest, in the ledger, still shows it
    from sijil.desk.monitors import record_digest

    row = s.scalars(select(MonitorRecord).where(MonitorRecord.external_id == 13)).one()
    row.best = 40
    row.row_sha256 = record_digest(row)


CHANGED = "differs from its ledger entry #N"
DIFFER = "differ from its ledger entry #N"
SAYS = "what it says (title, text, date, place, actor or numbers) " + CHANGED
MISSING = "recorded in ledger entry #N, but its record is missing"
UNRECORDED = "no ledger entry records it"
BATCH2 = "monitor batch 2 of S-{m} (external ids 13 to 14)"


def _claim(number: int, **values: Any) -> Callable[[Session, ClaimsWork], Any]:
    return lambda s, w: s.execute(update(Claim).where(Claim.id == number).values(**values))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(_claim(3, title="A school was hit"), ["claim C-3: " + SAYS], id="claim-title"),
        pytest.param(_claim(1, killed_civilians=7), ["claim C-1: " + SAYS], id="claim-number"),
        pytest.param(_claim(2, content_sha256="0" * 64),
                     ["claim C-2: field 'content_sha256' " + CHANGED], id="claim-digest"),
        pytest.param(_claim(1, governorate="SY02"),
                     ["claim C-1: field 'governorate' is not its place's"], id="claim-governorate"),
        pytest.param(_claim(3, created_by=2), ["claim C-3: field 'created_by' " + CHANGED],
                     id="claim-author"),
        pytest.param(_claim(3, source_id=2),
                     ["claim C-3: field 'source' " + CHANGED, "claim C-3: " + SAYS],
                     id="claim-source"),
        pytest.param(lambda s, w: s.execute(update(Source).where(Source.name == "MoD")
                                            .values(kind="outlet")),
                     ["source S-1 (MoD): field 'kind' " + CHANGED], id="source-kind"),
        pytest.param(lambda s, w: s.execute(update(ClaimIncident).values(created_by=2)),
                     ["claim link #1 (C-3 to {code}): field 'created_by' " + CHANGED],
                     id="claim-link-author"),
        pytest.param(lambda s, w: s.execute(update(ClaimVerdict).where(ClaimVerdict.id == 1)
                                            .values(rating="accurate")),
                     ["verdict V-1 (C-3): its rating, summaries or evidence " + DIFFER],
                     id="verdict-rating"),
        pytest.param(lambda s, w: s.execute(delete(VerdictEvidence).where(
                         VerdictEvidence.verdict_id == 1, VerdictEvidence.report_id == 2)),
                     ["verdict V-1 (C-3): its rating, summaries or evidence " + DIFFER],
                     id="verdict-evidence"),
        pytest.param(lambda s, w: s.execute(update(VerdictReview).where(VerdictReview.id == 2)
                                            .values(decision="approved")),
                     ["review #2 of V-2 (C-1): field 'decision' " + CHANGED], id="review-decision"),
        pytest.param(lambda s, w: s.execute(update(VerdictReview).where(VerdictReview.id == 1)
                                            .values(reviewer_id=1, independent=False)),
                     ["review #1 of V-1 (C-3): field 'independent' " + CHANGED,
                      "review #1 of V-1 (C-3): field 'reviewer' " + CHANGED], id="review-reviewer"),
        pytest.param(lambda s, w: s.execute(update(MonitorRecord)
                                            .where(MonitorRecord.external_id == 13)
                                            .values(deaths_civilians=0)),
                     ["monitor record #3 (S-{m}, external id 13): its values " + DIFFER],
                     id="monitor-record"),
        pytest.param(_recomputed, [BATCH2 + ": its records differ from ledger entry #N"],
                     id="monitor-record-and-digest"),
    ],
)  # fmt: skip
def test_a_record_changed_behind_the_ledgers_back_is_named(
    work: ClaimsWork, change: Callable[[Session, ClaimsWork], Any], named: list[str]
) -> None:
    # Given one change made in SQL, when audited, then exactly that is named
    _forge(work, change)
    assert _audit(work)[1] == sorted(n.format(code=work.code, m=work.monitor) for n in named)


def _delete_verdict(s: Session, w: ClaimsWork) -> None:
    for table in (VerdictReview, VerdictEvidence):
        s.execute(delete(table).where(table.verdict_id == 1))
    s.execute(delete(ClaimVerdict).where(ClaimVerdict.id == 1))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(lambda s, w: s.execute(delete(ClaimIncident)),
                     ["claim link #1 (C-3 to {code}): " + MISSING], id="claim-link"),
        pytest.param(lambda s, w: s.execute(delete(VerdictReview).where(VerdictReview.id == 1)),
                     ["review #1 of V-1 (C-3): " + MISSING], id="review"),
        pytest.param(_delete_verdict, ["verdict V-1 (C-3): " + MISSING,
                                       "review #1 of V-1 (C-3): " + MISSING], id="verdict"),
        pytest.param(lambda s, w: s.execute(delete(Claim).where(Claim.id == 2)),
                     ["claim C-2: " + MISSING], id="claim"),
        pytest.param(lambda s, w: s.execute(delete(Source).where(Source.id == 5)),
                     ["source S-5: " + MISSING], id="source"),
        pytest.param(lambda s, w: s.execute(delete(MonitorRecord)
                                            .where(MonitorRecord.external_id == 14)),
                     [BATCH2 + ": 2 records in ledger entry #N, 1 in the database"],
                     id="monitor-record"),
        pytest.param(lambda s, w: s.execute(delete(MonitorRecord)
                                            .where(MonitorRecord.external_id == 15)),
                     ["monitor batch 3 of S-{m} (external ids 15 to 15): recorded in ledger "
                      "entry #N, but its records are missing"], id="monitor-batch"),
    ],
)  # fmt: skip
def test_a_record_deleted_whose_entry_remains_is_named(
    work: ClaimsWork, change: Callable[[Session, ClaimsWork], Any], named: list[str]
) -> None:
    _forge(work, change)
    assert _audit(work)[1] == sorted(n.format(code=work.code, m=work.monitor) for n in named)


def _monitor_row(s: Session, w: ClaimsWork) -> None:
    row = s.scalars(select(MonitorRecord).where(MonitorRecord.external_id == 15)).one()
    values = {c.name: getattr(row, c.name) for c in MonitorRecord.__table__.columns}
    s.execute(insert(MonitorRecord).values(values | {"id": 99, "external_id": 999}))


def _verdict_rows(s: Session, w: ClaimsWork) -> None:
    now = utcnow()
    s.execute(insert(ClaimVerdict).values(id=3, claim_id=2, rating="accurate", summary_ar="ص",
                                          summary_en="right", created_at=now, author_id=1))  # fmt: skip
    s.execute(insert(VerdictReview).values(id=3, verdict_id=3, reviewer_id=2, decision="approved",
                                           comment="", independent=True, created_at=now))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(lambda s, w: s.execute(insert(Claim).values(
            id=9, source_id=2, title="t", body="", lang="en", content_sha256="0" * 64,
            created_at=utcnow(), created_by=1)), ["claim C-9: " + UNRECORDED], id="claim"),
        pytest.param(lambda s, w: s.execute(insert(ClaimIncident).values(
            claim_id=1, incident_id=1, created_at=utcnow(), created_by=1)),
            ["claim link #2 (C-1 to {code}): " + UNRECORDED], id="claim-link"),
        pytest.param(_verdict_rows, ["verdict V-3 (C-2): " + UNRECORDED,
                                     "review #3 of V-3 (C-2): " + UNRECORDED], id="verdict"),
        pytest.param(lambda s, w: s.execute(insert(Source).values(
            kind="outlet", name="rudaw", created_at=utcnow(), created_by=1)),
            ["source S-6 (rudaw): " + UNRECORDED], id="source"),
        pytest.param(_monitor_row, ["monitor record #99 (S-{m}, external id 999): " + UNRECORDED],
                     id="monitor-record"),
    ],
)  # fmt: skip
def test_a_row_with_no_entry_is_named(
    work: ClaimsWork, change: Callable[[Session, ClaimsWork], Any], named: list[str]
) -> None:
    _forge(work, change)
    assert _audit(work)[1] == sorted(n.format(code=work.code, m=work.monitor) for n in named)


def test_sijil_verify_checks_claims_work_on_a_desk_with_real_evidence(
    evidence: Evidence, run_cli: Cli, corpus: Path
) -> None:
    # Given claims work on a desk that imported real reports, rated with two of them
    with evidence.desk.home.open_store() as store:
        desk = Desk(store, clock=Clock(utcnow()))
        reports = [o.report_id for o in evidence.outcomes if o.report_id is not None][:2]
        work = claims_work(desk, corpus, reports)
    # When verified, then it passes
    honest = run_cli("verify", *evidence.desk.args)
    assert honest.code == 0, honest.out
    # and when the false claim's verdict is turned into "accurate" behind the ledger's back
    with evidence.desk.home.open_store() as store, store.session(write=True) as s:
        s.execute(update(ClaimVerdict).where(ClaimVerdict.id == 1).values(rating="accurate"))
    forged = run_cli("verify", *evidence.desk.args)
    # Then that verdict is named, and only it
    assert forged.code == 1
    lines = [line for line in forged.out.splitlines() if line.startswith("PROBLEM")]
    assert _problems(lines) == [
        f"PROBLEM  verdict V-1 (C-3): its rating, summaries or evidence {DIFFER}"
    ]
    assert work.code.startswith("SJ-")
