"""Confirming a region match on detail: does the copy's picture line up with the original's?

A region hash keeps only a picture's low frequencies, its layout: sky above, a
street below. Two different photos of the same kind of scene can share a layout,
so a region match is a candidate, not an answer. Each photo also keeps a 24x24
grey thumbnail. The stored region and the probe that met say where the copy sits
on the original; the copy's thumbnail is resampled onto the original's cells
inside that region (a few half-cell shifts either way absorb the probe grid's
2.5% error), and the two are compared on their *detail*: each thumbnail minus its
own 3x3 blur. Detail is what a recaptioned, cropped copy keeps and what another
photo of a similar scene does not. The agreement is the Pearson correlation of the
two detail maps over the compared cells (1 is the same picture).
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sijil.media import regions

__all__ = ["BAND_DROP", "MIN_AGREEMENT", "agreement", "band_covered"]

#: Lowest detail correlation that confirms a region match. Measured on the
#: near-duplicate set (docs/media.md): copies agree at a median of 0.75-1.0 and a
#: 5th percentile of 0.58-0.97 per kind (crops, captions, logos); the nearest
#: region pairs of 1,500 unrelated photo pairs agreed at most at 0.37 (99th
#: percentile 0.25).
MIN_AGREEMENT: Final = 0.4
#: A band the match left out was drawn over when taking it back into the
#: comparison lowers the agreement by at least this much (a caption, a bar).
BAND_DROP: Final = 0.1
# shifts tried, in thumbnail cells, on each axis (the probe grid's error is < 1 cell)
SHIFTS: Final = (-1.0, -0.5, 0.0, 0.5, 1.0)
# at least this many cells must be compared for an agreement to count
MIN_CELLS: Final = 64

F32 = NDArray[np.float32]


def _detail(thumb: bytes) -> F32:
    side = regions.THUMB_SIDE
    grey = np.frombuffer(thumb, dtype=np.uint8).reshape(side, side).astype(np.float32)
    padded = np.pad(grey, 1, mode="edge")
    blur = sum(
        padded[dy : dy + side, dx : dx + side] for dy, dx in itertools.product(range(3), repeat=2)
    )
    detail: F32 = (grey - np.asarray(blur, dtype=np.float32) / 9).astype(np.float32)
    return detail


def _weights(positions: NDArray[np.float64], side: int) -> NDArray[np.float32]:
    """Linear-interpolation matrix: row i samples a length-``side`` signal at positions[i]."""
    clipped = positions.clip(0, side - 1)
    low = np.floor(clipped).astype(np.int64).clip(max=side - 2)
    frac = (clipped - low).astype(np.float32)
    out = np.zeros((len(positions), side), dtype=np.float32)
    rows = np.arange(len(positions))
    out[rows, low] = 1 - frac
    out[rows, low + 1] += frac
    return out


def _axis(
    stored: tuple[float, float], probe: tuple[float, float], whole: bool
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Original cells inside the stored span (all, if ``whole``), and where each falls in
    the copy's thumbnail."""
    side = regions.THUMB_SIDE
    centres = (np.arange(side) + 0.5) / side
    inside = (centres >= stored[0]) & (centres <= stored[1])
    if whole:
        inside = np.ones(side, dtype=bool)
    scale = (probe[1] - probe[0]) / (stored[1] - stored[0])
    in_copy = probe[0] + (centres[inside] - stored[0]) * scale
    return inside, in_copy * side - 0.5


def agreement(
    stored_thumb: bytes,
    probe_thumb: bytes,
    stored_code: int,
    probe_code: int,
    *,
    whole: bool = False,
) -> float:
    """Best detail correlation of the copy laid on the original as the region pair says.

    Over the stored region's cells, or with ``whole``, over every cell of the original
    the copy still shows (so a band drawn over the copy lowers it: see band_covered).
    """
    stored = next(r for r in regions.STORED if r.code == stored_code)
    probe = next(r for r in regions.PROBES if r.code == probe_code)
    side = regions.THUMB_SIDE
    mine, theirs = _detail(stored_thumb), _detail(probe_thumb)
    in_x, at_x = _axis((stored.box[0], stored.box[2]), (probe.box[0], probe.box[2]), whole)
    in_y, at_y = _axis((stored.box[1], stored.box[3]), (probe.box[1], probe.box[3]), whole)
    # leave out cells that would sample off the copy's edge
    ok_x = (at_x >= -0.5) & (at_x <= side - 0.5)
    ok_y = (at_y >= -0.5) & (at_y <= side - 0.5)
    target = mine[np.ix_(np.nonzero(in_y)[0][ok_y], np.nonzero(in_x)[0][ok_x])]
    if target.size < MIN_CELLS:
        return 0.0
    target = target - target.mean()
    norm = float(np.sqrt((target * target).sum()))
    best = 0.0
    for dy, dx in itertools.product(SHIFTS, repeat=2):
        sampled = _weights(at_y[ok_y] + dy, side) @ theirs @ _weights(at_x[ok_x] + dx, side).T
        sampled = sampled - sampled.mean()
        denominator = norm * float(np.sqrt((sampled * sampled).sum()))
        if denominator > 0:
            best = max(best, float((target * sampled).sum()) / denominator)
    return best


def band_covered(
    stored_thumb: bytes, probe_thumb: bytes, stored_code: int, probe_code: int, agreed: float
) -> bool:
    """Whether the band a band pair left out differs in the copy (drawn over), not just
    sits outside the pair: the whole picture agrees clearly less than the region did."""
    probe = next(r for r in regions.PROBES if r.code == probe_code)
    if probe.band is None:
        return False
    full = agreement(stored_thumb, probe_thumb, stored_code, probe_code, whole=True)
    return full < agreed - BAND_DROP
