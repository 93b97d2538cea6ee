"""Casualty ranges: the parser and the arithmetic that keeps parts within their whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sijil.desk.casualties import (
    MAX_COUNT,
    PARTS,
    Count,
    Group,
    Outcome,
    Status,
    check_counts,
    format_count,
    parse_count,
)
from sijil.errors import CasualtyRangeError
from sijil.store.models_desk import CasualtyRow


def _c(text: str) -> Count:
    return parse_count(text)


def test_a_count_is_parsed_from_its_command_line_form() -> None:
    assert parse_count("killed:civilian:child=2-4") == Count(
        Outcome.KILLED, Status.CIVILIAN, Group.CHILD, 2, 4
    )
    assert parse_count(" Injured:UNKNOWN:all = 7 ") == Count(
        Outcome.INJURED, Status.UNKNOWN, Group.ALL, 7, 7
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("killed:civilian:child=4-2", "min 4 is above max 2"),
        ("killed:civilian:child", "is not a count"),
        ("killed:civilian:child=-1", "is not a count"),
        ("slain:civilian:all=1", "unknown outcome 'slain'"),
        ("killed:soldier:all=1", "unknown status 'soldier'"),
        ("killed:civilian:elder=1", "unknown group 'elder'"),
        (f"killed:civilian:all=0-{MAX_COUNT + 1}", "above the limit"),
    ],
)
def test_a_malformed_count_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(CasualtyRangeError, match=message) as caught:
        parse_count(text)
    assert "\n" not in str(caught.value)


def test_parts_within_the_whole_are_accepted_in_canonical_order() -> None:
    counts = [_c("killed:civilian:woman=1-2"), _c("killed:civilian:all=7-11"),
              _c("killed:civilian:child=3-5"), _c("injured:civilian:all=10-20")]  # fmt: skip
    assert [format_count(c) for c in check_counts(counts)] == [
        "injured:civilian:all=10-20",
        "killed:civilian:all=7-11",
        "killed:civilian:child=3-5",
        "killed:civilian:woman=1-2",
    ]


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (["killed:civilian:all=0-2", "killed:civilian:child=3-5"], "at least 3 cannot be among"),
        (
            ["killed:civilian:all=1-3", "killed:civilian:child=2-2", "killed:civilian:woman=2-2"],
            "minima add up to 4",
        ),
        (["killed:civilian:all=1", "killed:civilian:all=2"], "given twice"),
    ],
)
def test_parts_above_the_whole_are_refused(counts: list[str], message: str) -> None:
    with pytest.raises(CasualtyRangeError, match=message):
        check_counts([_c(c) for c in counts])


def test_a_part_of_another_status_or_outcome_is_not_bound_by_this_whole() -> None:
    check_counts([_c("killed:civilian:all=0-1"), _c("killed:combatant:man=5"),
                  _c("injured:civilian:child=9")])  # fmt: skip


def test_the_enums_are_the_values_the_database_accepts() -> None:
    checks = " ".join(str(c.sqltext) for c in CasualtyRow.__table__.constraints
                      if hasattr(c, "sqltext"))  # fmt: skip
    for enum in (Outcome, Status, Group):
        for member in enum:
            assert f"'{member.value}'" in checks


counts_strategy = st.builds(
    Count,
    st.sampled_from(list(Outcome)),
    st.sampled_from(list(Status)),
    st.sampled_from(list(Group)),
    st.integers(0, 40),
    st.integers(0, 40),
)


def _valid(counts: list[Count]) -> bool:
    """The rules, written out independently of the module."""
    keys = [c.key for c in counts]
    if len(keys) != len(set(keys)) or any(c.min > c.max for c in counts):
        return False
    by_key = {c.key: c for c in counts}
    for c in counts:
        if c.group == Group.ALL:
            parts = [by_key.get((c.outcome, c.status, g)) for g in PARTS]
            mins = [p.min for p in parts if p is not None]
            if any(m > c.max for m in mins) or sum(mins) > c.max:
                return False
    return True


@settings(max_examples=500)
@given(st.lists(counts_strategy, max_size=8))
def test_check_counts_accepts_exactly_the_consistent_sets(counts: list[Count]) -> None:
    if _valid(counts):
        checked = check_counts(counts)
        assert sorted(checked) == sorted(counts)
        assert check_counts(reversed(checked)) == checked  # order-independent
    else:
        with pytest.raises(CasualtyRangeError):
            check_counts(counts)


@settings(max_examples=300)
@given(counts_strategy.filter(lambda c: c.min <= c.max))
def test_format_and_parse_round_trip(count: Count) -> None:
    assert parse_count(format_count(count)) == count
    assert format_count(parse_count(format_count(count))) == format_count(count)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_the_parser_never_fails_other_than_with_a_casualty_error(text: str) -> None:
    try:
        count = parse_count(text)
    except CasualtyRangeError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 <= count.min <= count.max <= MAX_COUNT
