"""The routes of the incident editor, assessments, the review queue and the translation view.

Kept apart from sijil.web.app's own list so each group of screens adds its
routes in one place; every name here has its row in sijil.web.access.
``/incidents/new`` comes before ``/incidents/{code}``, which would match it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from sijil.web.pages import Pages
from sijil.web.views_incident_work import IncidentWorkViews
from sijil.web.views_incidents import IncidentViews
from sijil.web.views_review import ReviewViews

__all__ = ["incident_routes"]

_GET, _BOTH, _POST = ["GET"], ["GET", "POST"], ["POST"]
_CODE = "/incidents/{code}"


def incident_routes(pages: Pages) -> list[BaseRoute]:
    incidents, work, reviews = IncidentViews(pages), IncidentWorkViews(pages), ReviewViews(pages)
    return [
        Route("/incidents/new", incidents.new, name="incident_new", methods=_BOTH),
        Route(_CODE, incidents.show, name="incident", methods=_GET),
        Route(f"{_CODE}/edit", incidents.edit, name="incident_edit", methods=_BOTH),
        Route(f"{_CODE}/history", incidents.history, name="incident_history", methods=_GET),
        Route(f"{_CODE}/evidence", work.evidence, name="incident_evidence", methods=_BOTH),
        Route(f"{_CODE}/attribution", work.attribution, name="incident_attribute", methods=_POST),
        Route(f"{_CODE}/translate", work.translate, name="incident_translate", methods=_POST),
        Route(f"{_CODE}/assess", reviews.propose, name="assessment_new", methods=_BOTH),
        Route("/assessments/{assessment_id}", reviews.show, name="assessment", methods=_GET),
        Route(
            "/assessments/{assessment_id}/review",
            reviews.review,
            name="assessment_review",
            methods=_POST,
        ),
        Route("/review", reviews.queue, name="review_queue", methods=_GET),
        Route("/translations", work.translations, name="translations", methods=_GET),
        Route("/places/pick", incidents.places, name="place_picker", methods=_GET),
    ]
