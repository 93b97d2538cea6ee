"""Sources with their track record: correspondents (by codename), outlets, officials, monitors.

The figures are sijil.desk.source_view's, counted from verdicts and evidence at
the moment the page is asked, never typed in. Reports flagged as possibly
coerced or sent under duress are counted apart. Only the people who read
reports see this page: it lists the correspondents' codenames.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sijil.desk.source_view import list_sources, show_source
from sijil.errors import FormError
from sijil.store.models_claims import SourceKind
from sijil.web.pages import Pages
from sijil.web.work_forms import parse_source_token

__all__ = ["SourceViews"]


class SourceViews:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.state.store

    def index(self, request: Request) -> Response:
        kind = request.query_params.get("kind") or None
        if kind is not None and kind not in {str(k) for k in SourceKind}:
            raise FormError("kind is not one of its choices", field="kind")
        with self.store.session() as session:
            rows = list_sources(session, kind=kind)
        context: dict[str, Any] = {
            "rows": rows,
            "kind": kind or "",
            "kinds": [str(k) for k in SourceKind],
        }
        return self.pages.render(request, "sources.html", context)

    def show(self, request: Request) -> Response:
        token = parse_source_token(request.path_params["source"])
        with self.store.session() as session:
            source = show_source(session, token)
        return self.pages.render(request, "source.html", {"source": source})
