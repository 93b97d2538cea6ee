"""Text shards: split, format, parse chat exports, rebuild (docs/shards.md)."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sijil.envelope.shards import (
    BODY_LINE_CHARS,
    DEFAULT_SHARD_BYTES,
    MAX_SHARDS,
    MIN_SPARE_SHARDS,
    Shard,
    format_shard,
    group,
    parse_shard,
    parse_text,
    rebuild,
    split,
)
from sijil.errors import MalformedShard, MixedShards, ShardError, TooFewShards

# The worked example of docs/shards.md, byte for byte.
VECTOR_ENVELOPE = bytes(range(201))
VECTOR_ID = "747db6ff08731ff7908224c50f71f51fef1283e65341e2dbcdc664f0f41bf8c5"
VECTOR_TEXTS = [
    f"SIJIL-SHARD/1 {VECTOR_ID} 1/3 k=2 len=201 sum=4565d7b898ccea31\n"
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\n"
    "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2Q=\n",
    f"SIJIL-SHARD/1 {VECTOR_ID} 2/3 k=2 len=201 sum=467bdd2c17bbf1bd\n"
    "ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5yd\n"
    "np+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyAA=\n",
    f"SIJIL-SHARD/1 {VECTOR_ID} 3/3 k=2 len=201 sum=3561cad6e335b26c\n"
    "ys/I1d7b3NHCx8D99vP0+drf2MXOy8zB0tfQMDs+OTR3cnVoY2ZhbH96fUBLTklEZ2JleHN2cXxv\n"
    "am0QGx4ZFJeSlYiDhoGMn5qdoKuuqaSHgoWYk5aRnI+KjXB7fnl0NzI1KKw=\n",
]

PREFIXES = [
    "",
    "[22/11/2026, 08:15:03] Abu Omar: ",
    "22/11/2026, 08:15 - Abu Omar: ",
    "\u200e[22/11/2026, 08:16:41] أبو عمر: ",
    "Raqqa is Being Slaughtered: ",
]
GARBAGE = [
    "",
    "   ",
    "22/11/2026, 08:14 - Messages and calls are end-to-end encrypted.",
    "[22/11/2026, 08:20:00] Desk: Thanks",
    "ok",
    "Good",
    "<Media omitted>",
    "صورة من الرقة",
]


def seeded(seed: int) -> random.Random:
    # Reproducible test data, not secrets.
    return random.Random(seed)


def envelope_of(size: int, seed: int = 1) -> bytes:
    return seeded(seed).randbytes(size)


def as_text(shards: list[Shard]) -> str:
    return "".join(format_shard(s) for s in shards)


def chat_export(shards: list[Shard], rng: random.Random) -> str:
    """Shards as a messenger export: prefixes, garbage between, CRLF, trailing spaces."""
    out: list[str] = []
    for shard in shards:
        out += rng.sample(GARBAGE, 3)
        prefix = rng.choice(PREFIXES)
        header, *body = format_shard(shard).splitlines()
        out.append(prefix + header)
        out += [(rng.choice(PREFIXES) if rng.random() < 0.3 else "") + b + "  " for b in body]
    out += rng.sample(GARBAGE, 2)
    return "\r\n".join(out) + "\r\n"


# --- split and round trip -------------------------------------------------------


def test_round_trip_through_text() -> None:
    # Given a 10 KB envelope split with the defaults
    envelope = envelope_of(10_000)
    shards = split(envelope)
    # When all shards are formatted, parsed back and rebuilt
    parsed, problems = parse_text(as_text(shards))
    # Then nothing is lost and the identity is the SHA-256 of the envelope
    assert problems == []
    assert parsed == shards
    assert rebuild(parsed) == envelope
    assert shards[0].envelope_id == hashlib.sha256(envelope).hexdigest()


def test_default_counts_and_spares() -> None:
    # Given envelopes of 10 KB and of 5 bytes
    # When split with the defaults
    big, tiny = split(envelope_of(10_000)), split(b"hello")
    # Then k follows the shard size, n adds half again, and tiny ones get 2 spares
    assert (big[0].k, big[0].n) == (4, 6)
    assert (tiny[0].k, tiny[0].n) == (1, 1 + MIN_SPARE_SHARDS)
    assert [s.index for s in big] == [1, 2, 3, 4, 5, 6]


def test_one_full_shard_fits_a_telegram_message() -> None:
    # Given the widest header possible and a full default-size body
    shard = Shard(
        envelope_id="f" * 64,
        k=MAX_SHARDS,
        n=MAX_SHARDS,
        index=MAX_SHARDS,
        length=MAX_SHARDS * DEFAULT_SHARD_BYTES,
        data=bytes(DEFAULT_SHARD_BYTES),
    )
    # When it is formatted
    text = format_shard(shard)
    # Then it fits Telegram's 4096 characters, is ASCII, and has no messenger-unsafe text
    assert len(text) <= 4096
    assert text.isascii()
    assert all(len(line) <= BODY_LINE_CHARS for line in text.splitlines()[1:])
    for risky in ("--", '"', "'", "*", "_", "~", "`", "|"):
        assert risky not in text


def test_any_k_of_n_in_any_order_with_duplicates() -> None:
    # Given an envelope split 3-of-7
    envelope = envelope_of(5000)
    shards = split(envelope, k=3, n=7)
    rng = seeded(7)
    for _ in range(20):
        # When any 3 distinct shards, shuffled and partly duplicated, are rebuilt
        picked = rng.sample(shards, 3)
        given_ = picked + rng.choices(picked, k=2)
        rng.shuffle(given_)
        # Then the envelope comes back
        assert rebuild(given_) == envelope


def test_empty_envelope_is_refused() -> None:
    # Given nothing to send / When split / Then a clear ShardError
    with pytest.raises(ShardError, match="empty"):
        split(b"")


def test_too_large_envelope_is_refused_with_advice() -> None:
    # Given an envelope needing more than 253 data shards at a small shard size
    envelope = envelope_of(254 * 100)
    # When split with the default redundancy / Then the message says what to do
    with pytest.raises(ShardError, match=r"needs 256 shards.*max 255.*--shard-size.*USB"):
        split(envelope, shard_bytes=100)


def test_spares_are_clamped_rather_than_refused() -> None:
    # Given an envelope needing 200 data shards (half again would be 300)
    shards = split(envelope_of(200 * 100), shard_bytes=100)
    # Then n is clamped to the maximum and it still rebuilds from the last k
    assert (shards[0].k, shards[0].n) == (200, MAX_SHARDS)
    assert rebuild(shards[-200:]) == envelope_of(200 * 100)


@pytest.mark.parametrize(("k", "n"), [(0, 3), (4, 3), (2, 256)])
def test_bad_explicit_counts_are_refused(k: int, n: int) -> None:
    with pytest.raises(ShardError):
        split(b"abc", k=k, n=n)


@pytest.mark.parametrize("redundancy", [-0.5, float("nan"), float("inf")])
def test_bad_redundancy_is_refused(redundancy: float) -> None:
    with pytest.raises(ShardError, match="redundancy"):
        split(b"abc", redundancy=redundancy)


# --- the worked test vector ----------------------------------------------------


def test_fixed_test_vector_from_the_spec() -> None:
    # Given the 201-byte envelope of docs/shards.md
    # When it is split 2-of-3 and formatted
    texts = [format_shard(s) for s in split(VECTOR_ENVELOPE, k=2, n=3)]
    # Then the texts match the spec byte for byte and any two rebuild it
    assert texts == VECTOR_TEXTS
    for drop in range(3):
        kept = [t for i, t in enumerate(VECTOR_TEXTS) if i != drop]
        assert rebuild(parse_text("".join(kept))[0]) == VECTOR_ENVELOPE


def test_spec_shows_the_same_vector() -> None:
    # Given docs/shards.md / When its shard code blocks are read
    spec = (Path(__file__).parent.parent / "docs" / "shards.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(SIJIL-SHARD/1 [0-9a-f].*?)```", spec, re.S)
    # Then they are exactly the texts this test suite checks
    assert blocks == VECTOR_TEXTS


# --- parsing chat exports ------------------------------------------------------


def test_chat_export_noise_is_tolerated() -> None:
    # Given shards pasted through a messenger, exported with CRLF, prefixes and chatter
    envelope = envelope_of(9000)
    shards = split(envelope, k=4, n=6)
    rng = seeded(3)
    export = chat_export(rng.sample(shards, 4), rng)
    # When the export is parsed
    parsed, problems = parse_text(export)
    # Then the shards are found intact and rebuild the envelope
    assert problems == []
    assert len(parsed) == 4
    assert rebuild(parsed) == envelope


def test_unwrapped_body_on_one_line_is_accepted() -> None:
    # Given a client that joined the body into one line
    shard = split(envelope_of(500), k=1, n=3)[0]
    header, *body = format_shard(shard).splitlines()
    # When parsed / Then the shard is still read
    assert parse_shard(f"{header}\nAbu Omar: {''.join(body)}\n") == shard


def test_corrupted_body_is_reported_and_others_still_rebuild() -> None:
    # Given a 2-of-4 split where one shard's body had a character changed in transit
    envelope = envelope_of(3000)
    texts = [format_shard(s) for s in split(envelope, k=2, n=4)]
    lines = texts[1].splitlines()
    lines[1] = ("B" if lines[1][0] != "B" else "C") + lines[1][1:]
    texts[1] = "\n".join(lines) + "\n"
    # When the texts are parsed
    parsed, problems = parse_text("".join(texts))
    # Then the bad one is named and left out, and the rest rebuild
    header_line = len(texts[0].splitlines()) + 1
    short = parsed[0].envelope_id[:8]
    assert problems == [f"line {header_line}: shard 2/4 of {short}: checksum mismatch, ignored"]
    assert sorted(s.index for s in parsed) == [1, 3, 4]
    assert rebuild(parsed) == envelope


def test_truncated_shard_is_reported() -> None:
    # Given a shard whose last line was lost, followed by another shard
    shards = split(envelope_of(3000), k=2, n=3)
    first = format_shard(shards[0]).splitlines()[:-1]
    text = "\n".join(first) + "\n" + format_shard(shards[1])
    # When parsed
    parsed, problems = parse_text(text)
    # Then the cut shard is reported and the next one is still read
    assert parsed == [shards[1]]
    assert len(problems) == 1
    assert "shard 1/3" in problems[0]
    assert "cut short" in problems[0]
    # And a shard cut by the end of the text is reported too
    assert "ends before" in parse_text("\n".join(first))[1][0]


def test_unknown_version_is_reported_and_ignored() -> None:
    # Given a shard from a future sijil
    text = VECTOR_TEXTS[0].replace("SIJIL-SHARD/1", "SIJIL-SHARD/2")
    # When parsed
    parsed, problems = parse_text(text)
    # Then it is not read, and the problem names the version
    assert parsed == []
    assert problems == [
        "line 1: unknown shard format SIJIL-SHARD/2, ignored; a newer sijil may read it"
    ]
    with pytest.raises(MalformedShard, match="SIJIL-SHARD/2"):
        parse_shard(text)


@pytest.mark.parametrize(
    "header",
    [
        f"SIJIL-SHARD/1 {VECTOR_ID} 4/3 k=2 len=201 sum=4565d7b898ccea31",
        f"SIJIL-SHARD/1 {VECTOR_ID} 1/3 k=0 len=201 sum=4565d7b898ccea31",
        f"SIJIL-SHARD/1 {VECTOR_ID} 1/3 k=2 len=999999999 sum=4565d7b898ccea31",
        f"SIJIL-SHARD/1 {VECTOR_ID} 1/300 k=2 len=201 sum=4565d7b898ccea31",
        "SIJIL-SHARD/1 not-an-id 1/3 k=2 len=201 sum=4565d7b898ccea31",
    ],
)
def test_hostile_or_broken_headers_are_refused(header: str) -> None:
    # Given a header with impossible or absurd values
    text = header + "\n" + "QUFB" * 500 + "\n"
    # When parsed / Then no shard and one problem, without allocating anything big
    parsed, problems = parse_text(text)
    assert parsed == []
    assert len(problems) == 1


def test_oversized_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sijil.envelope.shards.MAX_TEXT_CHARS", 100)
    with pytest.raises(ShardError, match="max 100"):
        parse_text("x" * 101)


# --- rebuild errors and grouping -----------------------------------------------


def test_too_few_shards() -> None:
    # Given 2 distinct shards (one duplicated) of a 3-of-5 envelope
    shards = split(envelope_of(6000), k=3, n=5)
    # When rebuilt / Then the message says how many are had and needed
    short = shards[0].envelope_id[:8]
    with pytest.raises(TooFewShards, match=f"have 2 of the 3 shards needed for envelope {short}"):
        rebuild([shards[0], shards[4], shards[4]])
    with pytest.raises(TooFewShards):
        rebuild([])


def test_shards_of_two_envelopes_are_mixed() -> None:
    # Given shards of two envelopes together
    a, b = split(envelope_of(100, 1), k=1, n=3), split(envelope_of(100, 2), k=1, n=3)
    # When rebuilt / Then MixedShards names both
    with pytest.raises(MixedShards, match="2 envelopes"):
        rebuild([a[0], b[0]])


def test_inconsistent_headers_of_one_envelope_are_mixed() -> None:
    # Given a shard re-labelled with another n under the same id
    s = split(envelope_of(100), k=1, n=3)[0]
    other = Shard(envelope_id=s.envelope_id, k=1, n=4, index=1, length=s.length, data=s.data)
    with pytest.raises(MixedShards, match="disagree"):
        rebuild([s, other])


def test_conflicting_copies_keep_the_genuine_one_and_wrong_bytes_are_malformed() -> None:
    shards = split(envelope_of(100), k=1, n=3)
    forged = Shard(
        envelope_id=shards[0].envelope_id, k=1, n=3, index=1, length=100, data=bytes(100)
    )
    # Given two different bodies under one index / Then the one that rebuilds wins
    # (a forged copy must not shut out the genuine one: tests/test_forged_shards.py)
    assert rebuild([forged, shards[0]]) == envelope_of(100)
    # Given bytes that do not hash to the id / Then MalformedShard
    with pytest.raises(MalformedShard, match="does not match"):
        rebuild([forged])


def test_shard_fields_are_validated() -> None:
    with pytest.raises(MalformedShard):
        Shard(envelope_id="ab" * 32, k=2, n=3, index=1, length=10, data=b"sixsix")


def test_group_interleaved_envelopes() -> None:
    # Given shards of two envelopes interleaved, as in a folder of mixed files
    env_a, env_b = envelope_of(7000, 1), envelope_of(4000, 2)
    a, b = split(env_a, k=3, n=5), split(env_b, k=2, n=4)
    mixed = [a[0], b[3], a[4], b[1], a[2], b[1]]
    # When grouped
    groups = group(mixed)
    # Then each group holds only its own shards, in order, and rebuilds
    assert list(groups) == [a[0].envelope_id, b[0].envelope_id]
    assert groups[a[0].envelope_id] == [a[0], a[4], a[2]]
    assert groups[b[0].envelope_id] == [b[3], b[1], b[1]]
    assert rebuild(groups[a[0].envelope_id]) == env_a
    assert rebuild(groups[b[0].envelope_id]) == env_b


# --- properties ----------------------------------------------------------------

noise_between = st.text(max_size=60).filter(lambda s: "SIJIL-SHARD/" not in s)
# Lines inside a body always hold a character outside base64 after any prefix.
noise_within = (
    st.text(
        st.characters(
            codec="utf-8",
            exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
        ),
        max_size=40,
    )
    .map(lambda s: s + " !")
    .filter(lambda s: "SIJIL-SHARD/" not in s)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=1, max_value=20_000),
    seed=st.integers(min_value=0, max_value=2**32),
    shard_bytes=st.integers(min_value=200, max_value=DEFAULT_SHARD_BYTES),
    data=st.data(),
)
def test_property_any_k_subset_through_noise_rebuilds(
    size: int, seed: int, shard_bytes: int, data: st.DataObject
) -> None:
    # Given an envelope of random size and bytes, split with a random shard size
    # (seeded bytes: Hypothesis caps how much it draws per example)
    envelope = envelope_of(size, seed)
    shards = split(envelope, shard_bytes=shard_bytes)
    k = shards[0].k
    # And a random k-subset, in random order, with noise between and inside bodies
    subset = data.draw(st.permutations(shards))[:k]
    lines: list[str] = []
    for shard in subset:
        lines += data.draw(st.lists(noise_between, max_size=3))
        header, *body = format_shard(shard).splitlines()
        lines.append(data.draw(st.sampled_from(PREFIXES)) + header)
        for line in body:
            lines += data.draw(st.lists(noise_within, max_size=1))
            lines.append(line)
    # When the text is parsed and rebuilt
    parsed, problems = parse_text("\n".join(lines))
    # Then the original comes back
    assert problems == []
    assert rebuild(parsed) == envelope
