"""Assessments and their review over HTTP: the casualty-range table, the review queue, the
two-person rule, solo desks, and hostile input; on both databases."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from incident_web_helpers import IncidentDesk, incident_desk, post
from sijil.desk.claims import add_claim
from sijil.desk.sources import add_source
from sijil.desk.users import set_solo
from sijil.desk.verdicts import propose_verdict
from sijil.store import Assessment, AssessmentReview, CasualtyRow

__all__ = ["incident_desk"]


def assessment_form(**changes: str) -> dict[str, str]:
    form = {
        "version": "1",
        "grading": "fair",
        "harm": "yes",
        "kind0": "killed:civilian:all",
        "min0": "7",
        "max0": "11",
        "kind1": "killed:civilian:child",
        "min1": "3",
        "max1": "5",
        "summary_ar": "قصف سوق الخضار وقت الذروة",
        "summary_en": "The vegetable market was struck at its busiest hour.",
    }
    return form | changes


def _propose(desk: IncidentDesk, by: str, code: str, **changes: str) -> int:
    made = post(desk.web.session_for(by), f"/incidents/{code}/assess", assessment_form(**changes))
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


def _held(desk: IncidentDesk) -> list[tuple[int, str | None]]:
    """Every assessment and its review's decision."""
    with desk.store() as store, store.session() as session:
        rows = session.execute(
            select(Assessment.id, AssessmentReview.decision)
            .outerjoin(AssessmentReview, AssessmentReview.assessment_id == Assessment.id)
            .order_by(Assessment.id)
        )
        return [(a, d) for a, d in rows]


@pytest.fixture
def code(incident_desk: IncidentDesk) -> str:
    return incident_desk.create(incident_desk.web.session_for("dima"))


def test_an_analyst_proposes_ranges_and_a_second_person_approves(
    incident_desk: IncidentDesk, code: str
) -> None:
    # Given nour, an analyst, proposes an assessment with two casualty ranges
    number = _propose(incident_desk, "nour", code)
    with incident_desk.store() as store, store.session() as session:
        counts = sorted(
            (c.person_group, c.min_count, c.max_count) for c in session.scalars(select(CasualtyRow))
        )
    assert counts == [("all", 7, 11), ("child", 3, 5)]
    page = incident_desk.web.session_for("nour").get(f"/assessments/{number}")
    assert page.status_code == 200 and "بانتظار المراجعة" in page.text
    assert re.search(r"<td>قتلى</td><td>مدنيون</td><td>أطفال</td>", page.text)
    # When rami, a reviewer, opens his queue and approves it
    rami = incident_desk.web.session_for("rami")
    queue = rami.get("/review")
    assert queue.status_code == 200 and f"A-{number}" in queue.text
    approved = post(rami, f"/assessments/{number}/review", {"decision": "approve", "comment": ""})
    # Then it is the incident's current assessment, and the queue is empty
    assert approved.status_code == 303 and approved.headers["location"] == "/review"
    assert incident_desk.incident(code)["grading"] == "fair"
    assert _held(incident_desk) == [(number, "approved")]
    assert "لا شيء ينتظر المراجعة" in rami.get("/review").text
    # and reviewing it again is a 409
    again = post(rami, f"/assessments/{number}/review", {"decision": "approve", "comment": ""})
    assert again.status_code == 409 and "رُوجع هذا التقييم من قبل" in again.text


def test_the_queue_never_shows_your_own_work_and_you_cannot_review_it(
    incident_desk: IncidentDesk, code: str
) -> None:
    # Given huda (editor and reviewer) proposed an assessment
    number = _propose(incident_desk, "huda", code)
    huda = incident_desk.web.session_for("huda")
    # Then her queue does not hold it, and her review of it is refused
    assert f"A-{number}" not in huda.get("/review").text
    assert "يجب أن يراجعه مراجع آخر" in huda.get(f"/assessments/{number}").text
    own = post(huda, f"/assessments/{number}/review", {"decision": "approve", "comment": ""})
    assert own.status_code == 403 and "أنت كاتب هذا التقييم" in own.text
    assert _held(incident_desk) == [(number, None)]
    # while rami sees it waiting
    assert f"A-{number}" in incident_desk.web.session_for("rami").get("/review").text


