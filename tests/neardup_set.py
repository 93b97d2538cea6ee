"""The near-duplicate set: corpus and generated sources, the copies that circulate, scoring.

Shared by ``tests/test_media_neardup.py`` (which asserts the recall and precision
docs/media.md promises) and ``bench/neardup.py`` (which prints the table the docs
quote, beside a reference matcher).

Sources are the real photos of the corpus (camera JPEGs, GPS and EXIF samples,
the scrubber's test pictures) and generated pictures (seeded, so the set is the
same on every run and in every process). Each source is turned into the copies
that circulate: re-encodes, resizes, rotations, mirrors (the families the desk
promises >= 95 % recall on), and crops, captions and screenshots (reported,
weaker by nature). A copy matching any source other than its own is a false
positive, and so is any match between two sources.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

from sijil.desk.neardup.catalog import DEFAULT_RADIUS, Catalog
from sijil.media.pdq import hash_image
from sijil.store import MediaPrintRow, Store

GENERATED = 40
# a resized copy under this many pixels a side is a thumbnail, not a photo
MIN_COPY_SIDE = 64
CORE = ("re-encode", "resize", "rotate", "mirror")


def generated(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A picture with structure at several scales: smooth noise octaves plus a few shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    canvas = np.zeros((h, w, 3), np.float32)
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        small = (rng.random((max(1, cells * h // w), cells, 3)) * 255).astype(np.uint8)
        layer = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        canvas += weight * np.asarray(layer, np.float32)
    image = Image.fromarray((canvas / canvas.max() * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def _save(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    out = io.BytesIO()
    if fmt == "PNG":
        # lossless at any level: the fastest gives the same pixels, so the same hashes
        options.setdefault("compress_level", 1)
    image.save(out, fmt, **options)
    return out.getvalue()


def _resize(factor: float) -> Callable[[Image.Image], Image.Image | None]:
    def apply(image: Image.Image) -> Image.Image | None:
        size = (round(image.width * factor), round(image.height * factor))
        if min(size) < MIN_COPY_SIDE:
            return None
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


def _crop(share: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        dx, dy = round(image.width * share / 2), round(image.height * share / 2)
        return image.crop((dx, dy, image.width - dx, image.height - dy))

    return apply


def _caption(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    band = int(out.height * 0.85)
    draw.rectangle((0, band, out.width, out.height), fill=(0, 0, 0))
    draw.text((10, band + 4), "BREAKING: strike on the city today", fill=(255, 255, 255))
    return out


def _screenshot(image: Image.Image) -> Image.Image:
    w, h = image.size
    canvas = Image.new("RGB", (int(w * 1.3), int(h * 1.6)), (245, 245, 245))
    ImageDraw.Draw(canvas).rectangle((0, 0, canvas.width, int(h * 0.2)), fill=(40, 60, 120))
    canvas.paste(image, (int(w * 0.15), int(h * 0.3)))
    return canvas


T = Image.Transpose
# (name, family, how to make it, how to save it)
VARIANTS: tuple[tuple[str, str, Callable[[Image.Image], Image.Image | None], dict[str, int]], ...]
VARIANTS = (
    *((f"jpeg-q{q}", "re-encode", lambda i: i, {"quality": q}) for q in (30, 50, 75, 95)),
    ("webp-q60", "re-encode", lambda i: i, {"quality": 60, "webp": 1}),
    ("resize-0.5", "resize", _resize(0.5), {"quality": 85}),
    ("resize-0.25", "resize", _resize(0.25), {"quality": 85}),
    ("resize-1.5", "resize", _resize(1.5), {"quality": 85}),
    ("rotate-90", "rotate", lambda i: i.transpose(T.ROTATE_90), {"quality": 85}),
    ("rotate-180", "rotate", lambda i: i.transpose(T.ROTATE_180), {"quality": 85}),
    ("rotate-270", "rotate", lambda i: i.transpose(T.ROTATE_270), {"quality": 85}),
    ("mirror", "mirror", lambda i: i.transpose(T.FLIP_LEFT_RIGHT), {"quality": 85}),
    ("mirror-half-q70", "mirror", lambda i: _resize(0.5)(i.transpose(T.FLIP_LEFT_RIGHT)),
     {"quality": 70}),
    ("crop-5%", "crop", _crop(0.05), {"quality": 85}),
    ("crop-10%", "crop", _crop(0.10), {"quality": 85}),
    ("caption", "caption", _caption, {"quality": 85}),
    ("screenshot", "screenshot", _screenshot, {"png": 1}),
)  # fmt: skip


def _encode(image: Image.Image, options: dict[str, int]) -> bytes:
    if options.get("png"):
        return _save(image, "PNG")
    if options.get("webp"):
        return _save(image, "WEBP", quality=options["quality"])
    return _save(image, "JPEG", quality=options["quality"])


def corpus_sources(corpus: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of every source: the corpus photos, then the generated pictures."""
    jpg = corpus / "media" / "exif-samples" / "jpg"
    paths = [
        *sorted(p for p in jpg.glob("*.jpg") if p.name != "corrupted.jpg"),
        *sorted((jpg / "exif-org").glob("*.jpg")),
        *sorted((jpg / "gps").glob("*.jpg")),
        jpg / "orientation" / "landscape_1.jpg",
        jpg / "orientation" / "portrait_1.jpg",
        *sorted((jpg / "tests").glob("*.jpg")),
        corpus / "media" / "mat2" / "dirty.jpg",
        corpus / "media" / "mat2" / "dirty.webp",
    ]
    found = [(p.name, p.read_bytes()) for p in paths]
    found += [(f"generated-{s}", _save(generated(s), "PNG")) for s in range(GENERATED)]
    return found


