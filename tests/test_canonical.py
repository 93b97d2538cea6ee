"""Canonical JSON: sijil's encoder is RFC 8785 (JCS) on the subset sijil signs and hashes.

The reference is the maintained ``rfc8785`` package (Trail of Bits) and the examples
published in RFC 8785 itself. sijil's subset has no floats and only ASCII object keys
(see ``sijil.crypto.canonical``); inside it the bytes must be RFC 8785's, and outside
it the encoder must refuse rather than guess.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sijil.crypto.canonical import canonical_json, in_canonical_subset
from sijil.export import verifier
from sijil.ledger.entries import digest

# RFC 8785 (like I-JSON) takes integers only where an IEEE 754 double holds them exactly
SAFE = 2**53 - 1

# Any Unicode scalar value: controls, quotes, backslashes, U+2028/9, astral planes;
# no lone surrogates (UTF-8 cannot carry them; both encoders refuse them, tested below)
ANY_TEXT = st.text(st.characters(min_codepoint=0, exclude_categories=["Cs"]), max_size=24)
ASCII_KEY = st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=10)
SCALARS = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | ANY_TEXT
SUBSET = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ASCII_KEY, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(value=SUBSET)
@example(value=[SAFE, -SAFE, 0, -1, 2**31, -(2**32)])
@example(value={"": "\x00\x1f\x7f\u2028\u2029\ufeff\U0001f600\U0010ffff", "~": '\\"/'})
@example(value={"b": {"z": [], "a": {}}, "a": [[["deep"]]], "B": None, "_": True})
def test_canonical_json_is_the_rfc8785_packages_bytes_inside_the_subset(value: Any) -> None:
    # Given any value in sijil's subset
    assert in_canonical_subset(value)
    # When it is encoded by sijil and by the reference implementation
    ours = canonical_json(value)
    # Then the bytes are the same
    assert ours == rfc8785.dumps(value)
    # and the standalone package verifier's copy agrees as well
    assert verifier._canonical(value) == ours
    assert verifier._digest(value) == digest(value)


def test_integers_past_the_safe_range_are_refused_as_the_reference_refuses_them() -> None:
    # Given the largest integers an IEEE double holds exactly (RFC 8785 numbers are doubles)
    for n in (SAFE, -SAFE):
        # Then sijil writes them as the reference does
        assert canonical_json(n) == rfc8785.dumps(n)
        assert canonical_json([n]) == rfc8785.dumps([n])
    # When one step further out, another implementation would round; both refuse
    for n in (SAFE + 1, -(SAFE + 1), 2**64):
        with pytest.raises(rfc8785.IntegerDomainError):
            rfc8785.dumps(n)
        with pytest.raises(ValueError, match="2\\*\\*53"):
            canonical_json({"n": [n]})


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(ASCII_KEY, min_size=2, max_size=12, unique=True))
def test_ascii_keys_sort_the_same_by_utf16_code_units_and_by_code_points(keys: list[str]) -> None:
    # RFC 8785 section 3.2.3 sorts names by UTF-16 code units; Python sorts by code
    # points. On ASCII the two orders are one, so sijil's sort_keys is RFC 8785's.
    value = {key: i for i, key in enumerate(keys)}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-16-be"))


def test_beyond_ascii_the_two_orders_differ_which_is_why_sijil_refuses_such_keys() -> None:
    # U+FF61 is one UTF-16 unit (FF61); U+1F600 is a surrogate pair (D83D DE00):
    # by code units the emoji sorts first, by code points it sorts last
    value = {"\uff61": 1, "\U0001f600": 2}
    assert rfc8785.dumps(value) == '{"\U0001f600":2,"\uff61":1}'.encode()
    assert sorted(value) == ["\uff61", "\U0001f600"]  # Python's order, sort_keys' order
    with pytest.raises(ValueError, match="ASCII keys"):
        canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        0.0,
        [1, 2, 3.0],
        {"lat": 33.5},
        {"deep": [{"x": [float("nan")]}]},
        {"é": 1},
        {"ok": {"\u0645\u0641\u062a\u0627\u062d": "Arabic key"}},
        {1: "an int key"},
    ],
)
def test_floats_and_non_ascii_or_non_string_keys_are_refused(value: Any) -> None:
    assert not in_canonical_subset(value)
    with pytest.raises(ValueError, match="no floats"):
        canonical_json(value)


def test_a_lone_surrogate_is_refused_by_both() -> None:
    # UTF-8 cannot encode U+D800 alone: neither encoder may emit it
    with pytest.raises(ValueError):
        canonical_json({"text": "\ud800"})
    with pytest.raises(ValueError):
        rfc8785.dumps({"text": "\ud800"})


# --- the examples published in RFC 8785 -----------------------------------------------

# RFC 8785 section 3.2.2: the sample input, written here exactly as the RFC prints it
RFC_SAMPLE_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
# RFC 8785 section 3.2.3: its canonical form (section 3.2.4 gives these as UTF-8 bytes)
RFC_SAMPLE_OUTPUT = (
    r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"""
    r""""string":"€$\u000f\nA'B\"\\\\\"/"}"""
).encode()
# The same, less the "numbers" member: the part of the sample inside sijil's subset
RFC_SAMPLE_OUTPUT_NO_NUMBERS = (
    r"""{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}""".encode()
)

# RFC 8785 section 3.2.3, the sorting example: property names and, in the RFC's
# words, "the expected order" of the names after canonicalization
RFC_SORTING_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC_SORTING_ORDER = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_the_rfc_sample_is_reproduced_for_every_member_inside_the_subset() -> None:
    # Given the RFC's sample, parsed
    sample = json.loads(RFC_SAMPLE_INPUT)
    # Then the reference package reproduces the RFC's published bytes, floats and all
    assert rfc8785.dumps(sample) == RFC_SAMPLE_OUTPUT
    # and sijil refuses the floats rather than write them its own way
    with pytest.raises(ValueError):
        canonical_json(sample)
    # and writes the rest (string escapes, literals, member order) byte for byte
    del sample["numbers"]
    assert canonical_json(sample) == RFC_SAMPLE_OUTPUT_NO_NUMBERS
    assert verifier._canonical(sample) == RFC_SAMPLE_OUTPUT_NO_NUMBERS


def test_the_rfc_sorting_example_and_its_ascii_names() -> None:
    # The reference package puts the RFC's names in the RFC's order
    ordered = list(json.loads(rfc8785.dumps(RFC_SORTING_INPUT)))
    assert ordered == RFC_SORTING_ORDER
    # sijil refuses the non-ASCII names (its sort would not be RFC 8785's)
    with pytest.raises(ValueError):
        canonical_json(RFC_SORTING_INPUT)
    # and puts the example's ASCII names in the RFC's order, "\r" escaped as the RFC writes it
    ascii_only = {k: v for k, v in RFC_SORTING_INPUT.items() if k.isascii()}
    assert canonical_json(ascii_only) == b'{"\\r":"Carriage Return","1":"One"}'
    assert list(json.loads(canonical_json(ascii_only))) == RFC_SORTING_ORDER[:2]
