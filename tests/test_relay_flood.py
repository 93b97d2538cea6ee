"""Strangers cannot shut the relay (issue 14 item 3): never-fed uploads, junk, refusals.

Each test is a regression test of something an adversarial probe did: 256 uploads
created and never fed closed the channel for 48 h; ``rejected/`` grew for ever;
``field send`` said "could not be reached" when the relay refused with 429; one
refusal ended a ``desk pull``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import DeskFixture, RelayHandle
from envelope_helpers import seal_bytes
from relay_helpers import LocalRelay, compose_random, local_relays
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.desk.pull import pull_envelopes
from sijil.errors import RelayLimitExceeded
from sijil.field.home import FieldSession
from sijil.field.send import SendStatus, send_outbox
from sijil.relay.server import config as relay_config
from sijil.relay.server.config import RelayConfig

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


class Clock:
    """The relay's clock, moved by the test (and by the desk's backoff)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def local_relay(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    with local_relays(tmp_path) as make:
        yield make


@pytest.fixture(scope="module")
def desk() -> DeskIdentity:
    return DeskIdentity.generate()


def create(http: httpx.Client, length: int) -> httpx.Response:
    return http.post("/files", headers={**TUS, "Upload-Length": str(length)})


def test_uploads_never_fed_expire_within_minutes_and_free_the_channel(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay keeping 8 unfinished uploads, all taken by a stranger who made
    # them and never sent a byte (one of them sent an empty PATCH to keep it alive)
    clock = Clock()
    relay = local_relay(desk.public.sign, clock=clock, max_unfinished_uploads=8)
    made = [create(relay.http, 1000).headers["location"] for _ in range(8)]
    empty = relay.http.patch(made[0], content=b"", headers={**OCTETS, "Upload-Offset": "0"})
    assert empty.status_code == 204
    assert create(relay.http, 1000).status_code == 429
    # When the few minutes an upload may wait for its first byte pass
    clock.sleep(relay_config.DEFAULT_UNFED_EXPIRY_S + 1)
    # Then the channel is open again (it stayed shut for the full 48 h before)
    assert create(relay.http, 1000).status_code == 201
    assert relay.http.head(made[0], headers=TUS).status_code in (404, 410)


def test_an_upload_that_received_bytes_keeps_its_full_expiry(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given an upload that received its first bytes
    clock = Clock()
    relay = local_relay(desk.public.sign, clock=clock)
    envelope = seal_bytes(CorrespondentIdentity.generate(), desk.public)
    upload = create(relay.http, len(envelope)).headers["location"]
    sent = relay.http.patch(
        upload, content=envelope[:100], headers={**OCTETS, "Upload-Offset": "0"}
    )
    assert sent.status_code == 204
    # When the short expiry of never-fed uploads passes
    clock.sleep(30 * 60)
    # Then it is still there, at its offset, for a sender on a bad night
    answer = relay.http.head(upload, headers=TUS)
    assert (answer.status_code, answer.headers["upload-offset"]) == (200, "100")


def test_unfinished_uploads_are_limited_in_bytes_not_only_in_number(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay whose unfinished uploads may declare 1 MB in all
    relay = local_relay(desk.public.sign, max_unfinished_bytes=1_000_000)
    # When a stranger declares 600 kB, then another 600 kB
    assert create(relay.http, 600_000).status_code == 201
    refused = create(relay.http, 600_000)
    # Then the second is refused (count alone would have let 256 of them in)
    assert refused.status_code == 429 and "bytes" in refused.text
    # and a small envelope still fits in what is left
    assert create(relay.http, 300_000).status_code == 201


def test_the_spool_has_a_default_quota(tmp_path: Path, desk: DeskIdentity) -> None:
    # Given a relay configured with no quota named
    config = RelayConfig(spool=tmp_path / "spool", desk_key=desk.public.sign)
    # Then the spool is still capped
    assert config.spool_quota_bytes == relay_config.DEFAULT_SPOOL_QUOTA_BYTES


def test_rejected_uploads_expire(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay that keeps refused uploads for an hour, and junk refused by it
    clock = Clock()
    relay = local_relay(desk.public.sign, clock=clock, rejected_keep_s=3600)
    for _ in range(2):
        junk = os.urandom(5000)
        upload = create(relay.http, len(junk)).headers["location"]
        answer = relay.http.patch(upload, content=junk, headers={**OCTETS, "Upload-Offset": "0"})
        assert answer.status_code == 422
    rejected = relay.spool / "rejected"
    assert len(list(rejected.glob("*.bin"))) == 2
    # When the hour passes and the relay sweeps (any new upload does)
    clock.sleep(3601)
    assert create(relay.http, 1000).status_code == 201
    # Then the junk and its reasons are gone (they were kept for ever before)
    assert list(rejected.iterdir()) == []


def test_rejected_uploads_are_bounded_in_bytes_oldest_first(
    local_relay: Callable[..., LocalRelay], desk: DeskIdentity
) -> None:
    # Given a relay that keeps at most 12 kB of refused uploads
    clock = Clock()
    relay = local_relay(desk.public.sign, clock=clock, max_rejected_bytes=12_000)
    rejected = relay.spool / "rejected"
    kept: list[set[Path]] = []
    # When a stranger sends three junk uploads of 5 kB, a minute apart
    for _ in range(3):
        junk = os.urandom(5000)
        upload = create(relay.http, len(junk)).headers["location"]
        answer = relay.http.patch(upload, content=junk, headers={**OCTETS, "Upload-Offset": "0"})
        assert answer.status_code == 422
        kept.append(set(rejected.glob("*.bin")))
        clock.sleep(60)
        os.utime(max(kept[-1] - (kept[-2] if len(kept) > 1 else set())), (clock.now,) * 2)
    # Then the next sweep keeps 10 kB: the two newest, the oldest dropped with its reason
    assert create(relay.http, 1000).status_code == 201
    assert set(rejected.glob("*.bin")) == kept[2] - kept[0]
    assert len(list(rejected.glob("*.reason.txt"))) == 2


def test_field_send_says_the_relay_refused_rather_than_could_not_be_reached(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    local_relay: Callable[..., LocalRelay],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given a correspondent with a report, and a relay that answers 429 to all but
    # its first request (its rate limit taken by a flood)
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    compose_random(session, tmp_path, "a", 20_000)
    relay = local_relay(identity.public.sign, rate_per_s=0.0001, rate_burst=1)
    said: list[str] = []
    # When it sends
    [result] = send_outbox(
        session,
        relay=relay.url,
        sleep=lambda _s: None,
        progress=said.append,
        transport=relay.transport,
    )
    # Then it says what happened: refused, 429, too many requests
    assert result.status is SendStatus.FAILED
    assert "refusing (429" in result.detail and "too many requests" in result.detail
    assert "could not be reached" not in result.detail + "".join(said)


def test_desk_pull_backs_off_while_the_relay_refuses_with_429(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[..., FieldSession],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    passphrase: str,
    tmp_path: Path,
) -> None:
    # Given an envelope at a relay whose request budget a flood has just emptied
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    session = make_correspondent(desk, "Raven")
    envelope_id = compose_random(session, tmp_path, "a", 5000)
    clock = Clock()
    relay = make_relay(identity.public.sign, clock=clock, rate_per_s=0.5, rate_burst=2)
    (relay.spool / "envelopes").mkdir(parents=True, exist_ok=True)
    (relay.spool / "envelopes" / f"{envelope_id}.age").write_bytes(
        session.envelope_path(envelope_id).read_bytes()
    )
    for _ in range(2):
        httpx.options(f"{relay.url}/files")
    assert httpx.options(f"{relay.url}/files").status_code == 429
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.sleep(seconds)

    # When the desk pulls
    with desk.home.open_store() as store:
        outcomes = pull_envelopes(
            desk.home, identity, store, relay=relay.url, clock=clock, sleep=sleep
        )
    # Then it waited, backing off, and imported the envelope (one 429 ended it before)
    assert [o.status for o in outcomes] == ["imported"]
    assert waits[:2] == [1.0, 2.0]


def test_desk_pull_gives_up_after_bounded_backoff(
    make_desk: Callable[..., DeskFixture],
    make_relay: Callable[..., RelayHandle],
    store_url: str,
    passphrase: str,
) -> None:
    # Given a relay that refuses every request (a budget that never refills in time)
    desk = make_desk(store_url)
    identity = desk.home.unlock(passphrase)
    relay = make_relay(identity.public.sign, rate_per_s=0.0001, rate_burst=1)
    httpx.options(f"{relay.url}/files")
    waits: list[float] = []
    # When the desk pulls, Then it tries a bounded number of times and says why it stopped
    with desk.home.open_store() as store, pytest.raises(RelayLimitExceeded, match="429"):
        pull_envelopes(desk.home, identity, store, relay=relay.url, sleep=waits.append)
    assert 1 <= len(waits) <= 10
