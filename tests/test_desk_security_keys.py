"""Security keys (WebAuthn) at the desk layer: register, sign in, refuse what is not right.

On both databases, through sijil.desk.security_keys, with answers from a software
authenticator (tests/webauthn_helpers.py) that py_webauthn verifies for real and
a clock the test sets: an expired challenge needs no waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from conftest import CliResult
from sijil.desk import accounts, security_keys
from sijil.desk.activity_log import audit_activity, recent_activity
from sijil.desk.key_ceremony import RelyingParty
from sijil.desk.users import get_user
from sijil.desk.web_sessions import FULL, resolve_session, start_session
from sijil.errors import ConfigError, FormError, SignInRefused, UnknownCode
from sijil.ledger.entries import parse_entry
from sijil.store import LedgerEntry, SecurityKey, Store, WebCredential
from sijil.store.models_desk import Role
from web_helpers import PASSWORD, WebDesk, csrf_of
from webauthn_helpers import ORIGIN, SoftKey

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
RP = RelyingParty()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class KeyDesk:
    web: WebDesk
    store: Store
    clock: Clock

    def signed_in(self, name: str) -> str:
        """A full session's token for ``name`` (as after password and TOTP)."""
        with self.store.session(write=True) as session:
            user = get_user(session, name)
            return start_session(session, user, stage=FULL, now=self.clock.now)

    def register(self, name: str, key: SoftKey, label: str = "blue key", **answer: object) -> int:
        token = self.signed_in(name)
        options = security_keys.registration_options(self.store, token, RP, clock=self.clock)
        answered = key.create(options, **answer)  # type: ignore[arg-type]
        return security_keys.add_key(self.store, token, label, answered, RP, clock=self.clock)

    def half_signed_in(self, name: str) -> tuple[str, str]:
        """The password step done: the pending token and the sign-in options for a key."""
        pending = accounts.sign_in(self.store, name, PASSWORD, clock=self.clock)
        return pending, security_keys.sign_in_options(self.store, pending, RP, clock=self.clock)

    def failures(self, name: str) -> int:
        with self.store.session() as session:
            credential = session.get(WebCredential, get_user(session, name).id)
            assert credential is not None
            return credential.failed_logins

    def ledger_actions(self) -> list[dict[str, object]]:
        with self.store.session() as session:
            rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
            return [parse_entry(r.body.encode()).data for r in rows]


@pytest.fixture
def make_key_desk(make_web: Callable[..., WebDesk], store_url: str) -> Callable[..., KeyDesk]:
    """Factory: a desk whose users ``names`` are enrolled (password and TOTP)."""

    def make(*names: str) -> KeyDesk:
        web = make_web(store_url)
        clock = Clock()
        store = web.clients.enter_context(web.desk.home.open_store())
        for name in names:
            web.add(name, Role.EDITOR)
            code = web.enrolment_code(name)
            secret = accounts.start_enrolment(store, name, code, clock=clock).totp_secret
            totp = pyotp.TOTP(secret).at(clock.now)
            accounts.finish_enrolment(store, name, code, PASSWORD, totp, clock=clock)
        return KeyDesk(web=web, store=store, clock=clock)

    return make


@pytest.mark.parametrize("packed", [False, True], ids=["none", "packed"])
def test_a_registered_key_signs_in_and_both_are_recorded(
    make_key_desk: Callable[..., KeyDesk], packed: bool
) -> None:
    # Given dima registers a security key while signed in
    desk = make_key_desk("dima")
    key = SoftKey()
    key_id = desk.register("dima", key, "  blue   key ", packed=packed)
    # When she gives her password and then answers the key challenge with it
    desk.clock.now += timedelta(seconds=20)
    pending, options = desk.half_signed_in("dima")
    token = security_keys.sign_in_with_key(
        desk.store, pending, key.get(options), RP, clock=desk.clock
    )
    # Then she is signed in, the pending session is over, the counter has moved on
    info = resolve_session(desk.store, token, now=desk.clock.now)
    assert info is not None and info.signed_in and info.name == "dima"
    assert resolve_session(desk.store, pending, now=desk.clock.now) is None
    (row,) = security_keys.list_keys(desk.store, info.user_id)
    assert (row.id, row.label, row.last_used_at) == (key_id, "blue key", desk.clock.now)
    with desk.store.session() as session:
        stored = session.get(SecurityKey, key_id)
        assert stored is not None and stored.sign_count == 1 and stored.credential_id == key.id
        # and the activity log and the custody ledger say so, by ids and digests
        log = [(r.action, r.object) for r in recent_activity(session)]
        assert log[:2] == [("login", f"key:{key_id}"), ("key.added", f"key:{key_id}")]
        assert audit_activity(session).problems == []
    added = desk.ledger_actions()[-1]
    assert added["action"] == "security_key.added" and added["key"] == key_id
    assert "blue key" not in str(added)


