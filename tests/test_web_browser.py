"""The desk web app in a real browser: Debian's chromium, driven by Playwright.

The app runs under uvicorn on a free loopback port; Playwright launches
``/usr/bin/chromium`` (installed by scripts/install-tools.sh, never Playwright's
own download) headless, with the flags a sandboxed root needs. An editor enrols
(password, TOTP computed from the secret shown on the page), signs in, reads a
report in the Arabic interface, searches (HTMX), switches to English; a viewer
cannot reach the inbox or the admin's activity log. Screenshots of the main
screens in both languages go to docs/screenshots/ (from the SQLite run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

from browser_helpers import SCREENSHOTS, WAIT_MS
from conftest import desk_with_evidence
from sijil.desk.custody import utcnow
from sijil.desk.users import get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.store.models_desk import Role
from sijil.web.guard import SESSION_COOKIE
from sijil.web.serve import running_desk_app
from web_helpers import PASSWORD, WebDesk

playwright_api = pytest.importorskip("playwright.sync_api")


def _session_token(web: WebDesk, name: str) -> str:
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        return start_session(session, get_user(session, name), stage=FULL, now=utcnow())


@pytest.mark.slow
def test_editor_enrols_reads_in_arabic_searches_and_a_viewer_is_kept_out(
    browser: object,
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> None:
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk)
    web.add("dima", Role.EDITOR)
    web.add("sami", Role.VIEWER)
    shots = SCREENSHOTS if store_url.startswith("sqlite") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    code = web.enrolment_code("dima")
    with running_desk_app(web.config) as base:
        context = browser.new_context(locale="ar", viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on(
            "requestfailed",
            lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(r.url),
        )

        # Given an enrolment code, dima enrols in the Arabic interface
        page.goto(f"{base}/login")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.screenshot(path=str(shots / "login-ar.png"))
        page.click("a[href='/enrol']")
        page.fill("input[name=name]", "dima")
        page.fill("input[name=code]", code)
        page.click("button[type=submit]:not([name])")
        secret = page.inner_text("#totp-secret")
        assert page.locator(".qr svg").count() == 1  # the QR code, drawn by the app
        page.screenshot(path=str(shots / "enrol-ar.png"))
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        page.fill("input[name=totp]", pyotp.TOTP(secret).now())
        page.click("button[type=submit]:not([name])")
        assert page.locator("ul.codes li").count() == 10

        # When she signs in with her password and the next authenticator code
        page.goto(f"{base}/login")
        page.fill("input[name=name]", "dima")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]:not([name])")
        page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
        page.click("button[type=submit]:not([name])")

        # Then she lands on the inbox, right to left, in the desk's own Arabic font
        page.wait_for_url(f"{base}/inbox")
        assert page.locator("html").get_attribute("lang") == "ar"
        assert page.locator("#inbox-rows tr").count() == 3
        loaded = page.evaluate(
            "document.fonts.load('16px \"Noto Naskh Arabic\"', 'نص')"
            ".then(faces => faces.map(f => f.status))"
        )
        assert loaded and set(loaded) == {"loaded"}, loaded
        page.screenshot(path=str(shots / "inbox-ar.png"), full_page=True)

        # and opens a report: its text in its own language and direction
        page.locator("#inbox-rows a").first.click()
        body = page.locator(".report .body")
        assert body.get_attribute("dir") == "rtl" and "نص التقرير" in body.inner_text()
        page.screenshot(path=str(shots / "report-ar.png"), full_page=True)

        # and searches: HTMX swaps the hits in, matches marked
        page.goto(f"{base}/search")
        page.fill("#q", "التقرير")
        page.press("#q", "Enter")
        page.wait_for_selector("#hits mark")
        assert page.locator("#hits li").count() >= 3
        page.screenshot(path=str(shots / "search-ar.png"), full_page=True)

        # and switches the interface to English
        page.click("button[name=lang][value=en]")
        page.wait_for_selector("html[lang=en][dir=ltr]")
        page.goto(f"{base}/inbox")
        assert "Inbox" in page.inner_text("h1")
        page.screenshot(path=str(shots / "inbox-en.png"), full_page=True)
        page.goto(f"{base}/search?q=report")
        page.screenshot(path=str(shots / "search-en.png"), full_page=True)
        assert problems == [], problems  # no CSP violation, no missing file

        # A hostile query (a right-to-left override) gets its one line in place, in English now
        page.fill("#q", "\u202ereport")
        page.press("#q", "Enter")
        page.wait_for_selector("#hits .error")
        assert page.inner_text("#hits .error") == "This form was not filled in correctly."

        # A viewer's browser reaches the incidents, never the inbox or the activity log
        viewer = browser.new_context(locale="ar")  # type: ignore[attr-defined]
        viewer.add_cookies(
            [{"name": SESSION_COOKIE, "value": _session_token(web, "sami"), "url": base}]
        )
        seen = viewer.new_page()
        assert seen.goto(f"{base}/incidents").status == 200
        for refused in ("/activity", "/inbox", "/reports/1"):
            response = seen.goto(f"{base}{refused}")
            assert response.status == 403, refused
            assert "دورك لا يسمح" in seen.inner_text(".error")
        viewer.close()
        context.close()
