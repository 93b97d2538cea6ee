"""Proof of work for anonymous uploads when the relay is under pressure (hashcash-like).

A sender without the network's relay token may have to show work before the relay
makes it an upload: a stamp ``<unix time>.<nonce>`` whose SHA-256 (with a context
prefix) starts with ``bits`` zero bits. The relay asks for it only while strangers'
unfinished uploads fill more than half of their share (``Sijil-Work-Bits`` on
``OPTIONS /files`` and on the 428 refusal), so ordinary use costs nothing, and a
flooder pays about ``2**bits`` hashes per upload it makes. A stamp is good for
``STAMP_WINDOW_S`` and once. Correspondents carrying the token never need one.

Both sides live here so that they cannot drift apart; no I/O.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from sijil.errors import RelayProtocolError

__all__ = [
    "MAX_BITS",
    "STAMP_WINDOW_S",
    "WORK_BITS",
    "WORK_BITS_HEADER",
    "WORK_HEADER",
    "WORK_REQUIRED",
    "check_stamp",
    "solve",
]

WORK_HEADER = "Sijil-Work"
WORK_BITS_HEADER = "Sijil-Work-Bits"
# HTTP 428 Precondition Required: make the stamp and send the request again.
WORK_REQUIRED = 428
# About 260 000 SHA-256s: under a second on a laptop, some seconds on an old phone,
# asked only while the relay is under pressure; a flooder pays it for every upload.
WORK_BITS = 18
# A stamp is made for now; a window this wide absorbs clock drift and slow solving,
# and bounds how many a flooder can prepare ahead of a flood.
STAMP_WINDOW_S = 300
# The most bits a client will solve for (a relay asking more is misbehaving).
MAX_BITS = 24
_CONTEXT = b"sijil-relay-work/1\0"


def _zero_bits(stamp: str) -> int:
    digest = hashlib.sha256(_CONTEXT + stamp.encode("ascii")).digest()
    value = int.from_bytes(digest, "big")
    return 256 - value.bit_length()


def solve(bits: int, *, now: float, nonce: Callable[[], str] | None = None) -> str:
    """A stamp for ``bits``, made at ``now``: tries nonces until one has enough zero bits."""
    if not 0 <= bits <= MAX_BITS:
        raise RelayProtocolError(f"the relay asks for {bits} bits of work; refusing", status=502)
    prefix = f"{int(now)}."
    fresh = nonce or (lambda: secrets.token_hex(8))
    base = prefix + fresh() + "."
    for counter in range(1 << (MAX_BITS + 8)):  # 256 times the expected tries at most
        stamp = f"{base}{counter:x}"
        if _zero_bits(stamp) >= bits:
            return stamp
    raise RelayProtocolError("no proof of work found", status=502)  # pragma: no cover


def check_stamp(stamp: str | None, *, bits: int, now: float) -> str:
    """The stamp's one-time key if it shows ``bits`` of work made within the window."""
    if not stamp or len(stamp) > 80 or not stamp.isascii():
        raise RelayProtocolError(
            f"this relay is busy: send {WORK_HEADER} with {bits} bits of work",
            status=WORK_REQUIRED,
        )
    made, _, rest = stamp.partition(".")
    if not (made.isdigit() and rest) or abs(now - int(made)) > STAMP_WINDOW_S:
        raise RelayProtocolError("the proof of work is stale or malformed", status=WORK_REQUIRED)
    if _zero_bits(stamp) < bits:
        raise RelayProtocolError("the proof of work is too weak", status=WORK_REQUIRED)
    return stamp
