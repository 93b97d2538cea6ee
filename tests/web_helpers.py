"""Fixtures for the desk web app: a desk with users, the app, signed-in clients.

``make_web(store_url)`` returns a WebDesk: a real desk (encrypted SQLite or a
PostgreSQL schema) with the app built by ``create_app`` over it. Users are added
with the desk's own functions; ``enrol`` goes through the real enrolment pages
(argon2id, TOTP), ``session_for`` starts a session with sijil.desk.web_sessions
directly, for tests about pages rather than sign-in.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pyotp
import pytest

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; httpx is what is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from conftest import PASSPHRASE
from sijil.desk.accounts import issue_enrolment
from sijil.desk.custody import utcnow
from sijil.desk.users import add_user, get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.store.models_desk import Role
from sijil.web.app import create_app
from sijil.web.config import WebConfig
from sijil.web.guard import PRE_COOKIE, SESSION_COOKIE

if TYPE_CHECKING:
    from conftest import DeskFixture

PASSWORD = "a long night at the desk"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
SECRET_FIELD = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')


def csrf_of(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found, "the page has no CSRF field"
    return found.group(1)


@dataclass
class WebDesk:
    desk: DeskFixture
    config: WebConfig
    clients: contextlib.ExitStack
    users: dict[str, int] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow

    def add(self, name: str, *roles: Role) -> None:
        """A desk user (the first is made admin by whoever runs the desk)."""
        with self.desk.home.open_store() as store, store.session(write=True) as session:
            first = not self.users
            wanted = {*roles, Role.ADMIN} if first else set(roles)
            add_user(session, name, wanted, by=None if first else "root")
            self.users[name] = get_user(session, name).id

    def enrolment_code(self, name: str) -> str:
        with self.desk.home.open_store() as store, store.session(write=True) as session:
            return issue_enrolment(session, name, by="root")

    def client(self) -> TestClient:
        """A new browser; over https when the config says the cookies are Secure."""
        app = create_app(self.config, clock=self.clock)
        scheme = "https" if self.config.secure_cookies else "http"
        return self.clients.enter_context(
            TestClient(app, base_url=f"{scheme}://127.0.0.1", follow_redirects=False)
        )

    def session_for(self, name: str) -> TestClient:
        """A client signed in as ``name`` (a session started by the desk's own function)."""
        with self.desk.home.open_store() as store, store.session(write=True) as session:
            token = start_session(session, get_user(session, name), stage=FULL, now=utcnow())
        client = self.client()
        client.cookies.set(SESSION_COOKIE, token)
        return client

    def enrol(self, client: TestClient, name: str) -> tuple[str, list[str]]:
        """Enrol ``name`` through the pages; return the TOTP secret and the recovery codes."""
        code = self.enrolment_code(name)
        page = client.get("/enrol")
        csrf = csrf_of(page.text)
        shown = client.post("/enrol", data={"csrf": csrf, "name": name, "code": code})
        assert shown.status_code == 200, shown.text
        secret = SECRET_FIELD.search(shown.text)
        assert secret, "the enrolment page shows no TOTP secret"
        done = client.post(
            "/enrol/finish",
            data={
                "csrf": csrf_of(shown.text),
                "name": name,
                "code": code,
                "password": PASSWORD,
                "password2": PASSWORD,
                "totp": pyotp.TOTP(secret.group(1)).now(),
            },
        )
        assert done.status_code == 200, done.text
        codes = re.findall(r"<code>([A-Z2-9-]{14})</code>", done.text)
        return secret.group(1), codes

    def sign_in(self, client: TestClient, name: str, second: str) -> None:
        page = client.get("/login")
        first = client.post(
            "/login", data={"csrf": csrf_of(page.text), "name": name, "password": PASSWORD}
        )
        assert first.status_code == 303, first.text
        page = client.get("/login/code")
        done = client.post("/login/code", data={"csrf": csrf_of(page.text), "code": second})
        assert done.status_code == 303, done.text


@pytest.fixture
def make_web(make_desk: Callable[..., DeskFixture]) -> Iterator[Callable[..., WebDesk]]:
    """Factory: a desk on ``db_url`` with the web app's config and a user ``root`` (admin)."""
    with contextlib.ExitStack() as stack:

        def make(
            db_url: str | None = None,
            desk: DeskFixture | None = None,
            *,
            unlocked: bool = False,
            relay: str | None = None,
        ) -> WebDesk:
            """``unlocked``: the config holds the desk identity (vault previews, replies)."""
            desk = desk or make_desk(db_url)
            identity = desk.home.unlock(PASSPHRASE) if unlocked or relay else None
            config = WebConfig(home=desk.home, identity=identity, relay=relay)
            web = WebDesk(desk=desk, config=config, clients=stack)
            web.add("root", Role.ADMIN)
            return web

        yield make


__all__ = ["PASSWORD", "PRE_COOKIE", "WebDesk", "csrf_of", "make_web"]
