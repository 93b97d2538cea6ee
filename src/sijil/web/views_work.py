"""Work pages: what waits for me, assigning, answering a correspondent, photo previews.

``report_extras`` is what the report page adds to sijil.desk.reading's page: the
flag a captured correspondent left, the previews, who the report is assigned to,
and whether a reply can be sent. Previews are small JPEGs made by
sijil.desk.thumbnails from the vault, served only to users who may read the
report, with ``Content-Disposition`` and ``nosniff``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.assignments import (
    AssignmentKind,
    assign,
    assignee_of,
    incident_code,
    possible_assignees,
    unassign,
    waiting_for,
)
from sijil.desk.report_reply import MAX_REPLY, REPLIERS, reply_state, reply_to_report
from sijil.desk.thumbnails import report_marks, thumbnail
from sijil.errors import RelayError
from sijil.store import Store
from sijil.vault import Vault
from sijil.web.i18n import N_
from sijil.web.pages import Pages
from sijil.web.work_forms import parse_assign, parse_id, parse_reply

__all__ = ["WorkViews", "report_extras"]

_log = logging.getLogger("sijil.web")

RELAY_DOWN = N_("The relay could not be reached. The reply was not sent; try again later.")
NO_RELAY = N_("Replies are not set up on this desk (it was started without a relay).")
NO_VAULT = N_("Previews are not available: the desk was started without its key.")


def report_extras(
    store: Store, report_id: int, roles: frozenset[Any], *, relay: bool
) -> dict[str, Any]:
    """What the report page shows besides the report: flag, previews, assignment, reply."""
    with store.session() as session:
        marks = report_marks(session, [report_id])[report_id]
        assignee = assignee_of(session, AssignmentKind.REPORT, report_id)
        people = possible_assignees(session)
    return {
        "marks": marks,
        "assignee": assignee,
        "assignees": people,
        "reply": reply_state(store, report_id) if roles & REPLIERS else None,
        "reply_relay": relay,
        "max_reply": MAX_REPLY,
    }


def inbox_marks(store: Store, report_ids: list[int]) -> dict[int, Any]:
    """Flags and previews of the inbox rows."""
    with store.session() as session:
        return dict(report_marks(session, report_ids))


class WorkViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock
        config = pages.state.config
        self.identity, self.relay, self.proxy = config.identity, config.relay, config.relay_proxy
        self.vault: Vault | None = (
            None if config.identity is None else config.home.open_vault(config.identity)
        )

    def mine(self, request: Request) -> Response:
        info = request.state.session
        with self.store.session() as session:
            items = waiting_for(session, info.user_id)
        return self.pages.render(request, "mine.html", {"items": items})

    def assign(self, request: Request) -> Response:
        info = request.state.session
        parsed = parse_assign(request.state.form)
        with self.store.session(write=True) as session:
            if parsed.to is None:
                unassign(session, parsed.kind, parsed.object_id, by=info.name, clock=self.clock)
            else:
                assign(session, parsed.kind, parsed.object_id, to=parsed.to, by=info.name,
                       clock=self.clock)  # fmt: skip
            code = (
                incident_code(session, parsed.object_id)
                if parsed.kind is AssignmentKind.INCIDENT
                else None
            )
        if code is not None:
            back = request.app.url_path_for("incident", code=code)
        else:
            back = request.app.url_path_for("report", report_id=str(parsed.object_id))
        return RedirectResponse(str(back), status_code=303)

    def reply(self, request: Request) -> Response:
        info = request.state.session
        report_id = parse_id(request.path_params["report_id"], "report")
        text = parse_reply(request.state.form)
        if self.identity is None or self.relay is None:
            return self.pages.render(request, "error.html", {"message": NO_RELAY}, status=409)
        try:
            reply_to_report(
                self.identity,
                self.store,
                report_id,
                text,
                user_id=info.user_id,
                roles=info.roles,
                relay=self.relay,
                proxy=self.proxy,
                clock=self.clock,
            )
        except RelayError as exc:
            _log.warning("reply not sent: %s", type(exc).__name__)
            return self.pages.render(request, "error.html", {"message": RELAY_DOWN}, status=502)
        back = request.app.url_path_for("report", report_id=str(report_id))
        return RedirectResponse(f"{back}?replied=1", status_code=303)

    def thumbnail(self, request: Request) -> Response:
        info = request.state.session
        attachment_id = parse_id(request.path_params["attachment_id"], "attachment")
        if self.vault is None:
            return self.pages.render(request, "error.html", {"message": NO_VAULT}, status=404)
        with self.store.session() as session:
            thumb = thumbnail(session, self.vault, info.roles, attachment_id)
        headers = {
            "Content-Disposition": f'inline; filename="{thumb.filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return Response(thumb.data, media_type=thumb.media_type, headers=headers)
