"""Forged text shards (issue 14, item 6): the shard checksum needs no key.

Anyone can paste a shard whose header and ``sum=`` look right and whose body is
garbage. A forged shard 2 among genuine 1, 3 and 4 of a 3-of-5 set must not stop
the rebuild, nor send the good shards to quarantine, nor shut out a genuine shard
2 that arrives later. The shard pool lives in files under the desk's home, not in
the database, so these run on SQLite only.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from conftest import PASSPHRASE, DeskFixture
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.envelope import shards
from sijil.envelope.sealing import Draft
from sijil.errors import MalformedShard
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.store import QuarantineItem

Correspondent_ = Callable[[DeskFixture, str], FieldSession]


def forge(genuine: shards.Shard, *, seed: int) -> shards.Shard:
    """A shard with ``genuine``'s header and a garbage body of the right size: its
    ``sum=`` is computed over the garbage, as any forger can (it needs no key)."""
    body = random.Random(seed).randbytes(len(genuine.data))
    return shards.Shard(
        envelope_id=genuine.envelope_id,
        k=genuine.k,
        n=genuine.n,
        index=genuine.index,
        length=genuine.length,
        data=body,
    )


def text_of(*pieces: shards.Shard) -> str:
    return "\n".join(shards.format_shard(p) for p in pieces)


# --- the codec: rebuild tries other choices ---------------------------------------------


def test_a_forged_shard_among_genuine_ones_still_rebuilds() -> None:
    # Given genuine shards 1, 3 and 4 of a 3-of-5 envelope and a forged shard 2
    envelope = random.Random(1).randbytes(3000)
    genuine = shards.split(envelope, k=3, n=5)
    forged = forge(genuine[1], seed=2)
    # (it parses like a genuine shard: its checksum needs no key)
    assert shards.parse_shard(shards.format_shard(forged)) == forged
    # When rebuilt from all four / Then the envelope comes back from 1, 3 and 4
    assert shards.rebuild([genuine[0], forged, genuine[2], genuine[3]]) == envelope


def test_a_forged_copy_and_a_genuine_copy_of_one_index_are_both_kept() -> None:
    # Given two different bodies under index 2, the forged one first
    envelope = random.Random(3).randbytes(999)
    genuine = shards.split(envelope, k=3, n=5)
    forged = forge(genuine[1], seed=4)
    # When rebuilt from 1, 2 (forged), 2 (genuine) and 3 / Then the genuine copy wins
    assert shards.rebuild([genuine[0], forged, genuine[1], genuine[2]]) == envelope


def test_when_no_choice_rebuilds_the_error_says_a_shard_is_forged() -> None:
    # Given genuine 1 and 3 and a forged 2: the only choice of three fails
    envelope = random.Random(5).randbytes(500)
    genuine = shards.split(envelope, k=3, n=5)
    given_ = [genuine[0], forge(genuine[1], seed=6), genuine[2]]
    # When rebuilt / Then MalformedShard says so, after one decode
    with pytest.raises(MalformedShard, match=r"does not match its id .*1 choice\(s\).*forged"):
        shards.rebuild(given_)


def test_a_flood_of_forgeries_is_searched_within_the_named_bound() -> None:
    # Given forty forged copies of every index and no genuine shard at all
    envelope = random.Random(7).randbytes(600)
    genuine = shards.split(envelope, k=3, n=5)
    flood = [forge(g, seed=100 * g.index + i) for g in genuine for i in range(40)]
    # When rebuilt / Then it gives up after exactly MAX_REBUILD_ATTEMPTS decodes
    bound = shards.MAX_REBUILD_ATTEMPTS
    with pytest.raises(MalformedShard, match=rf"\({bound} choice\(s\) of 3 from 200 shard"):
        shards.rebuild(flood)


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 12),
    spares=st.integers(1, 6),
    forged_index=st.integers(0, 17),
    genuine_first=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_forged_copy_never_stops_a_rebuild_with_a_spare(
    k: int, spares: int, forged_index: int, genuine_first: bool, seed: int
) -> None:
    # Given any k-of-n set with at least one spare, and one forged copy of any index
    rng = random.Random(seed)
    envelope = rng.randbytes(rng.randint(1, 4000))
    genuine = shards.split(envelope, k=k, n=k + spares)
    forged = forge(genuine[forged_index % len(genuine)], seed=seed)
    given_ = [*genuine, forged] if genuine_first else [forged, *genuine]
    rng.shuffle(given_)
    # When rebuilt / Then the genuine envelope comes back
    assert shards.rebuild(given_) == envelope


# --- the desk: the pool keeps every copy, quarantines no good shard ----------------------


@dataclass
class ShardSet:
    envelope_id: str
    genuine: list[shards.Shard]
    forged: shards.Shard


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture]) -> DeskFixture:
    return make_desk()


@pytest.fixture
def make_shard_set(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> Callable[[str], ShardSet]:
    """Factory: a real sealed report cut into 3-of-5 shards, and a forged shard 2."""

    def make(title: str) -> ShardSet:
        olive = make_correspondent(desk, f"Olive{title}")
        compose(olive, Draft(title=title, body="نص " * 20, lang="ar"), [])
        (export,) = export_outbox(olive, tmp_path / f"usb-{title}")
        envelope = export.paths[0].read_bytes()
        genuine = shards.split(envelope, k=3, n=5)
        return ShardSet(
            envelope_id=hashlib.sha256(envelope).hexdigest(),
            genuine=genuine,
            forged=forge(genuine[1], seed=len(title)),
        )

    return make


def take(desk: DeskFixture, path: Path, text: str) -> list[ImportOutcome]:
    path.write_text(text, encoding="ascii")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        return import_paths(desk.home, identity, store, [path], channel="file")


def quarantined(desk: DeskFixture) -> int:
    with desk.home.open_store() as store, store.session() as session:
        return int(session.scalar(select(func.count()).select_from(QuarantineItem)) or 0)


def test_a_chat_with_a_forged_shard_2_and_genuine_1_3_4_imports_and_quarantines_nothing(
    desk: DeskFixture, make_shard_set: Callable[[str], ShardSet], tmp_path: Path
) -> None:
    # Given a chat export holding genuine shards 1, 3, 4 and a forged shard 2
    found = make_shard_set("strike")
    g = found.genuine
    chat = text_of(g[0], found.forged, g[2], g[3])
    # When the desk imports it
    outcomes = take(desk, tmp_path / "chat.txt", chat)
    # Then the envelope is rebuilt from 1, 3 and 4 and nothing is quarantined
    assert [(o.status, o.envelope_id) for o in outcomes] == [("imported", found.envelope_id)]
    assert quarantined(desk) == 0
    assert not any(desk.home.pending_shards.iterdir())


def test_good_shards_wait_beside_a_forgery_and_a_later_genuine_shard_completes_the_set(
    desk: DeskFixture, make_shard_set: Callable[[str], ShardSet], tmp_path: Path
) -> None:
    found = make_shard_set("market")
    g = found.genuine
    # Given genuine shards 1 and 3 arrive with a forged shard 2 (the only choice of three)
    (first,) = take(desk, tmp_path / "first.txt", text_of(g[0], found.forged, g[2]))
    # Then the set waits, says a shard is forged, and keeps every shard; none is quarantined
    assert first.status == "waiting", first
    assert "forged or corrupt" in first.detail and "kept" in first.detail
    pool = desk.home.pending_shards / found.envelope_id
    assert len(list(pool.glob("*.txt"))) == 3
    assert quarantined(desk) == 0
    # When the genuine shard 2 arrives later (the forged copy does not shut it out)
    (second,) = take(desk, tmp_path / "second.txt", text_of(g[1]))
    # Then the set completes, and still nothing was quarantined
    assert (second.status, second.envelope_id) == ("imported", found.envelope_id), second
    assert quarantined(desk) == 0
    assert not pool.exists()


def test_a_forged_copy_that_arrives_first_does_not_replace_the_genuine_one(
    desk: DeskFixture, make_shard_set: Callable[[str], ShardSet], tmp_path: Path
) -> None:
    found = make_shard_set("bridge")
    g = found.genuine
    # Given a forged shard 2 and a genuine 1 arrive first: too few to try
    (early,) = take(desk, tmp_path / "early.txt", text_of(found.forged, g[0]))
    assert early.status == "waiting" and "have 2 of the 3" in early.detail
    # When genuine 2 and 3 arrive
    (late,) = take(desk, tmp_path / "late.txt", text_of(g[1], g[2]))
    # Then both copies of shard 2 were kept and the genuine one completes the set
    assert late.status == "imported", late
    assert quarantined(desk) == 0
