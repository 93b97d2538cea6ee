"""The incident desk in a real browser: Debian's chromium, driven by Playwright.

An editor signs in, opens a report in the Arabic interface, creates an incident
(the place picked from the gazetteer's HTMX list), links the report found by
searching, and proposes an assessment with a casualty range; a reviewer signs
in and approves it from the review queue; a viewer cannot reach the edit
pages. Screenshots of these screens, in Arabic and English, go to
docs/screenshots/ (from the SQLite run), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from browser_helpers import SCREENSHOTS, WAIT_MS
from incident_web_helpers import IncidentDesk, incident_desk
from sijil.desk.custody import utcnow
from sijil.desk.incidents import create_incident
from sijil.desk.users import get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.web.guard import SESSION_COOKIE
from sijil.web.serve import running_desk_app
from web_helpers import PASSWORD

__all__ = ["incident_desk"]

playwright_api = pytest.importorskip("playwright.sync_api")


def _console(problems: list[str]) -> Any:
    def seen(message: Any) -> None:
        # a failed load is judged by its response below; anything else (a CSP violation) counts
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    return seen


def _watch(page: Any, problems: list[str]) -> None:
    """Count CSP violations and missing files (the inbox's previews need the desk's key,
    which this desk's app is not given: those 404s are expected)."""
    page.on("console", _console(problems))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}")
        if r.status == 404 and not r.url.endswith("/thumbnail")
        else None,
    )
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(r.url),
    )


def _sign_in(browser: Any, base: str, name: str, secret: str, problems: list[str]) -> Any:
    context = browser.new_context(locale="ar", viewport={"width": 1200, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    _watch(page, problems)
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]:not([name])")
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("button[type=submit]:not([name])")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def _to_english(page: Any) -> None:
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en][dir=ltr]")


def _viewer_session(desk: IncidentDesk) -> str:
    with desk.store() as store, store.session(write=True) as session:
        return start_session(session, get_user(session, "sami"), stage=FULL, now=utcnow())


