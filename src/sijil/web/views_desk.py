"""Desk pages: home, inbox, one report, incidents, search, the activity log.

Each view validates its path and query values, calls sijil.desk in one
transaction and renders. An HTMX request (``HX-Request``) gets only the part of
the page it replaces; without JavaScript the same links load whole pages.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.activity_log import PAGE, recent_activity
from sijil.desk.incident_view import incident_rows
from sijil.desk.incidents import list_incidents
from sijil.desk.reading import INBOX_PAGE, inbox, read_report, search_as
from sijil.desk.search import SearchFilters
from sijil.errors import FormError
from sijil.store.models_desk import Grading, IncidentState
from sijil.web.access import allowed
from sijil.web.pages import Pages, field
from sijil.web.views_work import inbox_marks, report_extras

__all__ = ["DeskViews"]

#: Ids in addresses are database integers; more digits than this is not one.
_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_ID = 2**31 - 1
#: The search box takes what sijil.desk.search takes (it refuses over 1,000 characters).
MAX_QUERY = 1000
#: Incidents per page of the list.
INCIDENT_PAGE = 100


def _id(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value) or int(value) > MAX_ID:
        raise FormError(f"{name} is not an id", field=name)
    return int(value)


def _choice(
    value: str | None, allowed: type[Grading] | type[IncidentState], name: str
) -> str | None:
    if not value:
        return None
    if value not in {str(v) for v in allowed}:
        raise FormError(f"{name} is not one of its choices", field=name)
    return value


class DeskViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _partial(self, request: Request) -> bool:
        return request.headers.get("hx-request") == "true"

    def home(self, request: Request) -> Response:
        info = request.state.session
        for route in ("inbox", "incidents"):
            if allowed(route, stage=info.stage, roles=info.roles):
                return RedirectResponse(request.app.url_path_for(route), status_code=303)
        return RedirectResponse(request.app.url_path_for("search"), status_code=303)

    def inbox(self, request: Request) -> Response:
        info = request.state.session
        before = _id(request.query_params.get("before"), "before")
        with self.store.session() as session:
            rows = inbox(session, info.roles, before=before)
        marks = inbox_marks(self.store, [r.id for r in rows])
        template = "_inbox_rows.html" if self._partial(request) and before else "inbox.html"
        context = {"rows": rows, "page": INBOX_PAGE, "marks": marks}
        return self.pages.render(request, template, context)

    def report(self, request: Request) -> Response:
        info = request.state.session
        report_id = _id(request.path_params["report_id"], "report")
        if report_id is None:  # pragma: no cover - the route needs a value
            raise FormError("no report id", field="report")
        with self.store.session(write=True) as session:
            page = read_report(
                session, info.roles, report_id, user_id=info.user_id, clock=self.clock
            )
        relay = self.pages.state.config.relay is not None
        extras = report_extras(self.store, report_id, info.roles, relay=relay)
        replied = request.query_params.get("replied") == "1"
        context = {"report": page, "replied": replied, **extras}
        return self.pages.render(request, "report.html", context)

    def incidents(self, request: Request) -> Response:
        params = request.query_params
        grading = _choice(params.get("grading"), Grading, "grading")
        state = _choice(params.get("state"), IncidentState, "state")
        with self.store.session() as session:
            found = list_incidents(session, grading=grading, state=state, limit=INCIDENT_PAGE)
            rows = incident_rows(session, found)
        context: dict[str, Any] = {
            "rows": rows,
            "grading": grading or "",
            "state": state or "",
            "gradings": [str(g) for g in Grading],
            "states": [str(s) for s in IncidentState],
        }
        return self.pages.render(request, "incidents.html", context)

    def search(self, request: Request) -> Response:
        info = request.state.session
        query = (
            field(dict(request.query_params), "q", max_len=MAX_QUERY)
            if "q" in (request.query_params)
            else ""
        )
        hits = []
        if query.strip():
            with self.store.session(write=True) as session:
                hits = search_as(
                    session,
                    info.roles,
                    query,
                    user_id=info.user_id,
                    filters=SearchFilters(),
                    clock=self.clock,
                )
        template = "_hits.html" if self._partial(request) else "search.html"
        return self.pages.render(request, template, {"q": query, "hits": hits})

    def activity(self, request: Request) -> Response:
        before = _id(request.query_params.get("before"), "before")
        with self.store.session() as session:
            rows = recent_activity(session, before=before)
        return self.pages.render(request, "activity.html", {"rows": rows, "page": PAGE})