def test_sending_back_needs_a_comment(incident_desk: IncidentDesk, code: str) -> None:
    number = _propose(incident_desk, "nour", code)
    rami = incident_desk.web.session_for("rami")
    bare = post(rami, f"/assessments/{number}/review", {"decision": "changes", "comment": " "})
    assert bare.status_code == 400 and _held(incident_desk) == [(number, None)]
    back = {"decision": "changes", "comment": "the child count has no source"}
    assert post(rami, f"/assessments/{number}/review", back).status_code == 303
    assert _held(incident_desk) == [(number, "changes_requested")]
    assert incident_desk.incident(code)["grading"] is None
    page = rami.get(f"/assessments/{number}")
    assert "أُعيد للتعديل" in page.text and "the child count has no source" in page.text


def test_a_solo_desk_shows_your_own_work_and_marks_it_not_independent(
    incident_desk: IncidentDesk, code: str
) -> None:
    with incident_desk.store() as store, store.session(write=True) as session:
        set_solo(session)
    number = _propose(incident_desk, "huda", code)
    huda = incident_desk.web.session_for("huda")
    assert "عملك (مكتب فردي)" in huda.get("/review").text
    back = {"decision": "changes", "comment": "on second thought"}
    assert post(huda, f"/assessments/{number}/review", back).status_code == 400
    approved = post(huda, f"/assessments/{number}/review", {"decision": "approve", "comment": ""})
    assert approved.status_code == 303
    assert "مراجعة مستقلة" in huda.get(f"/incidents/{code}").text


def test_contradictory_ranges_come_back_with_their_message(
    incident_desk: IncidentDesk, code: str
) -> None:
    nour = incident_desk.web.session_for("nour")
    refused = post(nour, f"/incidents/{code}/assess", assessment_form(min1="12", max1="12"))
    assert refused.status_code == 400 and "نطاقات الضحايا متناقضة" in refused.text
    assert 'value="12"' in refused.text  # the table comes back as typed
    twice = assessment_form(kind1="killed:civilian:all", min1="1", max1="2")
    assert post(nour, f"/incidents/{code}/assess", twice).status_code == 400
    assert _held(incident_desk) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"min0": "seven"},
        {"min0": "-1"},
        {"max0": "12345678"},
        {"min0": "9", "max0": "3"},
        {"kind0": "killed:civilian:dog"},
        {"grading": "sure"},
        {"harm": ""},
        {"summary_en": ""},
        {"summary_ar": "نص\u202e"},
        {"version": "x"},
    ],
)
def test_hostile_assessment_fields_get_a_400(
    incident_desk: IncidentDesk, code: str, changes: dict[str, str]
) -> None:
    answer = post(incident_desk.web.session_for("nour"), f"/incidents/{code}/assess",
                  assessment_form(**changes))  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert "Traceback" not in answer.text and _held(incident_desk) == []


def test_an_assessment_of_an_older_version_is_a_409(incident_desk: IncidentDesk, code: str) -> None:
    dima = incident_desk.web.session_for("dima")
    form = {"version": "1", "lang": "en", "text": "Market strike"}
    assert post(dima, f"/incidents/{code}/translate", form).status_code == 303
    stale = post(incident_desk.web.session_for("nour"), f"/incidents/{code}/assess",
                 assessment_form(version="1"))  # fmt: skip
    assert stale.status_code == 409 and "غيّر أحدهم هذه الحادثة" in stale.text
    assert 'name="version" value="2"' in stale.text and _held(incident_desk) == []


