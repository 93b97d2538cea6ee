"""The network's relay token: carried in invites, rotated by sealed desk replies.

Against a real relay on loopback (``make_relay``): an invited correspondent's send is
served from the capacity kept for token holders, with no proof of work, while a
stranger must prove work; after ``rotate`` the relay's new token file (digests only)
honours the old token until the grace period ends, the new token reaches every
enrolled correspondent in a signed reply (and ``field send`` adopts it), a revoked
correspondent gets nothing, and an invite from before relay tokens still enrols and
sends, proving work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import PASSPHRASE, DeskFixture, RelayHandle
from relay_helpers import compose_random
from sijil.crypto.kdf import KdfParams
from sijil.desk.intake import import_paths
from sijil.desk.relay_token import (
    RELAY_TOKEN_GRACE_S,
    RELAY_TOKENS_OUT,
    current_token,
    ensure_token,
    rotate,
)
from sijil.desk.revocation import revoke
from sijil.desk.users import add_user
from sijil.envelope.invite import Invite
from sijil.field.compose import export_outbox
from sijil.field.home import FieldHome, FieldSession
from sijil.field.inbox import adopted_relay_token, fetch_inbox
from sijil.field.send import SendStatus, send_outbox
from sijil.relay.protocol.tus import TUS_VERSION
from sijil.relay.server.config import load_relay_token_file

TUS = {"Tus-Resumable": TUS_VERSION}
BUSY = {"max_unfinished_uploads": 2, "work_bits": 10}


class Clock:
    """The relay's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_field(
    tmp_path: Path, fast_kdf: KdfParams
) -> Callable[[DeskFixture, str, bool], FieldSession]:
    """Factory: a correspondent invited by ``desk`` (with the relay token, or an old invite)."""

    def make(desk: DeskFixture, codename: str, with_token: bool = True) -> FieldSession:
        identity = desk.home.unlock(PASSPHRASE)
        token = ensure_token(desk.home, identity)[0].current if with_token else None
        with desk.home.open_store() as store:
            invite = desk.home.invite(store, codename=codename, relay_token=token)
        data = invite.to_bytes()
        if not with_token:  # an invite written before relay tokens: no such key at all
            assert b"relay_token" not in data
        home = FieldHome(tmp_path / "field" / codename)
        home.init(Invite.from_bytes(data), PASSPHRASE, fast_kdf)
        return home.unlock(PASSPHRASE)

    return make


def _token_settings(desk: DeskFixture) -> dict[str, object]:
    """The relay's token settings from the file the desk wrote for its operator."""
    accepted = load_relay_token_file(desk.home.root / RELAY_TOKENS_OUT)
    return {
        "relay_tokens": frozenset(accepted),
        "relay_token_until": {d: t for d, t in accepted.items() if t is not None},
    }


def _busy_with_a_stranger(relay: RelayHandle, token: str | None = None, count: int = 1) -> None:
    """Unfinished uploads (a stranger's, or a token holder's): now strangers must prove work."""
    headers = {**TUS, "Upload-Length": "1000", **({"Sijil-Relay-Token": token} if token else {})}
    for _ in range(count):
        assert httpx.post(f"{relay.url}/files", headers=headers).status_code == 201


def _bits_asked(relay: RelayHandle, token: str | None) -> str:
    headers = {**TUS, **({"Sijil-Relay-Token": token} if token else {})}
    return httpx.options(f"{relay.url}/files", headers=headers).headers["sijil-work-bits"]


def _enrol(desk: DeskFixture, session: FieldSession, tmp_path: Path) -> None:
    """The correspondent's first report reaches the desk (binding its reply key)."""
    compose_random(session, tmp_path, session.codename, 2_000)
    stick = tmp_path / f"stick-{session.codename}"
    export_outbox(session, stick)
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, desk.home.unlock(PASSPHRASE), store, [stick])
    assert [o.status for o in outcomes] == ["imported"]


def test_an_invited_correspondent_is_served_from_the_reserve_without_work(
    make_desk: Callable[..., DeskFixture],
    make_field: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    tmp_path: Path,
) -> None:
    # Given a desk whose invite carried the relay token, and a busy relay holding it
    desk = make_desk(store_url)
    raven = make_field(desk, "Raven")
    assert raven.settings["relay_token"]
    identity = desk.home.unlock(PASSPHRASE)
    relay = make_relay(identity.public.sign, **BUSY, **_token_settings(desk))
    _busy_with_a_stranger(relay)
    assert _bits_asked(relay, None) == "10"
    envelope_id = compose_random(raven, tmp_path, "a", 20_000)
    said: list[str] = []
    # When Raven sends
    [result] = send_outbox(raven, relay=relay.url, progress=said.append)
    # Then the envelope is delivered and no work was asked or done
    assert (result.status, result.envelope_id) == (SendStatus.SENT, envelope_id)
    assert not [line for line in said if "work" in line]
    # and the file for the relay names the token by its digest only
    token = raven.settings["relay_token"]
    assert token not in (desk.home.root / RELAY_TOKENS_OUT).read_text()


