"""The near-duplicate index: exact radius search, kept current, persisted, rebuilt from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sijil.desk.neardup.catalog import INDEX_FILE, Catalog
from sijil.desk.neardup.intake import Fingerprinted, store_print
from sijil.media.index import MAX_RADIUS, HammingIndex, hamming
from sijil.media.pdq import TRANSFORMS, ImagePrint
from sijil.media.video import VideoPrint
from sijil.store import Attachment, Correspondent, Envelope, MediaPrintRow, Report, Store, utcnow


def _flip(rng: np.random.Generator, row: np.ndarray, bits: int) -> np.ndarray:
    out = row.copy()
    for b in rng.choice(256, bits, replace=False):
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def _clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """Half random hashes, half near copies of a few centres (as recycled media are)."""
    base = rng.integers(0, 256, (n // 2, 32), dtype=np.uint8)
    centres = rng.integers(0, 256, (max(1, n // 50), 32), dtype=np.uint8)
    near = [_flip(rng, centres[rng.integers(len(centres))], int(rng.integers(0, 40)))
            for _ in range(n - n // 2)]  # fmt: skip
    return np.concatenate([base, np.array(near, dtype=np.uint8).reshape(-1, 32)])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 6000),
    radius=st.integers(0, MAX_RADIUS),
)
def test_radius_queries_equal_a_linear_scan(seed: int, n: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = _clustered(rng, n)
    index = HammingIndex(radius=radius)
    # added in two batches: the first lands in the tables, the second partly in the tail
    index.add(hashes[: n // 2])
    index.rebuild()
    index.add(hashes[n // 2 :])
    for _ in range(8):
        source = hashes[rng.integers(n)] if n else rng.integers(0, 256, 32, dtype=np.uint8)
        query = _flip(rng, source, int(rng.integers(0, radius + 2)))
        hits = index.query(query)
        truth = np.nonzero(hamming(hashes, query) <= radius)[0] if n else np.zeros(0, int)
        assert sorted(hits.rows.tolist()) == sorted(truth.tolist())
        if n:
            assert (hits.distances == hamming(hashes[hits.rows], query)).all()
            assert list(hits.distances) == sorted(hits.distances)


def test_saved_tables_restore_to_the_same_answers() -> None:
    rng = np.random.default_rng(7)
    hashes = _clustered(rng, 20_000)
    index = HammingIndex()
    index.add(hashes)
    offsets, postings = index.tables()
    again = HammingIndex()
    again.restore(hashes, offsets, postings)
    for row in rng.integers(0, len(hashes), 20):
        query = _flip(rng, hashes[row], 20)
        assert index.query(query).rows.tolist() == again.query(query).rows.tolist()
    with pytest.raises(ValueError):
        again.restore(hashes[:-1], offsets, postings)


def test_the_index_costs_the_hashes_plus_16_row_numbers_each_plus_fixed_offsets() -> None:
    n = 100_000
    index = HammingIndex()
    index.add(np.random.default_rng(1).integers(0, 256, (n, 32), dtype=np.uint8))
    index.rebuild()
    # 32 bytes of hash + 16 x 4-byte row numbers, and 16 x 65,537 bucket offsets:
    # 3x the raw hashes at 1M and above (the offsets are 4 MB whatever the size)
    assert index.nbytes() == n * 32 + n * 16 * 4 + 16 * 65_537 * 4


# --- the catalog over a store -----------------------------------------------------------


def _attachments(store: Store, count: int) -> list[int]:
    """A report with ``count`` attachments, for fingerprints to hang on."""
    with store.session(write=True) as session:
        sender = Correspondent(codename=f"c{utcnow().timestamp()}", enrolled=True)
        envelope = Envelope(id=f"{count:064x}", size=1, channel="file", status="opened")
        report = Report(
            envelope=envelope, correspondent=sender, title="t", body="b", lang="en",
            created_at=utcnow(), manifest="{}", signature="00",
            attachments=[
                Attachment(position=i, name=f"f{i}", media_type="image/jpeg", size=1,
                           sha256=f"{i:064x}")
                for i in range(count)
            ],
        )  # fmt: skip
        session.add_all([envelope, report])
        session.flush()
        return [a.id for a in report.attachments]


def _image(rng: np.random.Generator) -> ImagePrint:
    raw = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    # dihedral variants unrelated to the hash, as for a real asymmetric picture
    variants = (raw, *(rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(7)))
    return ImagePrint(pdq=raw, quality=90, width=10, height=10, dihedral=variants)


def test_the_catalog_is_saved_reloaded_without_rehashing_and_caught_up(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    ids = _attachments(store, 6)
    images = [_image(rng) for _ in range(5)]
    for attachment_id, image in zip(ids, images, strict=False):
        store_print(store, attachment_id, Fingerprinted(position=0, media=image))
    # Given a catalog built from the store and saved
    first = Catalog.open(store, tmp_path)
    first.save()
    assert (tmp_path / INDEX_FILE).is_file() and len(first.index) == 5
    # And a sixth fingerprint stored afterwards (by another process, say)
    video = VideoPrint(frames=((images[0].pdq, 90),), width=1, height=1, duration_s=1.0)
    store_print(store, ids[5], Fingerprinted(position=0, media=video))
    # When a new process opens the catalog
    second = Catalog.open(store, tmp_path)
    # Then it took the five from the file and only the sixth from the store
    assert len(second.index) == 6 and second.watermark == first.watermark + 1
    hits = second.match(images[2])
    assert [h.distance for h in hits] == [0] and hits[0].kind == "image"
    # and a rotated query (its rotate-cw90 variant is the stored hash) matches with that name
    turned = ImagePrint(pdq=b"\0" * 32, quality=90, width=1, height=1,
                        dihedral=(b"\0" * 32, images[1].pdq, *images[1].dihedral[2:]))  # fmt: skip
    assert [h.transform for h in second.match(turned)] == [TRANSFORMS[1]]


def test_a_file_from_another_store_is_ignored_and_rebuilt(store: Store, tmp_path: Path) -> None:
    # Given an index file that claims rows this store does not have
    other = Catalog.open(store, tmp_path)
    other.watermark, other._taken = 99, 42
    other.index.add(np.zeros((1, 32), np.uint8))
    other.save()
    # When the catalog opens
    catalog = Catalog.open(store, tmp_path)
    # Then it trusts the store, not the file
    assert len(catalog.index) == 0 and catalog.watermark == 0
    with store.session() as session:
        assert session.scalars(select(MediaPrintRow)).all() == []


def test_a_damaged_index_file_is_rebuilt_from_the_store(store: Store, tmp_path: Path) -> None:
    ids = _attachments(store, 1)
    store_print(store, ids[0], Fingerprinted(position=0, media=_image(np.random.default_rng(5))))
    (tmp_path / INDEX_FILE).parent.mkdir(parents=True)
    (tmp_path / INDEX_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    catalog = Catalog.open(store, tmp_path)
    assert len(catalog.index) == 1