@dataclass(frozen=True)
class Copy:
    source: int  # 1-based, like the store's ids
    variant: str
    family: str
    data: bytes


def copies_of(sources: list[tuple[str, bytes]]) -> Iterator[Copy]:
    """Every variant of every source (bounded to 800 px a side first), saved as a file."""
    for number, (_name, data) in enumerate(sources, 1):
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        image.thumbnail((800, 800))
        for name, family, make, options in VARIANTS:
            copy = make(image)
            if copy is not None:
                yield Copy(number, name, family, _encode(copy, options))


class Matcher(Protocol):
    def add(self, number: int, data: bytes) -> None: ...

    def match(self, data: bytes) -> dict[int, int]: ...  # source number -> distance


class DeskMatcher:
    """Matching as the desk matches an arriving photo.

    The sources are indexed as the store would give their rows to the catalog;
    a copy is matched with all eight dihedral variants (and the inner picture,
    if any) at the default radius.
    """

    def __init__(self, database: Path, radius: int = DEFAULT_RADIUS) -> None:
        self.store = Store.open(Store.sqlite_url(database))
        self.catalog = Catalog(store=self.store, path=None, radius=radius)

    def add(self, number: int, data: bytes) -> None:
        found = hash_image(io.BytesIO(data))
        self.catalog.take(
            MediaPrintRow(
                id=number, attachment_id=number, kind="image", pdq=found.hex,
                pdq_inner=None if found.inner is None else found.inner.hex, quality=found.quality,
            )
        )  # fmt: skip

    def match(self, data: bytes) -> dict[int, int]:
        hits = self.catalog.match(hash_image(io.BytesIO(data)))
        return {h.print_id: h.distance for h in hits}

    def close(self) -> None:
        self.store.close()


@dataclass(frozen=True)
class Outcome:
    source: int
    variant: str
    family: str
    matched: frozenset[int]
    distance_to_own: int | None


@dataclass(frozen=True)
class NearDupSet:
    names: list[str]
    outcomes: list[Outcome]
    # matches between two different sources (each unordered pair counted once per side)
    source_false_positives: int

    @property
    def pairs_unrelated(self) -> int:
        """Every copy against every other source, and every source pair once."""
        n = len(self.names)
        return len(self.outcomes) * (n - 1) + n * (n - 1) // 2

    def recall(self, key: Callable[[Outcome], str]) -> dict[str, tuple[int, int]]:
        table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            table[key(o)][0] += o.source in o.matched
            table[key(o)][1] += 1
        return {k: (v[0], v[1]) for k, v in table.items()}

    @property
    def false_positives(self) -> int:
        return sum(len(o.matched - {o.source}) for o in self.outcomes)

    @property
    def precision(self) -> float:
        matched = sum(len(o.matched) for o in self.outcomes)
        return (matched - self.false_positives) / matched if matched else 1.0


def evaluate(
    sources: list[tuple[str, bytes]], copies: Iterable[Copy], matchers: dict[str, Matcher]
) -> dict[str, NearDupSet]:
    """Index the sources in every matcher, match every copy in each; one pass over the copies."""
    for number, (_name, data) in enumerate(sources, 1):
        for matcher in matchers.values():
            matcher.add(number, data)
    outcomes: dict[str, list[Outcome]] = {key: [] for key in matchers}
    for copy in copies:
        for key, matcher in matchers.items():
            hits = matcher.match(copy.data)
            outcomes[key].append(
                Outcome(
                    source=copy.source,
                    variant=copy.variant,
                    family=copy.family,
                    matched=frozenset(hits),
                    distance_to_own=hits.get(copy.source),
                )
            )
    names = [name for name, _data in sources]
    result = {}
    for key, matcher in matchers.items():
        between_sources = sum(
            sum(1 for hit in matcher.match(data) if hit != number)
            for number, (_name, data) in enumerate(sources, 1)
        )
        result[key] = NearDupSet(
            names=names, outcomes=outcomes[key], source_false_positives=between_sources
        )
    return result