def test_an_old_invite_without_a_token_still_enrols_and_sends_with_work(
    make_desk: Callable[..., DeskFixture],
    make_field: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    tmp_path: Path,
) -> None:
    # Given an invite from before relay tokens, and a busy relay
    desk = make_desk(store_url)
    ensure_token(desk.home, desk.home.unlock(PASSPHRASE))
    owl = make_field(desk, "Owl", False)
    assert not owl.settings.get("relay_token")
    # (4 unfinished uploads, 3 for strangers; work asked from 2 on)
    busy = {**BUSY, "max_unfinished_uploads": 4}
    relay = make_relay(desk.home.unlock(PASSPHRASE).public.sign, **busy, **_token_settings(desk))
    _busy_with_a_stranger(relay, count=2)
    envelope_id = compose_random(owl, tmp_path, "a", 20_000)
    said: list[str] = []
    # When Owl sends
    [result] = send_outbox(owl, relay=relay.url, progress=said.append)
    # Then it proved work and the envelope was delivered
    assert (result.status, result.envelope_id) == (SendStatus.SENT, envelope_id)
    assert [line for line in said if "proving 10 bits of work" in line]
    # and it enrols at the desk under its codename
    with desk.home.open_store() as store:
        outcomes = import_paths(
            desk.home, desk.home.unlock(PASSPHRASE), store, [relay.spool / "envelopes"]
        )
    assert [(o.status, o.correspondent) for o in outcomes] == [("imported", "Owl")]


def test_rotation_reaches_enrolled_correspondents_never_a_revoked_one(
    make_desk: Callable[..., DeskFixture],
    make_field: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    tmp_path: Path,
) -> None:
    # Given Raven and Sparrow enrolled with the relay token, and Sparrow's key revoked
    desk = make_desk(store_url)
    identity = desk.home.unlock(PASSPHRASE)
    raven, sparrow = make_field(desk, "Raven"), make_field(desk, "Sparrow")
    for session in (raven, sparrow):
        _enrol(desk, session, tmp_path)
    old = raven.settings["relay_token"]
    with desk.home.open_store() as store:
        with store.session(write=True) as session:
            add_user(session, "amal", ["admin"], by=None)
        with store.session(write=True) as session:
            since = datetime.now(UTC) - timedelta(hours=1)
            revoke(session, "Sparrow", since=since, reason="phone seized", by="amal")
    mailbox_relay = make_relay(identity.public.sign, name="mailboxes")
    # When the desk rotates the relay token
    clock = Clock()
    with desk.home.open_store() as store:
        done = rotate(desk.home, identity, store, relay=mailbox_relay.url, clock=clock)
    state = current_token(desk.home, identity)
    assert state is not None and state.previous == old and state.current != old
    new = state.current
    # Then the new token went to Raven by a sealed reply, and not to Sparrow
    assert (done.sent, done.revoked, done.failed) == (["Raven"], ["Sparrow"], [])
    fetch_inbox(raven, relay=mailbox_relay.url)
    assert adopted_relay_token(raven) == new
    # the token is never in the reply's text, which the phone shows
    shown = fetch_inbox(raven, relay=mailbox_relay.url)
    assert shown and all(new not in json.dumps(item.text) for item in shown)
    assert fetch_inbox(sparrow, relay=mailbox_relay.url) == []
    assert adopted_relay_token(sparrow) is None
    # and the relay given the new token file honours the old token only for the grace period
    busy = {**BUSY, "max_unfinished_uploads": 8}  # work asked from 3 unfinished uploads
    relay = make_relay(identity.public.sign, clock=clock, **busy, **_token_settings(desk))
    _busy_with_a_stranger(relay, new, count=3)
    assert (_bits_asked(relay, None), _bits_asked(relay, new), _bits_asked(relay, old)) == (
        "10",
        "0",
        "0",
    )
    clock.now += RELAY_TOKEN_GRACE_S + 1
    _busy_with_a_stranger(relay, new, count=3)
    assert (_bits_asked(relay, new), _bits_asked(relay, old)) == ("0", "10")
