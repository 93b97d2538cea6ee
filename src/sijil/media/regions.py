"""Region hashes: crop- and caption-robust fingerprints beside the whole-image PDQ.

PDQ is a global hash: cutting 2% off one side already moves it 20-30 bits, so a
copy cropped by 5-10% or with a caption bar over it is lost. Region hashes find
those copies. Each is a 128-bit hash of the *low* spatial frequencies of one
region of the picture (the 11-12 lowest DCT frequencies of a 32x32 grey grid,
each bit "above the median"), which moves only 2-8 bits when a region's edges
are off by 2.5%, where PDQ moves 40.

An archived photo stores the hashes of ``STORED`` regions: every combination of
cutting 0 or 10% from each side (16), and the picture without its top or bottom
fifth (where captions go), whole or cut by 10% at both sides (20). An arriving
photo probes with ``PROBES``: every combination of cutting 0 or 5% from each
side, and the same bands, whole or cut by 5% at both sides (20). A copy
cropped by up to 10% on any sides then has a probe whose edges fall within
about 2.5% of a stored region's (see docs/media.md for the measurements), and a
caption over a band leaves the rest of the picture to match. Which stored
region met which probe says how the copy was made: the crop per side, or a
changed band.

Regions are cut from one grey copy through an integral image (box averages,
no resampling per region), so all 36 hashes cost well under a millisecond.
"""

from __future__ import annotations

import itertools
import math
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from sijil.errors import DamagedMedia

__all__ = [
    "ASPECT_CODE",
    "MIN_REGION_SPREAD",
    "PROBES",
    "RECORD",
    "REGION_BITS",
    "REGION_BYTES",
    "REGION_RADIUS",
    "STORED",
    "THUMB_CODE",
    "THUMB_SIDE",
    "Region",
    "aspect_of",
    "describe",
    "pack",
    "region_hashes",
    "region_sets",
    "thumb_of",
    "unpack",
]

#: 128 bits: the lowest frequencies carry the crop tolerance; higher ones add bits
#: that flip under a 2% shift (measured: 143-bit low-frequency hash, docs/media.md).
REGION_BITS: Final = 128
REGION_BYTES: Final = REGION_BITS // 8
#: one stored region: its code (1 byte) and its hash
RECORD: Final = 1 + REGION_BYTES
# the grey grid a region is averaged onto, and the frequencies kept (u, v < LOW)
GRID: Final = 32
LOW: Final = 12
# pixels a grid cell spans at most along the short side before a region grid is
# averaged: a larger decode is box-reduced first (the edges move < 1%)
CELL_PIXELS: Final = 4
#: Largest distance (of 128 bits) between a stored region and a probe that
#: counts as the same picture. Measured on the near-duplicate set: true pairs
#: <= 18 (crops up to 10%, captions, logos); unrelated pairs >= 34 over every
#: stored region and probe. 22 sits in the gap, nearer the true side.
REGION_RADIUS: Final = 22
#: A region this flat (grey-level spread of its 32x32 grid) hashes noise, not
#: content; it is left out, as PDQ leaves out images of quality under 50.
MIN_REGION_SPREAD: Final = 8.0
# stored regions cut 0 or STORED_CUT from each side, probes 0 or PROBE_CUT; BAND
# is the share of the height a caption or title bar is assumed to take at most
#: code of the record carrying the picture's aspect ratio (not a region)
ASPECT_CODE: Final = 255
#: code of the records carrying the picture's grey thumbnail, 16 bytes each
THUMB_CODE: Final = 254
#: the thumbnail a match is confirmed on: 24 x 24 grey cells (576 bytes), cells of
#: about 4% of the picture, fine enough to hold a photo's detail beyond its layout
THUMB_SIDE: Final = 24
THUMB_BYTES: Final = THUMB_SIDE * THUMB_SIDE
# copies whose aspect ratios differ by less than this (as a log ratio) kept the
# original's frame: a region left out of a match was covered, not cut
SAME_ASPECT: Final = 0.02
STORED_CUT: Final = 0.10
PROBE_CUT: Final = 0.05
BAND: Final = 0.20
# a side cut by less than this is not named in a description (the estimate's
# own error, from a 5% probe grid, is about 2.5%)
MIN_REPORTED_CUT: Final = 0.015


