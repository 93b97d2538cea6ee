"""Users (admin) over HTTP: adding with an enrolment code, roles, removal, sessions, bad input.

Through Starlette's test client against the real app and the desk's own
functions, on SQLite and PostgreSQL. A change of roles and a removal end the
user's sessions at once; every admin action is in the activity log, with no IP.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from sijil.store import ActivityEntry
from sijil.store.models_desk import Role
from web_helpers import WebDesk, csrf_of

ARABIC = 'lang="ar" dir="rtl"'
IP_LIKE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


@pytest.fixture
def admin_web(make_web: Callable[..., WebDesk], store_url: str) -> WebDesk:
    """A desk with root (admin), lina (analyst) and sami (viewer)."""
    web = make_web(store_url)
    web.add("lina", Role.ANALYST)
    web.add("sami", Role.VIEWER)
    return web


def _version(page: str, user_id: int) -> str:
    found = re.search(
        rf'action="/users/{user_id}/roles".*?name="version" value="([0-9a-f]{{16}})"', page, re.S
    )
    assert found, "no roles form for that user"
    return found.group(1)


def _activity(web: WebDesk) -> list[tuple[str, str]]:
    with web.desk.home.open_store() as store, store.session() as session:
        rows = session.scalars(select(ActivityEntry).order_by(ActivityEntry.seq))
        return [(r.action, r.object) for r in rows]


def test_an_admin_adds_a_user_whose_code_opens_enrolment(admin_web: WebDesk) -> None:
    # Given the admin on the users page
    admin = admin_web.session_for("root")
    page = admin.get("/users")
    assert page.status_code == 200 and ARABIC in page.text and "المستخدمون" in page.text
    # When she adds noor as a reviewer
    added = admin.post(
        "/users", data={"csrf": csrf_of(page.text), "name": "noor", "role_reviewer": "on"}
    )
    # Then the page shows a one-time code, and that code starts noor's enrolment
    assert added.status_code == 200, added.text
    code = re.search(r'<code class="code" dir="ltr">([A-Z2-9-]+)</code>', added.text)
    assert code and "noor" in added.text
    browser = admin_web.client()
    form = browser.get("/enrol")
    started = browser.post(
        "/enrol", data={"csrf": csrf_of(form.text), "name": "noor", "code": code.group(1)}
    )
    assert started.status_code == 200 and 'id="totp-secret"' in started.text
    assert ("user.added", f"user:{_user_id(admin_web, 'noor')}") in _activity(admin_web)


def _user_id(web: WebDesk, name: str) -> int:
    from sijil.desk.users import get_user

    with web.desk.home.open_store() as store, store.session() as session:
        return get_user(session, name).id


def test_a_change_of_roles_signs_the_user_out_at_once(admin_web: WebDesk) -> None:
    # Given lina reading the inbox, and the admin on the users page
    lina = admin_web.session_for("lina")
    assert lina.get("/inbox").status_code == 200
    admin = admin_web.session_for("root")
    page = admin.get("/users")
    lina_id = admin_web.users["lina"]
    # When the admin makes her a reviewer as well
    changed = admin.post(
        f"/users/{lina_id}/roles",
        data={"csrf": csrf_of(page.text), "version": _version(page.text, lina_id),
              "role_analyst": "on", "role_reviewer": "on"},
    )  # fmt: skip
    # Then her next request finds no session, and the log names the change (no IP)
    assert changed.status_code == 303
    again = lina.get("/inbox")
    assert again.status_code == 303 and again.headers["location"].endswith("/login")
    assert ("user.roles", f"user:{lina_id}") in _activity(admin_web)
    log = admin.get("/activity")
    assert "غيّر أدوار مستخدم" in log.text and not IP_LIKE.search(log.text)


def test_a_removed_user_is_signed_out_and_cannot_come_back(admin_web: WebDesk) -> None:
    # Given sami signed in
    sami = admin_web.session_for("sami")
    assert sami.get("/incidents").status_code == 200
    admin = admin_web.session_for("root")
    page = admin.get("/users")
    sami_id = admin_web.users["sami"]
    # When the admin removes him
    removed = admin.post(
        f"/users/{sami_id}/remove",
        data={"csrf": csrf_of(page.text), "version": _version(page.text, sami_id)},
    )
    # Then his session is over, a new one has nothing it may open, and the page says removed
    assert removed.status_code == 303
    assert sami.get("/incidents").status_code == 303
    assert admin_web.session_for("sami").get("/incidents").status_code == 403
    assert "أُزيل" in admin.get("/users").text
    assert ("user.removed", f"user:{sami_id}") in _activity(admin_web)


def test_a_stale_roles_form_is_refused_in_the_users_language(admin_web: WebDesk) -> None:
    # Given two admins' pages drawn before either saves
    admin = admin_web.session_for("root")
    page = admin.get("/users")
    lina_id = admin_web.users["lina"]
    version = _version(page.text, lina_id)
    first = admin.post(
        f"/users/{lina_id}/roles",
        data={"csrf": csrf_of(page.text), "version": version, "role_editor": "on"},
    )
    assert first.status_code == 303
    # When the second form (the old roles) is sent
    second = admin.post(
        f"/users/{lina_id}/roles",
        data={"csrf": csrf_of(page.text), "version": version, "role_viewer": "on"},
    )
    # Then it is refused as stale, in Arabic, and lina keeps the first change
    assert second.status_code == 409 and "غيّر أحدٌ هذا المستخدم" in second.text
    assert 'role_editor" checked' in admin.get("/users").text


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/users", {"name": "x\u202eevil", "role_editor": "on"}, 400),  # RTL override
        ("/users", {"name": "n" * 65, "role_editor": "on"}, 400),  # oversized
        ("/users", {"name": "<script>alert(1)</script>", "role_editor": "on"}, 400),
        ("/users", {"name": "noor", "role_root": "on"}, 400),  # not a role
        ("/users", {"name": "noor"}, 400),  # no role
        ("/users", {"name": "lina", "role_editor": "on"}, 400),  # taken
        ("/users/abc/roles", {"version": "0" * 16, "role_editor": "on"}, 400),  # not an id
        ("/users/99999/roles", {"version": "0" * 16, "role_editor": "on"}, 404),  # nobody
        ("/users/2/roles", {"version": "<b>", "role_editor": "on"}, 400),  # wrong type
        ("/users/3/remove", {"version": "0" * 16}, 409),  # a stale version
        ("/users/1/remove", {"version": "0" * 16}, 400),  # the admin herself
    ],
)
def test_hostile_user_forms_get_a_4xx_in_arabic(
    admin_web: WebDesk, path: str, fields: dict[str, str], status: int
) -> None:
    admin = admin_web.session_for("root")
    page = admin.get("/users")
    response = admin.post(path, data={"csrf": csrf_of(page.text), **fields})
    assert response.status_code == status, response.text
    assert ARABIC in response.text and "Traceback" not in response.text
    assert 'role="alert"' in response.text


def test_only_admins_reach_the_users_page(admin_web: WebDesk) -> None:
    lina = admin_web.session_for("lina")
    assert lina.get("/users").status_code == 403
    page = lina.get("/inbox")
    refused = lina.post(
        f"/users/{admin_web.users['sami']}/remove",
        data={"csrf": csrf_of(page.text), "version": "0" * 16},
    )
    assert refused.status_code == 403
