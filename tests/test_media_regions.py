"""Region hashes: crop- and caption-robust matching, its codec, its index and its persistence."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from media_store import report_attachments
from neardup_set import caption_over, cropped, encoded, generated
from sijil.desk.neardup.catalog import Catalog, MatchKind
from sijil.desk.neardup.intake import Fingerprinted, store_print
from sijil.errors import DamagedMedia
from sijil.media import regions
from sijil.media.index import HammingIndex, hamming
from sijil.media.pdq import ImagePrint, hash_image
from sijil.media.region_index import RegionIndex, SubcodeIndex
from sijil.store import Store

CODES = [r.code for r in regions.STORED]


@pytest.fixture
def photo() -> Callable[..., bytes]:
    """A factory of photo files: generated picture ``seed``, changed by ``edit``, saved as JPEG."""

    def make(seed: int, edit: Callable[[Image.Image], Image.Image] | None = None) -> bytes:
        image = generated(seed)
        return encoded(edit(image) if edit else image, "JPEG", quality=85)

    return make


def _print(data: bytes) -> ImagePrint:
    return hash_image(io.BytesIO(data))


# --- the codec --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(st.tuples(st.sampled_from(CODES), st.binary(min_size=16, max_size=16))),
    aspect=st.none() | st.floats(min_value=0.01, max_value=100),
)
def test_packed_regions_read_back_as_written(
    records: list[tuple[int, bytes]], aspect: float | None
) -> None:
    blob = regions.pack(records, aspect)
    assert regions.unpack(blob) == records
    assert regions.aspect_of(blob) == aspect
    assert len(blob) == regions.RECORD * (len(records) + (aspect is not None))


@pytest.mark.parametrize("blob", [b"\x00" * 16, bytes([200]) + b"\x00" * 16])
def test_a_partial_or_unknown_region_record_is_damaged_media(blob: bytes) -> None:
    with pytest.raises(DamagedMedia):
        regions.unpack(blob)


def test_every_description_fits_the_match_rows_transform_column() -> None:
    # the transform column is 32 characters; every pair and aspect case is listed here
    for stored in regions.STORED:
        for probe in regions.PROBES:
            for aspects in ((None, None), (1.5, 1.5), (1.5, 1.2)):
                text = regions.describe(
                    stored.code, probe.code, stored_aspect=aspects[0], probe_aspect=aspects[1]
                )
                assert 0 < len(text) <= 32, text


def _code(box: tuple[float, float, float, float], table: tuple[regions.Region, ...]) -> int:
    return next(r.code for r in table if np.allclose(r.box, box))


def test_a_matched_pair_says_which_sides_were_cut_or_covered() -> None:
    # Given the original's region without its left tenth, met by the copy's whole picture
    left = _code((0.1, 0.0, 1.0, 1.0), regions.STORED)
    whole = _code((0.0, 0.0, 1.0, 1.0), regions.PROBES)
    # Then the copy is the original cut by 10% on the left
    assert regions.describe(left, whole) == "cropped 10% (left)"
    # And when the original without its bottom fifth meets the copy without it, while the
    # copy kept the original's shape, the bottom was drawn over (a caption), not cut
    band = _code((0.0, 0.0, 1.0, 0.8), regions.STORED)
    same = _code((0.0, 0.0, 1.0, 0.8), regions.PROBES)
    assert regions.describe(band, same, stored_aspect=1.5, probe_aspect=1.5) == (
        "same picture, small changes"
    )
    assert regions.describe(band, whole, stored_aspect=1.5, probe_aspect=1.5) == (
        "covered 20% (bottom)"
    )
    assert regions.describe(band, whole, stored_aspect=1.5, probe_aspect=1.875) == (
        "cropped 20% (bottom)"
    )


# --- the hashes on pictures -------------------------------------------------------------


def _nearest(stored: bytes, probes: bytes) -> int:
    mine = np.array([np.frombuffer(h, np.uint8) for _c, h in regions.unpack(stored)])
    return min(
        int(hamming(mine, np.frombuffer(h, np.uint8)).min()) for _c, h in regions.unpack(probes)
    )


def test_a_cropped_copy_has_a_probe_near_a_stored_region_and_a_stranger_has_none(
    photo: Callable[..., bytes],
) -> None:
    original = _print(photo(1))
    for edit in (cropped(0.10, "r"), cropped(0.08, "tr"), caption_over("bottom", 0.15, "NEWS")):
        copy = _print(photo(1, edit))
        assert _nearest(original.regions, copy.probes) <= regions.REGION_RADIUS
    stranger = _print(photo(2))
    assert _nearest(original.regions, stranger.probes) > regions.REGION_RADIUS + 8


def test_a_flat_picture_gets_no_region_hashes() -> None:
    flat = Image.new("RGB", (400, 300), (120, 120, 120))
    assert regions.region_hashes(flat, regions.STORED) == []


# --- the index --------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 5000), radius=st.integers(0, 23))
def test_128_bit_radius_queries_equal_a_linear_scan(seed: int, n: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    hashes[n // 2 :] = hashes[: n - n // 2] ^ (rng.random((n - n // 2, 16)) < 0.05).astype(np.uint8)
    index = HammingIndex(radius=radius, bits=128)
    index.add(hashes[: n // 2])
    index.rebuild()
    index.add(hashes[n // 2 :])
    for _ in range(6):
        query = hashes[rng.integers(n)] if n else rng.integers(0, 256, 16, dtype=np.uint8)
        query = query ^ (rng.random(16) < 0.08).astype(np.uint8)
        truth = np.nonzero(hamming(hashes, query) <= radius)[0] if n else []
        assert sorted(index.query(query).rows.tolist()) == sorted(truth)


def test_the_region_index_names_the_nearest_pair_per_photo_and_restores(
    photo: Callable[..., bytes],
) -> None:
    # Given three archived photos
    index = RegionIndex()
    for owner in (1, 2, 3):
        index.add(owner, _print(photo(owner)).regions)
    # When photo 2, cut by 10% on the right, is looked up
    probes = _print(photo(2, cropped(0.10, "r"))).probes
    hits = index.match(probes)
    # Then photo 2 alone is found, and the pair says how it was cut
    assert [h.owner for h in hits] == [2]
    assert hits[0].describe() == "cropped 10% (right)"
    assert index.match(probes, exclude=2) == []
    # And the saved arrays give the same answers without re-hashing
    again = RegionIndex()
    again.restore(index.arrays())
    assert again.match(probes) == hits


# --- the desk's catalog -------------------------------------------------------------------


@pytest.fixture
def attachments(store: Store) -> Callable[[int], list[int]]:
    """A factory: a report with ``count`` attachments, returning their ids."""
    return lambda count: report_attachments(store, count)


def test_the_catalog_reports_a_captioned_copy_as_partial_after_a_reload(
    store: Store,
    tmp_path: Path,
    photo: Callable[..., bytes],
    attachments: Callable[[int], list[int]],
) -> None:
    # Given two archived photos, their region hashes stored with their prints, the index saved
    ids = attachments(2)
    for attachment_id, seed in zip(ids, (11, 12), strict=True):
        store_print(store, attachment_id, Fingerprinted(position=0, media=_print(photo(seed))))
    Catalog.open(store, tmp_path).save()
    # When a new process opens the catalog and a captioned copy of the first is looked up
    catalog = Catalog.open(store, tmp_path)
    assert len(catalog.regions) == 2 * len(regions.STORED)
    found = catalog.match(_print(photo(11, caption_over("bottom", 0.18, "BREAKING NEWS"))))
    # Then it is found as a partial match, covered at the bottom, and nothing else is
    assert len(found) == 1 and found[0].kind is MatchKind.PARTIAL
    assert found[0].transform is not None and found[0].transform.startswith("covered")
    assert "bottom" in found[0].transform


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), radius=st.integers(0, 23))
def test_many_queries_at_once_equal_one_at_a_time(seed: int, n: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    index = HammingIndex(radius=radius, bits=128)
    index.add(hashes[: n // 2])
    index.rebuild()
    index.add(hashes[n // 2 :])  # the rest in the tail
    picks = hashes[rng.integers(0, n, 5)] if n else rng.integers(0, 256, (5, 16), dtype=np.uint8)
    queries = picks ^ (rng.random((5, 16)) < 0.1).astype(np.uint8)
    which, rows, distances = index.query_many(queries)
    together = {(int(q), int(r), int(d)) for q, r, d in zip(which, rows, distances, strict=True)}
    alone = {
        (q, int(r), int(d))
        for q in range(5)
        for r, d in zip(*(lambda h: (h.rows, h.distances))(index.query(queries[q])), strict=True)
    }
    assert together == alone


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 20_000), chunk=st.integers(1, 6000))
def test_sub_code_lookups_are_exact_pairs_and_miss_none_within_11_bits(
    seed: int, n: int, chunk: int
) -> None:
    # Given region hashes added in batches (merged, re-sorted as the prefixes grow, a tail)
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    index = SubcodeIndex()
    for start in range(0, n, chunk):
        index.add(hashes[start : start + chunk])
    # When probes 0-22 bits from stored hashes are looked up
    picks = hashes[rng.integers(0, n, 8)] if n else rng.integers(0, 256, (8, 16), dtype=np.uint8)
    bits = np.unpackbits(picks, axis=1)
    for i, flips in enumerate(rng.integers(0, 23, len(bits))):
        bits[i, rng.choice(128, int(flips), replace=False)] ^= 1
    probes = np.packbits(bits, axis=1)
    found = {tuple(map(int, t)) for t in zip(*index.query_many(probes), strict=True)}
    exact = {tuple(map(int, t)) for t in zip(*index.query_exact(probes), strict=True)}
    # Then every pair found is a true pair at its true distance, and none within 11 bits
    # (some word of 6 then differs in at most one bit) is missed
    assert found <= exact
    assert {p for p in exact if p[2] <= 11} <= found
    # And the saved tables answer the same
    again = SubcodeIndex()
    again.restore(index.hashes, *index.tables())
    assert {tuple(map(int, t)) for t in zip(*again.query_many(probes), strict=True)} == found
