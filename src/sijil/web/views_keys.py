"""Security keys (WebAuthn): the user's own keys page, and the key at the second-factor step.

The views parse, call sijil.desk.security_keys and render: the challenges, the
verification (py_webauthn) and the records are there, not here. The browser's
part is static/webauthn.js: it fetches the options (a POST carrying the CSRF
token), asks the key, and submits the answer in an ordinary form, so a refusal
is an ordinary page in the reader's language. Without JavaScript the key
buttons stay hidden and the TOTP code works as before.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sijil.desk import security_keys
from sijil.web.guard import SESSION_COOKIE, cookie_header
from sijil.web.pages import Pages, field
from sijil.web.work_forms import parse_id

__all__ = ["KeyViews", "key_routes"]

_GET, _POST = ["GET"], ["POST"]
#: the JSON answer of navigator.credentials.create/get, as the script submits it
MAX_ANSWER = security_keys.MAX_RESPONSE
JSON_TYPE = "application/json"


class KeyViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock
        self.rp = pages.state.config.relying_party()

    def _to_keys(self, request: Request) -> Response:
        return RedirectResponse(request.app.url_path_for("keys"), status_code=303)

    def keys(self, request: Request) -> Response:
        info = request.state.session
        rows = security_keys.list_keys(self.store, info.user_id)
        context = {
            "keys": rows,
            "max_label": security_keys.MAX_LABEL,
            "room": len(rows) < security_keys.MAX_KEYS,
        }
        return self.pages.render(request, "keys.html", context)

    def options(self, request: Request) -> Response:
        body = security_keys.registration_options(
            self.store, request.state.token, self.rp, clock=self.clock
        )
        return Response(body, media_type=JSON_TYPE)

    def add(self, request: Request) -> Response:
        form = request.state.form
        label = field(form, "label", max_len=security_keys.MAX_LABEL)
        answer = field(form, "credential", max_len=MAX_ANSWER)
        security_keys.add_key(
            self.store, request.state.token, label, answer, self.rp, clock=self.clock
        )
        return self._to_keys(request)

    def remove(self, request: Request) -> Response:
        key_id = parse_id(request.path_params["key_id"], "key")
        info = request.state.session
        security_keys.remove_key(self.store, info.user_id, key_id, clock=self.clock)
        return self._to_keys(request)

    def login_options(self, request: Request) -> Response:
        body = security_keys.sign_in_options(
            self.store, request.state.token, self.rp, clock=self.clock
        )
        return Response(body, media_type=JSON_TYPE)

    def login(self, request: Request) -> Response:
        answer = field(request.state.form, "credential", max_len=MAX_ANSWER)
        token = security_keys.sign_in_with_key(
            self.store, request.state.token, answer, self.rp, clock=self.clock
        )
        response = RedirectResponse(request.app.url_path_for("home"), status_code=303)
        secure = self.pages.state.config.secure_cookies
        response.raw_headers.append(
            (b"set-cookie", cookie_header(SESSION_COOKIE, token, secure=secure))
        )
        return response


def key_routes(pages: Pages) -> list[BaseRoute]:
    """The routes of security keys; sijil.web.access has a row for each."""
    views = KeyViews(pages)
    return [
        Route("/keys", views.keys, name="keys", methods=_GET),
        Route("/keys/options", views.options, name="key_options", methods=_POST),
        Route("/keys/add", views.add, name="key_add", methods=_POST),
        Route("/keys/{key_id}/remove", views.remove, name="key_remove", methods=_POST),
        Route("/login/key/options", views.login_options, name="key_login_options", methods=_POST),
        Route("/login/key", views.login, name="key_login", methods=_POST),
    ]
