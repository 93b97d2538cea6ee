"""Canonical JSON (RFC 8785, JCS) for the subset sijil signs and hashes.

Manifests, ledger entries, tree heads and replies are hashed or signed as canonical
JSON, so two implementations must produce the same bytes for the same value. sijil
keeps to a subset on which RFC 8785 and ``json.dumps(sort_keys=True)`` provably agree:

- no floats: RFC 8785 formats numbers as ECMAScript does, which differs from Python's
  ``repr`` in corner cases; sijil stores decimals as strings or scaled integers;
- integers within ±(2**53 - 1): RFC 8785 writes every number as an IEEE double, so a
  larger integer would be rounded by another implementation but not by Python;
- object keys are ASCII strings: RFC 8785 sorts keys by UTF-16 code units and Python
  by code points; on ASCII the two orders are the same.

Inside the subset the output is RFC 8785's. The test suite checks that against the
maintained ``rfc8785`` package (Trail of Bits) with generated values and against the
RFC's own examples. The package is not used at run time because ledger appends are a
hot path and the standard library's C encoder is several times faster.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["canonical_json", "in_canonical_subset", "json_text"]

# Made once: json.dumps with arguments builds a new encoder on every call.
# The largest integer an IEEE double holds exactly (RFC 8785 section 3.2.2.3).
MAX_SAFE_INTEGER: Final = 2**53 - 1
_ENCODER: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def in_canonical_subset(value: Any) -> bool:
    """True if ``value`` is float-free, with safe integers and ASCII string keys.

    Iterative, so a deeply nested hostile value cannot hit the recursion limit.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if not all(type(k) is str and k.isascii() for k in item):
                return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float or (kind is int and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER):
            return False
    return True


def json_text(value: Any) -> str:
    """The canonical text of a value already known to be in the subset (no check)."""
    return _ENCODER.encode(value)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``; ValueError if it is outside sijil's subset.

    A lone surrogate in a string raises UnicodeEncodeError (a ValueError) too.
    """
    if not in_canonical_subset(value):
        raise ValueError(
            "canonical JSON here takes no floats, no integers past 2**53 and only ASCII keys"
        )
    return _ENCODER.encode(value).encode("utf-8")
