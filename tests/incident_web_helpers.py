"""Fixtures for the incident editor, assessment and review pages: a desk with reports,
a small gazetteer, an actor, and one user per role.

``incident_desk`` builds it on the parametrized database; ``post`` sends a form
with the CSRF token of the user's session (read from a page they may open).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS, desk_with_evidence
from desk_work_helpers import small_gazetteer
from sijil.desk.actors import add_actor
from sijil.desk.incidents import get_incident
from sijil.desk.places import import_gazetteer
from sijil.store.models_desk import Role
from web_helpers import WebDesk, csrf_of

__all__ = ["IncidentDesk", "incident_desk", "new_incident_form", "post"]


def post(client: Any, path: str, data: dict[str, str], *, csrf_page: str = "/incidents",
         headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    """POST ``data`` to ``path`` with the session's CSRF token."""
    token = csrf_of(client.get(csrf_page).text)
    return client.post(path, data={"csrf": token, **data}, headers=headers or {})


def new_incident_form(**changes: str) -> dict[str, str]:
    form = {
        "title_ar": "غارة على سوق الخضار في الرقة",
        "title_en": "Airstrike on the Raqqa vegetable market",
        "type": "airstrike",
        "start": "2017-06-06",
        "end": "",
        "date_prec": "1",
        "place": "",
        "at": "35.9530,39.0060",
        "where_prec": "",
    }
    return form | changes


@dataclass
class IncidentDesk:
    web: WebDesk

    def store(self) -> Any:
        return self.web.desk.home.open_store()

    def incident(self, code: str) -> dict[str, Any]:
        """What the database holds for ``code`` now."""
        with self.store() as store, store.session() as session:
            found = get_incident(session, code)
            return {"version": found.version, "title_ar": found.title_ar,
                    "title_en": found.title_en, "state": found.state,
                    "place_id": found.place_id, "grading": found.grading}  # fmt: skip

    def create(self, client: Any, **changes: str) -> str:
        made = post(client, "/incidents/new", new_incident_form(**changes))
        assert made.status_code == 303, made.text
        return str(made.headers["location"]).rsplit("/", 1)[1]


@pytest.fixture
def incident_desk(
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> IncidentDesk:
    """Raven's three reports, Ar-Raqqa's places, the Coalition, and dima (editor),
    nour (analyst), rami and huda (reviewers), sami (viewer)."""
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk)
    web.add("dima", Role.EDITOR)
    web.add("nour", Role.ANALYST)
    web.add("rami", Role.REVIEWER)
    web.add("huda", Role.REVIEWER, Role.EDITOR)
    web.add("sami", Role.VIEWER)
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        import_gazetteer(session, small_gazetteer(CORPUS), by="root")
        add_actor(session, name_en="Coalition", name_ar="التحالف", aliases=["CJTF-OIR"],
                  by="dima")  # fmt: skip
    return IncidentDesk(web=web)
