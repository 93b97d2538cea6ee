"""PDQ fingerprints of still images, decoded small and fast.

PDQ (Meta's perceptual hash, 256 bits with a 0-100 quality score) reduces any
picture to a 64x64 luminance grid, so decoding a 12-megapixel photo at full
size only to throw the pixels away is wasted time. JPEGs are decoded at 1/2,
1/4 or 1/8 scale in the DCT domain (Pillow's ``draft``); other formats are
decoded whole under a lower pixel cap (their memory is the decode), flattened
and box-reduced by the same factor a strip at a time. Every image is then
resampled to exactly 64x64 with Lanczos before PDQ runs; PDQ's own box
filter is then a no-op. This deviates from hashing the full image with the
reference code by a few bits, and buys stability: the reference box filter
is not symmetric, so a rotated or mirrored copy hashed at full size lands
10-30 bits away from the matching dihedral hash, against 0-6 bits here (see
docs/media.md). The eight dihedral hashes are computed in the same pass, so
a rotated or mirrored copy is matched by querying all eight.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Final

import numpy as np
import pdqhash
import pillow_heif
from numpy.typing import NDArray
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError

from sijil.errors import DamagedMedia, MediaTooLarge, UnsupportedMedia
from sijil.media import regions

__all__ = [
    "DECODE_TARGET",
    "DIHEDRAL",
    "HASH_BYTES",
    "HASH_SIDE",
    "MAX_DECODED_PIXELS",
    "MAX_IMAGE_PIXELS",
    "MAX_PROGRESSIVE_PIXELS",
    "TRANSFORMS",
    "ImagePrint",
    "decode_limit",
    "hash_image",
    "hash_pixels",
]

HASH_BYTES: Final = 32
# PDQ's DCT works on a 64x64 grid; resampling to it directly is both the
# cheapest input and the most orientation-stable one (measured, docs/media.md).
HASH_SIDE: Final = 64
# JPEG DCT scaling stops at the largest reduction that keeps both sides at
# least this large: a 4000x3000 photo is decoded at 1/8 (500x375).
DECODE_TARGET: Final = 256
# A decompression bomb (a tiny file claiming gigapixels) is refused before
# any pixel is decoded; 200 MP covers the largest phone photos (108 and 200 MP
# sensors), which are JPEGs decoded at 1/8 scale, so their cost stays small.
MAX_IMAGE_PIXELS: Final = 200_000_000
# PNG, WebP, GIF, TIFF, HEIC and AVIF cannot be decoded reduced: every pixel
# lands in memory. Flattening and shrinking then work a strip at a time, so
# the decode itself is the peak, and capping decoded pixels at
# DECODE_MEMORY / (bytes a pixel) bounds it. Bytes a pixel, measured as peak
# VmHWM over decoded pixels (Pillow 13, 30-64 MP files): Pillow holds nearly
# every mode in 4 (RGB is padded to 32 bits), PNG/TIFF/GIF peaked at 4.2-4.3;
# libheif keeps its own buffer besides Pillow's (HEIC 7.2, AVIF 9.1); Pillow's
# WebP decoder holds libwebp's output and a bytes copy besides its own (15.7).
DECODE_MEMORY: Final = 256 * 2**20
BYTES_PER_PIXEL: Final = 5
FORMAT_BYTES_PER_PIXEL: Final = {"HEIF": 10, "AVIF": 10, "WEBP": 16}
MAX_DECODED_PIXELS: Final = DECODE_MEMORY // BYTES_PER_PIXEL  # 53.7 MP
# A progressive JPEG is decoded reduced too, but libjpeg first buffers every
# DCT coefficient of the whole image: 2 bytes each, up to 6 bytes a pixel
# (4:4:4 colour). Phone cameras write baseline JPEGs, which stream.
PROGRESSIVE_BYTES_PER_PIXEL: Final = 6
MAX_PROGRESSIVE_PIXELS: Final = DECODE_MEMORY // PROGRESSIVE_BYTES_PER_PIXEL  # 44 MP
# flattening and shrinking a full-size decode go this many pixels at a time
STRIP_PIXELS: Final = 1 << 20
# the reduced copy of a full-size decode stays under this (16 MB)
MAX_REDUCED_PIXELS: Final = 4_000_000
# Margin detection runs on a small grey copy. A line is margin when nearly
# all its pixels are close to its median: UI text in a bar stays under the
# share, a photo's rows (even sky, with noise and gradients) rarely do.
MARGIN_PROBE_SIDE: Final = 256
MARGIN_TOLERANCE: Final = 10
MARGIN_SHARE: Final = 0.9
# an inner hash only when margins take at least 4% of the picture and the
# rest is a real picture (a quarter of it, 16+ probe pixels a side)
MIN_MARGIN_SHARE: Final = 0.04
MIN_INNER_SHARE: Final = 0.25
MIN_INNER_SIDE: Final = 16
#: Order of the dihedral hashes, as the PDQ reference computes them.
DIHEDRAL: Final = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip+1",
    "flip-1",
)

#: How a new image relates to the earlier one when dihedral variant k of the
#: new image is what matched (variant 1, PDQ's "rotate90", matches when the
#: new image is the old one turned 90 degrees clockwise, and so on).
TRANSFORMS: Final = (
    "original",
    "rotate-cw90",
    "rotate180",
    "rotate-ccw90",
    "upside-down",
    "mirror",
    "transpose",
    "transverse",
)

_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_PILLOW_LIMIT = threading.Lock()

pillow_heif.register_heif_opener()


@dataclass(frozen=True, kw_only=True)
class ImagePrint:
    """PDQ of one image: the hash as stored, its 8 dihedral variants, its quality."""

    pdq: bytes
    quality: int
    width: int
    height: int
    dihedral: tuple[bytes, ...]
    # the same for the picture inside flat margins (a screenshot, a framed or
    # letterboxed copy), when such margins take a noticeable share of the image
    inner: ImagePrint | None = None
    # region hashes of the picture (inside its margins, if any), packed by
    # sijil.media.regions.pack: the stored set, kept with the print, and the
    # probes an arriving copy is looked up with (not kept)
    regions: bytes = b""
    probes: bytes = b""

    @property
    def hex(self) -> str:
        return self.pdq.hex()


def _bits_to_bytes(bits: NDArray[np.int64]) -> bytes:
    return np.packbits(bits.astype(np.uint8)).tobytes()


def hash_pixels(rgb: NDArray[np.uint8], *, width: int, height: int) -> ImagePrint:
    """PDQ and dihedral hashes of an RGB array (resampled to HASH_SIDE if it is not)."""
    if rgb.shape[:2] != (HASH_SIDE, HASH_SIDE):
        rgb = np.asarray(_to_grid(Image.fromarray(rgb, "RGB")), dtype=np.uint8)
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    variants = tuple(_bits_to_bytes(h) for h in hashes)
    return ImagePrint(
        pdq=variants[0], quality=int(quality), width=width, height=height, dihedral=variants
    )


def _to_grid(image: Image.Image) -> Image.Image:
    # reducing_gap first shrinks by a whole factor (cheap), Lanczos does the rest
    return image.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _is_margin(lines: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Lines (rows) that are background: nearly all pixels near the line's median."""
    if lines.size == 0:
        return np.ones(len(lines), dtype=bool)
    middle = lines.shape[1] // 2
    # the middle order statistic, not np.median: one partition of small ints, no averaging
    median = np.partition(lines, middle, axis=1)[:, middle : middle + 1].astype(np.int16)
    near = np.abs(lines.astype(np.int16) - median) <= MARGIN_TOLERANCE
    return np.asarray(near.mean(axis=1) >= MARGIN_SHARE)


