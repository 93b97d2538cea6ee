"""Work on an incident besides its fields: evidence, attribution, and the translation view.

Evidence is linked through search: the evidence page searches the reports
(sijil.desk.reading.search_as, so the search is logged like any other) and
each hit carries a small form that links it, with its role and how sure the
desk is. The translation view lists what exists in one language only
(sijil.desk.translation_gaps) and lets an editor add the other: an incident's
title through the optimistic lock, an assessment's summary by proposing a new
assessment (they are never edited).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.activity_log import log_activity
from sijil.desk.actors import resolve_actor
from sijil.desk.evidence import attribute, link_report
from sijil.desk.incident_view import show_incident
from sijil.desk.incidents import edit_incident, get_incident
from sijil.desk.reading import search_as
from sijil.desk.search import SearchFilters
from sijil.desk.translation_gaps import translation_gaps
from sijil.errors import AmbiguousName, DeskError, UnknownCode, VersionConflict
from sijil.store import DocKind
from sijil.store.models_desk import Confidence, EvidenceRole, Stance
from sijil.web.i18n import N_
from sijil.web.incident_forms import (
    FieldInvalid,
    parse_attribution,
    parse_evidence,
    parse_translation,
)
from sijil.web.pages import Pages, field

__all__ = ["IncidentWorkViews"]

MAX_QUERY = 1000
ALREADY_LINKED = N_("That report is already evidence for this incident.")
NO_SUCH_ACTOR = N_("No actor has that name.")
SEVERAL_ACTORS = N_("That name fits several actors. Use the actor's full English name.")
STALE = N_("Someone else saved this incident first. Nothing of yours has been saved.")
REFUSED = N_("The desk refused these values. Check them: nothing has been saved.")
_REPORTS = SearchFilters(kinds=frozenset({DocKind.REPORT}))


class IncidentWorkViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _partial(self, request: Request) -> bool:
        return request.headers.get("hx-request") == "true"

    def _choices(self) -> dict[str, list[str]]:
        return {
            "roles": [str(r) for r in EvidenceRole],
            "confidences": [str(c) for c in Confidence],
            "stances": [str(s) for s in Stance],
        }

    def evidence(self, request: Request) -> Response:
        if request.method == "POST":
            return self._link(request)
        info = request.state.session
        params = dict(request.query_params)
        query = field(params, "q", max_len=MAX_QUERY) if "q" in params else ""
        with self.store.session(write=True) as session:
            shown = show_incident(session, request.path_params["code"])
            hits = []
            if query.strip():
                hits = search_as(session, info.roles, query, user_id=info.user_id,
                                 filters=_REPORTS, clock=self.clock)  # fmt: skip
        linked = {e["report"] for e in shown["evidence"]}
        context = {"incident": shown, "q": query, "hits": hits, "linked": linked,
                   **self._choices()}  # fmt: skip
        template = "_incident_evidence_hits.html" if self._partial(request) else None
        return self.pages.render(request, template or "incident_evidence.html", context)

    def _link(self, request: Request) -> Response:
        info = request.state.session
        code = request.path_params["code"]
        parsed = parse_evidence(request.state.form)
        try:
            with self.store.session(write=True) as session:
                code = get_incident(session, code).code
                link_report(session, code, report_id=parsed.report_id,
                            attachment=parsed.attachment, role=parsed.role,
                            confidence=parsed.confidence, note=parsed.note, by=info.name,
                            clock=self.clock)  # fmt: skip
                log_activity(session, user_id=info.user_id, action="evidence.link",
                             obj=f"incident:{code}", clock=self.clock)  # fmt: skip
        except (UnknownCode, AmbiguousName):
            raise
        except DeskError:
            return self.pages.render(request, "error.html", {"message": ALREADY_LINKED},
                                     status=409)  # fmt: skip
        return RedirectResponse(request.app.url_path_for("incident", code=code), status_code=303)

    def attribution(self, request: Request) -> Response:
        info = request.state.session
        code = request.path_params["code"]
        form = request.state.form
        with self.store.session() as session:
            code = get_incident(session, code).code
        try:
            parsed = parse_attribution(form)
            with self.store.session(write=True) as session:
                try:
                    actor = resolve_actor(session, parsed.actor)
                except UnknownCode:
                    raise FieldInvalid("actor", NO_SUCH_ACTOR) from None
                except AmbiguousName:
                    raise FieldInvalid("actor", SEVERAL_ACTORS) from None
                attribute(session, code, actor=actor.name_en, stance=parsed.stance,
                          basis=parsed.basis, by=info.name, clock=self.clock)  # fmt: skip
                log_activity(session, user_id=info.user_id, action="incident.attribute",
                             obj=f"incident:{code}", clock=self.clock)  # fmt: skip
        except FieldInvalid as bad:
            with self.store.session() as session:
                shown = show_incident(session, code)
            context = {"incident": shown, "errors": {bad.field: bad.message},
                       "typed": {k: v[:1000] for k, v in form.items()}}  # fmt: skip
            return self.pages.render(request, "incident_show.html", context, status=400)
        url = request.app.url_path_for("incident", code=code)
        return RedirectResponse(f"{url}#attribution", status_code=303)

    def translations(self, request: Request) -> Response:
        with self.store.session() as session:
            gaps = translation_gaps(session)
        return self.pages.render(request, "translations.html", {"gaps": gaps})

    def translate(self, request: Request) -> Response:
        info = request.state.session
        code = request.path_params["code"]
        partial = self._partial(request)
        with self.store.session() as session:
            code = get_incident(session, code).code
        try:
            parsed = parse_translation(request.state.form)
            with self.store.session(write=True) as session:
                edit_incident(session, code, if_version=parsed.version,
                              changes=parsed.changes(), by=info.name,
                              clock=self.clock)  # fmt: skip
                log_activity(session, user_id=info.user_id, action="incident.edit",
                             obj=f"incident:{code}", clock=self.clock)  # fmt: skip
        except FieldInvalid as bad:
            return self._translate_refused(request, bad.message, 400)
        except VersionConflict:
            return self._translate_refused(request, STALE, 409)
        except (UnknownCode, AmbiguousName):
            raise
        except DeskError:
            return self._translate_refused(request, REFUSED, 400)
        if partial:
            context = {"code": code, "lang_added": parsed.lang, "text": parsed.text}
            return self.pages.render(request, "_translation_done.html", context)
        return RedirectResponse(request.app.url_path_for("translations"), status_code=303)

    def _translate_refused(self, request: Request, message: str, status: int) -> Response:
        template = "_error.html" if self._partial(request) else "error.html"
        return self.pages.render(request, template, {"message": message}, status=status)