@dataclass(frozen=True)
class Region:
    """A region by its fractional box (left, top, right, bottom) of the picture."""

    code: int
    box: tuple[float, float, float, float]
    band: str | None = None  # "top" or "bottom" when the region leaves out a band


def _regions(cut: float, first_code: int) -> tuple[Region, ...]:
    cuts = [
        Region(first_code + i, (left, top, 1 - right, 1 - bottom))
        for i, (left, top, right, bottom) in enumerate(itertools.product((0.0, cut), repeat=4))
    ]
    n = first_code + len(cuts)
    # without the top or bottom band, whole or cut at both sides (a cropped, captioned copy)
    bands = [
        Region(n + i, box, band)
        for i, (box, band) in enumerate(
            ((side, 0.0, 1 - side, 1 - BAND), "bottom")
            if top
            else ((side, BAND, 1 - side, 1.0), "top")
            for side in (0.0, cut)
            for top in (True, False)
        )
    ]
    return (*cuts, *bands)


STORED: Final = _regions(STORED_CUT, 0)
PROBES: Final = _regions(PROBE_CUT, 0)
_STORED_BY_CODE: Final = {r.code: r for r in STORED}
_PROBE_BY_CODE: Final = {r.code: r for r in PROBES}

_K = np.arange(GRID)
_DCT: Final = np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / (2 * GRID)).astype(np.float32)
_ORDER: Final = sorted(
    ((u, v) for u in range(LOW) for v in range(LOW) if (u, v) != (0, 0)),
    key=lambda uv: (uv[0] + uv[1], uv[0]),
)[:REGION_BITS]
_U: Final = np.array([u for u, _v in _ORDER])
_V: Final = np.array([v for _u, v in _ORDER])


def _integral(gray: NDArray[np.uint8]) -> NDArray[np.int64]:
    # 32-bit sums while they cannot overflow (any decode sijil reduces to), else 64
    wide = np.int32 if gray.size * 255 < 2**31 else np.int64
    table = np.zeros((gray.shape[0] + 1, gray.shape[1] + 1), dtype=wide)
    table[1:, 1:] = gray.cumsum(axis=0, dtype=wide).cumsum(axis=1, dtype=wide)
    return table


def _edges_px(
    lo: NDArray[np.float64], hi: NDArray[np.float64], size: int, side: int = GRID
) -> NDArray[np.int64]:
    """side + 1 pixel edges between ``lo`` and ``hi`` (fractions) for each region, one row each."""
    steps = np.linspace(0.0, 1.0, side + 1)
    edges = np.rint((lo[:, None] + (hi - lo)[:, None] * steps[None, :]) * size).astype(np.int64)
    # at least one pixel per cell, even on a picture smaller than the grid
    edges = np.maximum(edges, edges[:, :1] + np.arange(side + 1)[None, :])
    return np.asarray(edges.clip(max=size), dtype=np.int64)


def _grids(
    table: NDArray[np.int64], boxes: NDArray[np.float64], side: int = GRID
) -> NDArray[np.float32]:
    """Box averages of every region on a side x side grid (regions x side x side)."""
    h, w = table.shape[0] - 1, table.shape[1] - 1
    xs = _edges_px(boxes[:, 0], boxes[:, 2], w, side)
    ys = _edges_px(boxes[:, 1], boxes[:, 3], h, side)
    corners = table[ys[:, :, None], xs[:, None, :]]  # regions x (GRID+1) x (GRID+1)
    sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
    area = np.diff(ys, axis=1)[:, :, None] * np.diff(xs, axis=1)[:, None, :]
    cells: NDArray[np.float32] = (sums / np.maximum(area, 1)).astype(np.float32)
    return cells


