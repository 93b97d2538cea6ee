"""Deny by default: every route has a row in the access table, and every route × role is checked.

The matrix signs in one user per role (plus one with no session, and one half
way through sign-in) and asks every route; what the table allows must answer,
everything else must be refused with 401/403 (or a redirect to sign in),
never reach the page.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.routing import Mount, Route

from conftest import desk_with_evidence
from sijil.store.models_desk import Role
from sijil.web.access import ROUTE_ACCESS, Gate, allowed
from sijil.web.app import create_app
from web_helpers import WebDesk, csrf_of

# one concrete address per route
SAMPLE_PATH = {
    "home": "/",
    "login": "/login",
    "second_factor": "/login/code",
    "enrol": "/enrol",
    "enrol_finish": "/enrol/finish",
    "logout": "/logout",
    "language": "/language",
    "inbox": "/inbox",
    "report": "/reports/1",
    "incidents": "/incidents",
    "search": "/search?q=market",
    "activity": "/activity",
    "static": "/static/app.css",
}
POST_ONLY = {"enrol_finish", "logout", "language"}
# the claims board, sources, users, desk work (their pages: test_web_claims/admin/work.py)
SAMPLE_PATH |= {
    "claims": "/claims",
    "claim": "/claims/C-1",
    "claim_link": "/claims/C-1/link",
    "claim_verdict": "/claims/C-1/verdict",
    "claim_review": "/claims/C-1/review",
    "sources": "/sources",
    "source": "/sources/Raven",
    "users": "/users",
    "user_roles": "/users/1/roles",
    "user_remove": "/users/1/remove",
    "user_enrol": "/users/1/enrol",
    "mine": "/mine",
    "assign": "/assign",
    "report_reply": "/reports/1/reply",
    "thumbnail": "/attachments/1/thumbnail",
}
POST_ONLY |= {
    "claim_link",
    "claim_verdict",
    "claim_review",
    "user_roles",
    "user_remove",
    "user_enrol",
    "assign",
    "report_reply",
}

# the incident editor, assessments, review, history, translations (test_web_incidents/review.py)
SAMPLE_PATH |= {
    "incident_new": "/incidents/new",
    "incident": "/incidents/SJ-2026-0001",
    "incident_edit": "/incidents/SJ-2026-0001/edit",
    "incident_history": "/incidents/SJ-2026-0001/history",
    "incident_evidence": "/incidents/SJ-2026-0001/evidence?q=market",
    "incident_attribute": "/incidents/SJ-2026-0001/attribution",
    "incident_translate": "/incidents/SJ-2026-0001/translate",
    "assessment_new": "/incidents/SJ-2026-0001/assess",
    "assessment": "/assessments/1",
    "assessment_review": "/assessments/1/review",
    "review_queue": "/review",
    "translations": "/translations",
    "place_picker": "/places/pick?place=raqqa",
}
POST_ONLY |= {"incident_attribute", "incident_translate", "assessment_review"}

# security keys: each user their own; a key at the second-factor step (test_desk_security_keys.py)
SAMPLE_PATH |= {
    "keys": "/keys",
    "key_options": "/keys/options",
    "key_add": "/keys/add",
    "key_remove": "/keys/1/remove",
    "key_login_options": "/login/key/options",
    "key_login": "/login/key",
}
POST_ONLY |= {"key_options", "key_add", "key_remove", "key_login_options", "key_login"}


def test_every_route_has_a_row_in_the_access_table(make_web: Callable[..., WebDesk]) -> None:
    web = make_web()
    app = create_app(web.config)
    names = {route.name for route in app.routes if isinstance(route, Route | Mount)}
    assert names == set(ROUTE_ACCESS), "a route without a row, or a row without a route"
    assert names == set(SAMPLE_PATH), "the matrix below must ask every route"
    app.state.store.close()


def test_a_route_missing_from_the_table_is_refused() -> None:
    for stage in (None, "totp", "full"):
        assert not allowed("brand_new_page", stage=stage, roles=frozenset(Role))
        assert not allowed(None, stage=stage, roles=frozenset(Role))


@pytest.mark.parametrize("who", ["anonymous", "half", *[r.value for r in Role]])
def test_authorization_matrix(
    who: str,
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    tmp_path: object,
) -> None:
    # Given a desk with a report, and a client for ``who``
    evidence = desk_with_evidence(make_desk, make_correspondent, None, tmp_path, reports=1)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk)
    if who == "anonymous":
        client, stage, roles = web.client(), None, frozenset[Role]()
    elif who == "half":
        web.add("half", Role.EDITOR)
        client = web.session_for("half")
        stage, roles = "totp", frozenset({Role.EDITOR})
        _demote_to_second_factor(web, "half")
    else:
        role = Role(who)
        web.add(who, role)
        client, stage, roles = web.session_for(who), "full", frozenset({role})
    landing = {"anonymous": "/login", "half": "/login/code"}.get(who, "/search")
    csrf = csrf_of(client.get(landing).text)
    for name, path in SAMPLE_PATH.items():
        # When it asks for every page (a POST-only one with a POST and a valid CSRF token)
        post = name in POST_ONLY
        response = client.post(path, data={"csrf": csrf}) if post else client.get(path)
        expected = allowed(name, stage=stage, roles=roles)
        # Then exactly the allowed ones answer
        if not expected:
            assert response.status_code in (303, 401, 403), (name, who, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].endswith("/login"), (name, who)
        else:
            assert response.status_code not in (401, 403, 405, 500), (name, who, response.text)
        if ROUTE_ACCESS[name] is Gate.PUBLIC:
            assert expected
        if name == "logout" and expected:  # signed out now: sign in again for the rest
            client = web.session_for(who)
            csrf = csrf_of(client.get(landing).text)


def _demote_to_second_factor(web: WebDesk, name: str) -> None:
    from sqlalchemy import update

    from sijil.store import WebSession

    with web.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(
            update(WebSession).where(WebSession.user_id == web.users[name]).values(stage="totp")
        )
