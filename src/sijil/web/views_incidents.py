"""The incident editor: a new incident, one incident, its edit form, its history, the place picker.

Each view parses its form once (sijil.web.incident_forms), calls sijil.desk in
one transaction and renders. A form that is wrong comes back with the values
typed and one line per wrong field (400); a stale version gets a 409 page that
shows what the other person saved next to what was typed, nothing saved. The
place picker answers HTMX with ``<option>`` rows for the place field's
datalist; without JavaScript the field takes a name, a code or a ``P-`` id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.activity_log import log_activity
from sijil.desk.assignments import AssignmentKind, assignee_of, possible_assignees
from sijil.desk.incident_history import incident_history
from sijil.desk.incident_view import show_incident
from sijil.desk.incidents import create_incident, edit_incident, get_incident
from sijil.desk.places import find_places, place_token, resolve_place
from sijil.errors import AmbiguousName, DeskError, UnknownCode, VersionConflict
from sijil.store.models_desk import IncidentState, IncidentType
from sijil.web.i18n import N_
from sijil.web.incident_forms import (
    MAX_PLACE,
    FieldInvalid,
    IncidentForm,
    parse_incident,
    parse_version,
)
from sijil.web.pages import Pages, field

__all__ = ["IncidentViews", "incident_values"]

PLACE_OPTIONS = 12
NO_SUCH_PLACE = N_("No place of the gazetteer has that name. Pick one from the list.")
SEVERAL_PLACES = N_("That name fits several places. Pick one from the list.")
REFUSED = N_("The desk refused these values. Check them: nothing has been saved.")
CONFLICT = N_("Someone else saved this incident first. Nothing of yours has been saved.")


def _when_text(iso: str | None) -> str:
    """A stored time as the form shows it: the date alone at midnight UTC, else with Z."""
    if not iso:
        return ""
    if iso.endswith("T00:00:00+00:00"):
        return iso[:10]
    return iso.replace("+00:00", "Z")


def incident_values(shown: dict[str, Any]) -> dict[str, str]:
    """An incident (sijil.desk.incident_view.incident_dict) as the editor's field values."""
    coords = shown["coordinates"]
    return {
        "title_ar": shown["titles"]["ar"],
        "title_en": shown["titles"]["en"],
        "type": shown["type"],
        "start": _when_text(shown["start"]),
        "end": _when_text(shown["end"]),
        "date_prec": str(shown["date_prec"]),
        "place": shown["place"]["id"] if shown["place"] else "",
        "at": f"{coords['lat']},{coords['lon']}" if coords else "",
        "where_prec": str(shown["where_prec"]),
        "state": shown["state"],
    }


def _typed(form: dict[str, str]) -> dict[str, str]:
    """What was typed, to fill the form again (capped: a refused value may be huge)."""
    return {k: v[: MAX_PLACE * 4] for k, v in form.items() if k != "csrf"}


class IncidentViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _editor(
        self,
        request: Request,
        *,
        code: str | None,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        message: str | None = None,
        status: int = 200,
        version: int | None = None,
        theirs: dict[str, str] | None = None,
        choices: list[dict[str, Any]] | None = None,
    ) -> Response:
        context = {
            "choices": choices or [],
            "code": code,
            "values": values,
            "errors": errors or {},
            "message": message,
            "version": version,
            "theirs": theirs,
            "types": [str(t) for t in IncidentType],
            "states": [str(s) for s in IncidentState],
        }
        template = "incident_conflict.html" if theirs is not None else "incident_edit.html"
        return self.pages.render(request, template, context, status=status)

    def _place(self, session: Any, parsed: IncidentForm) -> str | None:
        """The place as a ``P-`` id, so the desk never guesses between names."""
        if parsed.place is None:
            return None
        try:
            return place_token(resolve_place(session, parsed.place).id)
        except AmbiguousName:
            choices = [c.to_dict() for c in find_places(session, parsed.place, limit=PLACE_OPTIONS)]
            raise FieldInvalid("place", SEVERAL_PLACES, choices=choices) from None
        except UnknownCode:
            raise FieldInvalid("place", NO_SUCH_PLACE) from None

    def new(self, request: Request) -> Response:
        if request.method == "GET":
            return self._editor(request, code=None, values={"date_prec": "1"})
        info = request.state.session
        form = request.state.form
        try:
            parsed = parse_incident(form, with_state=False)
            with self.store.session(write=True) as session:
                made = create_incident(
                    session, title_ar=parsed.title_ar, title_en=parsed.title_en,
                    incident_type=parsed.incident_type, start=parsed.start, end=parsed.end,
                    date_prec=parsed.date_prec, place=self._place(session, parsed),
                    at=parsed.at, where_prec=parsed.where_prec, by=info.name, clock=self.clock,
                )  # fmt: skip
                code = made.code
                log_activity(session, user_id=info.user_id, action="incident.create",
                             obj=f"incident:{code}", clock=self.clock)  # fmt: skip
        except FieldInvalid as bad:
            errors = {bad.field: bad.message}
            return self._editor(request, code=None, values=_typed(form), errors=errors,
                                status=400, choices=bad.choices)  # fmt: skip
        except (UnknownCode, AmbiguousName, VersionConflict):
            raise
        except DeskError:
            return self._editor(request, code=None, values=_typed(form), message=REFUSED,
                                status=400)  # fmt: skip
        url = request.app.url_path_for("incident", code=code)
        return RedirectResponse(url, status_code=303)

    def show(self, request: Request) -> Response:
        with self.store.session() as session:
            shown = show_incident(session, request.path_params["code"])
            number = get_incident(session, shown["code"]).id
            assignment = {
                "assign_id": number,
                "assignee": assignee_of(session, AssignmentKind.INCIDENT, number),
                "assignees": possible_assignees(session),
            }
        context = {"incident": shown, **assignment}
        return self.pages.render(request, "incident_show.html", context)

    def edit(self, request: Request) -> Response:
        code = request.path_params["code"]
        if request.method == "GET":
            with self.store.session() as session:
                shown = show_incident(session, code)
            return self._editor(request, code=shown["code"], values=incident_values(shown),
                                version=shown["version"])  # fmt: skip
        info = request.state.session
        form = request.state.form
        with self.store.session() as session:
            code = get_incident(session, code).code  # a missing incident is a 404
        try:
            version = parse_version(form)
            parsed = parse_incident(form, with_state=True)
            with self.store.session(write=True) as session:
                changes = replace(parsed.changes(), place=self._place(session, parsed))
                edit_incident(session, code, if_version=version, changes=changes,
                              by=info.name, clock=self.clock)  # fmt: skip
                log_activity(session, user_id=info.user_id, action="incident.edit",
                             obj=f"incident:{code}", clock=self.clock)  # fmt: skip
        except FieldInvalid as bad:
            return self._editor(request, code=code, values=_typed(form), status=400,
                                errors={bad.field: bad.message}, choices=bad.choices,
                                version=_version_or_none(form))  # fmt: skip
        except VersionConflict:
            return self._conflict(request, code, form)
        except (UnknownCode, AmbiguousName):
            raise
        except DeskError:
            return self._editor(request, code=code, values=_typed(form), message=REFUSED,
                                status=400, version=_version_or_none(form))  # fmt: skip
        return RedirectResponse(request.app.url_path_for("incident", code=code), status_code=303)

    def _conflict(self, request: Request, code: str, form: dict[str, str]) -> Response:
        with self.store.session() as session:
            shown = show_incident(session, code)
        return self._editor(
            request,
            code=code,
            values=_typed(form),
            message=CONFLICT,
            status=409,
            version=shown["version"],
            theirs=incident_values(shown) | {"by": shown["updated_by"] or ""},
        )

    def history(self, request: Request) -> Response:
        with self.store.session() as session:
            found = incident_history(session, request.path_params["code"])
        return self.pages.render(request, "history.html", {"history": found})

    def places(self, request: Request) -> Response:
        params = dict(request.query_params)
        text = field(params, "place", max_len=MAX_PLACE).strip() if "place" in params else ""
        candidates = []
        if len(text) >= 2:
            with self.store.session() as session:
                candidates = [c.to_dict() for c in find_places(session, text, limit=PLACE_OPTIONS)]
        partial = request.headers.get("hx-request") == "true"
        template = "_incident_place_options.html" if partial else "incident_places.html"
        return self.pages.render(request, template, {"place": text, "candidates": candidates})


def _version_or_none(form: dict[str, str]) -> int | None:
    try:
        return parse_version(form)
    except FieldInvalid:
        return None
