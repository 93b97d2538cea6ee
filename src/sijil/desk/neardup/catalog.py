"""The desk's near-duplicate catalog: fingerprints in the store, an index in memory and on disk.

The store is the truth: every fingerprint is a ``media_prints`` row. The
in-memory :class:`HammingIndex` holds each image's PDQ hash and each video's
distinct frame hashes, tagged with the row they came from. It is saved to
``<home>/media/index.sealed`` now and then (encrypted as a vault blob is, under a
key from the desk's: fingerprints would let a seizer test a known photo), and on
start-up the saved file is
loaded and only rows added since (``id`` above the file's watermark) are read
from the store: nothing is ever re-hashed, and a stale or foreign file is
simply rebuilt from the store.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select

from sijil.errors import BlobAltered
from sijil.fsutil import atomic_writer
from sijil.media.index import DEFAULT_RADIUS, HammingIndex
from sijil.media.pdq import TRANSFORMS, ImagePrint
from sijil.media.region_index import RegionIndex
from sijil.media.video import MIN_FRAME_QUALITY, VideoPrint, match_videos, unpack_frames
from sijil.store import MediaPrintRow, Store
from sijil.store.sealed import LOCKED, DeskLocked, sealer_of
from sijil.vault.cipher import VaultKey, decrypt_chunks, encrypt_to

__all__ = [
    "INDEX_FILE",
    "MIN_IMAGE_QUALITY",
    "SAVE_AFTER",
    "VIDEO_MATCH_SHARE",
    "Catalog",
    "Found",
    "MatchKind",
]

log = logging.getLogger(__name__)

INDEX_FILE: Final = Path("media") / "index.sealed"
# where desks before sealed fingerprints kept the index in the clear (deleted on sight)
CLEAR_INDEX_FILE: Final = Path("media") / "index.npz"
#: PDQ's reference threshold: below it an image is too flat to match reliably.
MIN_IMAGE_QUALITY: Final = 50
#: A video matches another when this share of either one's distinct frames
#: has a twin in the other (a clip cut from a longer video still matches).
VIDEO_MATCH_SHARE: Final = 0.8
# Saving the file costs a full write (~100 MB at 1M hashes), so it waits
# until this many hashes arrived since the last save; the rest is caught up
# from the store on start, which is cheap since nothing is re-hashed.
SAVE_AFTER: Final = 1000
# frame numbers tag index rows: 0.. the second of a video's distinct frame
# (where it first appears), -1 an image, -2 the picture inside its flat margins
_IMAGE_FRAME: Final = -1
_INNER_FRAME: Final = -2
# 2: frames tag seconds, not distinct-frame numbers, and region hashes are saved
_FORMAT: Final = 2


class MatchKind(StrEnum):
    """How two items are alike (the ``kind`` of a match row, entry and answer)."""

    EXACT = "exact"  # the same bytes (SHA-256); only look-ups report it
    IMAGE = "image"  # PDQ hashes within the radius, over rotations and mirrors
    VIDEO = "video"  # enough near-identical frames shared
    PARTIAL = "partial"  # a region of one is the other: cropped, captioned (region hashes)
    FRAME = "frame"  # a photo is a frame of a video (the transform names the second)


@dataclass(frozen=True, kw_only=True)
class Found:
    """One earlier fingerprint that the queried one resembles."""

    print_id: int
    kind: MatchKind
    distance: int
    transform: str | None = None
    score: float | None = None
    other_score: float | None = None


class Catalog:
    """Index of every usable fingerprint in one store, kept current and persisted."""

    def __init__(self, *, store: Store, path: Path | None, radius: int = DEFAULT_RADIUS) -> None:
        self.store = store
        self.path = path
        self.radius = radius
        self.index = HammingIndex(radius=radius)
        self.regions = RegionIndex()
        # which print and frame each index row came from; grown by doubling
        self._owner_buf: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._frame_buf: NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._spans: dict[int, tuple[int, int]] = {}
        self._pending: list[bytes] = []
        self._pending_owners: list[int] = []
        self._pending_frames: list[int] = []
        self.watermark = 0  # highest media_prints.id taken in
        self._taken = 0  # media_prints rows with hashes, id <= watermark
        self._unsaved = 0

    @property
    def _owners(self) -> NDArray[np.int64]:
        return self._owner_buf[: len(self.index)]

    @property
    def _frames(self) -> NDArray[np.int32]:
        return self._frame_buf[: len(self.index)]

    @classmethod
    def open(cls, store: Store, home: Path | None, *, radius: int = DEFAULT_RADIUS) -> Catalog:
        catalog = cls(store=store, path=None if home is None else home / INDEX_FILE, radius=radius)
        catalog._load_file()
        catalog.catch_up()
        return catalog

    # --- keeping current ------------------------------------------------------------

    def _append(self, print_id: int, hashes: list[bytes], frame_numbers: list[int]) -> None:
        if not hashes:
            return
        if frame_numbers[0] >= 0:
            start = len(self.index) + len(self._pending)
            self._spans[print_id] = (start, start + len(hashes))
        self._pending.extend(hashes)
        self._pending_owners.extend([print_id] * len(hashes))
        self._pending_frames.extend(frame_numbers)

    def _flush(self) -> None:
        """Move pending hashes into the index in one batch (one array copy, not one per row)."""
        if not self._pending:
            return
        block = np.frombuffer(b"".join(self._pending), dtype=np.uint8).reshape(-1, 32)
        start = len(self.index)
        end = start + len(block)
        if end > len(self._owner_buf):
            size = max(end, 2 * len(self._owner_buf), 1024)
            self._owner_buf = np.resize(self._owner_buf, size)
            self._frame_buf = np.resize(self._frame_buf, size)
        self._owner_buf[start:end] = self._pending_owners
        self._frame_buf[start:end] = self._pending_frames
        self.index.add(block)
        self._unsaved += len(self._pending)
        self._pending, self._pending_owners, self._pending_frames = [], [], []

    def take(self, row: MediaPrintRow) -> None:
        """Add one stored fingerprint (in id order) to the index."""
        if row.kind == "image" and row.pdq and (row.quality or 0) >= MIN_IMAGE_QUALITY:
            self._append(row.id, [bytes.fromhex(row.pdq)], [_IMAGE_FRAME])
            if row.pdq_inner:
                self._append(row.id, [bytes.fromhex(row.pdq_inner)], [_INNER_FRAME])
            if row.frames:  # an image's blob holds its region hashes (docs/media.md)
                self.regions.add(row.id, row.frames)
        elif row.kind == "video" and row.frames:
            distinct = _distinct_at(unpack_frames(row.frames))
            self._append(row.id, [d for d, _s in distinct], [s for _d, s in distinct])
        if row.kind in ("image", "video"):
            self._taken += 1
        self.watermark = max(self.watermark, row.id)

    def catch_up(self) -> int:
        """Take in rows added to the store since the watermark; return how many."""
        added = 0
        with self.store.session() as session:
            rows = session.scalars(
                select(MediaPrintRow)
                .where(MediaPrintRow.id > self.watermark)
                .order_by(MediaPrintRow.id)
                .execution_options(yield_per=5000)
            )
            for row in rows:
                self.take(row)
                added += 1
        self._flush()
        return added

    # --- the file -------------------------------------------------------------------

    def _file_key(self) -> VaultKey:
        sealer = sealer_of(self.store.engine.dialect)
        if sealer is None:
            raise DeskLocked(LOCKED)
        return VaultKey.from_secret(sealer.file_secret)

    def _read_file(self, path: Path) -> io.BytesIO:
        """The index file's plaintext, in memory (it is never written in the clear)."""
        with path.open("rb") as sealed:
            return io.BytesIO(b"".join(decrypt_chunks(self._file_key(), sealed)))

    def _load_file(self) -> None:
        if self.path is None:
            return
        clear = self.path.parent / CLEAR_INDEX_FILE.name
        if clear.exists():
            # an older desk kept the fingerprints in the clear here: rebuilt sealed
            clear.unlink()
        if not self.path.is_file():
            return
        try:
            plain = self._read_file(self.path)
            with np.load(plain, allow_pickle=False) as saved:
                meta = saved["meta"]
                if int(meta[0]) != _FORMAT:
                    raise ValueError("index file of another format")
                watermark, taken = int(meta[1]), int(meta[2])
                hashes, owners, frames = saved["hashes"], saved["owners"], saved["frames"]
                offsets, postings = saved["offsets"], saved["postings"]
            if not (len(hashes) == len(owners) == len(frames)):
                raise ValueError("index file arrays disagree")
            with self.store.session() as session:
                stored = session.scalar(
                    select(func.count(MediaPrintRow.id)).where(
                        MediaPrintRow.id <= watermark,
                        MediaPrintRow.kind.in_(("image", "video")),
                    )
                )
            if stored != taken:
                raise ValueError("index file belongs to another state of the store")
            self.index.restore(hashes, offsets, postings)
            plain.seek(0)
            with np.load(plain, allow_pickle=False) as saved:
                self.regions.restore({k: saved[k] for k in saved.files if k.startswith("region")})
        except (
            OSError,
            ValueError,
            KeyError,
            IndexError,
            EOFError,
            zipfile.BadZipFile,
            BlobAltered,
        ) as exc:
            # the store holds every fingerprint, so a bad file only costs a rebuild
            log.warning("media index file not used, rebuilding from the store: %s", exc)
            self.index = HammingIndex(radius=self.radius)
            self.regions = RegionIndex()
            return
        self._owner_buf = owners.astype(np.int64)
        self._frame_buf = frames.astype(np.int32)
        self.watermark, self._taken = watermark, taken
        self._spans = _spans_of(self._owners, self._frames)

    def save(self) -> None:
        """Write the index atomically beside the store (a no-op without a home)."""
        if self.path is None:
            return
        self._flush()
        offsets, postings = self.index.tables()
        meta = np.array([_FORMAT, self.watermark, self._taken], dtype=np.int64)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        arrays: dict[str, Any] = {
            "meta": meta,
            "hashes": self.index.hashes,
            "owners": self._owners,
            "frames": self._frames,
            "offsets": offsets,
            "postings": postings,
            **self.regions.arrays(),
        }
        plain = io.BytesIO()
        np.savez(plain, **arrays)
        plain.seek(0)
        with atomic_writer(self.path) as out:
            # sealed as a vault blob is: fingerprints let a seizer test a known photo
            encrypt_to(self._file_key(), plain, out.write, hashlib.sha256())
        self._unsaved = 0

    def save_if_due(self) -> None:
        if self._unsaved >= SAVE_AFTER or (
            self.path is not None and not self.path.exists() and len(self.index)
        ):
            self.save()

    # --- matching -------------------------------------------------------------------

    def match_image(self, image: ImagePrint, *, exclude: int | None = None) -> list[Found]:
        """Earlier images within the radius of any rotation or mirror of ``image``."""
        if image.quality < MIN_IMAGE_QUALITY:
            return []
        self._flush()
        best: dict[int, tuple[int, str, bool]] = {}
        queries = [(n, v, False) for n, v in zip(TRANSFORMS, image.dihedral, strict=True)]
        if image.inner is not None:
            framed = image.inner.dihedral
            queries += [(n, v, True) for n, v in zip(TRANSFORMS, framed, strict=True)]
        for name, variant, inner in queries:
            hits = self.index.query(variant)
            for row, distance in zip(hits.rows.tolist(), hits.distances.tolist(), strict=True):
                frame = int(self._frames[row])
                owner = int(self._owners[row])
                if owner != exclude and (owner not in best or distance < best[owner][0]):
                    via_inner = inner or frame == _INNER_FRAME
                    how = f"{name}, framed" if via_inner else name
                    if frame >= 0:  # a frame of a video: say where
                        how = _at_second(frame, name)
                    best[owner] = (distance, how, frame >= 0)
        found = [
            Found(
                print_id=o,
                kind=MatchKind.FRAME if video else MatchKind.IMAGE,
                distance=d,
                transform=t,
            )
            for o, (d, t, video) in best.items()
        ]
        # a cropped or captioned copy: a probe near a stored region of an image not yet found
        for hit in self.regions.match(image.probes, exclude=exclude):
            if hit.owner not in best:
                found.append(
                    Found(
                        print_id=hit.owner,
                        kind=MatchKind.PARTIAL,
                        distance=hit.distance,
                        transform=hit.describe(),
                    )
                )
        return sorted(found, key=lambda f: (f.kind is MatchKind.PARTIAL, f.distance, f.print_id))

    def match_video(self, video: VideoPrint, *, exclude: int | None = None) -> list[Found]:
        """Earlier videos sharing enough near-identical frames with ``video``, either way."""
        self._flush()
        distinct_at = _distinct_at(video.frames)
        distinct = [d for d, _s in distinct_at]
        closest: dict[int, int] = {}
        shown: dict[int, tuple[int, int]] = {}  # earlier photos the video shows: (distance, s)
        for digest, second in distinct_at:
            hits = self.index.query(digest)
            for row, distance in zip(hits.rows.tolist(), hits.distances.tolist(), strict=True):
                owner = int(self._owners[row])
                if owner == exclude:
                    continue
                if self._frames[row] < 0:
                    if owner not in shown or distance < shown[owner][0]:
                        shown[owner] = (distance, second)
                    continue
                closest[owner] = min(distance, closest.get(owner, distance))
        found = [
            Found(print_id=o, kind=MatchKind.FRAME, distance=d, transform=_at_second(s))
            for o, (d, s) in shown.items()
        ]
        hashes = self.index.hashes
        for owner, distance in closest.items():
            start, end = self._spans[owner]
            theirs = [hashes[i].tobytes() for i in range(start, end)]
            mine, other = match_videos(distinct, theirs, radius=self.radius)
            if max(mine, other) >= VIDEO_MATCH_SHARE:
                found.append(
                    Found(
                        print_id=owner,
                        kind=MatchKind.VIDEO,
                        distance=distance,
                        score=round(mine, 4),
                        other_score=round(other, 4),
                    )
                )
        return sorted(
            found,
            key=lambda f: (f.kind is MatchKind.FRAME, -(f.score or 0), f.distance, f.print_id),
        )

    def match(self, media: ImagePrint | VideoPrint, *, exclude: int | None = None) -> list[Found]:
        if isinstance(media, ImagePrint):
            return self.match_image(media, exclude=exclude)
        return self.match_video(media, exclude=exclude)


