"""An index of region hashes: which archived photo has a region near an arriving photo's probe.

Every archived photo contributes its stored region hashes (``sijil.media.regions``),
each tagged with the photo's owner id and the region's code. A lookup runs each
probe of the arriving photo through :class:`SubcodeIndex` and keeps, per owner,
the nearest stored region and the probe that met it: that pair says how the copy
was cut (``regions.describe``).

:class:`SubcodeIndex` is multi-index hashing made approximate. An exact search at
radius 22 of 128 bits cannot be fast over 20M hashes (a million photos): by
pigeonhole over 8 words of 16 bits each word must be probed at 2 bits (137
buckets a word, ~6.7M candidates a look-up, seconds), and no split of 128 bits
does better. So the hash is cut into ``len(WORDS)`` words of 21-22 bits, each word
probed at 0 or 1 flipped bit (``WORD_FLIPS``), and every candidate's full distance
is checked (``REGION_RADIUS``). The tables hold row numbers sorted by each word's
top bits (``prefixes_for``: all of its bits on a large index). A pair within the
radius is found when some word of it differs in at most one bit: always up to
distance 11 (pigeonhole), and mostly beyond, since a true copy meets its original
through several region pairs. Measured on the near-duplicate set (docs/media.md):
a pair within the radius for 1,724 of 1,746 cropped, captioned and logo copies, where an exact
search finds 1,726; a look-up over a million photos reads ~21K candidates, not 6.7M.
The pairs it returns are exact (distance checked): only some far pairs are missed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sijil.media import regions
from sijil.media.region_check import MIN_AGREEMENT, agreement, band_covered

__all__ = ["WORDS", "WORD_FLIPS", "RegionHit", "RegionIndex", "SubcodeIndex", "prefixes_for"]

# the owner and code arrays grow by doubling, from at least this many rows
_MIN_GROW: Final = 1024
# pairs (stored region, probe) checked on detail per photo found, nearest first: the
# nearest pair is not always the one that lines the pictures up best
MAX_CHECKED_PAIRS: Final = 6
#: the words a 128-bit hash is cut into, as (first bit, bits), most significant bit
#: first: 21, 21, 22, 21, 21, 22 bits; no word straddles the two 64-bit halves
_CUTS: Final = [i * regions.REGION_BITS // 6 for i in range(7)]
WORDS: Final = tuple((a, b - a) for a, b in itertools.pairwise(_CUTS))
#: bits flipped in each word of a probe: 0 or 1 (23 buckets a word of 22 bits)
WORD_FLIPS: Final = 1
# a word's table: offsets over the word's top ``prefix`` bits (all of them from about
# 8M rows on), and the row numbers sorted by that prefix. The prefix grows with the
# index, so a bucket holds about 2-4 rows while the words are longer than needed:
# offsets cost 1-2 bytes a row a table, never a fixed 2^22 entries for a small desk.
MIN_PREFIX: Final = 8
# rows past the tables are scanned exactly; past this many they are merged in
MAX_TAIL: Final = 4096

U8 = NDArray[np.uint8]
U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]


def _word_keys(hashes: U8) -> I64:
    """The words of each 16-byte hash (n x len(WORDS))."""
    halves = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 16).view(">u8")
    halves = halves.astype(np.uint64)
    keys = np.empty((len(halves), len(WORDS)), dtype=np.int64)
    for t, (first, bits) in enumerate(WORDS):
        half, end = first // 64, first % 64 + bits
        shifted = halves[:, half] >> np.uint64(64 - end)
        keys[:, t] = (shifted & np.uint64((1 << bits) - 1)).astype(np.int64)
    return keys


def _flips(bits: int) -> I64:
    masks = [0] + ([1 << i for i in range(bits)] if WORD_FLIPS else [])
    return np.array(masks, dtype=np.int64)


_FLIPS: Final = [_flips(bits) for _first, bits in WORDS]
_BITS: Final = np.array([bits for _first, bits in WORDS], dtype=np.int64)


def prefixes_for(rows: int) -> I64:
    """The prefix bits of each word's table for an index of ``rows`` rows."""
    want = max(MIN_PREFIX, int(np.ceil(np.log2(max(rows, 1)))) - 2)
    return np.minimum(_BITS, want)


