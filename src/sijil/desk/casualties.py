"""Casualty counts as honest ranges, and the arithmetic that keeps them consistent.

A count is a min-max range of people for one outcome (killed, injured,
missing), status (civilian, combatant, unknown) and group (all, child, woman,
man). For each outcome and status the groups child, woman and man are parts
of ``all``; the rules, checked by :func:`check_counts`:

- 0 <= min <= max <= MAX_COUNT;
- one range per (outcome, status, group);
- no part's min exceeds the whole's max (3-5 children cannot be among 0-2 dead);
- nor does the sum of the parts' minima (2 children and 2 women, at least,
  cannot be among at most 3 dead).

Parts are not required to add up to the whole: most victims' ages and sexes go
unreported. A part without an ``all`` range is unconstrained by one.

Written on the command line as ``OUTCOME:STATUS:GROUP=MIN-MAX`` (or ``=N`` for
an exact number): ``killed:civilian:child=2-4``. Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sijil.errors import CasualtyRangeError

__all__ = [
    "MAX_COUNT",
    "PARTS",
    "Count",
    "Group",
    "Outcome",
    "Status",
    "check_counts",
    "format_count",
    "parse_count",
]

_E = TypeVar("_E", bound=StrEnum)

#: The largest number of people one range may name.
MAX_COUNT = 1_000_000


class Outcome(StrEnum):
    KILLED = "killed"
    INJURED = "injured"
    MISSING = "missing"


class Status(StrEnum):
    CIVILIAN = "civilian"
    COMBATANT = "combatant"
    UNKNOWN = "unknown"


class Group(StrEnum):
    ALL = "all"
    CHILD = "child"
    WOMAN = "woman"
    MAN = "man"


#: The groups that are parts of ``all``.
PARTS = (Group.CHILD, Group.WOMAN, Group.MAN)


@dataclass(frozen=True, order=True)
class Count:
    outcome: Outcome
    status: Status
    group: Group
    min: int
    max: int

    @property
    def key(self) -> tuple[Outcome, Status, Group]:
        return (self.outcome, self.status, self.group)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "status": str(self.status),
            "group": str(self.group),
            "min": self.min,
            "max": self.max,
        }


_SYNTAX = re.compile(r"\s*(\w+):(\w+):(\w+)\s*=\s*(\d{1,9})(?:\s*-\s*(\d{1,9}))?\s*", re.ASCII)


def _member(enum: type[_E], value: str, what: str) -> _E:
    try:
        return enum(value.lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise CasualtyRangeError(f"unknown {what} {value!r} (one of {allowed})") from None


def parse_count(text: str) -> Count:
    """``killed:civilian:child=2-4`` (or ``=3``) as a Count; the range itself is checked too."""
    match = _SYNTAX.fullmatch(text)
    if match is None:
        raise CasualtyRangeError(
            f"{text[:60]!r} is not a count: write OUTCOME:STATUS:GROUP=MIN-MAX, "
            "e.g. killed:civilian:child=2-4"
        )
    outcome, status, group, low, high = match.groups()
    count = Count(
        outcome=_member(Outcome, outcome, "outcome"),
        status=_member(Status, status, "status"),
        group=_member(Group, group, "group"),
        min=int(low),
        max=int(high if high is not None else low),
    )
    _check_range(count)
    return count


def format_count(count: Count) -> str:
    """The command-line form of a count (``=N`` when min equals max)."""
    span = str(count.min) if count.min == count.max else f"{count.min}-{count.max}"
    return f"{count.outcome}:{count.status}:{count.group}={span}"


def _label(count: Count) -> str:
    return f"{count.outcome}:{count.status}:{count.group}"


def _check_range(count: Count) -> None:
    if count.min < 0:
        raise CasualtyRangeError(f"{_label(count)}: a count cannot be negative")
    if count.min > count.max:
        raise CasualtyRangeError(f"{_label(count)}: min {count.min} is above max {count.max}")
    if count.max > MAX_COUNT:
        raise CasualtyRangeError(f"{_label(count)}: {count.max} is above the limit {MAX_COUNT}")


def check_counts(counts: Iterable[Count]) -> tuple[Count, ...]:
    """Check every rule above; return the counts in their canonical (sorted) order."""
    by_key: dict[tuple[Outcome, Status, Group], Count] = {}
    for count in counts:
        _check_range(count)
        if count.key in by_key:
            raise CasualtyRangeError(f"{_label(count)} is given twice")
        by_key[count.key] = count
    for outcome in Outcome:
        for status in Status:
            whole = by_key.get((outcome, status, Group.ALL))
            if whole is None:
                continue
            parts = [by_key[k] for g in PARTS if (k := (outcome, status, g)) in by_key]
            for part in parts:
                if part.min > whole.max:
                    raise CasualtyRangeError(
                        f"{_label(part)}: at least {part.min} cannot be among "
                        f"at most {whole.max} ({_label(whole)})"
                    )
            floor = sum(p.min for p in parts)
            if floor > whole.max:
                raise CasualtyRangeError(
                    f"{outcome}:{status}: the parts' minima add up to {floor}, "
                    f"above the whole's max {whole.max}"
                )
    return tuple(sorted(by_key.values()))
