"""Assessments and their review: the form with the casualty-range table, one assessment, the queue.

An editor or analyst proposes an assessment of the incident version they read
(a newer version gets the 409 page: look again first). A reviewer reviews it
from the queue, which never holds their own work (sijil.desk.review_queue);
the two-person rules themselves are sijil.desk.assessments', and this shell
only turns their refusals into a plain line in the reader's language.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.activity_log import log_activity
from sijil.desk.assessments import propose_assessment
from sijil.desk.assessments import review as review_assessment
from sijil.desk.casualties import Group, Outcome, Status
from sijil.desk.codes import assessment_token
from sijil.desk.incident_view import show_incident
from sijil.desk.review_queue import assessment_page, review_queue, verdict_queue
from sijil.errors import CasualtyRangeError, DeskError, ReviewRefused, UnknownCode
from sijil.store.models_desk import Grading, Harm
from sijil.web.i18n import N_
from sijil.web.incident_forms import (
    CASUALTY_ROWS,
    FieldInvalid,
    parse_assessment,
    parse_id,
    parse_review,
)
from sijil.web.pages import Pages

__all__ = ["ReviewViews"]

MOVED = N_(
    "Someone changed this incident since you opened the form. Read it again; nothing has been "
    "saved."
)
RANGES = N_(
    "The casualty ranges contradict each other: a part cannot be larger than its whole, and each "
    "kind is given once."
)
REFUSED = N_("The desk refused these values. Check them: nothing has been saved.")
OWN_WORK = N_("You wrote this assessment: another reviewer must review it.")
OWN_SENT_BACK = N_("Your own work is not sent back: propose a new assessment instead.")
REVIEWED = N_("This assessment has already been reviewed.")
REVIEW_REFUSED = N_(
    "This assessment can no longer be approved: a newer one is current. Send it back instead."
)


def _values_from(assessment: dict[str, Any]) -> dict[str, str]:
    """An earlier assessment as the form's starting values (to correct or translate it)."""
    values = {
        "grading": assessment["grading"],
        "harm": assessment["harm"],
        "summary_ar": assessment["summaries"]["ar"],
        "summary_en": assessment["summaries"]["en"],
    }
    for row, count in enumerate(assessment["casualties"][:CASUALTY_ROWS]):
        values[f"kind{row}"] = f"{count['outcome']}:{count['status']}:{count['group']}"
        values[f"min{row}"], values[f"max{row}"] = str(count["min"]), str(count["max"])
    return values


class ReviewViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def _form(
        self,
        request: Request,
        incident: dict[str, Any],
        values: dict[str, str],
        *,
        errors: dict[str, str] | None = None,
        message: str | None = None,
        status: int = 200,
    ) -> Response:
        context = {
            "incident": incident,
            "values": values,
            "errors": errors or {},
            "message": message,
            "rows": range(CASUALTY_ROWS),
            "gradings": [str(g) for g in Grading],
            "harms": [str(h) for h in Harm],
            "kinds": [(str(o), str(s), str(g)) for o in Outcome for s in Status for g in Group],
        }
        return self.pages.render(request, "assessment_new.html", context, status=status)

    def propose(self, request: Request) -> Response:
        info = request.state.session
        code = request.path_params["code"]
        with self.store.session() as session:
            incident = show_incident(session, code)
            earlier = None
            if "from" in request.query_params:
                wanted = parse_id(request.query_params["from"], "from")
                earlier = next(
                    (a for a in incident["assessments"] if a["id"] == assessment_token(wanted)),
                    None,
                )
                if earlier is None:
                    raise UnknownCode(f"no assessment {wanted} of {incident['code']}")
        if request.method == "GET":
            values = _values_from(earlier) if earlier else {}
            return self._form(request, incident, values | {"version": str(incident["version"])})
        form = request.state.form
        typed = {k: v[:5000] for k, v in form.items()}
        try:
            parsed = parse_assessment(form)
            if parsed.version != incident["version"]:
                typed["version"] = str(incident["version"])
                return self._form(request, incident, typed, message=MOVED, status=409)
            with self.store.session(write=True) as session:
                made = propose_assessment(
                    session, incident["code"], grading=parsed.grading, harm=parsed.harm,
                    counts=parsed.counts, summary_ar=parsed.summary_ar,
                    summary_en=parsed.summary_en, by=info.name, clock=self.clock,
                )  # fmt: skip
                made_id = made.id
                log_activity(session, user_id=info.user_id, action="assessment.propose",
                             obj=f"assessment:{assessment_token(made_id)}",
                             clock=self.clock)  # fmt: skip
        except FieldInvalid as bad:
            errors = {bad.field: bad.message}
            return self._form(request, incident, typed, errors=errors, status=400)
        except CasualtyRangeError:
            return self._form(request, incident, typed, errors={"casualties": RANGES}, status=400)
        except UnknownCode:
            raise
        except DeskError:
            return self._form(request, incident, typed, message=REFUSED, status=400)
        url = request.app.url_path_for("assessment", assessment_id=str(made_id))
        return RedirectResponse(url, status_code=303)

    def show(self, request: Request) -> Response:
        info = request.state.session
        number = parse_id(request.path_params["assessment_id"], "assessment")
        with self.store.session() as session:
            page = assessment_page(session, number, user_id=info.user_id)
        return self.pages.render(request, "assessment_show.html", {"page": page})

    def review(self, request: Request) -> Response:
        info = request.state.session
        number = parse_id(request.path_params["assessment_id"], "assessment")
        parsed = parse_review(request.state.form)
        with self.store.session() as session:
            page = assessment_page(session, number, user_id=info.user_id)
        if page.assessment["status"] != "proposed":
            return self._refused(request, REVIEWED, 409)
        if page.own and not page.solo:
            return self._refused(request, OWN_WORK, 403)
        if page.own and not parsed.approve:
            return self._refused(request, OWN_SENT_BACK, 400)
        try:
            with self.store.session(write=True) as session:
                review_assessment(session, assessment_token(number), approve=parsed.approve,
                       comment=parsed.comment, by=info.name, clock=self.clock)  # fmt: skip
                log_activity(session, user_id=info.user_id, action="assessment.review",
                             obj=f"assessment:{assessment_token(number)}",
                             clock=self.clock)  # fmt: skip
        except ReviewRefused:
            return self._refused(request, REVIEW_REFUSED, 409)
        return RedirectResponse(request.app.url_path_for("review_queue"), status_code=303)

    def _refused(self, request: Request, message: str, status: int) -> Response:
        return self.pages.render(request, "error.html", {"message": message}, status=status)

    def queue(self, request: Request) -> Response:
        info = request.state.session
        with self.store.session() as session:
            items = review_queue(session, info.user_id)
            verdicts = verdict_queue(session, info.user_id)
        context = {"items": items, "verdicts": verdicts}
        return self.pages.render(request, "review_queue.html", context)
