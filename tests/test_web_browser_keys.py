"""A security key in a real browser: Chromium's virtual authenticator, through the desk's pages.

The app listens on 127.0.0.1, but the browser reaches it as ``http://localhost:PORT``:
the relying-party id is ``localhost`` (browsers refuse an IP address as one). A
virtual CTAP2 USB authenticator (via the DevTools protocol's WebAuthn domain)
stands in for the key. An editor enrols with TOTP, adds a key on the keys page,
signs out and signs in again with her password and the key; static/webauthn.js
does the browser's part under the app's self-only CSP. Screenshots of the keys
page in both languages go to docs/screenshots/ (from the SQLite run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from browser_helpers import SCREENSHOTS, WAIT_MS
from sijil.desk.activity_log import recent_activity
from sijil.store.models_desk import Role
from sijil.web.serve import running_desk_app
from web_helpers import PASSWORD, WebDesk

pytest.importorskip("playwright.sync_api")

VIRTUAL_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def _sign_in_with_password(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "dima")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]:not([name])")
    page.wait_for_url(f"{base}/login/code")


@pytest.mark.slow
def test_a_security_key_login_works_with_chromiums_virtual_authenticator(
    browser: Any, make_web: Callable[..., WebDesk], store_url: str, tmp_path: Path
) -> None:
    # Given an editor with an enrolment code, and a browser holding a virtual security key
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    code = web.enrolment_code("dima")
    shots = SCREENSHOTS if store_url.startswith("sqlite") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with running_desk_app(web.config) as served:
        base = served.replace("://127.0.0.1:", "://localhost:")
        context = browser.new_context(locale="ar", viewport={"width": 1200, "height": 700})
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable")
        authenticator = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})[
            "authenticatorId"
        ]

        # When she enrols with TOTP and signs in with her password and a code
        page.goto(f"{base}/enrol")
        page.fill("input[name=name]", "dima")
        page.fill("input[name=code]", code)
        page.click("button[type=submit]:not([name])")
        secret = page.inner_text("#totp-secret")
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        page.fill("input[name=totp]", pyotp.TOTP(secret).now())
        page.click("button[type=submit]:not([name])")
        _sign_in_with_password(page, base)
        assert page.locator("form.key-login").count() == 0  # no key yet: the code only
        page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
        page.click("button[type=submit]:not([name])")
        page.wait_for_url(f"{base}/inbox")

        # and adds the security key on her keys page
        page.click("a[href='/keys']")
        page.wait_for_url(f"{base}/keys")
        page.fill("input[name=label]", "المفتاح الأزرق")
        page.click("form.key-add button[type=submit]")
        page.wait_for_selector("table.keys tbody tr")
        # Then it is listed under her label, in the Arabic interface
        assert "المفتاح الأزرق" in page.inner_text("table.keys")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.screenshot(path=str(shots / "keys-ar.png"), full_page=True)
        page.click("button[name=lang][value=en]")
        page.wait_for_selector("html[lang=en][dir=ltr]")
        assert "Security keys" in page.inner_text("h1")
        page.screenshot(path=str(shots / "keys-en.png"), full_page=True)

        # When she signs out and signs in again with her password and the key
        page.click("form[action='/logout'] button")
        page.wait_for_url(f"{base}/login")
        _sign_in_with_password(page, base)
        page.click("form.key-login button[name=key]")

        # Then she is signed in, the key has signed once more, and the log names the key
        page.wait_for_url(f"{base}/inbox")
        (credential,) = devtools.send(
            "WebAuthn.getCredentials", {"authenticatorId": authenticator}
        )["credentials"]
        assert credential["signCount"] >= 2
        assert problems == [], problems  # no CSP violation, no script error
        context.close()
    with web.desk.home.open_store() as store, store.session() as session:
        log = [(row.action, row.object) for row in recent_activity(session)]
    assert log[0] == ("login", "key:1") and ("key.added", "key:1") in log