def _table(image: Image.Image) -> NDArray[np.int64] | None:
    if image.width < 1 or image.height < 1:
        return None
    # a few pixels a grid cell are plenty; a larger decode is box-reduced first
    factor = max(1, min(image.width, image.height) // (GRID * CELL_PIXELS))
    gray = (image.reduce(factor) if factor > 1 else image).convert("L")
    return _integral(np.asarray(gray, dtype=np.uint8))


_BOXES: Final = np.array([r.box for r in (*STORED, *PROBES)], dtype=np.float64)


def _bits(
    table: NDArray[np.int64], boxes: NDArray[np.float64]
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Each box's packed 128-bit hash and its grey-level spread (one gather, one batched DCT)."""
    cells = _grids(table, boxes)
    spread = cells.reshape(len(boxes), -1).std(axis=1)
    coefficients = (_DCT @ cells @ _DCT.T)[:, _U, _V]
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return np.packbits(bits, axis=1), spread


def _hashes(
    regions: tuple[Region, ...], packed: NDArray[np.uint8], spread: NDArray[np.float32]
) -> list[tuple[int, bytes]]:
    return [
        (region.code, packed[i].tobytes())
        for i, region in enumerate(regions)
        if spread[i] >= MIN_REGION_SPREAD
    ]


def region_hashes(image: Image.Image, regions: tuple[Region, ...]) -> list[tuple[int, bytes]]:
    """(code, 16-byte hash) of each region of ``image`` that is not flat."""
    table = _table(image)
    if table is None:
        return []
    return _hashes(regions, *_bits(table, np.array([r.box for r in regions], dtype=np.float64)))


def region_sets(image: Image.Image, *, frame: tuple[int, int] | None = None) -> tuple[bytes, bytes]:
    """The packed STORED hashes and PROBES of ``image``, from one grey copy.

    ``frame`` is the size of the whole picture when ``image`` is the part inside
    its margins: its aspect ratio is recorded, so that a caption band taken for a
    margin still reads as covered, not cut (see :func:`describe`).
    """
    table = _table(image)
    if table is None:
        return b"", b""
    width, height = frame or image.size
    aspect = width / max(height, 1)
    whole = np.array([(0.0, 0.0, 1.0, 1.0)], dtype=np.float64)
    thumb = np.rint(_grids(table, whole, THUMB_SIDE)[0]).clip(0, 255).astype(np.uint8).tobytes()
    # both sets in one gather and one batched DCT
    packed, spread = _bits(table, _BOXES)
    n = len(STORED)
    stored = _hashes(STORED, packed[:n], spread[:n])
    return pack(stored, aspect, thumb), pack(_hashes(PROBES, packed[n:], spread[n:]), aspect, thumb)


def pack(
    hashes: list[tuple[int, bytes]], aspect: float | None = None, thumb: bytes | None = None
) -> bytes:
    """17 bytes a region: its code, then its hash; the picture's aspect ratio first, if given,
    and its grey thumbnail last, if given.

    The aspect record (code ASPECT_CODE, width over height as a float64 and 8 zero
    bytes) tells a crop from a band covered in place: see :func:`describe`. The
    thumbnail (THUMB_SIDE x THUMB_SIDE grey bytes, in records of code THUMB_CODE)
    lets a match be confirmed on detail (``sijil.media.region_check``).
    """
    head = b""
    if aspect is not None:
        head = bytes([ASPECT_CODE]) + struct.pack("<d", aspect) + bytes(8)
    tail = b""
    if thumb is not None:
        if len(thumb) != THUMB_BYTES:
            raise ValueError(f"a thumbnail is {THUMB_BYTES} bytes")
        tail = b"".join(
            bytes([THUMB_CODE]) + thumb[i : i + REGION_BYTES]
            for i in range(0, THUMB_BYTES, REGION_BYTES)
        )
    return head + b"".join(bytes([code]) + digest for code, digest in hashes) + tail


def unpack(blob: bytes) -> list[tuple[int, bytes]]:
    """The (code, hash) records of a packed blob (the aspect record left out)."""
    if len(blob) % RECORD:
        raise DamagedMedia("stored region hashes have a partial record")
    out = []
    for i in range(0, len(blob), RECORD):
        code = blob[i]
        if code in (ASPECT_CODE, THUMB_CODE):
            continue
        if code not in _STORED_BY_CODE:
            raise DamagedMedia(f"stored region hashes name an unknown region ({code})")
        out.append((code, blob[i + 1 : i + RECORD]))
    return out


def thumb_of(blob: bytes) -> bytes | None:
    """The grey thumbnail a packed blob carries, if it carries a whole one."""
    parts = [
        blob[i + 1 : i + RECORD]
        for i in range(0, len(blob) - len(blob) % RECORD, RECORD)
        if blob[i] == THUMB_CODE
    ]
    thumb = b"".join(parts)
    return thumb if len(thumb) == THUMB_BYTES else None


def aspect_of(blob: bytes) -> float | None:
    """The aspect ratio a packed blob carries, if any."""
    if len(blob) >= RECORD and blob[0] == ASPECT_CODE:
        (aspect,) = struct.unpack_from("<d", blob, 1)
        return float(aspect) if math.isfinite(aspect) and aspect > 0 else None
    return None


def _edges(stored: tuple[float, float], probe: tuple[float, float]) -> tuple[float, float]:
    """Where the copy's two edges fall on the original's axis (0..1), from one matched pair."""
    scale = (stored[1] - stored[0]) / (probe[1] - probe[0])
    return stored[0] - probe[0] * scale, stored[0] + (1 - probe[0]) * scale


def describe(
    stored_code: int,
    probe_code: int,
    *,
    stored_aspect: float | None = None,
    probe_aspect: float | None = None,
    covered: bool = False,
) -> str:
    """How a copy relates to the original, from the stored region a probe matched (<= 32 chars).

    "cropped 10% (left)", "cropped 5% (top, right)", "same picture, small changes" (a
    logo or a filter: nothing cut, yet the whole-image hash moved), or, when
    both aspect ratios are known and equal although the match left a band out,
    "covered 15% (bottom)": a caption, bar or logo drawn over the picture.
    """
    stored, probe = _STORED_BY_CODE[stored_code], _PROBE_BY_CODE[probe_code]
    left, right = _edges((stored.box[0], stored.box[2]), (probe.box[0], probe.box[2]))
    top, bottom = _edges((stored.box[1], stored.box[3]), (probe.box[1], probe.box[3]))
    # a negative cut is a side the copy extends past the original's (a bar added)
    cuts = {"left": left, "top": top, "right": 1 - right, "bottom": 1 - bottom}
    cut = {name: max(0.0, share) for name, share in cuts.items()}
    sides = [name for name, share in cuts.items() if share >= MIN_REPORTED_CUT]
    across, down = cut["left"] + cut["right"], cut["top"] + cut["bottom"]
    total = round(100 * max(across, down))
    band = _PROBE_BY_CODE[probe_code].band
    if covered and band is not None:  # confirmed on detail: the band was drawn over
        return f"cropped {total}%, covered ({band})" if sides else f"covered ({band})"
    if not sides:
        return "same picture, small changes"
    where = ", ".join(sides)
    if len(sides) > 2:  # short enough for the 32-character transform column
        kept = [name for name in cuts if name not in sides]
        where = f"all but {kept[0]}" if kept else "all sides"
    if stored_aspect and probe_aspect:
        shape = math.log(max(1 - across, 0.01) / max(1 - down, 0.01))
        if abs(math.log(probe_aspect / stored_aspect)) < SAME_ASPECT < abs(shape):
            # the frame is whole: what the match left out was drawn over, not cut off
            return f"covered {total}% ({where})"
    return f"cropped {total}% ({where})"
