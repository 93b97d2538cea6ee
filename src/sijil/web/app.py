"""``create_app(config)``: the desk web app as one Starlette application.

No globals: the store, the languages and the page environment are built here
from the frozen config and handed to the views. Every request passes the gate
(sijil.web.guard) before a view runs; errors become a one-line page in the
reader's language (sijil.web.pages), never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sijil.desk.custody import utcnow
from sijil.errors import SijilError, StoreError
from sijil.web.config import WebConfig
from sijil.web.guard import Guard
from sijil.web.i18n import load_languages
from sijil.web.pages import Pages, WebState
from sijil.web.routes_incidents import incident_routes
from sijil.web.routes_work import work_routes
from sijil.web.views_auth import AuthViews
from sijil.web.views_desk import DeskViews
from sijil.web.views_keys import key_routes

__all__ = ["create_app"]

_log = logging.getLogger("sijil.web")
_GET, _BOTH, _POST = ["GET"], ["GET", "POST"], ["POST"]


def _routes(config: WebConfig, auth: AuthViews, desk: DeskViews) -> list[BaseRoute]:
    return [
        Route("/", desk.home, name="home", methods=_GET),
        Route("/login", auth.login, name="login", methods=_BOTH),
        Route("/login/code", auth.second_factor, name="second_factor", methods=_BOTH),
        Route("/enrol", auth.enrol, name="enrol", methods=_BOTH),
        Route("/enrol/finish", auth.enrol_finish, name="enrol_finish", methods=_POST),
        Route("/logout", auth.logout, name="logout", methods=_POST),
        Route("/language", auth.language, name="language", methods=_POST),
        Route("/inbox", desk.inbox, name="inbox", methods=_GET),
        Route("/reports/{report_id}", desk.report, name="report", methods=_GET),
        Route("/incidents", desk.incidents, name="incidents", methods=_GET),
        Route("/search", desk.search, name="search", methods=_GET),
        Route("/activity", desk.activity, name="activity", methods=_GET),
        Mount("/static", StaticFiles(directory=config.static_dir), name="static"),
    ]


def create_app(config: WebConfig, *, clock: Callable[[], datetime] = utcnow) -> Starlette:
    """The app for ``config``; its database is opened now and closed at shutdown."""
    store = config.home.open_store()
    state = WebState(config=config, store=store, languages=load_languages(), clock=clock)
    pages = Pages(state)
    routes = _routes(config, AuthViews(pages), DeskViews(pages))
    routes += incident_routes(pages)
    routes += work_routes(pages)
    routes += key_routes(pages)

    async def sijil_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StoreError):
            _log.warning("database error: %s", type(exc).__name__)
            return pages.refusal(request, "internal", status=503)
        assert isinstance(exc, SijilError)  # noqa: S101 - registered for SijilError only
        return pages.error(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        reason = {404: "missing", 405: "method"}.get(status, "refused")
        return pages.refusal(request, reason, status=status if status < 500 else 400)

    async def internal_error(request: Request, exc: Exception) -> Response:
        _log.error("internal error in the web app: %s", type(exc).__name__)
        return pages.refusal(request, "internal", status=500)

    async def deny(request: Request, status: int, reason: str) -> Response:
        return pages.refusal(request, reason, status=status)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = Starlette(
        routes=routes,
        exception_handlers={
            SijilError: sijil_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=lifespan,
    )
    app.add_middleware(
        Guard,
        routes=routes,
        store=store,
        clock=clock,
        secure=config.secure_cookies,
        deny=deny,
    )
    app.state.store = store
    return app
