"""The claims board, sources, users and desk work in a real browser (Debian's chromium).

Like tests/test_web_browser.py: the app under uvicorn on a loopback port,
Playwright driving ``/usr/bin/chromium`` headless (never Playwright's own
browser). An admin adds a user and changes another's roles, which signs that
user out; an editor sees photo previews in the inbox, assigns a report to
herself and finds it under "For me", rates a claim; the pages load nothing the
Content-Security-Policy refuses. Screenshots in Arabic and English go to
docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from browser_helpers import SCREENSHOTS, WAIT_MS
from conftest import desk_with_evidence
from sijil.desk.claims import Killed, add_claim
from sijil.desk.custody import utcnow
from sijil.desk.incidents import create_incident
from sijil.desk.sources import add_source
from sijil.desk.users import get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.store.models_desk import Role
from sijil.web.guard import SESSION_COOKIE
from sijil.web.serve import running_desk_app
from web_helpers import WebDesk

playwright_api = pytest.importorskip("playwright.sync_api")


def _token(web: WebDesk, name: str) -> str:
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        return start_session(session, get_user(session, name), stage=FULL, now=utcnow())


def _context(browser: object, web: WebDesk, base: str, name: str, problems: list[str]) -> object:
    context = browser.new_context(locale="ar", viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
    context.set_default_timeout(WAIT_MS)
    context.add_cookies([{"name": SESSION_COOKIE, "value": _token(web, name), "url": base}])
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(r.url),
    )
    return page


def _english(page: object) -> None:
    page.click("button[name=lang][value=en]")  # type: ignore[attr-defined]
    page.wait_for_selector("html[lang=en][dir=ltr]")  # type: ignore[attr-defined]


@pytest.mark.slow
def test_admin_and_editor_work_in_both_languages(
    browser: object,
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    tmp_path: Path,
) -> None:
    # Given a desk (SQLite) started with its key: Raven's reports, a claim, an incident
    evidence = desk_with_evidence(make_desk, make_correspondent, None, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk, unlocked=True)
    web.add("dima", Role.EDITOR)
    web.add("lina", Role.ANALYST)
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        add_source(session, "outlet", "sana", name_ar="سانا", by="dima")
        claim = add_claim(session, source="sana", title="قصف يقتل ستة في السوق", lang="ar",
                          killed=Killed(civilians=6), by="dima")  # fmt: skip
        create_incident(session, title_ar="قصف السوق", title_en="Market shelling",
                        incident_type="shelling", start=datetime(2017, 6, 6, 4, 30, tzinfo=UTC),
                        at="35.95,39.01", by="dima")  # fmt: skip
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with running_desk_app(web.config) as base:
        # The editor's inbox shows the previews the app made from the vault
        page = _context(browser, web, base, "dima", problems)
        page.goto(f"{base}/inbox")  # type: ignore[attr-defined]
        thumbs = page.locator("td.thumb img")  # type: ignore[attr-defined]
        assert thumbs.count() == 2
        page.wait_for_function(  # type: ignore[attr-defined]
            "[...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(SCREENSHOTS / "inbox-previews-ar.png"), full_page=True)  # type: ignore[attr-defined]

        # She assigns a report to herself from its page, and finds it under "For me"
        page.locator("#inbox-rows a").first.click()  # type: ignore[attr-defined]
        page.select_option("form.assign select[name=to]", "dima")  # type: ignore[attr-defined]
        page.click("form.assign button[type=submit]")  # type: ignore[attr-defined]
        assert page.locator("form.assign option[selected]").inner_text() == "dima"  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / "report-work-ar.png"), full_page=True)  # type: ignore[attr-defined]
        page.click("nav a[href='/mine']")  # type: ignore[attr-defined]
        assert page.locator("main tbody tr").count() == 1  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / "mine-ar.png"), full_page=True)  # type: ignore[attr-defined]

        # She rates the claim on the board
        page.goto(f"{base}/claims")  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / "claims-ar.png"), full_page=True)  # type: ignore[attr-defined]
        page.click(f"a[href='/claims/C-{claim.id}'] >> nth=0")  # type: ignore[attr-defined]
        page.check("input[name=rating][value=misleading]")  # type: ignore[attr-defined]
        page.fill("textarea[name=summary_ar]", "قُتل اثنان لا ستة.")  # type: ignore[attr-defined]
        page.fill("textarea[name=summary_en]", "Two were killed, not six.")  # type: ignore[attr-defined]
        page.click("form.stacked button[type=submit]")  # type: ignore[attr-defined]
        assert "مضلل" in page.inner_text(".verdicts")  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / "claim-ar.png"), full_page=True)  # type: ignore[attr-defined]
        page.goto(f"{base}/sources")  # type: ignore[attr-defined]
        assert "Raven" in page.inner_text("table.sources")  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / "sources-ar.png"), full_page=True)  # type: ignore[attr-defined]

        # and in English
        _english(page)
        for name, path in (("sources", "/sources"), ("claims", "/claims"), ("mine", "/mine")):
            page.goto(f"{base}{path}")  # type: ignore[attr-defined]
            page.screenshot(path=str(SCREENSHOTS / f"{name}-en.png"), full_page=True)  # type: ignore[attr-defined]
        assert "Waiting for me" in page.inner_text("h1")  # type: ignore[attr-defined]

        # The admin adds a user (a one-time code is shown) and makes lina a reviewer
        lina = _context(browser, web, base, "lina", problems)
        assert lina.goto(f"{base}/inbox").status == 200  # type: ignore[attr-defined]
        admin = _context(browser, web, base, "root", problems)
        admin.goto(f"{base}/users")  # type: ignore[attr-defined]
        admin.fill("input[name=name]", "نور")  # type: ignore[attr-defined]
        admin.check("form.stacked input[name=role_reviewer]")  # type: ignore[attr-defined]
        admin.click("form.stacked button[type=submit]")  # type: ignore[attr-defined]
        code = admin.inner_text(".notice code")  # type: ignore[attr-defined]
        assert re.fullmatch(r"[A-Z2-9-]{20,}", code), code
        row = admin.locator("tr", has=admin.locator("bdi", has_text="lina"))  # type: ignore[attr-defined]
        row.locator("input[name=role_reviewer]").check()
        row.locator("form.inline-form button[type=submit]").click()
        admin.screenshot(path=str(SCREENSHOTS / "users-ar.png"), full_page=True)  # type: ignore[attr-defined]
        _english(admin)
        admin.goto(f"{base}/users")  # type: ignore[attr-defined]
        admin.screenshot(path=str(SCREENSHOTS / "users-en.png"), full_page=True)  # type: ignore[attr-defined]

        # Then lina's browser is signed out at once
        lina.goto(f"{base}/inbox")  # type: ignore[attr-defined]
        assert lina.url.endswith("/login")  # type: ignore[attr-defined]
    assert problems == [], problems  # no CSP violation, no missing file
