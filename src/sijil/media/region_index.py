"""An index of region hashes: which archived photo has a region near an arriving photo's probe.

Every archived photo contributes its stored region hashes (``sijil.media.regions``),
each tagged with the photo's owner id and the region's code. A lookup runs each
probe of the arriving photo through a 128-bit :class:`HammingIndex` (exact, like
the whole-image index) and keeps, per owner, the nearest stored region and the
probe that met it: that pair says how the copy was cut (``regions.describe``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sijil.media import regions
from sijil.media.index import HammingIndex
from sijil.media.region_check import MIN_AGREEMENT, agreement, band_covered

__all__ = ["RegionHit", "RegionIndex"]

# the owner and code arrays grow by doubling, from at least this many rows
_MIN_GROW: Final = 1024
# pairs (stored region, probe) checked on detail per photo found, nearest first: the
# nearest pair is not always the one that lines the pictures up best
MAX_CHECKED_PAIRS: Final = 6


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
    """Append-only region hashes of many photos, answering exact radius queries per probe."""

    def __init__(self, *, radius: int = regions.REGION_RADIUS) -> None:
        self.index = HammingIndex(radius=radius, bits=regions.REGION_BITS)
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
        which, rows, distances = self.index.query_many(b"".join(h for _c, h in records))
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
        offsets, postings = self.index.tables()
        return {
            "region_hashes": self.index.hashes,
            "region_owners": self.owners,
            "region_codes": self.codes,
            "region_aspects": self.aspects,
            "region_thumbs": self._thumb_buf[: self._thumbs],
            "region_thumb_owners": self._thumb_owner_buf[: self._thumbs],
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
