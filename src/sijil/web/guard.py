"""The gate every request passes: session, language, access table, CSRF, security headers.

A pure ASGI middleware in front of the router. It finds the route a request is
for, loads the session from the database (sijil.desk.web_sessions), and refuses
what sijil.web.access does not allow: before any page code runs. A POST must be
a small urlencoded form carrying the CSRF token (the session's, or before
sign-in the ``sijil_pre`` cookie's: a double-submitted random value); the parsed
form is handed on in the request's state. Every response gets the headers that
keep the page to its own origin.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sijil.desk.web_sessions import SessionInfo, resolve_session
from sijil.store import Store
from sijil.web.access import ROUTE_ACCESS, Gate, allowed
from sijil.web.i18n import DEFAULT_LANGUAGE, LANGUAGES

__all__ = ["LANG_COOKIE", "MAX_FORM_BYTES", "PRE_COOKIE", "SESSION_COOKIE", "Guard"]

SESSION_COOKIE = "sijil_session"
PRE_COOKIE = "sijil_pre"
LANG_COOKIE = "sijil_lang"
#: The app's forms are a few short fields; a bigger body is not one of them.
MAX_FORM_BYTES = 16 * 1024
#: More fields than any form has: a flood of them is refused before parsing.
MAX_FORM_FIELDS = 32
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
#: Static files change only with a new release; pages are never cached.
STATIC_CACHE = b"private, max-age=3600"
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


class Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Guard:
    """Wraps the router; ``deny(scope, receive, send, status, reason)`` renders a refusal."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: list[BaseRoute],
        store: Store,
        clock: Callable[[], datetime],
        secure: bool,
        deny: Callable[[Request, int, str], Any],
    ) -> None:
        self.app, self.routes, self.store = app, routes, store
        self.clock, self.secure, self.deny = clock, secure, deny

    def _route_name(self, scope: Scope) -> tuple[str | None, bool]:
        """The matched route's name, and whether any route matched the path at all."""
        partial = False
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "name", None), True
            partial = partial or match is Match.PARTIAL
        return None, partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name, matched = self._route_name(scope)
        if name == "static":  # files anyone may fetch: no session to load
            await self.app(scope, receive, self._with_headers(send, None, clear=False, cache=True))
            return
        cookies = SimpleCookie()
        try:
            cookies.load(Headers(scope=scope).get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed Cookie header is no cookie
            cookies = SimpleCookie()
        token = cookies[SESSION_COOKIE].value if SESSION_COOKIE in cookies else None
        pre = cookies[PRE_COOKIE].value if PRE_COOKIE in cookies else None
        lang_cookie = cookies[LANG_COOKIE].value if LANG_COOKIE in cookies else None
        info: SessionInfo | None = await run_in_threadpool(
            resolve_session, self.store, token, now=self.clock()
        )
        lang = info.lang if info else lang_cookie if lang_cookie in LANGUAGES else DEFAULT_LANGUAGE
        new_pre = None if pre and len(pre) <= 64 else secrets.token_urlsafe(24)
        state = scope.setdefault("state", {})
        state.update(session=info, lang=lang, pre=new_pre or pre, token=token if info else None)
        send = self._with_headers(send, new_pre, clear=token is not None and info is None)
        try:
            if name is None:
                if matched:  # the path exists but not for this method
                    raise Refusal(405, "method")
                await self.app(scope, receive, send)  # the router's 404
                return
            if not allowed(name, stage=info.stage if info else None, roles=self._roles(info)):
                raise self._refusal(name, info)
            if scope["method"] == "POST":
                state["form"] = await self._form(scope, receive, info, pre)
        except Refusal as refused:
            response = await self.deny(Request(scope), refused.status, refused.reason)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _roles(info: SessionInfo | None) -> frozenset[Any]:
        return info.roles if info else frozenset()

    @staticmethod
    def _refusal(name: str, info: SessionInfo | None) -> Refusal:
        rule = ROUTE_ACCESS.get(name)
        if (info is None or not info.signed_in) and rule is not None and rule is not Gate.PUBLIC:
            return Refusal(401, "signin")
        return Refusal(403, "forbidden")

    async def _form(
        self, scope: Scope, receive: Receive, info: SessionInfo | None, pre: str | None
    ) -> dict[str, str]:
        headers = Headers(scope=scope)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise Refusal(415, "form")
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            raise Refusal(413, "form")
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                raise Refusal(413, "form")
            if not message.get("more_body", False):
                break
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=MAX_FORM_FIELDS,
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refusal(400, "form") from exc
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:  # one value per field: a repeated one is a forged form
                raise Refusal(400, "form")
            form[key] = value
        expected = info.csrf if info is not None else pre
        given = form.pop("csrf", "")
        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            raise Refusal(403, "csrf")
        return form

    def _with_headers(
        self, send: Send, new_pre: str | None, *, clear: bool, cache: bool = False
    ) -> Send:
        secure = self.secure

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", STATIC_CACHE if cache else b"no-store"))
                if new_pre:
                    headers.append(
                        (b"set-cookie", cookie_header(PRE_COOKIE, new_pre, secure=secure))
                    )
                sets_session = any(
                    k.lower() == b"set-cookie" and v.startswith(SESSION_COOKIE.encode() + b"=")
                    for k, v in headers
                )
                if clear and not sets_session:
                    headers.append(
                        (b"set-cookie", cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
                    )
                message = {**message, "headers": headers}
            await send(message)

        return wrapped
