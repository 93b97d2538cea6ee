"""The near-duplicate set: corpus and generated sources, the copies that circulate, scoring.

Shared by ``tests/test_media_neardup.py`` (which asserts the recall and precision
docs/media.md promises) and ``bench/neardup.py`` (which prints the table the docs
quote, beside a reference matcher).

Sources are the real photos of the corpus (camera JPEGs, GPS and EXIF samples,
the scrubber's test pictures) and generated pictures (seeded, so the set is the
same on every run and in every process). Each source is turned into the copies
that circulate: re-encodes, resizes, rotations, mirrors (the families the desk
promises >= 95 % recall on), crops of 3-10% from one or more sides, caption
bands and bars in Arabic and English, a channel logo in a corner (found by
region hashes, also >= 95 %), screenshots (framed, or inside a phone
screenshot with a status bar), and 15% crops (reported). A copy matching any
source other than its own is a false positive, and so is any match between two
sources.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sijil.desk.neardup.catalog import DEFAULT_RADIUS, Catalog, Found
from sijil.media.pdq import hash_image
from sijil.store import MediaPrintRow, Store

GENERATED = 40
# a resized copy under this many pixels a side is a thumbnail, not a photo
MIN_COPY_SIDE = 64
CORE = ("re-encode", "resize", "rotate", "mirror")
#: the families region hashes find, asserted at >= 95 % too (crops up to 10%)
REGIONAL = ("crop", "caption", "logo")
# DejaVu Sans has Arabic glyphs; without it Pillow's own font draws the bar's text
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
ARABIC = "عاجل: قصف على المدينة اليوم"
ENGLISH = "BREAKING: strike on the city today"


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


def encoded(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
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


def cropped(share: float, sides: str = "ltrb") -> Callable[[Image.Image], Image.Image]:
    """Cut ``share`` of the width and/or height, split between the named sides of each axis."""

    def apply(image: Image.Image) -> Image.Image:
        w, h = image.size
        across = [c for c in "lr" if c in sides]
        down = [c for c in "tb" if c in sides]
        cut = {c: round(w * share / len(across)) for c in across}
        cut |= {c: round(h * share / len(down)) for c in down}
        return image.crop(
            (cut.get("l", 0), cut.get("t", 0), w - cut.get("r", 0), h - cut.get("b", 0))
        )

    return apply


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT_FILE.is_file():
        return ImageFont.truetype(str(FONT_FILE), size)
    return ImageFont.load_default(size)


def caption_over(where: str, share: float, text: str) -> Callable[[Image.Image], Image.Image]:
    """A dark band with text over the top or bottom ``share`` of the picture."""

    def apply(image: Image.Image) -> Image.Image:
        out = image.copy()
        draw = ImageDraw.Draw(out)
        band = max(1, int(out.height * share))
        top = out.height - band if where == "bottom" else 0
        draw.rectangle((0, top, out.width, top + band), fill=(10, 10, 40))
        draw.text((8, top + band // 4), text, fill=(255, 255, 255), font=_font(max(8, band // 2)))
        return out

    return apply


def _caption_bar(text: str) -> Callable[[Image.Image], Image.Image]:
    """A red news bar with text added below the picture (the canvas grows)."""

    def apply(image: Image.Image) -> Image.Image:
        bar = max(12, int(image.height * 0.14))
        out = Image.new("RGB", (image.width, image.height + bar), (180, 20, 20))
        out.paste(image, (0, 0))
        draw = ImageDraw.Draw(out)
        draw.text((8, image.height + bar // 5), text, fill=(255, 255, 255), font=_font(bar // 2))
        return out

    return apply


def _caption(image: Image.Image) -> Image.Image:
    return caption_over("bottom", 0.15, ENGLISH)(image)


def _logo(image: Image.Image) -> Image.Image:
    """A channel's logo in the top right corner."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    box = (int(w * 0.84), int(h * 0.04), int(w * 0.97), int(h * 0.15))
    draw.rounded_rectangle(box, radius=max(1, (box[3] - box[1]) // 4), fill=(200, 20, 20))
    draw.text(
        (box[0] + 3, box[1] + 2),
        "TV9",
        fill=(255, 255, 255),
        font=_font(max(8, (box[3] - box[1]) // 2)),
    )
    return out


def _phone(image: Image.Image) -> Image.Image:
    """The photo in a phone screenshot: status bar, app header, the post's text and buttons."""
    w = image.width
    scale = w / 1080
    photo_top = int(300 * scale)
    canvas = Image.new("RGB", (w, photo_top + image.height + int(700 * scale)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    small = _font(max(8, int(34 * scale)))
    draw.rectangle((0, 0, w, int(90 * scale)), fill=(0, 0, 0))
    draw.text((int(30 * scale), int(20 * scale)), "12:41", fill=(255, 255, 255), font=small)
    draw.text((int(w - 230 * scale), int(20 * scale)), "4G 87%", fill=(255, 255, 255), font=small)
    draw.text((int(30 * scale), int(160 * scale)), "Raqqa News", fill=(20, 20, 20), font=small)
    canvas.paste(image, (0, photo_top))
    below = photo_top + image.height + int(40 * scale)
    draw.text((int(30 * scale), below), "Liked by 1,204 others", fill=(40, 40, 40), font=small)
    return canvas


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
    ("crop-3%", "crop", cropped(0.03), {"quality": 85}),
    ("crop-5%", "crop", cropped(0.05), {"quality": 85}),
    ("crop-5%-left", "crop", cropped(0.05, "l"), {"quality": 85}),
    ("crop-8%-top-right", "crop", cropped(0.08, "tr"), {"quality": 85}),
    ("crop-8%-bottom-half", "crop", lambda i: _resize(0.5)(cropped(0.08, "b")(i)), {"quality": 80}),
    ("crop-10%", "crop", cropped(0.10), {"quality": 85}),
    ("crop-10%-right", "crop", cropped(0.10, "r"), {"quality": 85}),
    ("crop-10%-left-bottom", "crop", cropped(0.10, "lb"), {"quality": 85}),
    ("crop-15%", "crop-15", cropped(0.15), {"quality": 85}),
    ("caption", "caption", _caption, {"quality": 85}),
    ("caption-ar-top", "caption", caption_over("top", 0.12, ARABIC), {"quality": 85}),
    ("caption-ar-bottom", "caption", caption_over("bottom", 0.18, ARABIC), {"quality": 85}),
    ("caption-en-top", "caption", caption_over("top", 0.10, ENGLISH), {"quality": 85}),
    ("caption-bar-ar", "caption", _caption_bar(ARABIC), {"quality": 85}),
    ("caption-bar-en", "caption", _caption_bar(ENGLISH), {"quality": 85}),
    ("caption-crop-5%", "caption", lambda i: _caption(cropped(0.05, "lr")(i)), {"quality": 85}),
    ("logo", "logo", _logo, {"quality": 85}),
    ("logo-half", "logo", lambda i: _resize(0.5)(_logo(i)), {"quality": 80}),
    ("screenshot", "screenshot", _screenshot, {"png": 1}),
    ("phone-screenshot", "screenshot", _phone, {"png": 1}),
)  # fmt: skip


def _encode(image: Image.Image, options: dict[str, int]) -> bytes:
    if options.get("png"):
        return encoded(image, "PNG")
    if options.get("webp"):
        return encoded(image, "WEBP", quality=options["quality"])
    return encoded(image, "JPEG", quality=options["quality"])


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
    found += [(f"generated-{s}", encoded(generated(s), "PNG")) for s in range(GENERATED)]
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
                frames=found.regions or None,
            )
        )  # fmt: skip

    def match(self, data: bytes) -> dict[int, int]:
        return {h.print_id: h.distance for h in self.found(data)}

    def found(self, data: bytes) -> list[Found]:
        return self.catalog.match(hash_image(io.BytesIO(data)))

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
