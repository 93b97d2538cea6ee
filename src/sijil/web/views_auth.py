"""Sign-in pages: password, second factor, enrolment, sign-out, language.

Each view parses the form (sijil.web.pages.field), calls sijil.desk.accounts and
renders; the rules (hashing, TOTP, throttling, sessions, the activity log) are
there, not here.
"""

from __future__ import annotations

import segno
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk import accounts, security_keys
from sijil.errors import SignInRefused
from sijil.web.guard import LANG_COOKIE, SESSION_COOKIE, cookie_header
from sijil.web.pages import Pages, field

__all__ = ["AuthViews"]

#: A user name (sijil.desk.users allows 64) or an enrolment/recovery code.
MAX_NAME = 64
MAX_CODE = 64
LANG_COOKIE_AGE = 365 * 24 * 3600


class AuthViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _with_session(self, response: Response, token: str) -> Response:
        secure = self.pages.state.config.secure_cookies
        response.raw_headers.append(
            (b"set-cookie", cookie_header(SESSION_COOKIE, token, secure=secure))
        )
        return response

    def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.pages.render(request, "login.html", {})
        form = request.state.form
        name = field(form, "name", max_len=MAX_NAME)
        password = field(form, "password", max_len=accounts.MAX_PASSWORD)
        token = accounts.sign_in(self.store, name, password, clock=self.clock)
        redirect = RedirectResponse(request.app.url_path_for("second_factor"), status_code=303)
        return self._with_session(redirect, token)

    def second_factor(self, request: Request) -> Response:
        if request.method == "GET":
            has_key = security_keys.has_keys(self.store, request.state.session.user_id)
            return self.pages.render(request, "second_factor.html", {"has_key": has_key})
        code = field(request.state.form, "code", max_len=MAX_CODE)
        token = accounts.second_factor(self.store, request.state.token, code, clock=self.clock)
        return self._with_session(
            RedirectResponse(request.app.url_path_for("home"), status_code=303), token
        )

    def enrol(self, request: Request) -> Response:
        if request.method == "GET":
            return self.pages.render(request, "enrol.html", {})
        form = request.state.form
        name = field(form, "name", max_len=MAX_NAME)
        code = field(form, "code", max_len=MAX_CODE)
        started = accounts.start_enrolment(self.store, name, code, clock=self.clock)
        qr = segno.make(started.totp_uri, error="m")
        svg = qr.svg_inline(scale=4, dark="#000", light="#fff", omitsize=False)
        return self.pages.render(
            request,
            "enrol_secret.html",
            {"name": name, "code": code, "secret": started.totp_secret, "qr": Markup(svg)},  # noqa: S704 - segno's own SVG of our URI
        )

    def enrol_finish(self, request: Request) -> Response:
        form = request.state.form
        name = field(form, "name", max_len=MAX_NAME)
        code = field(form, "code", max_len=MAX_CODE)
        password = field(form, "password", max_len=accounts.MAX_PASSWORD)
        if password != field(form, "password2", max_len=accounts.MAX_PASSWORD):
            raise SignInRefused("the two passwords differ", reason="password")
        totp = field(form, "totp", max_len=MAX_CODE)
        codes = accounts.finish_enrolment(self.store, name, code, password, totp, clock=self.clock)
        return self.pages.render(request, "recovery.html", {"codes": codes})

    def logout(self, request: Request) -> Response:
        accounts.sign_out(self.store, request.state.token, clock=self.clock)
        response = RedirectResponse(request.app.url_path_for("login"), status_code=303)
        secure = self.pages.state.config.secure_cookies
        response.raw_headers.append(
            (b"set-cookie", cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
        )
        return response

    def language(self, request: Request) -> Response:
        lang = field(request.state.form, "lang", max_len=8)
        if lang not in accounts.LANGUAGES:
            raise SignInRefused("unknown language", reason="language")
        info = request.state.session
        if info is not None and info.signed_in:
            accounts.set_language(self.store, info.user_id, lang)
        back = request.state.form.get("next", "")
        target: object = (
            request.app.url_path_for("home")
            if info and info.signed_in
            else request.app.url_path_for("login")
        )
        if _local_path(back):
            target = back
        response = RedirectResponse(str(target), status_code=303)
        secure = self.pages.state.config.secure_cookies
        response.raw_headers.append(
            (
                b"set-cookie",
                cookie_header(LANG_COOKIE, lang, secure=secure, max_age=LANG_COOKIE_AGE),
            )
        )
        return response


def _local_path(path: str) -> bool:
    """A path on this site (``/inbox``), never another site (``//x``, ``/\\x``, a scheme)."""
    return (
        0 < len(path) <= 256
        and path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and all(ch.isprintable() and not ch.isspace() for ch in path)
    )
