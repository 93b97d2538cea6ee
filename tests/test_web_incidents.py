"""The incident editor over HTTP: create, edit under the optimistic lock, evidence through
search, attribution, the place picker, history with differences, the translation view.

Through Starlette's test client against the real app on both databases; each
test checks the answer and what the database holds after.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from incident_web_helpers import IncidentDesk, incident_desk, new_incident_form, post
from sijil.store import ActivityEntry, Attribution, EvidenceLink, Incident

__all__ = ["incident_desk"]

ARABIC_PAGE = re.compile(r'<html lang="ar" dir="rtl">')


def _count(desk: IncidentDesk, model: type) -> int:
    with desk.store() as store, store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _actions(desk: IncidentDesk) -> list[str]:
    with desk.store() as store, store.session() as session:
        return list(session.scalars(select(ActivityEntry.action).order_by(ActivityEntry.seq)))


def test_an_editor_creates_an_incident_at_a_place_picked_from_the_gazetteer(
    incident_desk: IncidentDesk,
) -> None:
    # Given dima, an editor, and the place picker's answer for "raqqa"
    dima = incident_desk.web.session_for("dima")
    options = dima.get("/places/pick", params={"place": "الرقة"}, headers={"HX-Request": "true"})
    assert options.status_code == 200 and "<html" not in options.text
    token = re.search(r'<option value="(P-\d+)">الرقة · Ar-Raqqa</option>', options.text)
    assert token, options.text
    # When she saves a new incident at that place
    made = post(dima, "/incidents/new", new_incident_form(place=token.group(1), at=""))
    # Then it is a draft at version 1, placed there, and its page shows both titles
    assert made.status_code == 303
    code = made.headers["location"].rsplit("/", 1)[1]
    held = incident_desk.incident(code)
    assert held["version"] == 1 and held["state"] == "draft"
    assert held["place_id"] == int(token.group(1)[2:])
    page = dima.get(f"/incidents/{code}")
    assert page.status_code == 200 and ARABIC_PAGE.search(page.text)
    assert 'lang="ar" dir="rtl">غارة على سوق الخضار في الرقة' in page.text
    assert 'lang="en" dir="ltr">Airstrike on the Raqqa vegetable market' in page.text
    assert "incident.create" in _actions(incident_desk)


def test_an_ambiguous_place_comes_back_with_its_message_and_nothing_saved(
    incident_desk: IncidentDesk,
) -> None:
    dima = incident_desk.web.session_for("dima")
    refused = post(dima, "/incidents/new", new_incident_form(place="Raqqa", at=""))
    assert refused.status_code == 400
    assert "هذا الاسم يطابق عدة أماكن" in refused.text
    assert 'value="Raqqa"' in refused.text  # what she typed is still there
    assert re.search(r'<li><bdi>P-\d+</bdi> <span lang="ar" dir="rtl">الرقة</span>', refused.text)
    assert _count(incident_desk, Incident) == 0


def test_a_stale_version_is_a_plain_409_and_the_first_save_stands(
    incident_desk: IncidentDesk,
) -> None:
    # Given an incident both dima and huda opened at version 1
    dima, huda = incident_desk.web.session_for("dima"), incident_desk.web.session_for("huda")
    code = incident_desk.create(dima)
    first = new_incident_form(title_en="Strike on the market") | {"version": "1", "state": "draft"}
    second = new_incident_form(title_en="Shelling of the market") | {
        "version": "1",
        "state": "draft",
    }
    # When dima saves first, then huda saves over the same version
    assert post(dima, f"/incidents/{code}/edit", first).status_code == 303
    late = post(huda, f"/incidents/{code}/edit", second)
    # Then huda gets a 409 saying so, in Arabic, with both versions side by side
    assert late.status_code == 409
    assert "حفظ شخص آخر هذه الحادثة قبلك" in late.text
    assert "Strike on the market" in late.text and "Shelling of the market" in late.text
    assert 'name="version" value="2"' in late.text
    held = incident_desk.incident(code)
    assert held["version"] == 2 and held["title_en"] == "Strike on the market"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"title_en": "x" * 501}, 400),  # oversized
        ({"title_ar": "\u202eغارة"}, 400),  # a right-to-left override
        ({"type": "bombing"}, 400),  # not one of the choices
        ({"start": "yesterday"}, 400),  # wrong type
        ({"start": "2017-06-06", "end": "2017-06-01"}, 400),  # ends before it starts
        ({"date_prec": "9"}, 400),
        ({"at": "95,39"}, 400),  # off the globe
        ({"at": "", "place": ""}, 400),  # nowhere
        ({"title_en": "   "}, 400),
        ({"title_en": "x" * 20_000}, 413),  # more than a form may carry
    ],
)
def test_hostile_incident_fields_get_a_4xx_never_a_500(
    incident_desk: IncidentDesk, changes: dict[str, str], status: int
) -> None:
    dima = incident_desk.web.session_for("dima")
    answer = post(dima, "/incidents/new", new_incident_form(**changes))
    assert answer.status_code == status, answer.text
    assert "Traceback" not in answer.text and ARABIC_PAGE.search(answer.text)
    assert _count(incident_desk, Incident) == 0


def test_script_in_a_title_is_kept_as_text_and_shown_escaped(incident_desk: IncidentDesk) -> None:
    dima = incident_desk.web.session_for("dima")
    code = incident_desk.create(dima, title_en="<script>alert(1)</script> market")
    page = dima.get(f"/incidents/{code}")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text


@pytest.mark.parametrize(
    "path",
    ["/incidents/SJ-2026-9999", "/incidents/SJ-2026-9999/edit", "/incidents/%E2%80%AE1/history",
     "/incidents/" + "9" * 300],
)  # fmt: skip
def test_a_missing_or_malformed_incident_is_a_404(incident_desk: IncidentDesk, path: str) -> None:
    answer = incident_desk.web.session_for("dima").get(path)
    assert answer.status_code == 404 and "Traceback" not in answer.text


def test_edits_with_a_bad_version_field_are_refused(incident_desk: IncidentDesk) -> None:
    dima = incident_desk.web.session_for("dima")
    code = incident_desk.create(dima)
    for version in ("", "abc", "-1", "9" * 12):
        form = new_incident_form(title_en="Changed") | {"version": version, "state": "draft"}
        answer = post(dima, f"/incidents/{code}/edit", form)
        assert answer.status_code == 400, version
    assert incident_desk.incident(code)["version"] == 1


def test_evidence_is_found_by_search_and_linked_once(incident_desk: IncidentDesk) -> None:
    # Given an incident and nour, an analyst
    code = incident_desk.create(incident_desk.web.session_for("dima"))
    nour = incident_desk.web.session_for("nour")
    # When she searches the reports from the incident's evidence page (HTMX)
    hits = nour.get(f"/incidents/{code}/evidence", params={"q": "التقرير"},
                    headers={"HX-Request": "true"})  # fmt: skip
    assert hits.status_code == 200 and "<html" not in hits.text and "<mark>" in hits.text
    report = re.search(r'name="report" value="(\d+)"', hits.text)
    assert report
    # and links the first hit as primary evidence
    linked = post(nour, f"/incidents/{code}/evidence",
                  {"report": report.group(1), "role": "primary", "confidence": "certain",
                   "note": "the same stalls"})  # fmt: skip
    # Then the database holds the link, and the incident's page lists it
    assert linked.status_code == 303
    assert _count(incident_desk, EvidenceLink) == 1
    page = nour.get(f"/incidents/{code}")
    assert f'href="/reports/{report.group(1)}"' in page.text and "the same stalls" in page.text
    # and linking it again is a 409, a report that does not exist a 404
    again = {"report": report.group(1), "role": "primary", "confidence": "certain"}
    assert post(nour, f"/incidents/{code}/evidence", again).status_code == 409
    missing = {"report": "99999", "role": "primary", "confidence": "certain"}
    assert post(nour, f"/incidents/{code}/evidence", missing).status_code == 404
    bad = {"report": "1", "role": "star witness", "confidence": "certain"}
    assert post(nour, f"/incidents/{code}/evidence", bad).status_code == 400
    assert _count(incident_desk, EvidenceLink) == 1
    assert "evidence.link" in _actions(incident_desk)


def test_attribution_by_any_name_of_an_actor(incident_desk: IncidentDesk) -> None:
    dima = incident_desk.web.session_for("dima")
    code = incident_desk.create(dima)
    unknown = {"actor": "Nobody Brigade", "stance": "suspected", "basis": "a rumour"}
    refused = post(dima, f"/incidents/{code}/attribution", unknown)
    assert refused.status_code == 400 and "لا توجد جهة بهذا الاسم" in refused.text
    known = {"actor": "CJTF-OIR", "stance": "suspected", "basis": "flight logs"}
    assert post(dima, f"/incidents/{code}/attribution", known).status_code == 303
    assert _count(incident_desk, Attribution) == 1
    assert "التحالف" in dima.get(f"/incidents/{code}").text


def test_the_history_shows_each_version_with_its_differences(incident_desk: IncidentDesk) -> None:
    dima = incident_desk.web.session_for("dima")
    code = incident_desk.create(dima)
    form = new_incident_form(title_en="Strike on the vegetable market") | {
        "version": "1", "state": "in_review"}  # fmt: skip
    assert post(dima, f"/incidents/{code}/edit", form).status_code == 303
    # a viewer reads it too
    page = incident_desk.web.session_for("sami").get(f"/incidents/{code}/history")
    assert page.status_code == 200
    version_2 = page.text[page.text.index('id="v2"') : page.text.index('id="v1"')]
    assert "Airstrike on the Raqqa vegetable market" in version_2
    assert "Strike on the vegetable market" in version_2
    assert "قيد المراجعة" in version_2 and "مسودة" in version_2
    assert "غارة على سوق الخضار" not in version_2  # the Arabic title did not change


def test_the_translation_view_lists_a_copied_title_and_an_editor_adds_the_other(
    incident_desk: IncidentDesk,
) -> None:
    # Given an incident whose English title is its Arabic one, copied
    dima = incident_desk.web.session_for("dima")
    code = incident_desk.create(dima, title_en="غارة على سوق الخضار في الرقة")
    listed = dima.get("/translations")
    assert listed.status_code == 200 and code in listed.text and "ينقصه: الإنكليزية" in listed.text
    # When she adds the English title in place (HTMX)
    added = post(dima, f"/incidents/{code}/translate",
                 {"version": "1", "lang": "en", "text": "Airstrike on a Raqqa market"},
                 csrf_page="/translations", headers={"HX-Request": "true"})  # fmt: skip
    # Then the row says so, the database holds it as version 2, and the gap is gone
    assert added.status_code == 200 and "<html" not in added.text and "حُفظ" in added.text
    held = incident_desk.incident(code)
    assert held["title_en"] == "Airstrike on a Raqqa market" and held["version"] == 2
    assert code not in dima.get("/translations").text
    # and the same form sent again over version 1 is a 409
    stale = post(dima, f"/incidents/{code}/translate",
                 {"version": "1", "lang": "en", "text": "Other"}, csrf_page="/translations")  # fmt: skip
    assert stale.status_code == 409


def test_a_viewer_reads_incidents_but_never_reaches_the_edit_pages(
    incident_desk: IncidentDesk,
) -> None:
    code = incident_desk.create(incident_desk.web.session_for("dima"))
    sami = incident_desk.web.session_for("sami")
    for readable in (f"/incidents/{code}", f"/incidents/{code}/history"):
        assert sami.get(readable).status_code == 200
    for refused in ("/incidents/new", f"/incidents/{code}/edit", f"/incidents/{code}/evidence",
                    "/places/pick", "/translations", f"/incidents/{code}/assess"):  # fmt: skip
        answer = sami.get(refused)
        assert answer.status_code == 403 and "دورك لا يسمح" in answer.text, refused
    form = new_incident_form() | {"version": "1", "state": "draft"}
    assert post(sami, f"/incidents/{code}/edit", form).status_code == 403
    assert incident_desk.incident(code)["version"] == 1
    # an analyst links and proposes, but does not edit the incident's own fields
    nour = incident_desk.web.session_for("nour")
    assert nour.get(f"/incidents/{code}/edit").status_code == 403
    assert nour.get(f"/incidents/{code}/evidence").status_code == 200


def test_messages_follow_the_interface_language(incident_desk: IncidentDesk) -> None:
    dima = incident_desk.web.session_for("dima")
    switched = post(dima, "/language", {"lang": "en", "next": "/incidents"})
    assert switched.status_code == 303
    refused = post(dima, "/incidents/new", new_incident_form(start="soon"))
    assert refused.status_code == 400 and '<html lang="en" dir="ltr">' in refused.text
    assert "Give a date as 2017-06-06" in refused.text