def test_others_cannot_review_and_missing_assessments_are_404(
    incident_desk: IncidentDesk, code: str
) -> None:
    number = _propose(incident_desk, "nour", code)
    for who in ("sami", "dima", "nour"):
        client = incident_desk.web.session_for(who)
        assert client.get("/review").status_code == 403
        answer = post(client, f"/assessments/{number}/review",
                      {"decision": "approve", "comment": ""})  # fmt: skip
        assert answer.status_code == 403, who
    rami = incident_desk.web.session_for("rami")
    assert rami.get("/assessments/999").status_code == 404
    assert rami.get("/assessments/abc").status_code == 400
    missing = post(rami, "/assessments/999/review", {"decision": "approve", "comment": ""})
    assert missing.status_code == 404
    odd = post(rami, f"/assessments/{number}/review", {"decision": "maybe", "comment": ""})
    assert odd.status_code == 400
    assert _held(incident_desk) == [(number, None)]


def test_an_earlier_assessment_fills_the_form_to_be_proposed_again(
    incident_desk: IncidentDesk, code: str
) -> None:
    number = _propose(incident_desk, "nour", code)
    page = incident_desk.web.session_for("nour").get(f"/incidents/{code}/assess?from={number}")
    assert page.status_code == 200
    assert 'value="killed:civilian:child" selected' in page.text and 'value="11"' in page.text
    assert (
        incident_desk.web.session_for("nour").get(f"/incidents/{code}/assess?from=999").status_code
        == 404
    )


def _verdict_by(desk: IncidentDesk, author: str) -> tuple[str, str]:
    """An outlet's claim and a verdict on it proposed by ``author``: (claim, verdict)."""
    with desk.store() as store, store.session(write=True) as session:
        add_source(session, "outlet", "sana", name_ar="سانا", by="dima")
        claim = add_claim(session, source="sana", title="Shelling kills six in the market",
                          by="dima")  # fmt: skip
        verdict = propose_verdict(session, f"C-{claim.id}", rating="false",
                                  summary_ar="لم يُقتل أحد", summary_en="Nobody was killed.",
                                  by=author)  # fmt: skip
        return f"C-{claim.id}", f"V-{verdict.id}"


def test_the_queue_lists_verdicts_with_a_link_to_their_claim_never_your_own(
    incident_desk: IncidentDesk,
) -> None:
    # Given huda (reviewer and editor) proposed a verdict on a claim
    claim, verdict = _verdict_by(incident_desk, "huda")
    # When rami, another reviewer, opens the queue
    rami = incident_desk.web.session_for("rami")
    queue = rami.get("/review")
    # Then the verdict is there, rated, with a link to the claim page that holds the form
    assert queue.status_code == 200 and 'lang="ar"' in queue.text
    assert f'href="/claims/{claim}#verdicts"><bdi>{verdict}</bdi>' in queue.text
    assert "أحكام على الادعاءات" in queue.text and "<bdi>huda</bdi>" in queue.text
    assert f'name="verdict" value="{verdict}"' in rami.get(f"/claims/{claim}").text
    # and huda's own queue never holds it
    own = incident_desk.web.session_for("huda").get("/review")
    assert verdict not in own.text and "لا حكم بانتظار المراجعة." in own.text
    # When rami approves it from the claim page, it leaves the queue
    done = post(rami, f"/claims/{claim}/review",
                {"verdict": verdict, "decision": "approve", "comment": ""},
                csrf_page=f"/claims/{claim}")  # fmt: skip
    assert done.status_code == 303
    assert verdict not in rami.get("/review").text


def test_a_solo_desk_shows_your_own_verdict_marked(incident_desk: IncidentDesk) -> None:
    _, verdict = _verdict_by(incident_desk, "huda")
    with incident_desk.store() as store, store.session(write=True) as session:
        set_solo(session)
    queue = incident_desk.web.session_for("huda").get("/review")
    assert f"<bdi>{verdict}</bdi>" in queue.text and "عملك (مكتب فردي)" in queue.text