def test_a_counter_that_goes_back_is_refused_as_a_cloned_key(
    make_key_desk: Callable[..., KeyDesk],
) -> None:
    # Given a key that has signed in with its counter at 5
    desk = make_key_desk("dima")
    key = SoftKey()
    desk.register("dima", key)
    pending, options = desk.half_signed_in("dima")
    security_keys.sign_in_with_key(
        desk.store, pending, key.get(options, counter=5), RP, clock=desk.clock
    )
    # When a copy of it answers with a counter of 3, then of 5 again
    for counter in (3, 5):
        pending, options = desk.half_signed_in("dima")
        answer = key.get(options, counter=counter)
        # Then it is refused like a wrong code, and counted as a failure
        with pytest.raises(SignInRefused) as refused:
            security_keys.sign_in_with_key(desk.store, pending, answer, RP, clock=desk.clock)
        assert refused.value.reason == "credentials"
    assert desk.failures("dima") == 2


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [
        ("http://evil.example:8471", None),
        ("https://localhost.evil.example", None),
        ("http://127.0.0.1:8471", None),
        (ORIGIN, "evil.example"),
    ],
    ids=["other-site", "look-alike", "ip-address", "other-rp"],
)
def test_an_answer_for_another_origin_or_relying_party_is_refused(
    make_key_desk: Callable[..., KeyDesk], origin: str, rp_id: str | None
) -> None:
    # Given dima with a registered key
    desk = make_key_desk("dima")
    key = SoftKey()
    desk.register("dima", key)
    # When a registration, then a sign-in, are answered for another origin or relying party
    with pytest.raises(SignInRefused) as refused:
        desk.register("dima", SoftKey(), origin=origin, rp_id=rp_id)
    assert refused.value.reason == "security_key"
    pending, options = desk.half_signed_in("dima")
    answer = key.get(options, origin=origin, rp_id=rp_id)
    # Then both are refused, and no second key was kept
    with pytest.raises(SignInRefused):
        security_keys.sign_in_with_key(desk.store, pending, answer, RP, clock=desk.clock)
    with desk.store.session() as session:
        assert len(session.scalars(select(SecurityKey)).all()) == 1


def test_an_expired_or_spent_challenge_is_refused(make_key_desk: Callable[..., KeyDesk]) -> None:
    # Given dima with a key, and a sign-in challenge answered after it expired
    desk = make_key_desk("dima")
    key = SoftKey()
    desk.register("dima", key)
    pending, options = desk.half_signed_in("dima")
    desk.clock.now += security_keys.CHALLENGE_TTL + timedelta(seconds=1)
    # When the late answer comes, and then the same answer again
    for _ in range(2):
        with pytest.raises(SignInRefused):
            security_keys.sign_in_with_key(
                desk.store, pending, key.get(options), RP, clock=desk.clock
            )
    # And a registration answered late
    token = desk.signed_in("dima")
    options = security_keys.registration_options(desk.store, token, RP, clock=desk.clock)
    desk.clock.now += security_keys.CHALLENGE_TTL + timedelta(seconds=1)
    with pytest.raises(SignInRefused):
        security_keys.add_key(desk.store, token, "late", SoftKey().create(options), RP)
    # Then nothing was accepted (a spent challenge is gone, right or wrong)
    assert desk.failures("dima") == 2
    assert len(security_keys.list_keys(desk.store, desk.web.users["dima"])) == 1


def test_another_users_key_is_refused_and_cannot_be_removed(
    make_key_desk: Callable[..., KeyDesk],
) -> None:
    # Given dima and sami, each with a key
    desk = make_key_desk("dima", "sami")
    dima_key, sami_key = SoftKey(), SoftKey()
    dima_id = desk.register("dima", dima_key)
    desk.register("sami", sami_key)
    # When sami's sign-in challenge is answered with dima's key
    pending, options = desk.half_signed_in("sami")
    with pytest.raises(SignInRefused):
        security_keys.sign_in_with_key(
            desk.store, pending, dima_key.get(options), RP, clock=desk.clock
        )
    # Then it is refused; and sami cannot remove dima's key, nor register it as his
    with pytest.raises(UnknownCode):
        security_keys.remove_key(desk.store, desk.web.users["sami"], dima_id)
    token = desk.signed_in("sami")
    options = security_keys.registration_options(desk.store, token, RP, clock=desk.clock)
    with pytest.raises(SignInRefused):
        security_keys.add_key(desk.store, token, "x", dima_key.create(options), RP)
    # When dima removes her own key, it is gone and the ledger says so
    security_keys.remove_key(desk.store, desk.web.users["dima"], dima_id, clock=desk.clock)
    assert security_keys.list_keys(desk.store, desk.web.users["dima"]) == []
    assert desk.ledger_actions()[-1]["action"] == "security_key.removed"
    with desk.store.session() as session:
        assert recent_activity(session)[0].action == "key.removed"


