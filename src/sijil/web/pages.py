"""Rendering: the page context (language, direction, user, CSRF), form fields, errors.

Errors become a page with one line in the reader's language and a 4xx status:
the message is chosen by the error's kind, never copied from an exception (an
exception's words are English and could quote input back).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sijil.desk.web_sessions import SessionInfo
from sijil.errors import (
    FormError,
    PermissionDenied,
    QueryError,
    SignInRefused,
    SijilError,
    UnknownCode,
)
from sijil.store import Store
from sijil.web.access import allowed
from sijil.web.config import TEMPLATES_DIR, WebConfig
from sijil.web.i18n import DEFAULT_LANGUAGE, N_, Language
from sijil.web.labels import label

__all__ = ["Pages", "WebState", "field"]

#: Form fields are short: names, codes, passwords, a search; a longer one is not typed.
MAX_FIELD = 1024
# bidi embeddings, overrides and isolates: they can make a name read as another
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

REFUSALS: dict[str, tuple[int, str]] = {
    "signin": (401, N_("Please sign in first.")),
    "forbidden": (403, N_("Your role does not allow this page.")),
    "csrf": (403, N_("This form has expired. Reload the page and try again.")),
    "form": (400, N_("This form was not filled in correctly.")),
    "method": (405, N_("This page cannot be used that way.")),
    "missing": (404, N_("There is no such page.")),
    "credentials": (400, N_("The name, password or code is wrong.")),
    "throttled": (429, N_("Too many failed attempts. Wait a few minutes and try again.")),
    "enrolment": (400, N_("That enrolment code is not valid. Ask an admin for a new one.")),
    "password": (400, N_("Choose a password of 12 to 1024 characters, typed the same twice.")),
    "session": (400, N_("The sign-in has expired. Start again.")),
    "security_key": (400, N_("The security key was not accepted. Try again, or use a code.")),
    "key_limit": (400, N_("You have as many security keys as the desk allows. Remove one first.")),
    "language": (400, N_("That language is not available.")),
    "query": (400, N_("The search is too long or has too many words.")),
    "unknown": (404, N_("Not found.")),
    "permission": (403, N_("Your role does not allow this.")),
    "refused": (400, N_("The desk refused this request.")),
    "internal": (500, N_("Something went wrong on the desk's side. It has not been saved.")),
}


@dataclass(frozen=True)
class WebState:
    config: WebConfig
    store: Store
    languages: dict[str, Language]
    clock: Callable[[], datetime]


def field(form: dict[str, str], name: str, *, max_len: int = MAX_FIELD, single: bool = True) -> str:
    """A form field's value: present, not longer than ``max_len``, no control characters."""
    value = form.get(name)
    if value is None or len(value) > max_len:
        raise FormError(f"the field {name!r} is missing or too long", field=name)
    for ch in value:
        kind = unicodedata.category(ch)
        if (kind == "Cc" and (single or ch not in "\r\n\t")) or ch in _BIDI_CONTROLS:
            raise FormError(f"the field {name!r} holds control characters", field=name)
    return value


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A search snippet as (text, marked) runs: sijil.desk.search marks matches with ⟦ ⟧."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(snippet.split("⟦")):
        marked, _, rest = chunk.partition("⟧") if i else ("", "", chunk)
        if marked:
            parts.append((marked, True))
        if rest:
            parts.append((rest, False))
    return parts


def _reason(exc: SijilError) -> str:
    if isinstance(exc, SignInRefused):
        return exc.reason if exc.reason in REFUSALS else "credentials"
    if isinstance(exc, FormError):
        return "form"
    if isinstance(exc, QueryError):
        return "query"
    if isinstance(exc, UnknownCode):
        return "unknown"
    if isinstance(exc, PermissionDenied):
        return "permission"
    return "refused"


class Pages:
    """The Jinja2 environment and the helpers every view renders through."""

    def __init__(self, state: WebState) -> None:
        self.state = state
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def language(self, request: Request) -> Language:
        return self.state.languages[getattr(request.state, "lang", DEFAULT_LANGUAGE)]

    def render(
        self, request: Request, template: str, context: dict[str, Any], *, status: int = 200
    ) -> HTMLResponse:
        lang = self.language(request)
        info: SessionInfo | None = getattr(request.state, "session", None)
        stage = info.stage if info else None
        roles = info.roles if info else frozenset()

        def can(route: str) -> bool:
            return allowed(route, stage=stage, roles=roles)

        page = self.env.get_template(template).render(
            _=lang.gettext,
            lang=lang.code,
            dir=lang.direction,
            user=info if info and info.signed_in else None,
            csrf=info.csrf if info else getattr(request.state, "pre", ""),
            can=can,
            url=request.app.url_path_for,
            path=request.url.path,
            label=label,
            snippet=snippet_parts,
            # previews come from the vault, which only an app holding the desk key reads
            previews=self.state.config.identity is not None,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def refusal(self, request: Request, reason: str, *, status: int | None = None) -> Response:
        code, message = REFUSALS.get(reason, REFUSALS["refused"])
        if reason == "signin" and request.method == "GET":
            return RedirectResponse(request.app.url_path_for("login"), status_code=303)
        template = "error.html"
        if request.headers.get("hx-request") == "true":
            template = "_error.html"
        return self.render(request, template, {"message": message}, status=status or code)

    def error(self, request: Request, exc: SijilError) -> Response:
        return self.refusal(request, _reason(exc))
