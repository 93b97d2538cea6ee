"""The desk web app over HTTP: sign-in pages, reading, search, headers, CSRF, bad input, verify.

Through Starlette's test client against the real app on both databases, with
the desk's real functions behind it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import update

from conftest import PASSPHRASE, CliResult, desk_with_evidence
from sijil.desk.incidents import create_incident
from sijil.store import ActivityEntry
from sijil.store.models_desk import Role
from sijil.web.config import WebConfig
from sijil.web.guard import SESSION_COOKIE
from web_helpers import PASSWORD, WebDesk, csrf_of

ARABIC_PAGE = re.compile(r'<html lang="ar" dir="rtl">')
IP_LIKE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b")


@pytest.fixture
def desk_web(
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> WebDesk:
    """A desk holding three of Raven's reports (Arabic), with users root (admin) and dima."""
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk)
    web.add("dima", Role.EDITOR)
    web.add("sami", Role.VIEWER)
    return web


def test_enrol_sign_in_read_a_report_and_search_in_arabic(desk_web: WebDesk) -> None:
    # Given dima enrolled through the pages
    client = desk_web.client()
    secret, codes = desk_web.enrol(client, "dima")
    assert len(codes) == 10
    # When she signs in (password, then the next authenticator code)
    desk_web.sign_in(client, "dima", pyotp.TOTP(secret).at(time.time() + 30))
    inbox = client.get("/inbox")
    # Then the inbox lists the reports, in the Arabic interface
    assert inbox.status_code == 200 and ARABIC_PAGE.search(inbox.text)
    assert "الوارد" in inbox.text and inbox.text.count('href="/reports/') >= 3
    report_id = re.search(r"/reports/(\d+)", inbox.text).group(1)  # type: ignore[union-attr]
    report = client.get(f"/reports/{report_id}")
    assert report.status_code == 200
    assert 'class="body" lang="ar" dir="rtl">نص التقرير' in report.text
    # and the search box finds the report text in any spelling
    found = client.get("/search", params={"q": "التَّقرير"})
    assert found.status_code == 200 and "<mark>" in found.text
    partial = client.get("/search", params={"q": "تقرير"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "<mark>" in partial.text


def test_the_activity_log_shows_sign_ins_views_and_searches_without_addresses(
    desk_web: WebDesk,
) -> None:
    client = desk_web.client()
    secret, _ = desk_web.enrol(client, "dima")
    bad = client.post(
        "/login", data={"csrf": csrf_of(client.get("/login").text), "name": "dima", "password": "x"}
    )
    assert bad.status_code == 400 and "غير صحيح" in bad.text
    desk_web.sign_in(client, "dima", pyotp.TOTP(secret).at(time.time() + 30))
    client.get("/reports/1")
    client.get("/search", params={"q": "market"})
    admin = desk_web.session_for("root")
    log = admin.get("/activity")
    assert log.status_code == 200
    for words in ("سجّل الدخول", "محاولة دخول فاشلة", "قرأ تقريرًا", "بحث", "report:1"):
        assert words in log.text, words
    assert "market" not in log.text  # a search is logged by a digest, never its words
    with desk_web.desk.home.open_store() as store, store.session() as session:
        rows = session.query(ActivityEntry).all()
    assert rows and not any(IP_LIKE.search(r.object) for r in rows)
    assert "127.0.0.1" not in log.text


def test_every_response_keeps_to_its_own_origin(desk_web: WebDesk) -> None:
    client = desk_web.session_for("dima")
    for path in ("/login", "/inbox", "/static/app.css", "/nowhere", "/reports/999999"):
        response = client.get(path)
        headers = response.headers
        assert headers["content-security-policy"].startswith("default-src 'self'"), path
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "server" not in headers
    page = client.get("/inbox").text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    assert re.findall(r'<script src="([^"]+)"', page) == ["/static/vendor/htmx.min.js"]


def test_cookies_are_httponly_strict_and_secure_when_configured(desk_web: WebDesk) -> None:
    desk_web.config = WebConfig(home=desk_web.desk.home, secure_cookies=True)
    client = desk_web.client()
    desk_web.enrol(client, "dima")
    page = client.get("/login")
    cookie = page.headers.get("set-cookie", "")
    response = client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": "dima", "password": PASSWORD}
    )
    session_cookie = [c for c in response.headers.get_list("set-cookie") if "sijil_session=" in c]
    assert session_cookie, cookie
    assert all("HttpOnly" in c and "SameSite=Strict" in c and "Secure" in c for c in session_cookie)


def test_state_changing_requests_need_the_csrf_token(desk_web: WebDesk) -> None:
    client = desk_web.client()
    desk_web.enrol(client, "dima")
    client.get("/login")
    for data in ({"name": "dima", "password": PASSWORD}, {"csrf": "forged", "name": "dima"}):
        refused = client.post("/login", data=data)
        assert refused.status_code == 403 and "انتهت صلاحية هذا النموذج" in refused.text
    signed = desk_web.session_for("dima")
    assert signed.post("/logout", data={"csrf": "nope"}).status_code == 403
    assert signed.get("/inbox").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/reports/abc", 400),
        ("/reports/0", 400),
        ("/reports/-1", 400),
        ("/reports/99999999999", 400),
        ("/reports/1e3", 400),
        ("/reports/%E2%80%AE1", 400),
        ("/reports/424242", 404),
        ("/incidents?grading=<script>", 400),
        ("/incidents?state=draft%27--", 400),
        ("/inbox?before=1%00", 400),
        ("/activity?before=" + "9" * 40, 400),
        ("/search?q=" + "ر" * 1001, 400),
        ("/search?q=%E2%80%AEmarket", 400),
    ],
)
def test_hostile_addresses_get_a_4xx_in_the_users_language(
    desk_web: WebDesk, path: str, status: int
) -> None:
    client = desk_web.session_for("root" if path.startswith("/activity") else "dima")
    response = client.get(path)
    assert response.status_code == status, response.text
    assert ARABIC_PAGE.search(response.text) and 'class="error"' in response.text
    assert "Traceback" not in response.text


