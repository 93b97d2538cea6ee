"""Several relays: an invite naming fallbacks, tried in order; a desk pulling from each.

Relays run with real sockets on 127.0.0.1 (``make_relay``); a relay that is down
is a loopback port nothing listens on, refused at once.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import CliResult, DeskFixture, RelayHandle
from relay_helpers import compose_random
from sijil.desk.pull import pull_relays
from sijil.envelope.invite import MAX_RELAYS, Invite
from sijil.errors import KeyFileError, RelayUnreachable
from sijil.field.home import FieldHome, FieldSession
from sijil.field.send import relay_addresses, send_outbox
from sijil.store import Report


def _dead_relay() -> str:
    """The address of a loopback port that nothing listens on (refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _spooled(relay: RelayHandle) -> int:
    return sum(1 for _ in relay.spool.rglob("*.age"))


def test_an_invite_carries_its_relays_in_order_and_an_old_one_still_reads(
    make_desk: Callable[..., DeskFixture],
) -> None:
    desk = make_desk()
    with desk.home.open_store() as store:
        made = desk.home.invite(store, codename="Raven", relays=("http://a.onion", "http://b"))
    # the first address is also the single field older readers know
    doc = json.loads(made.to_bytes())
    assert doc["relay"] == "http://a.onion" and doc["relays"] == ["http://a.onion", "http://b"]
    assert Invite.from_bytes(made.to_bytes()).relays == ("http://a.onion", "http://b")
    # an invite written before the list existed names its one relay
    del doc["relays"]
    older = Invite.from_bytes(json.dumps(doc).encode())
    assert older.relays == ("http://a.onion",) and older.relay == "http://a.onion"
    # a list that could not be meant is refused, in one line
    for relays in ([f"http://r{i}" for i in range(MAX_RELAYS + 1)], ["http://a b"], "http://x"):
        doc["relays"] = relays
        with pytest.raises(KeyFileError):
            Invite.from_bytes(json.dumps(doc).encode())


def test_field_send_passes_over_a_dead_relay_to_the_next(
    make_desk: Callable[..., DeskFixture],
    make_relay: Callable[..., RelayHandle],
    passphrase: str,
    fast_kdf: object,
    tmp_path: Path,
) -> None:
    # Given an invite naming a relay that is down, then one that is up
    desk = make_desk()
    identity = desk.home.unlock(passphrase)
    live = make_relay(identity.public.sign)
    with desk.home.open_store() as store:
        invite = desk.home.invite(store, codename="Raven", relays=(_dead_relay(), live.url))
    home = FieldHome(tmp_path / "raven")
    home.init(invite, passphrase, fast_kdf)  # type: ignore[arg-type]
    session = home.unlock(passphrase)
    assert relay_addresses(session) == list(invite.relays)
    compose_random(session, tmp_path, "a", 3000)
    compose_random(session, tmp_path, "b", 90_000)
    said: list[str] = []
    # When the outbox is sent
    results = send_outbox(session, sleep=lambda _s: None, progress=said.append)
    # Then both went to the second relay, after one line about the first
    assert [r.status for r in results] == ["sent", "sent"]
    assert _spooled(live) == 2
    assert any("relay 1 of 2 cannot be reached" in line for line in said)


def test_desk_pull_takes_from_every_relay_once_and_names_the_one_that_failed(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    make_relay: Callable[..., RelayHandle],
    run_cli: Callable[..., CliResult],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    relays = [make_relay(identity.public.sign, name=f"relay-{i}") for i in range(2)]
    raven = make_correspondent(desk, "Raven")
    owl = make_correspondent(desk, "Owl")
    # Given reports at two relays, one of them sent to both
    compose_random(raven, tmp_path, "both", 5000)
    send_outbox(raven, relay=relays[0].url, sleep=lambda _s: None)
    index = raven.load_index()
    for entry in index:
        entry.pop("relay", None)  # as if never sent: it goes through the other relay too
    raven.save_index(index)
    send_outbox(raven, relay=relays[1].url, sleep=lambda _s: None)
    compose_random(owl, tmp_path, "owl", 40_000)
    send_outbox(owl, relay=relays[1].url, sleep=lambda _s: None)
    assert [_spooled(r) for r in relays] == [1, 2]
    # When the desk pulls from a dead relay and both live ones
    dead = _dead_relay()
    result = run_cli(
        "desk", "pull", *desk.args, "--relay", relays[0].url, "--relay", dead,
        "--relay", relays[1].url,
    )  # fmt: skip
    # Then each report is registered once, both relays are emptied, and the dead one named
    assert result.code == 1
    assert "1 of 3 relays could not be pulled (relay 2:" in result.err
    assert result.err.count("\n") == 1
    assert result.out.count("imported") == 2 and result.out.count("duplicate") == 1
    assert [_spooled(r) for r in relays] == [0, 0]
    with desk.home.open_store() as store, store.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 2
    # and pulling the live ones again finds nothing
    with desk.home.open_store() as store:
        again = pull_relays(desk.home, identity, store, relays=[r.url for r in relays])
    assert again == []
    with desk.home.open_store() as store, pytest.raises(RelayUnreachable):
        pull_relays(desk.home, identity, store, relays=[dead])


def test_desk_invite_writes_every_relay_given_in_order(
    make_desk: Callable[..., DeskFixture], run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    desk = make_desk()
    out = tmp_path / "raven.invite"
    args = [
        "--name",
        "Raven",
        "--out",
        str(out),
        "--relay",
        "http://a.onion",
        "--relay",
        "http://b",
    ]
    result = run_cli("desk", "invite", *desk.args, *args)
    assert result.code == 0, result.err
    assert Invite.from_bytes(out.read_bytes()).relays == ("http://a.onion", "http://b")
    # an address a space could split is refused in one line
    bad = run_cli("desk", "invite", *desk.args, "--name", "Owl", "--out", str(tmp_path / "o"),
                  "--relay", "http://a b")  # fmt: skip
    assert bad.code == 1 and bad.err.count("\n") == 1, bad.err
