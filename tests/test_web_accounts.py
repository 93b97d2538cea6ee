"""Web sign-in at the desk layer: enrolment, passwords, TOTP, throttling, sessions, the log.

On both databases, through sijil.desk.accounts, web_sessions and activity_log,
with a clock the test sets: no waiting for a timeout to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from sijil.desk import accounts
from sijil.desk.activity_log import audit_activity, log_activity, recent_activity
from sijil.desk.web_sessions import IDLE_TIMEOUT, resolve_session
from sijil.errors import PermissionDenied, SignInRefused
from sijil.store import ActivityEntry, DeskUserRole, WebCredential, WebSession
from sijil.store.models_desk import Role
from web_helpers import PASSWORD, WebDesk

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _enrolled(web: WebDesk, name: str, clock: Clock) -> str:
    """Enrol ``name`` with the desk functions; return the TOTP secret."""
    code = web.enrolment_code(name)
    with web.desk.home.open_store() as store:
        secret = accounts.start_enrolment(store, name, code, clock=clock).totp_secret
        totp = pyotp.TOTP(secret).at(clock.now)
        codes = accounts.finish_enrolment(store, name, code, PASSWORD, totp, clock=clock)
    assert len(codes) == accounts.RECOVERY_CODES
    return secret


def test_enrolment_then_password_then_totp_signs_in_and_logs_it(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    # Given an editor enrolled with a password and an authenticator
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    secret = _enrolled(web, "dima", clock)
    with web.desk.home.open_store() as store:
        # When she signs in with the password and the next authenticator code
        clock.now += timedelta(seconds=30)
        pending = accounts.sign_in(store, "dima", PASSWORD, clock=clock)
        half = resolve_session(store, pending, now=clock.now)
        token = accounts.second_factor(
            store, pending, pyotp.TOTP(secret).at(clock.now), clock=clock
        )
        # Then the first token was only good for the second step, the new one is signed in
        assert half is not None and not half.signed_in
        info = resolve_session(store, token, now=clock.now)
        assert info is not None and info.signed_in and info.roles == {Role.EDITOR}
        assert resolve_session(store, pending, now=clock.now) is None
        # and the log says so, with no address of any kind
        with store.session() as session:
            actions = [row.action for row in recent_activity(session)]
        assert actions[:2] == ["login", "enrol"]


def test_a_totp_code_is_accepted_once(make_web: Callable[..., WebDesk], store_url: str) -> None:
    # Given a user who enrolled with the code of this time step
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    secret = _enrolled(web, "dima", clock)
    with web.desk.home.open_store() as store:
        pending = accounts.sign_in(store, "dima", PASSWORD, clock=clock)
        # When the same code is given again to sign in
        # Then it is refused: a code seen over someone's shoulder is spent
        with pytest.raises(SignInRefused) as refused:
            accounts.second_factor(store, pending, pyotp.TOTP(secret).at(clock.now), clock=clock)
        assert refused.value.reason == "credentials"


def test_failures_lock_the_account_with_doubling_backoff(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    # Given an enrolled user
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    _enrolled(web, "dima", clock)
    with web.desk.home.open_store() as store:
        # When the wrong password is tried more often than allowed
        for _ in range(accounts.FREE_FAILURES):
            with pytest.raises(SignInRefused, match="wrong"):
                accounts.sign_in(store, "dima", "not the password!", clock=clock)
        # Then even the right password is refused until the lock ends
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in(store, "dima", PASSWORD, clock=clock)
        assert refused.value.reason == "throttled"
        clock.now += accounts.FIRST_LOCK + timedelta(seconds=1)
        # and one more failure locks it for twice as long
        with pytest.raises(SignInRefused):
            accounts.sign_in(store, "dima", "still not it", clock=clock)
        with store.session() as session:
            credential = session.scalars(select(WebCredential)).all()
            locked = [c.locked_until for c in credential if c.locked_until]
        assert locked == [clock.now + 2 * accounts.FIRST_LOCK]
        clock.now += 2 * accounts.FIRST_LOCK + timedelta(seconds=1)
        assert accounts.sign_in(store, "dima", PASSWORD, clock=clock)


def test_unknown_names_and_unenrolled_users_fail_alike(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)  # added, never enrolled
    with web.desk.home.open_store() as store:
        for name in ("dima", "nobody", "\u202eevil"):
            with pytest.raises(SignInRefused) as refused:
                accounts.sign_in(store, name, PASSWORD)
            assert str(refused.value) == "the name, password or code is wrong"
        with store.session() as session:
            objects = [row.object for row in recent_activity(session)]
        assert objects[:3] == ["user:unknown"] * 3


def test_recovery_code_signs_in_once(make_web: Callable[..., WebDesk], store_url: str) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    code = web.enrolment_code("dima")
    with web.desk.home.open_store() as store:
        secret = accounts.start_enrolment(store, "dima", code, clock=clock).totp_secret
        codes = accounts.finish_enrolment(
            store, "dima", code, PASSWORD, pyotp.TOTP(secret).at(clock.now), clock=clock
        )
        # When a recovery code (typed in lower case, without dashes) is used
        pending = accounts.sign_in(store, "dima", PASSWORD, clock=clock)
        typed = codes[0].replace("-", "").lower()
        assert accounts.second_factor(store, pending, typed, clock=clock)
        # Then it does not work a second time
        pending = accounts.sign_in(store, "dima", PASSWORD, clock=clock)
        with pytest.raises(SignInRefused):
            accounts.second_factor(store, pending, codes[0], clock=clock)


def test_enrolment_code_is_single_use_and_expires(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    code = web.enrolment_code("dima")
    with web.desk.home.open_store() as store:
        secret = accounts.start_enrolment(store, "dima", code, clock=clock).totp_secret
        totp = pyotp.TOTP(secret).at(clock.now)
        accounts.finish_enrolment(store, "dima", code, PASSWORD, totp, clock=clock)
        # a used code opens nothing
        with pytest.raises(SignInRefused) as refused:
            accounts.start_enrolment(store, "dima", code, clock=clock)
        assert refused.value.reason == "enrolment"
    # a new code (the authenticator was lost) expires after ENROL_TTL
    code = web.enrolment_code("dima")
    with web.desk.home.open_store() as store:
        late = Clock(datetime.now(UTC) + accounts.ENROL_TTL + timedelta(seconds=1))
        with pytest.raises(SignInRefused):
            accounts.start_enrolment(store, "dima", code, clock=late)
        assert accounts.start_enrolment(store, "dima", code).totp_secret


def test_only_an_admin_issues_enrolment_codes(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    web.add("sami", Role.VIEWER)
    with (
        web.desk.home.open_store() as store,
        store.session(write=True) as session,
        pytest.raises(PermissionDenied),
    ):
        accounts.issue_enrolment(session, "sami", by="dima")


def test_sessions_end_when_idle_at_logout_and_on_a_role_change(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    clock = Clock()
    secret = _enrolled(web, "dima", clock)

    def signed_in() -> str:
        clock.now += timedelta(seconds=30)
        with web.desk.home.open_store() as store:
            pending = accounts.sign_in(store, "dima", PASSWORD, clock=clock)
            return accounts.second_factor(
                store, pending, pyotp.TOTP(secret).at(clock.now), clock=clock
            )

    with web.desk.home.open_store() as store:
        idle = signed_in()
        assert resolve_session(store, idle, now=clock.now + IDLE_TIMEOUT / 2)
        assert resolve_session(store, idle, now=clock.now + IDLE_TIMEOUT * 2) is None
        out = signed_in()
        accounts.sign_out(store, out, clock=clock)
        assert resolve_session(store, out, now=clock.now) is None
        changed = signed_in()
        with store.session(write=True) as session:
            session.add(DeskUserRole(user_id=web.users["dima"], role="reviewer"))
        assert resolve_session(store, changed, now=clock.now) is None
        with store.session() as session:
            live = session.scalars(select(WebSession).where(WebSession.revoked_at.is_(None)))
            assert [row.stage for row in live] == []


def test_the_activity_chain_detects_an_altered_or_removed_entry(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    # Given a log with three entries that checks
    web = make_web(store_url)
    with web.desk.home.open_store() as store:
        with store.session(write=True) as session:
            for n in range(3):
                log_activity(session, user_id=web.users["root"], action="search", obj=f"query:{n}")
        with store.session() as session:
            assert audit_activity(session).problems == []
        # When an entry's object is changed behind the log's back
        with store.session(write=True) as session:
            session.execute(
                update(ActivityEntry).where(ActivityEntry.seq == 2).values(object="query:x")
            )
        # Then the audit names it
        with store.session() as session:
            assert audit_activity(session).problems == ["activity log: entry 2 was altered"]
        with store.session(write=True) as session:
            session.execute(
                update(ActivityEntry).where(ActivityEntry.seq == 2).values(object="query:1")
            )
            session.execute(ActivityEntry.__table__.delete().where(ActivityEntry.seq == 3))
        with store.session() as session:
            assert audit_activity(session).problems == [
                "activity log: its newest entries were removed"
            ]
