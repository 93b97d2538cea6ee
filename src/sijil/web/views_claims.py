"""The claims board: claims as imported or added, one claim, linking it to an incident, rating it.

A claim is what an outlet, an official or a monitor said; the desk links it to
the incidents it is about and rates it with a verdict, which a second person
reviews (sijil.desk.claims, sijil.desk.verdicts). Everyone reads the board;
editors and analysts link and propose; reviewers approve or send back.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sijil.desk.claim_view import claim_rows, show_claim
from sijil.desk.claims import link_claim, list_claims
from sijil.desk.verdicts import propose_verdict, review_verdict
from sijil.errors import FormError
from sijil.store.models_claims import VerdictRating
from sijil.web.pages import Pages
from sijil.web.work_forms import (
    MAX_COMMENT,
    MAX_VERDICT_SUMMARY,
    parse_claim_token,
    parse_incident_code,
    parse_review,
    parse_source_token,
    parse_verdict,
)

__all__ = ["ClaimViews"]

#: Claims per page of the board, newest claim date first.
CLAIM_PAGE = 200


class ClaimViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store
        self.clock = pages.state.clock

    def board(self, request: Request) -> Response:
        params = dict(request.query_params)
        source = parse_source_token(params["source"]) if params.get("source") else None
        incident = parse_incident_code(params) if params.get("incident") else None
        with self.store.session() as session:
            found = list_claims(session, outlet=source, incident=incident, limit=CLAIM_PAGE)
            rows = claim_rows(session, found)
        context: dict[str, Any] = {
            "rows": rows,
            "source": source or "",
            "incident": incident or "",
            "page": CLAIM_PAGE,
        }
        return self.pages.render(request, "claims.html", context)

    def _token(self, request: Request) -> str:
        return parse_claim_token(request.path_params["claim"])

    def show(self, request: Request) -> Response:
        token = self._token(request)
        with self.store.session() as session:
            claim = show_claim(session, token)
        context: dict[str, Any] = {
            "claim": claim,
            "ratings": [str(r) for r in VerdictRating],
            "max_summary": MAX_VERDICT_SUMMARY,
            "max_comment": MAX_COMMENT,
        }
        return self.pages.render(request, "claim.html", context)

    def link(self, request: Request) -> Response:
        token = self._token(request)
        code = parse_incident_code(request.state.form)
        name = request.state.session.name
        with self.store.session(write=True) as session:
            link_claim(session, token, incident=code, by=name, clock=self.clock)
        return self._back(request, token)

    def verdict(self, request: Request) -> Response:
        token = self._token(request)
        parsed = parse_verdict(request.state.form)
        name = request.state.session.name
        with self.store.session(write=True) as session:
            propose_verdict(
                session,
                token,
                rating=parsed.rating,
                summary_ar=parsed.summary_ar,
                summary_en=parsed.summary_en,
                evidence=parsed.evidence,
                by=name,
                clock=self.clock,
            )
        return self._back(request, token)

    def review(self, request: Request) -> Response:
        token = self._token(request)
        parsed = parse_review(request.state.form)
        name = request.state.session.name
        with self.store.session(write=True) as session:
            claim = show_claim(session, token)
            if parsed.verdict not in {v["id"] for v in claim["verdicts"]}:
                raise FormError("the verdict is not this claim's", field="verdict")
            review_verdict(
                session,
                parsed.verdict,
                approve=parsed.approve,
                comment=parsed.comment,
                by=name,
                clock=self.clock,
            )
        return self._back(request, token)

    def _back(self, request: Request, token: str) -> Response:
        return RedirectResponse(request.app.url_path_for("claim", claim=token), status_code=303)