def test_hostile_form_values_get_a_4xx_in_the_users_language(desk_web: WebDesk) -> None:
    client = desk_web.client()
    csrf = csrf_of(client.get("/login").text)
    hostile = [
        {"name": "x" * 65, "password": PASSWORD},
        {"name": "di\u202ema", "password": PASSWORD},
        {"name": "dima\x00", "password": PASSWORD},
        {"name": "<script>alert(1)</script>", "password": PASSWORD},
        {"name": "dima"},
        {"name": "dima", "password": "p" * 5000},
    ]
    for values in hostile:
        response = client.post("/login", data={"csrf": csrf, **values})
        assert 400 <= response.status_code < 500, values
        assert 'class="error"' in response.text and "<script>alert" not in response.text
    raw = client.post(
        "/login",
        content=b"csrf=" + csrf.encode() + b"&name=a&name=b&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert raw.status_code == 400
    big = client.post(
        "/login",
        content=b"name=" + b"a" * 20000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    json_body = client.post("/login", json={"name": "dima"})
    assert json_body.status_code == 415
    bad_utf8 = client.post(
        "/login",
        content=b"csrf=" + csrf.encode() + b"&name=%FF%FE&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= bad_utf8.status_code < 500


def test_language_is_switched_per_user_and_every_page_says_lang_and_dir(desk_web: WebDesk) -> None:
    client = desk_web.session_for("dima")
    page = client.get("/inbox")
    assert ARABIC_PAGE.search(page.text)
    switched = client.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "en", "next": "/inbox"}
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/inbox"
    again = desk_web.session_for("dima").get("/incidents")  # a new session: the choice is kept
    assert '<html lang="en" dir="ltr">' in again.text and "Incidents" in again.text
    away = client.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "ar", "next": "//evil.example"}
    )
    assert away.headers["location"] == "/"
    unknown = client.post("/language", data={"csrf": csrf_of(page.text), "lang": "fr"})
    assert unknown.status_code == 400


def test_sijil_verify_checks_the_activity_chain(
    desk_web: WebDesk, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a desk whose web activity was logged
    client = desk_web.session_for("dima")
    client.get("/reports/1")
    client.get("/search", params={"q": "market"})
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    ok = run_cli("verify", *desk_web.desk.args)
    assert ok.code == 0, ok.err
    # When an entry is altered behind the log's back
    with desk_web.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(
            update(ActivityEntry).where(ActivityEntry.seq == 1).values(object="report:2")
        )
    # Then sijil verify fails and names it
    failed = run_cli("verify", *desk_web.desk.args)
    assert failed.code != 0
    assert "activity log: entry 1 was altered" in failed.out + failed.err


def test_incidents_show_their_title_in_the_interface_language_and_filter(
    desk_web: WebDesk,
) -> None:
    # Given an incident recorded by an editor
    with desk_web.desk.home.open_store() as store, store.session(write=True) as session:
        create_incident(
            session,
            title_ar="قصف سوق الهال",
            title_en="Shelling of the vegetable market",
            incident_type="shelling",
            start=datetime(2017, 6, 6, 4, 30, tzinfo=UTC),
            at="35.95,39.01",
            by="dima",
        )
    client = desk_web.session_for("sami")  # a viewer reads incidents
    # When the viewer lists incidents in Arabic, then in English
    arabic = client.get("/incidents")
    assert 'lang="ar" dir="rtl">قصف سوق الهال' in arabic.text and "مسودة" in arabic.text
    client.post("/language", data={"csrf": csrf_of(arabic.text), "lang": "en"})
    english = client.get("/incidents", params={"state": "draft"})
    assert 'lang="en" dir="ltr">Shelling of the vegetable market' in english.text
    # Then a filter that keeps nothing shows nothing, and the HTMX form asks the same page
    none = client.get("/incidents", params={"state": "published"})
    assert "No incidents match." in none.text and "Shelling" not in none.text


def test_two_serve_processes_share_sessions_and_throttling(desk_web: WebDesk) -> None:
    # Given two app instances over one database (as two `serve` processes behind a proxy)
    first, second = desk_web.client(), desk_web.client()
    secret, _ = desk_web.enrol(first, "dima")
    desk_web.sign_in(first, "dima", pyotp.TOTP(secret).at(time.time() + 30))
    # When the session cookie reaches the other instance
    second.cookies.set(SESSION_COOKIE, first.cookies.get(SESSION_COOKIE) or "")
    # Then it is signed in there too
    assert second.get("/inbox").status_code == 200
    # and failed sign-ins counted by both lock the account for both
    for attempt in range(6):
        client = (first, second)[attempt % 2]
        page = client.get("/login")
        client.post("/login", data={"csrf": csrf_of(page.text), "name": "dima", "password": "no"})
    page = second.get("/login")
    locked = second.post(
        "/login", data={"csrf": csrf_of(page.text), "name": "dima", "password": PASSWORD}
    )
    assert locked.status_code == 429 and "انتظر" in locked.text
