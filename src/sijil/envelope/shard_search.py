"""Which ``k`` shard copies to decode: a bounded search past forged or damaged ones.

Used by :func:`sijil.envelope.shards.rebuild`; see docs/shards.md, "Rebuilding".
"""

from __future__ import annotations

import hashlib
from collections import deque

import zfec

__all__ = ["MAX_REBUILD_ATTEMPTS", "search"]

# The shard checksum needs no key, so a forged shard parses like a genuine one and
# a rebuild tries other choices of k shards until one hashes to the envelope id.
# Leaving out one copy at a time finds any single bad copy within k + 1 decodes, so
# 256 covers one bad copy in the largest set (k <= 255), or several in a small one;
# each decode is one pass over the envelope (at most MAX_ENVELOPE_BYTES), so even
# the worst case stays within seconds and a flood of forgeries cannot hold a desk.
MAX_REBUILD_ATTEMPTS = 256


def _choose(copies: list[tuple[int, bytes]], left_out: frozenset[int], k: int) -> tuple[int, ...]:
    """Positions of the first ``k`` copies with distinct indices, skipping ``left_out``."""
    chosen: list[int] = []
    used: set[int] = set()
    for position, (index, _) in enumerate(copies):
        if position in left_out or index in used:
            continue
        chosen.append(position)
        used.add(index)
        if len(chosen) == k:
            break
    return tuple(chosen) if len(chosen) == k else ()


def search(
    copies: list[tuple[int, bytes]], *, k: int, n: int, length: int, digest: str
) -> tuple[bytes | None, int]:
    """The envelope from ``copies`` ((1-based index, block) pairs, preferred first)
    whose SHA-256 is ``digest``, or None; and how many decodes were tried.

    Breadth first over the copies left out: a choice that fails is followed by
    the choices that leave out one more of the copies it used, so one bad copy
    among any number is found within k + 1 decodes.
    """
    queue: deque[frozenset[int]] = deque([frozenset()])
    seen_left_out: set[frozenset[int]] = {frozenset()}
    decoded: set[tuple[int, ...]] = set()
    while queue and len(decoded) < MAX_REBUILD_ATTEMPTS:
        left_out = queue.popleft()
        chosen = _choose(copies, left_out, k)
        if not chosen or chosen in decoded:
            continue
        decoded.add(chosen)
        blocks = zfec.Decoder(k, n).decode(
            tuple(copies[p][1] for p in chosen), tuple(copies[p][0] - 1 for p in chosen)
        )
        envelope = b"".join(bytes(b) for b in blocks)[:length]
        if hashlib.sha256(envelope).hexdigest() == digest:
            return envelope, len(decoded)
        for position in chosen:
            bigger = left_out | {position}
            if bigger not in seen_left_out:
                seen_left_out.add(bigger)
                queue.append(bigger)
    return None, len(decoded)
