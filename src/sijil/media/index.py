"""Exact Hamming-radius search over 256-bit hashes by multi-index hashing.

A 256-bit hash is cut into 16 words of 16 bits. If two hashes differ in at
most ``r`` bits, then by pigeonhole at least one word differs in at most
``r // 16`` bits (Norouzi, Punjani and Fleet, "Fast search in Hamming space
with multi-index hashing", CVPR 2012). For the default radius 31 that is one
bit: each query probes 16 x 17 buckets, then checks the candidates' full
distance, so the answer is exact, never approximate. The same holds for
shorter hashes (the 128-bit region hashes of ``sijil.media.regions``: 8 words).

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
    "DEFAULT_BITS",
    "DEFAULT_RADIUS",
    "MAX_RADIUS",
    "WORDS",
    "HammingIndex",
    "Hits",
    "hamming",
]

#: PDQ's 256 bits; an index may hold shorter hashes (a multiple of 64 bits).
DEFAULT_BITS: Final = 256
WORDS: Final = DEFAULT_BITS // 16
WORD_BITS: Final = 16
BUCKETS: Final = 1 << WORD_BITS
# Past this radius every word must be probed at radius 3+ (697 probes a word)
# and candidates approach the whole set; a linear scan is then the honest tool.
MAX_BITS_PER_WORD: Final = 2
MAX_RADIUS: Final = (MAX_BITS_PER_WORD + 1) * WORDS - 1  # 47 for 256 bits
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


def _as_rows(hashes: U8 | bytes, width: int = DEFAULT_BITS // 8) -> U8:
    array = np.frombuffer(hashes, dtype=np.uint8) if isinstance(hashes, bytes) else hashes
    array = np.ascontiguousarray(array, dtype=np.uint8).reshape(-1, width)
    return array


def hamming(a: U8, b: U8) -> I64:
    """Bit distance between rows of ``a`` (n x width bytes) and one row or n rows of ``b``."""
    width = int(np.asarray(a, dtype=np.uint8).shape[-1]) if len(a) else DEFAULT_BITS // 8
    x = _as_rows(a, width).view(np.uint64) ^ _as_rows(b, width).view(np.uint64)
    counts: I64 = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    return counts


def _distances(rows: U64, query: U64) -> NDArray[np.uint32]:
    """Distances of (n x k) uint64 rows to one query; the hot loop, so no axis sum."""
    x = rows ^ query
    if x.shape[1] != 4:
        summed: NDArray[np.uint32] = np.bitwise_count(x).sum(axis=1, dtype=np.uint32)
        return summed
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

    def __init__(self, *, radius: int = DEFAULT_RADIUS, bits: int = DEFAULT_BITS) -> None:
        if bits <= 0 or bits % 64:
            raise ValueError("hash bits must be a positive multiple of 64")
        self.bits, self.width, self.words = bits, bits // 8, bits // WORD_BITS
        self.max_radius = (MAX_BITS_PER_WORD + 1) * self.words - 1
        if not 0 <= radius <= self.max_radius:
            raise ValueError(f"radius must be 0..{self.max_radius}")
        self.radius = radius
        self._masks = _flip_masks(radius // self.words)
        self._hashes: U8 = np.zeros((0, self.width), dtype=np.uint8)
        self._size = 0
        self._indexed = 0  # rows [0, _indexed) are in the tables; the rest is the tail
        words = self.words
        self._offsets: NDArray[np.uint32] = np.zeros((words, BUCKETS + 1), dtype=np.uint32)
        self._postings: NDArray[np.uint32] = np.zeros((words, 0), dtype=np.uint32)
        self._table_base = np.arange(words, dtype=np.int64) * (BUCKETS + 1)
        self._posting_base = np.zeros(words * len(self._masks), dtype=np.int64)

    def __len__(self) -> int:
        return self._size

    @property
    def hashes(self) -> U8:
        return self._hashes[: self._size]

    def nbytes(self) -> int:
        """Memory held: the hashes, the offsets and the postings."""
        return int(self._size * self.width + self._offsets.nbytes + self._postings.nbytes)

    def add(self, hashes: U8 | bytes) -> I64:
        """Append hashes; return their row numbers."""
        rows = _as_rows(hashes, self.width)
        start, n = self._size, len(rows)
        if start + n > len(self._hashes):
            size = max(start + n, 2 * len(self._hashes), 1024)
            grown = np.zeros((size, self.width), dtype=np.uint8)
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
        offsets = np.zeros((self.words, BUCKETS + 1), dtype=np.uint32)
        postings = np.empty((self.words, self._size), dtype=np.uint32)
        for w in range(self.words):
            column = words[:, w]
            offsets[w, 1:] = np.cumsum(np.bincount(column, minlength=BUCKETS), dtype=np.uint32)
            postings[w] = np.argsort(column, kind="stable").astype(np.uint32)
        self._adopt(offsets, postings, self._size)

    def _adopt(self, offsets: NDArray[np.uint32], postings: NDArray[np.uint32], n: int) -> None:
        self._offsets, self._postings, self._indexed = offsets, postings, n
        # where each probe's table starts in the flattened postings
        starts = np.arange(self.words, dtype=np.int64) * n
        self._posting_base = np.repeat(starts, len(self._masks))

    def restore(
        self, hashes: U8, offsets: NDArray[np.uint32], postings: NDArray[np.uint32]
    ) -> None:
        """Adopt tables saved earlier for exactly these hashes (no re-sorting)."""
        n = len(hashes)
        if offsets.shape != (self.words, BUCKETS + 1) or postings.shape != (self.words, n):
            raise ValueError("saved index tables do not fit the hashes")
        if n and (int(offsets[:, -1].min()) != n or int(postings.max()) >= n):
            raise ValueError("saved index tables do not fit the hashes")
        self._hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, self.width).copy()
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

    def query_many(self, queries: U8 | bytes, *, radius: int | None = None) -> tuple[I64, I64, I64]:
        """(query number, row, distance) of every row within ``radius`` of each of many queries.

        One pass over all probes of all queries, so a photo's 18 region probes cost one
        gather, not 18. A row may appear once per query it is near; no order.
        """
        r = self.radius if radius is None else radius
        if r > self.radius:
            raise ValueError(f"this index answers radius <= {self.radius}")
        q = _as_rows(queries, self.width)
        q64 = q.view(np.uint64)
        table64 = self._hashes.view(np.uint64).reshape(-1, self.width // 8)
        which, rows = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if self._indexed and len(q):
            probes = (_words(q)[:, :, None] ^ self._masks[None, None, :]).astype(np.int64)
            slots = (probes + self._table_base[None, :, None]).ravel()
            offsets = self._offsets.ravel()
            starts = np.take(offsets, slots).astype(np.int64)
            lengths = np.take(offsets, slots + 1).astype(np.int64) - starts
            total = int(lengths.sum())
            base = np.tile(self._posting_base, len(q)) + starts
            shift = np.repeat(base - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
            rows = np.take(self._postings.ravel(), shift + np.arange(total)).astype(np.int64)
            which = np.repeat(np.arange(len(q), dtype=np.int64), len(slots) // len(q))
            which = np.repeat(which, lengths)
        found_q, found_r, found_d = [which], [rows], [np.zeros(0, dtype=np.int64)]
        if len(rows):
            x = np.take(table64, rows, axis=0) ^ q64[which]
            distance = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
            keep = distance <= r
            found_q, found_r, found_d = [which[keep]], [rows[keep]], [distance[keep]]
        if self._indexed < self._size and len(q):
            tail = table64[self._indexed : self._size]
            dist = np.bitwise_count(tail[None, :, :] ^ q64[:, None, :]).sum(axis=2, dtype=np.int64)
            qi, ti = np.nonzero(dist <= r)
            found_q.append(qi.astype(np.int64))
            found_r.append(ti.astype(np.int64) + self._indexed)
            found_d.append(dist[qi, ti])
        return np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d)

    def query(self, query: U8 | bytes, *, radius: int | None = None) -> Hits:
        """Every row within ``radius`` (default: the index's) of one hash, nearest first."""
        r = self.radius if radius is None else radius
        if r > self.radius:
            raise ValueError(f"this index answers radius <= {self.radius}")
        q = _as_rows(query, self.width)[:1]
        q64 = q.view(np.uint64)
        table64 = self._hashes.view(np.uint64).reshape(-1, self.width // 8)
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