def _distinct_at(frames: tuple[tuple[bytes, int], ...]) -> list[tuple[bytes, int]]:
    """Distinct usable frame hashes, each with the second it first appears at."""
    seen: dict[bytes, int] = {}
    for second, (digest, quality) in enumerate(frames):
        if quality >= MIN_FRAME_QUALITY:
            seen.setdefault(digest, second)
    return list(seen.items())


def _at_second(second: int, transform: str = "original") -> str:
    """Where in a video a photo is ("frame at 1:05"), with its turn if it is not upright."""
    minutes, seconds = divmod(second, 60)
    where = f"frame at {minutes}:{seconds:02d}"
    return where if transform == "original" else f"{where}, {transform}"


def _spans_of(owners: NDArray[np.int64], frames: NDArray[np.int32]) -> dict[int, tuple[int, int]]:
    video_rows = np.nonzero(frames >= 0)[0]
    spans: dict[int, tuple[int, int]] = {}
    if len(video_rows) == 0:
        return spans
    ids = owners[video_rows]
    # a video's frames were added in one go, so its rows are contiguous
    starts = np.concatenate(([0], np.nonzero(np.diff(ids))[0] + 1))
    ends = np.concatenate((starts[1:], [len(ids)]))
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        spans[int(ids[s])] = (int(video_rows[s]), int(video_rows[e - 1]) + 1)
    return spans