def test_labels_and_the_number_of_keys_are_bounded(make_key_desk: Callable[..., KeyDesk]) -> None:
    # Given dima with as many keys as a user may have
    desk = make_key_desk("dima")
    for n in range(security_keys.MAX_KEYS):
        desk.register("dima", SoftKey(), f"key {n}")
    # When she asks to register one more, or names one with a label too long or empty
    with pytest.raises(SignInRefused) as refused:
        desk.register("dima", SoftKey())
    # Then each is refused with its own reason
    assert refused.value.reason == "key_limit"
    for label in ("x" * (security_keys.MAX_LABEL + 1), "   ", "bell\x07", "\u202eyek eulb"):
        with pytest.raises(FormError):
            security_keys.add_key(desk.store, desk.signed_in("dima"), label, "{}", RP)


@pytest.mark.parametrize("rp_id", ["127.0.0.1", "::1", "[::1]", "10.0.0.7"])
def test_an_ip_address_is_refused_as_relying_party_id(rp_id: str) -> None:
    with pytest.raises(ConfigError) as refused:
        RelyingParty(rp_id)
    assert "IP address" in str(refused.value) and "\n" not in str(refused.value)


def test_serve_refuses_an_ip_address_as_relying_party_id_in_one_line(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # When the desk app is started with an IP address as its relying-party id
    result = run_cli("desk", "serve", "--home", str(tmp_path / "desk"), "--rp-id", "127.0.0.1")
    # Then it stops at once, before any passphrase is asked, with one line
    assert result.code != 0
    assert result.err.strip().count("\n") == 0 and "IP address" in result.err


def test_the_relying_party_accepts_only_its_own_origins() -> None:
    desk = RelyingParty("desk.example", "https://desk.example")
    assert desk.accepts("https://desk.example")
    assert not desk.accepts("http://desk.example") and not desk.accepts("https://x.desk.example")
    assert RP.accepts("http://localhost:1234") and RP.accepts("https://localhost")
    assert not RelyingParty("desk.example").accepts("http://desk.example")
    for bad in ("Desk.Example", "desk.example:443", "https://desk.example", ""):
        with pytest.raises(ConfigError):
            RelyingParty(bad)
    with pytest.raises(ConfigError):
        RelyingParty("desk.example", "https://evil.example")


def test_the_pages_register_a_key_and_sign_in_with_it_and_refuse_a_forged_answer(
    make_web: Callable[..., WebDesk], store_url: str
) -> None:
    # Given dima, enrolled through the pages, adds a key on her keys page
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    secret, _codes = web.enrol(web.client(), "dima")
    client = web.session_for("dima")
    csrf = csrf_of(client.get("/keys").text)
    options = client.post("/keys/options", data={"csrf": csrf})
    assert options.headers["content-type"].startswith("application/json")
    key = SoftKey()
    form = {"csrf": csrf, "label": "blue key", "credential": key.create(options.text)}
    assert client.post("/keys/add", data=form).status_code == 303
    assert "blue key" in client.get("/keys").text
    # When she gives her password in a new browser, the code page offers the key
    browser = web.client()
    page = browser.get("/login")
    browser.post("/login", data={"csrf": csrf_of(page.text), "name": "dima", "password": PASSWORD})
    page = browser.get("/login/code")
    assert 'action="/login/key"' in page.text and "webauthn.js" in page.text
    csrf = csrf_of(page.text)
    # Then a forged answer gets one line in Arabic and a 400, never a traceback
    stale = key.get(json.dumps({"challenge": "c3RhbGU", "rpId": "localhost"}))
    for forged in ("{}", "not json", stale):
        browser.post("/login/key/options", data={"csrf": csrf})
        refused = browser.post("/login/key", data={"csrf": csrf, "credential": forged})
        assert refused.status_code == 400 and "غير صحيح" in refused.text, forged
    # and the key's real answer signs her in
    challenge = browser.post("/login/key/options", data={"csrf": csrf})
    done = browser.post("/login/key", data={"csrf": csrf, "credential": key.get(challenge.text)})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert browser.get("/keys").status_code == 200
    assert secret  # the TOTP path stays: she enrolled with it