class SubcodeIndex:
    """Append-only 128-bit hashes; radius queries by words probed at <= WORD_FLIPS bits.

    Every pair returned is within the radius (checked on the whole hash); a pair is
    missed only when every word of it differs in more than WORD_FLIPS bits. Rows
    not yet in the tables (at most MAX_TAIL) are scanned exactly.
    """

    def __init__(self, *, radius: int = regions.REGION_RADIUS) -> None:
        self.radius = radius
        self._hashes: U8 = np.zeros((0, regions.REGION_BYTES), dtype=np.uint8)
        self._size = 0
        self._indexed = 0
        self._adopt(prefixes_for(0), None, np.zeros((len(WORDS), 0), dtype=np.uint32))

    def _adopt(self, prefix: I64, offsets: U32 | None, postings: U32) -> None:
        sizes = (1 << prefix) + 1
        # each table's offsets, one after another in one array
        self._prefix, self._starts = prefix, np.concatenate(([0], np.cumsum(sizes)[:-1]))
        if offsets is None:
            offsets = np.zeros(int(sizes.sum()), dtype=np.uint32)
        self._offsets, self._postings = offsets, postings

    def __len__(self) -> int:
        return self._size

    @property
    def hashes(self) -> U8:
        return self._hashes[: self._size]

    def nbytes(self) -> int:
        """Memory held: the hashes, the offsets and the postings."""
        tables = self._offsets.nbytes + self._postings.nbytes
        return int(self._size * regions.REGION_BYTES + tables)

    def add(self, hashes: U8) -> None:
        rows = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, regions.REGION_BYTES)
        start, n = self._size, len(rows)
        if start + n > len(self._hashes):
            grown = np.zeros((max(start + n, 2 * len(self._hashes), _MIN_GROW), 16), np.uint8)
            grown[:start] = self._hashes[:start]
            self._hashes = grown
        self._hashes[start : start + n] = rows
        self._size += n
        if self._size - self._indexed > MAX_TAIL:
            self.merge()

    def merge(self) -> None:
        """Put the tail into the tables: inserted at its buckets' ends (O(n)), or every
        row sorted again when the index has grown enough for longer prefixes."""
        if self._indexed == self._size:
            return
        n = self._size
        prefix = prefixes_for(n)
        rebuild = bool((prefix != self._prefix).any())
        first = 0 if rebuild else self._indexed
        buckets = _word_keys(self._hashes[first:n]) >> (_BITS - prefix)[None, :]
        offsets = np.empty(int(((1 << prefix) + 1).sum()), dtype=np.uint32)
        postings = np.empty((len(WORDS), n), dtype=np.uint32)
        starts = np.concatenate(([0], np.cumsum((1 << prefix) + 1)[:-1]))
        for t in range(len(WORDS)):
            size = 1 << int(prefix[t])
            order = np.argsort(buckets[:, t], kind="stable")
            counts = np.bincount(buckets[:, t], minlength=size)
            if rebuild:
                postings[t] = order
            else:
                old = self._offsets[starts[t] : starts[t] + size + 1].astype(np.int64)
                counts = counts + np.diff(old)
                at = np.take(old, buckets[order, t] + 1)  # at the end of each bucket
                postings[t] = np.insert(self._postings[t], at, order + first)
            offsets[starts[t]] = 0
            offsets[starts[t] + 1 : starts[t] + size + 1] = np.cumsum(counts, dtype=np.uint32)
        self._indexed = n
        self._adopt(prefix, offsets, postings)

    def tables(self) -> tuple[I64, U32, U32]:
        """The prefix bits, offsets and postings, merged first to cover every row (saving)."""
        self.merge()
        return self._prefix, self._offsets, self._postings

    def restore(self, hashes: U8, prefix: I64, offsets: U32, postings: U32) -> None:
        """Adopt tables saved earlier for exactly these hashes (ValueError if they do not fit)."""
        n, words = len(hashes), len(WORDS)
        if (
            hashes.shape != (n, regions.REGION_BYTES)
            or prefix.shape != (words,)
            or (prefix < 1).any()
            or (prefix > _BITS).any()
            or offsets.shape != (int(((1 << prefix) + 1).sum()),)
            or postings.shape != (words, n)
        ):
            raise ValueError("saved region tables do not fit the hashes")
        ends = np.cumsum((1 << prefix) + 1) - 1
        if n and (int(offsets[ends].min()) != n or int(postings.max()) >= n):
            raise ValueError("saved region tables do not fit the hashes")
        self._hashes = np.ascontiguousarray(hashes, dtype=np.uint8).copy()
        self._size = self._indexed = n
        self._adopt(
            prefix.astype(np.int64),
            np.ascontiguousarray(offsets, dtype=np.uint32).copy(),
            np.ascontiguousarray(postings, dtype=np.uint32).copy(),
        )

    def query_many(self, queries: U8, *, radius: int | None = None) -> tuple[I64, I64, I64]:
        """(query number, row, distance) of the rows found within ``radius`` of each query.

        Each (query, row) pair at most once; no order.
        """
        r = self.radius if radius is None else radius
        q = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, regions.REGION_BYTES)
        q64 = q.view(np.uint64)
        table64 = self._hashes.view(np.uint64)
        found_q, found_r = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        if self._indexed and len(q):
            keys = _word_keys(q)
            slots, who, table = [], [], []
            for t, flips in enumerate(_FLIPS):
                bucket = (keys[:, t, None] ^ flips[None, :]) >> (_BITS[t] - self._prefix[t])
                slots.append(bucket.ravel() + self._starts[t])
                who.append(np.repeat(np.arange(len(q), dtype=np.int64), len(flips)))
                table.append(np.full(bucket.size, t * self._indexed, dtype=np.int64))
            slot, which, base = np.concatenate(slots), np.concatenate(who), np.concatenate(table)
            if (self._prefix < _BITS).any():  # a shorter prefix: a bucket met by several flips
                _pairs, unique = np.unique(slot * len(q) + which, return_index=True)
                slot, which, base = slot[unique], which[unique], base[unique]
            start = np.take(self._offsets, slot).astype(np.int64)
            lengths = np.take(self._offsets, slot + 1).astype(np.int64) - start
            total = int(lengths.sum())
            if total:
                shift = np.repeat(base + start - np.cumsum(lengths) + lengths, lengths)
                rows = np.take(self._postings.ravel(), shift + np.arange(total)).astype(np.int64)
                which = np.repeat(which, lengths)
                x = np.take(table64, rows, axis=0) ^ q64[which]
                distance = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
                keep = distance <= r
                found_q.append(which[keep])
                found_r.append(rows[keep])
        if self._indexed < self._size and len(q):
            tail = table64[self._indexed : self._size]
            dist = np.bitwise_count(tail[None, :, :] ^ q64[:, None, :]).sum(axis=2, dtype=np.int64)
            qi, ti = np.nonzero(dist <= r)
            found_q.append(qi.astype(np.int64))
            found_r.append(ti.astype(np.int64) + self._indexed)
        # a pair met through several words is one pair
        width = max(self._size, 1)
        pair = np.unique(np.concatenate(found_q) * width + np.concatenate(found_r))
        which_q, rows_all = np.divmod(pair, width)
        x = np.take(table64, rows_all, axis=0) ^ q64[which_q]
        return which_q, rows_all, np.bitwise_count(x).sum(axis=1, dtype=np.int64)

    def query_exact(self, queries: U8, *, radius: int | None = None) -> tuple[I64, I64, I64]:
        """The exact answer by a linear scan (for tests and benchmarks: slow at scale)."""
        r = self.radius if radius is None else radius
        q64 = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, 16).view(np.uint64)
        table64 = self.hashes.view(np.uint64)
        found_q, found_r, found_d = [], [], []
        for i in range(len(q64)):
            dist = np.bitwise_count(table64 ^ q64[i]).sum(axis=1, dtype=np.int64)
            near = np.nonzero(dist <= r)[0]
            found_q.append(np.full(len(near), i, dtype=np.int64))
            found_r.append(near.astype(np.int64))
            found_d.append(dist[near])
        if not found_q:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d)


