"""Exact Hamming-radius search over 256-bit hashes by multi-index hashing.

A 256-bit hash is cut into 16 words of 16 bits. If two hashes differ in at
most ``r`` bits, then by pigeonhole at least one word differs in at most
``r // 16`` bits (Norouzi, Punjani and Fleet, "Fast search in Hamming space
with multi-index hashing", CVPR 2012). For the default radius 31 that is one
bit: each query probes 16 x 17 buckets, then checks the candidates' full
distance, so the answer is exact, never approximate.

Each of the 16 tables is a bucket-offset array (65,537 entries) and the row
numbers sorted by bucket. The tables are rebuilt only when a small, linearly
scanned tail of recent additions grows past ``MERGE_FRACTION`` of the whole,
so adding one hash is cheap and queries stay fast as items arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_RADIUS",
    "MAX_RADIUS",
    "WORDS",
    "HammingIndex",
    "Hits",
    "hamming",
]

WORDS: Final = 16
WORD_BITS: Final = 16
BUCKETS: Final = 1 << WORD_BITS
# Past this radius every word must be probed at radius 2+ (137 probes a word)
# and candidates approach the whole set; a linear scan is then the honest tool.
MAX_RADIUS: Final = 47
#: PDQ's own recommended match threshold.
DEFAULT_RADIUS: Final = 31
# The unsorted tail is scanned linearly; merging when it reaches 1/64 of the
# tables keeps both the scan and the amortised rebuild cost small.
MERGE_FRACTION: Final = 64
MIN_TAIL: Final = 4096

U8 = NDArray[np.uint8]
U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Hits:
    """Rows of the index within the radius, nearest first, with their distances."""

    rows: I64
    distances: I64


def _as_rows(hashes: U8 | bytes) -> U8:
    array = np.frombuffer(hashes, dtype=np.uint8) if isinstance(hashes, bytes) else hashes
    array = np.ascontiguousarray(array, dtype=np.uint8).reshape(-1, 32)
    return array


def hamming(a: U8, b: U8) -> I64:
    """Bit distance between rows of ``a`` (n x 32) and one row or n rows of ``b``."""
    x = _as_rows(a).view(np.uint64) ^ _as_rows(b).view(np.uint64)
    counts: I64 = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    return counts


def _distances(rows: U64, query: U64) -> NDArray[np.uint32]:
    """Distances of (n x 4) uint64 rows to one query; the hot loop, so no axis sum."""
    x = rows ^ query
    # four per-word counts (each <= 64) packed in one uint32, added as 16-bit lanes
    packed = np.bitwise_count(x).view(np.uint32).ravel()
    pairs = (packed & 0x00FF00FF) + ((packed >> 8) & 0x00FF00FF)
    total: NDArray[np.uint32] = (pairs & 0xFFFF) + (pairs >> 16)
    return total


def _words(rows: U8) -> NDArray[np.uint16]:
    # big-endian 16-bit words, so word k is bytes 2k..2k+1 of the hash
    return rows.view(">u2").astype(np.uint16)


def _flip_masks(bits: int) -> NDArray[np.uint16]:
    masks = [0]
    for k in range(1, bits + 1):
        for combo in combinations(range(WORD_BITS), k):
            masks.append(sum(1 << i for i in combo))
    return np.array(masks, dtype=np.uint16)


class HammingIndex:
    """An append-only set of 256-bit hashes answering exact radius queries."""

    def __init__(self, *, radius: int = DEFAULT_RADIUS) -> None:
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius must be 0..{MAX_RADIUS}")
        self.radius = radius
        self._masks = _flip_masks(radius // WORDS)
        self._hashes: U8 = np.zeros((0, 32), dtype=np.uint8)
        self._size = 0
        self._indexed = 0  # rows [0, _indexed) are in the tables; the rest is the tail
        self._offsets: NDArray[np.uint32] = np.zeros((WORDS, BUCKETS + 1), dtype=np.uint32)
        self._postings: NDArray[np.uint32] = np.zeros((WORDS, 0), dtype=np.uint32)
        self._table_base = np.arange(WORDS, dtype=np.int64) * (BUCKETS + 1)
        self._posting_base = np.zeros(WORDS * len(self._masks), dtype=np.int64)

    def __len__(self) -> int:
        return self._size

    @property
    def hashes(self) -> U8:
        return self._hashes[: self._size]

    def nbytes(self) -> int:
        """Memory held: the hashes, the offsets and the postings."""
        return int(self._size * 32 + self._offsets.nbytes + self._postings.nbytes)

    def add(self, hashes: U8 | bytes) -> I64:
        """Append hashes; return their row numbers."""
        rows = _as_rows(hashes)
        start, n = self._size, len(rows)
        if start + n > len(self._hashes):
            grown = np.zeros((max(start + n, 2 * len(self._hashes), 1024), 32), dtype=np.uint8)
            grown[:start] = self._hashes[:start]
            self._hashes = grown
        self._hashes[start : start + n] = rows
        self._size += n
        if self._size - self._indexed > max(MIN_TAIL, self._indexed // MERGE_FRACTION):
            self.rebuild()
        return np.arange(start, start + n, dtype=np.int64)

    def rebuild(self) -> None:
        """Put every row into the tables (a counting sort per word)."""
        words = _words(self.hashes)
        offsets = np.zeros((WORDS, BUCKETS + 1), dtype=np.uint32)
        postings = np.empty((WORDS, self._size), dtype=np.uint32)
        for w in range(WORDS):
            column = words[:, w]
            offsets[w, 1:] = np.cumsum(np.bincount(column, minlength=BUCKETS), dtype=np.uint32)
            postings[w] = np.argsort(column, kind="stable").astype(np.uint32)
        self._adopt(offsets, postings, self._size)

    def _adopt(self, offsets: NDArray[np.uint32], postings: NDArray[np.uint32], n: int) -> None:
        self._offsets, self._postings, self._indexed = offsets, postings, n
        # where each probe's table starts in the flattened postings
        self._posting_base = np.repeat(np.arange(WORDS, dtype=np.int64) * n, len(self._masks))

    def restore(
        self, hashes: U8, offsets: NDArray[np.uint32], postings: NDArray[np.uint32]
    ) -> None:
        """Adopt tables saved earlier for exactly these hashes (no re-sorting)."""
        n = len(hashes)
        if offsets.shape != (WORDS, BUCKETS + 1) or postings.shape != (WORDS, n):
            raise ValueError("saved index tables do not fit the hashes")
        if n and (int(offsets[:, -1].min()) != n or int(postings.max()) >= n):
            raise ValueError("saved index tables do not fit the hashes")
        self._hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 32).copy()
        self._size = n
        self._adopt(
            np.ascontiguousarray(offsets, dtype=np.uint32),
            np.ascontiguousarray(postings, dtype=np.uint32),
            n,
        )

    def tables(self) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
        """The tables, merged first so they cover every row (for saving)."""
        if self._indexed != self._size:
            self.rebuild()
        return self._offsets, self._postings

    def _candidates(self, query: U8) -> NDArray[np.uint32]:
        if self._indexed == 0:
            return np.zeros(0, dtype=np.uint32)
        # np.take, not fancy indexing: several times faster on these gathers
        probes = (_words(query)[0][:, None] ^ self._masks[None, :]).astype(np.int64)
        slots = (probes + self._table_base[:, None]).ravel()
        offsets = self._offsets.ravel()
        starts = np.take(offsets, slots).astype(np.int64)
        lengths = np.take(offsets, slots + 1).astype(np.int64) - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.uint32)
        # flat positions into the (WORDS x n) postings of every probed bucket
        base = self._posting_base + starts
        shift = np.repeat(base - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return np.take(self._postings.ravel(), shift + np.arange(total))

    def query(self, query: U8 | bytes, *, radius: int | None = None) -> Hits:
        """Every row within ``radius`` (default: the index's) of one hash, nearest first."""
        r = self.radius if radius is None else radius
        if r > self.radius:
            raise ValueError(f"this index answers radius <= {self.radius}")
        q = _as_rows(query)[:1]
        q64 = q.view(np.uint64)
        table64 = self._hashes.view(np.uint64).reshape(-1, 4)
        found = [np.zeros(0, dtype=np.int64)]
        dists = [np.zeros(0, dtype=np.int64)]
        candidates = self._candidates(q)
        if len(candidates):
            distance = _distances(np.take(table64, candidates, axis=0), q64)
            keep = np.nonzero(distance <= r)[0]
            # a row found through several words is one hit
            rows, first = np.unique(np.take(candidates, keep), return_index=True)
            found.append(rows.astype(np.int64))
            dists.append(distance[keep][first].astype(np.int64))
        if self._indexed < self._size:
            tail = _distances(table64[self._indexed : self._size], q64)
            near = np.nonzero(tail <= r)[0]
            found.append(near.astype(np.int64) + self._indexed)
            dists.append(tail[near].astype(np.int64))
        rows_all, dist_all = np.concatenate(found), np.concatenate(dists)
        order = np.lexsort((rows_all, dist_all))
        return Hits(rows=rows_all[order], distances=dist_all[order])
