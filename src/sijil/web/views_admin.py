"""Users (admin): the list, adding a user with a first enrolment code, roles, removal.

The rules are sijil.desk.user_admin's: an admin acts, the desk keeps an admin, a
change of roles or a removal ends the user's sessions, each is a ledger entry
and an activity-log entry. A roles form carries the roles it showed; a change
made by someone else in between makes it stale (409), never silently overwritten.
An enrolment code is shown once, on the page that answers the form.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.accounts import ENROL_TTL, issue_enrolment
from sijil.desk.user_admin import add_desk_user, remove_user, set_roles, user_rows
from sijil.errors import UnknownCode, VersionConflict
from sijil.store.models_desk import Role
from sijil.web.i18n import N_
from sijil.web.pages import Pages
from sijil.web.work_forms import parse_id, parse_new_user, parse_roles, parse_version

__all__ = ["AdminViews"]

STALE = N_("Someone changed this user in the meantime. Reload the page and try again.")


class AdminViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _page(self, request: Request, extra: dict[str, Any], *, status: int = 200) -> Response:
        with self.store.session() as session:
            rows = user_rows(session, now=self.clock())
        context = {"rows": rows, "roles": [str(r) for r in Role], "code": None, **extra}
        return self.pages.render(request, "users.html", context, status=status)

    def users(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, {})
        name, roles = parse_new_user(request.state.form)
        by = request.state.session.name
        with self.store.session(write=True) as session:
            code = add_desk_user(session, name, roles, by=by, clock=self.clock)
        return self._page(request, {"code": code, "code_for": name, "days": ENROL_TTL.days})

    def roles(self, request: Request) -> Response:
        user_id = parse_id(request.path_params["user_id"], "user")
        form = request.state.form
        version, roles = parse_version(form), parse_roles(form)
        by = request.state.session.name
        try:
            with self.store.session(write=True) as session:
                set_roles(session, user_id, roles, version=version, by=by, clock=self.clock)
        except VersionConflict:
            return self._stale(request)
        return RedirectResponse(request.app.url_path_for("users"), status_code=303)

    def remove(self, request: Request) -> Response:
        user_id = parse_id(request.path_params["user_id"], "user")
        version = parse_version(request.state.form)
        by = request.state.session.name
        try:
            with self.store.session(write=True) as session:
                remove_user(session, user_id, version=version, by=by, clock=self.clock)
        except VersionConflict:
            return self._stale(request)
        return RedirectResponse(request.app.url_path_for("users"), status_code=303)

    def enrol(self, request: Request) -> Response:
        user_id = parse_id(request.path_params["user_id"], "user")
        by = request.state.session.name
        with self.store.session() as session:
            rows = {r.id: r for r in user_rows(session, now=self.clock())}
        if user_id not in rows:
            raise UnknownCode(f"no desk user #{user_id}")
        name = rows[user_id].name
        with self.store.session(write=True) as session:
            code = issue_enrolment(session, name, by=by, clock=self.clock)
        return self._page(request, {"code": code, "code_for": name, "days": ENROL_TTL.days})

    def _stale(self, request: Request) -> Response:
        return self.pages.render(request, "error.html", {"message": STALE}, status=409)
