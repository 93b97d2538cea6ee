"""The routes of the claims board, sources, users (admin) and desk work (assignment, replies,
previews); sijil.web.access has a row for each."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from sijil.web.pages import Pages
from sijil.web.views_admin import AdminViews
from sijil.web.views_claims import ClaimViews
from sijil.web.views_sources import SourceViews
from sijil.web.views_work import WorkViews

__all__ = ["work_routes"]

_GET, _BOTH, _POST = ["GET"], ["GET", "POST"], ["POST"]


def work_routes(pages: Pages) -> list[BaseRoute]:
    claims, sources = ClaimViews(pages), SourceViews(pages)
    admin, work = AdminViews(pages), WorkViews(pages)
    return [
        Route("/claims", claims.board, name="claims", methods=_GET),
        Route("/claims/{claim}", claims.show, name="claim", methods=_GET),
        Route("/claims/{claim}/link", claims.link, name="claim_link", methods=_POST),
        Route("/claims/{claim}/verdict", claims.verdict, name="claim_verdict", methods=_POST),
        Route("/claims/{claim}/review", claims.review, name="claim_review", methods=_POST),
        Route("/sources", sources.index, name="sources", methods=_GET),
        Route("/sources/{source}", sources.show, name="source", methods=_GET),
        Route("/users", admin.users, name="users", methods=_BOTH),
        Route("/users/{user_id}/roles", admin.roles, name="user_roles", methods=_POST),
        Route("/users/{user_id}/remove", admin.remove, name="user_remove", methods=_POST),
        Route("/users/{user_id}/enrol", admin.enrol, name="user_enrol", methods=_POST),
        Route("/mine", work.mine, name="mine", methods=_GET),
        Route("/assign", work.assign, name="assign", methods=_POST),
        Route("/reports/{report_id}/reply", work.reply, name="report_reply", methods=_POST),
        Route(
            "/attachments/{attachment_id}/thumbnail",
            work.thumbnail,
            name="thumbnail",
            methods=_GET,
        ),
    ]
