"""The claims board and sources over HTTP: read, link to an incident, rate, review, bad input.

Through Starlette's test client against the real app on both databases. Claims,
incidents and sources are made by the desk's own functions; the pages only call
them (sijil.desk.claims, verdicts, source_view).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import desk_with_evidence
from sijil.desk.claims import Killed, add_claim
from sijil.desk.incidents import create_incident
from sijil.desk.sources import add_source
from sijil.store.models_desk import Role
from web_helpers import WebDesk, csrf_of

ARABIC = 'lang="ar" dir="rtl"'


@pytest.fixture
def claims_web(
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> tuple[WebDesk, str, str]:
    """Raven's reports, an outlet's claim C-1 and incident; editor dima, reviewer rami, viewer sami."""
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk)
    web.add("dima", Role.EDITOR)
    web.add("rami", Role.REVIEWER)
    web.add("sami", Role.VIEWER)
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        add_source(session, "outlet", "sana", name_ar="سانا", by="dima")
        claim = add_claim(session, source="sana", title="Shelling kills six in the market",
                          body="Six civilians were killed.", killed=Killed(civilians=6),
                          by="dima")  # fmt: skip
        incident = create_incident(session, title_ar="قصف السوق", title_en="Market shelling",
                                   incident_type="shelling",
                                   start=datetime(2017, 6, 6, 4, 30, tzinfo=UTC),
                                   at="35.95,39.01", by="dima")  # fmt: skip
        token, code = f"C-{claim.id}", incident.code
    return web, token, code


def test_a_viewer_reads_the_board_and_a_claim_in_arabic(
    claims_web: tuple[WebDesk, str, str],
) -> None:
    web, token, _ = claims_web
    sami = web.session_for("sami")
    board = sami.get("/claims")
    assert board.status_code == 200 and ARABIC in board.text
    assert f'href="/claims/{token}"' in board.text and "غير مُقيَّم" in board.text
    shown = sami.get(f"/claims/{token}")
    assert shown.status_code == 200 and "Six civilians were killed." in shown.text
    # a viewer gets no form that would change the claim
    assert "/link" not in shown.text and "/verdict" not in shown.text


def test_an_editor_links_and_rates_a_claim_and_a_reviewer_approves_it(
    claims_web: tuple[WebDesk, str, str],
) -> None:
    web, token, code = claims_web
    dima = web.session_for("dima")
    page = dima.get(f"/claims/{token}")
    # When dima links it to the incident and proposes "false"
    linked = dima.post(f"/claims/{token}/link", data={"csrf": csrf_of(page.text), "incident": code})
    assert linked.status_code == 303
    rated = dima.post(
        f"/claims/{token}/verdict",
        data={"csrf": csrf_of(page.text), "rating": "false", "summary_ar": "لم يُقتل أحد في السوق.",
              "summary_en": "Nobody was killed in the market.", "evidence": "1, 2"},
    )  # fmt: skip
    assert rated.status_code == 303
    shown = dima.get(f"/claims/{token}")
    assert code in shown.text and "كاذب" in shown.text and "#1" in shown.text
    # And rami, a reviewer, approves it from the claim page
    rami = web.session_for("rami")
    page = rami.get(f"/claims/{token}")
    verdict = re.search(r'name="verdict" value="(V-\d+)"', page.text)
    assert verdict
    approved = rami.post(
        f"/claims/{token}/review",
        data={"csrf": csrf_of(page.text), "verdict": verdict.group(1), "decision": "approve"},
    )
    # Then the board shows the rating, and the outlet's track record counts it against it
    assert approved.status_code == 303
    assert "rating-false" in rami.get("/claims").text
    sources = rami.get("/sources?kind=outlet")
    assert "سانا" in sources.text
    row = re.search(r"سانا.*?</tr>", sources.text, re.S)
    assert row and re.findall(r"<bdi>(\d+)</bdi>", row.group(0)) == ["1", "0", "1", "1"]


def test_the_board_filters_by_source_and_incident(claims_web: tuple[WebDesk, str, str]) -> None:
    web, token, code = claims_web
    sami = web.session_for("sami")
    assert f"/claims/{token}" in sami.get("/claims?source=sana").text
    assert "لا ادعاءات مطابقة" in sami.get(f"/claims?incident={code}").text
    assert sami.get("/claims?source=nobody").status_code == 404


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/claims/{token}/link", {"incident": "SJ-2099-0001"}, 404),  # no such incident
        ("/claims/{token}/link", {"incident": "<script>"}, 400),
        ("/claims/{token}/link", {"incident": "SJ\u202e-1"}, 400),  # RTL override
        ("/claims/C-99999/link", {"incident": "SJ-2017-0001"}, 404),  # no such claim
        ("/claims/x1/link", {"incident": "SJ-2017-0001"}, 400),  # not a claim id
        ("/claims/{token}/verdict", {"rating": "true", "summary_ar": "a", "summary_en": "b"}, 400),
        ("/claims/{token}/verdict", {"rating": "false", "summary_ar": "", "summary_en": "b"}, 400),
        (
            "/claims/{token}/verdict",
            {"rating": "false", "summary_ar": "a" * 1300, "summary_en": "b"},
            400,
        ),
        (
            "/claims/{token}/verdict",
            {"rating": "false", "summary_ar": "a", "summary_en": "b", "evidence": "99999"},
            404,
        ),
        (
            "/claims/{token}/verdict",
            {"rating": "false", "summary_ar": "a", "summary_en": "b", "evidence": "one"},
            400,
        ),
    ],
)
def test_hostile_claim_forms_get_a_4xx_in_arabic(
    claims_web: tuple[WebDesk, str, str], path: str, fields: dict[str, str], status: int
) -> None:
    web, token, _ = claims_web
    dima = web.session_for("dima")
    page = dima.get("/claims")
    response = dima.post(path.format(token=token), data={"csrf": csrf_of(page.text), **fields})
    assert response.status_code == status, response.text
    assert ARABIC in response.text and 'role="alert"' in response.text


def test_a_review_of_another_claims_verdict_is_refused(
    claims_web: tuple[WebDesk, str, str],
) -> None:
    web, token, _ = claims_web
    rami = web.session_for("rami")
    page = rami.get("/claims")
    response = rami.post(
        f"/claims/{token}/review",
        data={"csrf": csrf_of(page.text), "verdict": "V-77", "decision": "approve"},
    )
    assert response.status_code == 400


def test_sources_show_the_correspondents_record_to_report_readers_only(
    claims_web: tuple[WebDesk, str, str],
) -> None:
    web, _, _ = claims_web
    dima = web.session_for("dima")
    listing = dima.get("/sources")
    assert listing.status_code == 200 and 'href="/sources/Raven"' in listing.text
    raven = dima.get("/sources/Raven")
    assert raven.status_code == 200 and "مراسل" in raven.text
    assert dima.get("/sources/nobody").status_code == 404
    assert dima.get("/sources?kind=spy").status_code == 400
    assert web.session_for("sami").get("/sources").status_code == 403