@dataclass(frozen=True)
class RegionHit:
    """The nearest stored region of one owner to any probe, and which pair it was."""

    owner: int
    distance: int
    stored: int
    probe: int
    stored_aspect: float | None = None
    probe_aspect: float | None = None
    agreement: float = 0.0  # detail correlation that confirmed it (region_check)
    covered: bool = False  # the band the pair left out was drawn over (region_check)

    def describe(self) -> str:
        return regions.describe(
            self.stored,
            self.probe,
            stored_aspect=self.stored_aspect,
            probe_aspect=self.probe_aspect,
            covered=self.covered,
        )


class RegionIndex:
    """Append-only region hashes of many photos, looked up by the probes of a photo."""

    def __init__(self, *, radius: int = regions.REGION_RADIUS) -> None:
        self.index = SubcodeIndex(radius=radius)
        self._owner_buf: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._code_buf: NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        # the aspect ratio of the picture each row came from (0: not known)
        self._aspect_buf: NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._pending: list[bytes] = []
        self._pending_owners: list[int] = []
        self._pending_codes: list[int] = []
        self._pending_aspects: list[float] = []
        # one grey thumbnail a photo, by owner (ascending), to confirm matches on detail
        self._thumb_buf: NDArray[np.uint8] = np.zeros((0, regions.THUMB_BYTES), dtype=np.uint8)
        self._thumb_owner_buf: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._thumbs = 0
        self._pending_thumbs: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self.index) + len(self._pending)

    @property
    def owners(self) -> NDArray[np.int64]:
        return self._owner_buf[: len(self.index)]

    @property
    def codes(self) -> NDArray[np.uint8]:
        return self._code_buf[: len(self.index)]

    @property
    def aspects(self) -> NDArray[np.float32]:
        return self._aspect_buf[: len(self.index)]

    def nbytes(self) -> int:
        """Memory held: the index, 13 bytes a region (owner, code, aspect), the thumbnails."""
        thumbs = self._thumbs * (regions.THUMB_BYTES + 8)
        return self.index.nbytes() + 13 * len(self.index) + thumbs

    def add(self, owner: int, packed: bytes) -> None:
        """Queue one photo's stored regions (``regions.pack`` form); a lookup flushes."""
        aspect = regions.aspect_of(packed) or 0.0
        thumb = regions.thumb_of(packed)
        if thumb is not None:
            self._pending_thumbs.append((owner, thumb))
        for code, digest in regions.unpack(packed):
            self._pending.append(digest)
            self._pending_owners.append(owner)
            self._pending_codes.append(code)
            self._pending_aspects.append(aspect)

    def _flush_thumbs(self) -> None:
        if not self._pending_thumbs:
            return
        start, end = self._thumbs, self._thumbs + len(self._pending_thumbs)
        if end > len(self._thumb_buf):
            size = max(end, 2 * len(self._thumb_buf), _MIN_GROW)
            self._thumb_buf = np.resize(self._thumb_buf, (size, regions.THUMB_BYTES))
            self._thumb_owner_buf = np.resize(self._thumb_owner_buf, size)
        owners = [o for o, _t in self._pending_thumbs]
        self._thumb_owner_buf[start:end] = owners
        self._thumb_buf[start:end] = np.frombuffer(
            b"".join(t for _o, t in self._pending_thumbs), dtype=np.uint8
        ).reshape(-1, regions.THUMB_BYTES)
        self._thumbs = end
        self._pending_thumbs = []
        if (start and owners[0] < self._thumb_owner_buf[start - 1]) or owners != sorted(owners):
            order = np.argsort(self._thumb_owner_buf[:end], kind="stable")
            self._thumb_owner_buf[:end] = self._thumb_owner_buf[:end][order]
            self._thumb_buf[:end] = self._thumb_buf[:end][order]

    def _thumb(self, owner: int) -> bytes | None:
        owners = self._thumb_owner_buf[: self._thumbs]
        at = int(np.searchsorted(owners, owner))
        if at < len(owners) and owners[at] == owner:
            return bytes(self._thumb_buf[at].tobytes())
        return None

    def flush(self) -> None:
        self._flush_thumbs()
        if not self._pending:
            return
        block = np.frombuffer(b"".join(self._pending), dtype=np.uint8)
        start = len(self.index)
        end = start + len(self._pending)
        if end > len(self._owner_buf):
            size = max(end, 2 * len(self._owner_buf), _MIN_GROW)
            self._owner_buf = np.resize(self._owner_buf, size)
            self._code_buf = np.resize(self._code_buf, size)
            self._aspect_buf = np.resize(self._aspect_buf, size)
        self._owner_buf[start:end] = self._pending_owners
        self._code_buf[start:end] = self._pending_codes
        self._aspect_buf[start:end] = self._pending_aspects
        self.index.add(block.reshape(-1, regions.REGION_BYTES))
        self._clear_pending()

    def _clear_pending(self) -> None:
        self._pending, self._pending_owners = [], []
        self._pending_codes, self._pending_aspects = [], []

    def match(self, probes: bytes, *, exclude: int | None = None) -> list[RegionHit]:
        """Owners with a stored region within the radius of any probe, nearest first."""
        self.flush()
        mine = regions.aspect_of(probes)
        records = regions.unpack(probes)
        if not records or not len(self.index):
            return []
        probe_hashes = np.frombuffer(b"".join(h for _c, h in records), dtype=np.uint8)
        which, rows, distances = self.index.query_many(probe_hashes)
        owners = np.take(self._owner_buf, rows)
        if exclude is not None:
            keep = owners != exclude
            which, rows, distances, owners = which[keep], rows[keep], distances[keep], owners[keep]
        mine_thumb = regions.thumb_of(probes)
        if mine_thumb is None:
            return []
        # per owner, its nearest pairs (ties: the earlier probe, then the earlier row)
        order = np.lexsort((rows, which, distances, owners))
        best: dict[int, RegionHit] = {}
        checked: dict[int, int] = {}
        for i in order.tolist():
            owner, row = int(owners[i]), int(rows[i])
            if checked.get(owner, 0) >= MAX_CHECKED_PAIRS:
                continue
            theirs = self._thumb(owner)
            if theirs is None:
                continue
            checked[owner] = checked.get(owner, 0) + 1
            hit = RegionHit(
                owner=owner,
                distance=int(distances[i]),
                stored=int(self._code_buf[row]),
                probe=records[int(which[i])][0],
                stored_aspect=float(self._aspect_buf[row]) or None,
                probe_aspect=mine,
                agreement=round(agreement(theirs, mine_thumb, int(self._code_buf[row]),
                                          records[int(which[i])][0]), 3),
            )  # fmt: skip
            if hit.agreement >= MIN_AGREEMENT and (
                owner not in best or hit.agreement > best[owner].agreement
            ):
                best[owner] = hit
        for owner, hit in best.items():
            theirs = self._thumb(owner)
            if theirs is not None and band_covered(
                theirs, mine_thumb, hit.stored, hit.probe, hit.agreement
            ):
                best[owner] = replace(hit, covered=True)
        return sorted(best.values(), key=lambda h: (h.distance, h.owner))

    # --- persistence (the catalog writes these arrays into its index file) ----------

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        self.flush()
        prefix, offsets, postings = self.index.tables()
        return {
            "region_hashes": self.index.hashes,
            "region_owners": self.owners,
            "region_codes": self.codes,
            "region_aspects": self.aspects,
            "region_thumbs": self._thumb_buf[: self._thumbs],
            "region_thumb_owners": self._thumb_owner_buf[: self._thumbs],
            "region_prefix": prefix,
            "region_offsets": offsets,
            "region_postings": postings,
        }

    def restore(self, saved: dict[str, NDArray[np.generic]]) -> None:
        """Adopt arrays written by :meth:`arrays` (ValueError if they do not fit together)."""
        hashes = np.asarray(saved["region_hashes"], dtype=np.uint8)
        owners = np.asarray(saved["region_owners"], dtype=np.int64)
        codes = np.asarray(saved["region_codes"], dtype=np.uint8)
        aspects = np.asarray(saved["region_aspects"], dtype=np.float32)
        if not len(hashes) == len(owners) == len(codes) == len(aspects):
            raise ValueError("region arrays disagree")
        self.index.restore(
            hashes,
            np.asarray(saved["region_prefix"], dtype=np.int64),
            np.asarray(saved["region_offsets"], dtype=np.uint32),
            np.asarray(saved["region_postings"], dtype=np.uint32),
        )
        self._owner_buf, self._code_buf = owners.copy(), codes.copy()
        self._aspect_buf = aspects.copy()
        thumbs = np.asarray(saved["region_thumbs"], dtype=np.uint8)
        thumb_owners = np.asarray(saved["region_thumb_owners"], dtype=np.int64)
        if thumbs.shape != (len(thumb_owners), regions.THUMB_BYTES):
            raise ValueError("region thumbnails disagree")
        if len(thumb_owners) and (np.diff(thumb_owners) < 0).any():
            raise ValueError("region thumbnails out of order")
        self._thumb_buf, self._thumb_owner_buf = thumbs.copy(), thumb_owners.copy()
        self._thumbs = len(thumb_owners)
        self._pending_thumbs = []
        self._clear_pending()