@pytest.mark.slow
def test_editor_creates_links_and_proposes_a_reviewer_approves_a_viewer_is_kept_out(
    browser: Any, incident_desk: IncidentDesk, store_url: str, tmp_path: Path
) -> None:
    web = incident_desk.web
    shots = SCREENSHOTS if store_url.startswith("sqlite") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with incident_desk.store() as store, store.session(write=True) as session:  # one to translate
        create_incident(session, title_ar="قصف حي الرميلة", title_en="قصف حي الرميلة",
                        incident_type="shelling", start=utcnow(), at="35.95,39.02", by="dima")  # fmt: skip
    editor_secret, _ = web.enrol(web.client(), "dima")
    reviewer_secret, _ = web.enrol(web.client(), "rami")
    problems: list[str] = []
    with running_desk_app(web.config) as base:
        # Given dima, an editor, signed in to the Arabic interface, reading a report
        page = _sign_in(browser, base, "dima", editor_secret, problems)
        page.goto(f"{base}/inbox")
        page.locator("#inbox-rows a").first.click()
        assert "نص التقرير" in page.inner_text(".report .body")

        # When she creates an incident, its place picked from the gazetteer's list (HTMX)
        page.goto(f"{base}/incidents")
        page.click("a[href='/incidents/new']")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.fill("input[name=title_ar]", "غارة على سوق الخضار في الرقة")
        page.fill("input[name=title_en]", "Airstrike on the Raqqa vegetable market")
        page.fill("input[name=start]", "2017-06-06")
        page.locator("input[name=place]").press_sequentially("الرقة", delay=30)
        page.wait_for_selector("#place-options option", state="attached")
        token = page.locator("#place-options option").first.get_attribute("value")
        assert token and token.startswith("P-")
        page.fill("input[name=place]", token)
        page.screenshot(path=str(shots / "incident-new-ar.png"), full_page=True)
        page.click("form.editor button[type=submit]")
        page.wait_for_url(lambda url: "/incidents/SJ-" in url)
        code = page.url.rsplit("/", 1)[1]
        assert "غارة على سوق الخضار في الرقة" in page.inner_text("h1")

        # and links the report she read, found by searching (HTMX)
        page.click(f"a[href='/incidents/{code}/evidence']")
        page.fill("#q", "التقرير")
        page.press("#q", "Enter")
        page.wait_for_selector("#evidence-hits form.link-hit")
        page.screenshot(path=str(shots / "evidence-ar.png"), full_page=True)
        page.locator("#evidence-hits form.link-hit select[name=role]").first.select_option(
            "primary"
        )
        page.locator("#evidence-hits form.link-hit button").first.click()
        page.wait_for_url(f"{base}/incidents/{code}")
        assert page.locator("#evidence a[href^='/reports/']").count() == 1

        # and proposes an assessment with a casualty range
        page.click(f"a[href='/incidents/{code}/assess']")
        page.select_option("select[name=grading]", "fair")
        page.select_option("select[name=harm]", "yes")
        page.select_option("select[name=kind0]", "killed:civilian:all")
        page.fill("input[name=min0]", "7")
        page.fill("input[name=max0]", "11")
        page.select_option("select[name=kind1]", "killed:civilian:child")
        page.fill("input[name=min1]", "3")
        page.fill("input[name=max1]", "5")
        page.fill("textarea[name=summary_ar]", "قصف سوق الخضار وقت الذروة")
        page.fill("textarea[name=summary_en]", "The market was struck at its busiest hour.")
        page.screenshot(path=str(shots / "assessment-new-ar.png"), full_page=True)
        page.click("form.editor button[type=submit]")
        page.wait_for_url(lambda url: "/assessments/" in url)
        number = page.url.rsplit("/", 1)[1]
        assert "بانتظار المراجعة" in page.inner_text("main")
        assert page.locator("form.review-form").count() == 0  # an editor does not review

        # Then rami, a reviewer, signs in, finds it in his queue and approves it
        reviewer = _sign_in(browser, base, "rami", reviewer_secret, problems)
        reviewer.goto(f"{base}/review")
        reviewer.screenshot(path=str(shots / "review-queue-ar.png"), full_page=True)
        reviewer.click(f"a[href='/assessments/{number}']")
        reviewer.screenshot(path=str(shots / "assessment-ar.png"), full_page=True)
        reviewer.click("button[name=decision][value=approve]")
        reviewer.wait_for_url(f"{base}/review")
        assert "لا شيء ينتظر المراجعة" in reviewer.inner_text("main")
        _to_english(reviewer)
        reviewer.goto(f"{base}/review")
        reviewer.screenshot(path=str(shots / "review-queue-en.png"), full_page=True)

        # and the incident's page shows it current, its history the versions, in Arabic
        page.goto(f"{base}/incidents/{code}")
        assert "الحالي" in page.inner_text("#assessments")
        page.screenshot(path=str(shots / "incident-ar.png"), full_page=True)
        page.goto(f"{base}/translations")
        assert "قصف حي الرميلة" in page.inner_text("main")
        page.screenshot(path=str(shots / "translations-ar.png"), full_page=True)
        page.goto(f"{base}/incidents/{code}/history")
        page.screenshot(path=str(shots / "history-ar.png"), full_page=True)

        # and in English, after an edit: the history shows what changed
        _to_english(page)
        page.goto(f"{base}/incidents/{code}/edit")
        page.fill("input[name=title_en]", "Airstrike on the vegetable market, Raqqa")
        page.select_option("select[name=state]", "in_review")
        page.screenshot(path=str(shots / "incident-edit-en.png"), full_page=True)
        page.click("form.editor button[type=submit]")
        page.wait_for_url(f"{base}/incidents/{code}")
        page.screenshot(path=str(shots / "incident-en.png"), full_page=True)
        page.goto(f"{base}/incidents/{code}/history")
        assert "Airstrike on the vegetable market, Raqqa" in page.inner_text("#v2")
        page.screenshot(path=str(shots / "history-en.png"), full_page=True)
        page.goto(f"{base}/incidents/{code}/assess?from={number}")
        page.screenshot(path=str(shots / "assessment-new-en.png"), full_page=True)
        page.goto(f"{base}/translations")
        page.fill("form.row-form input[name=text]", "Shelling of the Rumaila quarter")
        page.click("form.row-form button[type=submit]")
        page.wait_for_selector(".outcome .done")
        page.screenshot(path=str(shots / "translations-en.png"), full_page=True)
        assert problems == [], problems  # no CSP violation, no missing file

        # A viewer's browser reads the incident but never reaches the edit pages
        viewer = browser.new_context(locale="ar")
        viewer.add_cookies([{"name": SESSION_COOKIE, "value": _viewer_session(incident_desk),
                             "url": base}])  # fmt: skip
        seen = viewer.new_page()
        assert seen.goto(f"{base}/incidents/{code}").status == 200
        assert seen.locator(f"a[href='/incidents/{code}/edit']").count() == 0
        for refused in ("/incidents/new", f"/incidents/{code}/edit",
                        f"/incidents/{code}/evidence", f"/incidents/{code}/assess", "/review"):  # fmt: skip
            response = seen.goto(f"{base}{refused}")
            assert response.status == 403, refused
            assert "دورك لا يسمح" in seen.inner_text(".error")
        viewer.close()
