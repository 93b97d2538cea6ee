"""Sources and their derived track records, on a small constructed desk (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from claims_helpers import ged_csv, ged_slice, report_by
from desk_work_helpers import Desk
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.claims import add_claim
from sijil.desk.evidence import link_report
from sijil.desk.monitors import import_ged
from sijil.desk.source_view import list_sources, show_source
from sijil.desk.sources import add_source
from sijil.desk.verdicts import propose_verdict, review_item
from sijil.errors import AmbiguousName, UnknownCode
from sijil.store import Store


class Work:
    """A desk's work, built step by step: incidents graded, reports linked, claims rated."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def incident(self, *gradings: str, approve: bool = True) -> str:
        """An incident whose assessments are proposed (and approved) in this order."""
        code = self.desk.incident()
        for grading in gradings:
            with self.desk.tx() as s:
                made = propose_assessment(s, code, grading=grading, harm="yes", summary_ar="س",
                                          summary_en="s", by="amal")  # fmt: skip
                if approve:
                    review(s, f"A-{made.id}", approve=True, comment="ok", by="dima")
        return code

    def link(self, report: int, code: str, role: str) -> None:
        with self.desk.tx() as s:
            link_report(s, code, report_id=report, role=role, by="amal")

    def claim(self, source: str, *ratings: str, approve: bool = True) -> str:
        """A claim by ``source`` with verdicts of these ratings, each approved in turn."""
        with self.desk.tx() as s:
            claim = f"C-{add_claim(s, source=source, title='A claim', by='amal').id}"
        for rating in ratings:
            self.rate(claim, rating, approve=approve)
        return claim

    def rate(self, claim: str, rating: str, *, approve: bool = True) -> None:
        with self.desk.tx() as s:
            verdict = propose_verdict(s, claim, rating=rating, summary_ar="س", summary_en="s",
                                      by="amal")  # fmt: skip
            if approve:
                review_item(s, f"V-{verdict.id}", approve=True, comment="ok", by="dima")


@pytest.fixture
def work(store: Store, corpus: Path) -> Work:
    desk = Desk(store)
    desk.users(amal="admin editor", dima="reviewer")
    w = Work(desk)
    fair, weak = w.incident("fair"), w.incident("weak")
    unreviewed = w.incident("confirmed", approve=False)
    discounted_now = w.incident("confirmed", "discounted")
    r1, r2, r3, r4, r5 = (report_by(desk, "raven") for _ in range(5))
    h1 = report_by(desk, "heron")
    w.link(r1, fair, "primary")  # corroborated
    w.link(r2, weak, "corroborating")  # a weak grading corroborates nothing
    w.link(r3, unreviewed, "contradicting")  # contradicted, whatever the grading
    w.link(r4, fair, "corroborating")  # corroborated, and counted once although it is
    w.link(r4, weak, "context")  # also context elsewhere
    w.link(r5, unreviewed, "primary")  # no current assessment: nothing
    w.link(h1, discounted_now, "primary")  # the current assessment counts, not an older one
    with desk.tx() as s:
        add_source(s, "outlet", "sana", name_ar="سانا", by="amal")
        add_source(s, "official", "Ministry of Defence", by="amal")
    w.claim("sana", "false")  # contradicted
    w.claim("sana", "misleading", approve=False)  # not reviewed: nothing
    w.claim("sana", "accurate", "false")  # the newest approved verdict counts
    w.claim("sana", "accurate")  # corroborated
    w.claim("sana", "unproven")  # neither
    w.claim("Ministry of Defence")
    header, rows = ged_slice(corpus, 2)
    with desk.tx() as s:
        import_ged(s, io.BytesIO(ged_csv(header, rows)), by="amal")
    return w


def _track(sources: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {s["name"]: s["track_record"] for s in sources}


def test_track_records_are_derived_from_the_desks_work(work: Work) -> None:
    with work.desk.store.session() as s:
        sources = list_sources(s)
    assert [(x["id"], x["kind"]) for x in sources] == [
        ("heron", "correspondent"), ("raven", "correspondent"), ("S-3", "monitor"),
        ("S-2", "official"), ("S-1", "outlet"),
    ]  # fmt: skip
    zero = {"reports": 0, "claims": 0, "records": 0}
    assert _track(sources) == {
        "raven": zero | {"items": 5, "reports": 5, "corroborated": 2, "contradicted": 1,
                         "claims_false_or_misleading": 0},
        "heron": zero | {"items": 1, "reports": 1, "corroborated": 0, "contradicted": 0,
                         "claims_false_or_misleading": 0},
        "sana": zero | {"items": 5, "claims": 5, "corroborated": 1, "contradicted": 2,
                        "claims_false_or_misleading": 2},
        "Ministry of Defence": zero | {"items": 1, "claims": 1, "corroborated": 0,
                                       "contradicted": 0, "claims_false_or_misleading": 0},
        "UCDP GED 19.1": zero | {"items": 2, "records": 2, "corroborated": 0, "contradicted": 0,
                                 "claims_false_or_misleading": 0},
    }  # fmt: skip


def test_a_new_verdict_changes_the_track_record_at_once(work: Work) -> None:
    # When the first claim, rated false, is re-rated accurate and approved
    work.rate("C-1", "accurate")
    # Then the outlet's record follows: nothing is a stored counter
    with work.desk.store.session() as s:
        sana = show_source(s, "sana")
    assert (sana["track_record"]["corroborated"], sana["track_record"]["contradicted"]) == (2, 1)
    assert sana["rated_claims"] == [
        {"claim": "C-1", "verdict": "V-7", "rating": "accurate"},
        {"claim": "C-3", "verdict": "V-4", "rating": "false"},
        {"claim": "C-4", "verdict": "V-5", "rating": "accurate"},
        {"claim": "C-5", "verdict": "V-6", "rating": "unproven"},
    ]


def test_show_gives_what_the_record_rests_on(work: Work) -> None:
    with work.desk.store.session() as s:
        raven, sana = show_source(s, "raven"), show_source(s, "S-1")
    assert [(e["report"], e["role"]) for e in raven["evidence"]] == [
        (1, "primary"), (2, "corroborating"), (3, "contradicting"), (4, "corroborating"),
        (4, "context"), (5, "primary"),
    ]  # fmt: skip
    assert [(c["claim"], c["rating"]) for c in sana["rated_claims"]] == [
        ("C-1", "false"), ("C-3", "false"), ("C-4", "accurate"), ("C-5", "unproven"),
    ]  # fmt: skip
    assert (sana["name_ar"], sana["created_by"]) == ("سانا", "amal")


def test_no_source_output_carries_a_correspondents_key(work: Work) -> None:
    with work.desk.store.session() as s:
        shown = json.dumps([list_sources(s), show_source(s, "raven"), show_source(s, "heron")])
    for secret in ("SIGNKEY", "REPLYKEY", "FINGERPRINT", "sign_key", "fingerprint"):
        assert secret not in shown


def test_sources_are_found_by_id_name_or_codename_and_never_guessed(work: Work) -> None:
    with work.desk.store.session() as s:
        assert show_source(s, "S-3")["name"] == "UCDP GED 19.1"
        assert show_source(s, "Ministry of Defence")["kind"] == "official"
        with pytest.raises(UnknownCode, match="no source S-99"):
            show_source(s, "S-99")
        with pytest.raises(UnknownCode, match="no source is called 'nobody'"):
            show_source(s, "nobody")
    with work.desk.tx() as s:
        add_source(s, "monitor", "sana", by="amal")
    with work.desk.store.session() as s, pytest.raises(AmbiguousName, match="give its S- id"):
        show_source(s, "sana")