def _runs(flags: NDArray[np.bool_]) -> tuple[int, int]:
    """Margin lines before and after the longest run of content lines (all margin: all lead).

    The longest run, not just the leading and trailing margins: a phone screenshot
    puts lines of text (a header, a caption, buttons) between its margins and the
    photo, and those short runs of content are not the picture.
    """
    if len(flags) == 0 or flags.all():
        return len(flags), 0
    content = np.concatenate(([False], ~flags, [False])).astype(np.int8)
    edges = np.diff(content)
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), len(flags) - int(ends[longest])


def content_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box inside flat margins (UI bars, canvas, letterbox), or None if there are none."""
    small = image.convert("L")
    small.thumbnail((MARGIN_PROBE_SIDE, MARGIN_PROBE_SIDE), Image.Resampling.BOX)
    gray = np.asarray(small, dtype=np.uint8)
    h, w = gray.shape
    top, bottom, left, right = 0, h, 0, w
    for _ in range(2):  # columns are judged on the rows left, then rows again
        before = (top, bottom, left, right)
        lead, trail = _runs(_is_margin(gray[top:bottom, left:right]))
        top, bottom = top + lead, bottom - trail
        lead, trail = _runs(_is_margin(gray[top:bottom, left:right].T))
        left, right = left + lead, right - trail
        if (top, bottom, left, right) == before:
            break
    inner = (bottom - top) * (right - left)
    if inner > (1 - MIN_MARGIN_SHARE) * h * w or inner < MIN_INNER_SHARE * h * w:
        return None
    if min(bottom - top, right - left) < MIN_INNER_SIDE:
        return None
    sx, sy = image.width / w, image.height / h
    return (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))


def _flatten(strip: Image.Image) -> Image.Image:
    """RGB, with transparent pixels on white as a viewer shows them."""
    if strip.mode == "PA" or (strip.mode == "P" and "transparency" in strip.info):
        strip = strip.convert("RGBA")
    if strip.mode in ("RGBA", "LA"):
        # the alpha band is the paste mask: no composited RGBA copy is made
        canvas = Image.new("RGB", strip.size, (255, 255, 255))
        canvas.paste(strip, (0, 0), strip)
        return canvas
    return strip if strip.mode == "RGB" else strip.convert("RGB")


def _factor(side: int) -> int:
    """The reduction JPEG's DCT scaling would pick: 1, 2, 4 or 8, keeping DECODE_TARGET."""
    return next(f for f in (8, 4, 2, 1) if side // f >= DECODE_TARGET or f == 1)


def _reduction(image: Image.Image) -> tuple[int, int]:
    if _is_jpeg(image):
        return 1, 1  # draft already did it in the DCT domain
    # one factor for both sides, as a JPEG draft picks, keeps hashes of a PNG
    # and a JPEG of the same picture close; a long thin image that one factor
    # would leave large is reduced per side instead, to bound the copy
    same = min(_factor(image.width), _factor(image.height))
    if (image.width // same) * (image.height // same) <= MAX_REDUCED_PIXELS:
        return same, same
    return _factor(image.width), _factor(image.height)


def _flat_small(image: Image.Image) -> Image.Image:
    """RGB on white, box-reduced like a JPEG draft, a strip at a time."""
    fx, fy = _reduction(image)
    if (fx, fy) == (1, 1) and image.mode == "RGB":
        return image
    width, height = image.size
    rows = max(fy, STRIP_PIXELS // max(width, 1) // fy * fy)
    out = Image.new("RGB", (-(-width // fx), -(-height // fy)))
    for top in range(0, height, rows):
        strip = _flatten(image.crop((0, top, width, min(height, top + rows))))
        out.paste(strip.reduce((fx, fy)) if (fx, fy) != (1, 1) else strip, (0, top // fy))
    return out


def _is_jpeg(image: Image.Image) -> bool:
    # MPO (a phone JPEG with a depth map or preview) is a JPEG to the decoder
    return isinstance(image, JpegImagePlugin.JpegImageFile)


def _open(source: Path | IO[bytes]) -> Image.Image:
    # Pillow's own bomb check reads the module-wide Image.MAX_IMAGE_PIXELS at
    # open time and refuses over twice its 89.5 MP default, short of sijil's
    # limit; sijil's limit stands in for this open only, under a lock, and the
    # previous value is put back. sijil's own checks follow before any decode.
    with _PILLOW_LIMIT:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        try:
            return Image.open(source)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def decode_limit(image_format: str | None) -> int:
    """Most pixels sijil decodes at once for this Pillow format name (see DECODE_MEMORY)."""
    return DECODE_MEMORY // FORMAT_BYTES_PER_PIXEL.get(image_format or "", BYTES_PER_PIXEL)


def _check_size(image: Image.Image, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaTooLarge(
            f"image of {width}x{height} pixels is over the {MAX_IMAGE_PIXELS:,} pixel limit"
        )
    progressive = _is_jpeg(image) and "progression" in image.info
    if progressive and width * height > MAX_PROGRESSIVE_PIXELS:
        raise MediaTooLarge(
            f"progressive JPEG of {width}x{height} pixels is over the"
            f" {MAX_PROGRESSIVE_PIXELS:,} pixel limit"
        )
    limit = decode_limit(image.format)
    if image.width * image.height > limit:
        raise MediaTooLarge(
            f"{image.format or 'image'} of {width}x{height} pixels is over the {limit:,} pixel"
            " limit for images decoded at full size"
        )


def decode_small(source: Path | IO[bytes]) -> tuple[Image.Image, int, int]:
    """The first frame of an image, upright, RGB and reduced where cheap, and its full size."""
    try:
        with warnings.catch_warnings():
            # damaged EXIF only costs the orientation; the pixels are what is hashed
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _open(source)
            width, height = image.size
            if _is_jpeg(image):
                # draft shrinks image.size to what will be decoded
                image.draft("RGB", (DECODE_TARGET, DECODE_TARGET))
            _check_size(image, width, height)
            image.seek(0)
            image.load()
            turn = _ORIENTATION.get(image.getexif().get(ExifTags.Base.Orientation, 1))
            flat = _flat_small(image)
            upright = flat.transpose(turn) if turn is not None else flat
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia("not an image format sijil can read") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge("image claims more pixels than the decoder allows") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise DamagedMedia(f"damaged image data ({type(exc).__name__})") from exc
    return upright, width, height


def hash_image(source: Path | IO[bytes]) -> ImagePrint:
    """PDQ of an image file (JPEG, PNG, WebP, GIF first frame, TIFF, HEIC, AVIF)."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            return hash_image(handle)
    image, width, height = decode_small(source)
    if image.width < 1 or image.height < 1:
        raise DamagedMedia("image has no pixels")
    whole = hash_pixels(_grid_array(image), width=width, height=height)
    # region hashes of the whole picture: a caption band drawn over it is what the
    # band regions leave out (the inner picture would move the regions' edges)
    stored, probes = regions.region_sets(image)
    box = content_box(image)
    if box is None:
        return replace(whole, regions=stored, probes=probes)
    inner = hash_pixels(_grid_array(image.crop(box)), width=box[2] - box[0], height=box[3] - box[1])
    return replace(whole, inner=inner, regions=stored, probes=probes)


def _grid_array(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(_to_grid(image), dtype=np.uint8)
