"""Evidence, attribution, assessments and their two-person review, and their custody entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from desk_work_helpers import Desk
from sijil.crypto.canonical import canonical_json
from sijil.desk.actors import add_actor
from sijil.desk.assessments import NOT_INDEPENDENT, propose_assessment, review
from sijil.desk.casualties import parse_count
from sijil.desk.codes import assessment_token
from sijil.desk.evidence import attribute, link_report, link_reports, media_suggestions
from sijil.desk.incident_view import show_incident
from sijil.desk.incidents import IncidentChanges, edit_incident
from sijil.desk.users import set_solo
from sijil.errors import (
    CasualtyRangeError,
    DeskError,
    PermissionDenied,
    ReviewRefused,
    UnknownCode,
)
from sijil.ledger.entries import parse_entry
from sijil.store import Assessment, Attachment, IncidentRevision, LedgerEntry, MediaMatch, Store

COUNTS = ("killed:civilian:all=7-11", "killed:civilian:child=3-5", "injured:civilian:all=10-20")


@pytest.fixture
def desk(store: Store) -> Desk:
    d = Desk(store)
    d.users(amal="admin editor", badr="editor reviewer", dima="reviewer", omar="viewer")
    return d


Assess = Callable[..., str]


@pytest.fixture
def assess(desk: Desk) -> Assess:
    """Factory: propose an assessment of ``code`` as ``by``; returns its A- id."""

    def make(code: str, by: str = "amal", counts: tuple[str, ...] = COUNTS, **fields: str) -> str:
        values = {"grading": "fair", "harm": "yes", "summary_ar": "قصف سوق",
                  "summary_en": "A market was struck."} | fields  # fmt: skip
        with desk.tx() as s:
            made = propose_assessment(s, code, counts=[parse_count(c) for c in counts], by=by,
                                      clock=desk.clock, **values)  # fmt: skip
            return assessment_token(made.id)

    return make


def _entries(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    with store.session() as session:
        bodies = session.scalars(select(LedgerEntry.body).order_by(LedgerEntry.seq)).all()
    parsed = [parse_entry(b.encode()) for b in bodies]
    return [(str(e.kind), e.subject, e.data) for e in parsed]


# --- evidence and attribution ---------------------------------------------------------


def test_reports_are_linked_as_evidence_with_role_confidence_note_and_author(desk: Desk) -> None:
    code = desk.incident()
    photo, denial = desk.report("Photos of the market"), desk.report("Agency: a depot was hit")
    with desk.tx() as s:
        link_report(s, code, report_id=photo, attachment=0, role="primary", confidence="certain",
                    note="craters match the market stalls", by="badr", clock=desk.clock)  # fmt: skip
        link_report(s, code, report_id=denial, role="contradicting", confidence="maybe",
                    by="amal", clock=desk.clock)  # fmt: skip
    with desk.tx() as s:
        evidence = show_incident(s, code)["evidence"]
    assert [(e["report"], e["role"], e["confidence"], e["author"]) for e in evidence] == [
        (photo, "primary", "certain", "badr"),
        (denial, "contradicting", "maybe", "amal"),
    ]
    assert evidence[0]["attachment"] == {"position": 0, "name": "a.jpg"}
    with pytest.raises(DeskError, match="already evidence"), desk.tx() as s:
        link_report(s, code, report_id=denial, by="amal")
    with pytest.raises(UnknownCode, match="no report #999"), desk.tx() as s:
        link_report(s, code, report_id=999, by="amal")
    with pytest.raises(PermissionDenied), desk.tx() as s:
        link_report(s, code, report_id=photo, attachment=0, by="omar")
    linked = [d for kind, subject, d in _entries(desk.store) if d["action"] == "evidence.linked"]
    assert [(d["report"], d["role"]) for d in linked] == [
        (photo, "primary"),
        (denial, "contradicting"),
    ]
    assert linked[1]["note_sha256"] is None and isinstance(linked[0]["note_sha256"], str)


def test_media_matches_become_machine_suggestions_until_a_person_decides(desk: Desk) -> None:
    # Given the same photo in two reports, found by the media fingerprints
    first, second, third = desk.report(), desk.report(files=("b.jpg",)), desk.report()
    with desk.tx() as s:
        a = s.scalars(select(Attachment.id).where(Attachment.report_id == first)).one()
        b = s.scalars(select(Attachment.id).where(Attachment.report_id == second)).one()
        s.add(MediaMatch(attachment_id=b, other_id=a, kind="image", distance=6))
    # Then the pair is suggested, by a machine
    with desk.tx() as s:
        (suggestion,) = media_suggestions(s)
        assert suggestion.to_dict() == {
            "reports": [first, second], "kind": "near_duplicate", "origin": "machine",
            "state": "suggested",
            "basis": f"image match: b.jpg in #{second} looks like a.jpg in #{first} (distance 6)",
        }  # fmt: skip
        assert media_suggestions(s, [third]) == []
    # When a person rejects it, it is no longer suggested; a person's own link is confirmed
    with desk.tx() as s:
        rejected = link_reports(s, second, first, kind="near_duplicate", origin="machine",
                                state="rejected", by="badr", clock=desk.clock)  # fmt: skip
        assert (rejected.report_id, rejected.other_id, rejected.decided_by) == (first, second, 2)
        same = link_reports(s, third, first, kind="same_event", by="amal", clock=desk.clock)
        assert (same.origin, same.state) == ("human", "confirmed")
    with desk.tx() as s:
        assert media_suggestions(s) == []
    with pytest.raises(DeskError, match="cannot be linked to itself"), desk.tx() as s:
        link_reports(s, first, first, kind="duplicate", by="amal")


def test_an_incident_is_attributed_with_a_stance_and_its_basis(desk: Desk) -> None:
    code = desk.incident()
    with desk.tx() as s:
        add_actor(s, name_en="Syrian government", name_ar="الحكومة السورية",
                  aliases=["SAA", "regime"], by="amal")  # fmt: skip
        attribute(s, code, actor="regime", stance="denying", basis="State TV: a depot was hit",
                  by="badr", clock=desk.clock)  # fmt: skip
        attribute(s, code, actor="SAA", stance="suspected", basis="Only it flew that night",
                  by="badr", clock=desk.clock)  # fmt: skip
    with desk.tx() as s:
        shown = show_incident(s, code)["attributions"]
    assert [(a["actor"]["en"], a["stance"]) for a in shown] == [
        ("Syrian government", "denying"),
        ("Syrian government", "suspected"),
    ]
    with pytest.raises(ValueError, match="'blamed'"), desk.tx() as s:
        attribute(s, code, actor="SAA", stance="blamed", basis="x", by="badr")
    with pytest.raises(DeskError, match="on what basis"), desk.tx() as s:
        attribute(s, code, actor="SAA", stance="known", basis=" ", by="badr")


# --- assessments and review -----------------------------------------------------------


def test_an_assessment_counts_only_once_another_reviewer_approves_it(
    desk: Desk, assess: Assess
) -> None:
    code = desk.incident()
    # Given Amal proposes an assessment
    first = assess(code, by="amal")
    with desk.tx() as s:
        shown = show_incident(s, code)
    assert shown["current_assessment"] is None
    assert shown["assessments"][0]["status"] == "proposed"
    # When Dima, a reviewer, approves it
    with desk.tx() as s:
        review(s, first, approve=True, comment="checked with the hospital", by="dima",
               clock=desk.clock)  # fmt: skip
    # Then it is the incident's current assessment, with its reviewer and ranges
    with desk.tx() as s:
        current = show_incident(s, code)["current_assessment"]
    assert current == current | {
        "id": first, "grading": "fair", "harm": "yes", "author": "amal", "reviewed_by": "dima",
        "independently_reviewed": True, "review_mark": None,
        "summaries": {"ar": "قصف سوق", "en": "A market was struck."},
    }  # fmt: skip
    assert current["casualties"] == [
        {"outcome": "injured", "status": "civilian", "group": "all", "min": 10, "max": 20},
        {"outcome": "killed", "status": "civilian", "group": "all", "min": 7, "max": 11},
        {"outcome": "killed", "status": "civilian", "group": "child", "min": 3, "max": 5},
    ]
    with desk.tx() as s:
        assert s.get(Assessment, int(first[2:])) is not None
        (incident,) = [show_incident(s, code)]
    assert incident["version"] == 1  # a review is not an edit of the incident


def test_review_refuses_self_review_non_reviewers_second_reviews_and_silence(
    desk: Desk, assess: Assess
) -> None:
    code = desk.incident()
    own = assess(code, by="badr")
    with pytest.raises(ReviewRefused, match="badr wrote A-1 and cannot review it"), desk.tx() as s:
        review(s, own, approve=True, comment="fine", by="badr")
    with pytest.raises(PermissionDenied, match="amal needs the reviewer role"), desk.tx() as s:
        review(s, own, approve=True, comment="fine", by="amal")
    with pytest.raises(ReviewRefused, match="a comment is required"), desk.tx() as s:
        review(s, own, approve=False, comment=" ", by="dima")
    with desk.tx() as s:
        review(s, own, approve=False, comment="the child count needs a source", by="dima")
    with pytest.raises(ReviewRefused, match="already reviewed"), desk.tx() as s:
        review(s, own, approve=True, comment="ok now", by="dima")
    with pytest.raises(UnknownCode, match="V-3 is a verdict, not an assessment"), desk.tx() as s:
        review(s, "V-3", approve=True, comment="x", by="dima")
    with pytest.raises(UnknownCode, match="no assessment A-99"), desk.tx() as s:
        review(s, "A-99", approve=True, comment="x", by="dima")
    with desk.tx() as s:
        shown = show_incident(s, code)
    assert shown["current_assessment"] is None
    assert shown["assessments"][0]["status"] == "changes_requested"
    assert shown["assessments"][0]["review_comment"] == "the child count needs a source"


def test_an_older_assessment_cannot_replace_a_newer_current_one(desk: Desk, assess: Assess) -> None:
    code = desk.incident()
    older, newer = assess(code, grading="weak"), assess(code, grading="confirmed")
    with desk.tx() as s:
        review(s, newer, approve=True, comment="two sources", by="dima")
    with (
        pytest.raises(ReviewRefused, match="older than the current assessment A-2"),
        desk.tx() as s,
    ):
        review(s, older, approve=True, comment="fine", by="dima")
    with desk.tx() as s:
        assert show_incident(s, code)["current_assessment"]["grading"] == "confirmed"


def test_in_a_solo_desk_the_author_confirms_and_the_mark_travels(
    desk: Desk, assess: Assess
) -> None:
    with desk.tx() as s:
        set_solo(s, True)
    code = desk.incident(by="badr")
    own = assess(code, by="badr")
    with pytest.raises(ReviewRefused, match="propose a new assessment instead"), desk.tx() as s:
        review(s, own, approve=False, comment="hmm", by="badr")
    with desk.tx() as s:
        row = review(s, own, approve=True, comment="checked the photos myself", by="badr")
        assert row.independent is False
    with desk.tx() as s:
        current = show_incident(s, code)["current_assessment"]
    assert (current["reviewed_by"], current["independently_reviewed"]) == ("badr", False)
    assert current["review_mark"] == NOT_INDEPENDENT == "not independently reviewed"
    (approved,) = [d for _, _, d in _entries(desk.store) if d["action"] == "assessment.approved"]
    assert approved["independent"] is False


@pytest.mark.parametrize(
    ("counts", "fields", "message"),
    [
        (("killed:civilian:all=0-2", "killed:civilian:child=3"), {}, "at least 3 cannot be"),
        (("killed:civilian:all=3",), {"harm": "no"}, "contradicts a civilian count"),
        ((), {"summary_en": ""}, "needs an English summary"),
    ],
)
def test_an_inconsistent_assessment_is_refused_and_nothing_is_kept(
    desk: Desk, assess: Assess, counts: tuple[str, ...], fields: dict[str, str], message: str
) -> None:
    code = desk.incident()
    with pytest.raises(DeskError, match=message):
        assess(code, counts=counts, **fields)
    with desk.tx() as s:
        assert s.scalar(select(func.count()).select_from(Assessment)) == 0
    assert not [d for _, _, d in _entries(desk.store) if d["action"] == "assessment.proposed"]
    assert issubclass(CasualtyRangeError, DeskError)


# --- custody --------------------------------------------------------------------------


def test_every_change_is_a_ledger_entry_and_revisions_match_their_digests(
    desk: Desk, assess: Assess
) -> None:
    code = desk.incident()
    report = desk.report()
    with desk.tx() as s:
        edit_incident(s, code, if_version=1, by="badr", changes=IncidentChanges(date_prec=2))
        link_report(s, code, report_id=report, by="badr")
        add_actor(s, name_en="Coalition", name_ar="التحالف", by="amal")
        attribute(s, code, actor="Coalition", stance="claiming", basis="CENTCOM release", by="badr")
    token = assess(code)
    with desk.tx() as s:
        review(s, token, approve=True, comment="ok", by="dima")
    entries = _entries(desk.store)
    desk_entries = [(kind, subject, d["action"]) for kind, subject, d in entries
                    if d["action"] not in ("user.added",)]  # fmt: skip
    assert desk_entries == [
        ("user.action", code, "incident.created"),
        ("user.action", code, "incident.edited"),
        ("user.action", code, "evidence.linked"),
        ("user.action", "actor:1", "actor.added"),
        ("user.action", code, "incident.attributed"),
        ("assessment.changed", token, "assessment.proposed"),
        ("assessment.changed", token, "assessment.approved"),
    ]
    # the ledger holds digests, never the desk's text
    assert all("Raqqa" not in str(d) for _, _, d in entries)
    with desk.tx() as s:
        revs = s.scalars(select(IncidentRevision).order_by(IncidentRevision.version)).all()
        from_ledger = [d["revision_sha256"] for _, _, d in entries
                       if d["action"] in ("incident.created", "incident.edited")]  # fmt: skip
        assert [r.sha256 for r in revs] == from_ledger
        assert all(hashlib.sha256(r.data.encode()).hexdigest() == r.sha256 for r in revs)
        assert all(canonical_json(json.loads(r.data)) == r.data.encode()
                   for r in revs)  # fmt: skip
