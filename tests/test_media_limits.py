"""Pixel limits of image fingerprinting: big phone JPEGs pass, big full-size decodes are bounded.

Peak memory is measured in a fresh interpreter (VmHWM from /proc/self/status), so
neither pytest nor the image generator counts against it.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sijil.errors import MediaTooLarge
from sijil.media.fingerprint import fingerprint_file
from sijil.media.index import hamming
from sijil.media.pdq import (
    MAX_DECODED_PIXELS,
    MAX_IMAGE_PIXELS,
    MAX_PROGRESSIVE_PIXELS,
    ImagePrint,
    decode_limit,
    hash_image,
)

# the interpreter with sijil, numpy, Pillow and pdqhash loaded is ~75 MB of this
PEAK_BUDGET_KB = 400 * 1024

_MEASURE = """
import sys
from pathlib import Path
from sijil.errors import MediaError
from sijil.media.fingerprint import fingerprint_file
try:
    print(fingerprint_file(Path(sys.argv[1])).width)
except MediaError as exc:
    print(type(exc).__name__)
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _fingerprint_peak(path: Path) -> tuple[str, int]:
    """What fingerprint_file gave (a width or an error name) and the peak memory in kB."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    outcome, peak = done.stdout.split()
    return outcome, int(peak)


def _rgba_png(path: Path, width: int, height: int) -> None:
    """A mostly transparent RGBA PNG with an opaque red band, written row by row (no big buffer)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    quarter, half = width // 4, width // 2
    blank = b"\x00" + bytes(4 * width)
    band = b"\x00" + bytes(4 * quarter) + b"\xc0\x20\x20\xff" * half
    band += bytes(4 * (width - quarter - half))
    packer = zlib.compressobj(9)
    rows = [
        packer.compress(band if height // 3 <= row < 2 * height // 3 else blank)
        for row in range(height)
    ]
    rows.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(rows))
        + chunk(b"IEND", b"")
    )


def _blocky_jpeg(path: Path, width: int, height: int, mode: str = "RGB", **save: bool) -> None:
    """A large JPEG made cheaply: an 8x6 gradient blown up with NEAREST, saved at low quality."""
    small = Image.linear_gradient("L").resize((8, 6)).convert(mode)
    small.resize((width, height), Image.Resampling.NEAREST).save(path, "JPEG", quality=20, **save)


def _d(a: bytes, b: bytes) -> int:
    return int(hamming(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))[0])


def test_a_9400_square_rgba_png_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    # Given a 370 KB RGBA PNG of 9400x9400 pixels (88 MP, too many to decode at full size)
    path = tmp_path / "huge.png"
    _rgba_png(path, 9400, 9400)
    assert path.stat().st_size < 1_000_000
    # When it is fingerprinted
    with pytest.raises(MediaTooLarge) as refused:
        fingerprint_file(path)
    # Then it is refused by its declared size, in one line, before decoding: memory stays low
    assert "9400x9400" in str(refused.value) and "\n" not in str(refused.value)
    outcome, peak_kb = _fingerprint_peak(path)
    assert outcome == "MediaTooLarge"
    assert peak_kb < PEAK_BUDGET_KB


def test_an_rgba_png_just_under_the_full_decode_cap_is_hashed_within_bounded_memory(
    tmp_path: Path,
) -> None:
    # Given an RGBA PNG of 7000x7000 pixels (49 MP), just under the full-size decode cap
    assert MAX_DECODED_PIXELS >= 7000 * 7000
    path = tmp_path / "big.png"
    _rgba_png(path, 7000, 7000)
    # When it is fingerprinted in a fresh process
    outcome, peak_kb = _fingerprint_peak(path)
    # Then it gets a fingerprint, and flattening made no full-size copy (the decode is the peak)
    assert outcome == "7000"
    assert peak_kb < PEAK_BUDGET_KB


def test_a_108_megapixel_phone_jpeg_is_fingerprinted_at_reduced_size(tmp_path: Path) -> None:
    # Given a 12000x9000 JPEG, as a 108 MP phone camera writes (over Pillow's 89 MP default)
    path = tmp_path / "phone.jpg"
    _blocky_jpeg(path, 12000, 9000)
    # When it is fingerprinted
    found = fingerprint_file(path)
    # Then it gets a PDQ with its full size, decoded at 1/8 within a small memory
    assert isinstance(found, ImagePrint)
    assert (found.width, found.height) == (12000, 9000) and found.quality > 0
    outcome, peak_kb = _fingerprint_peak(path)
    assert outcome == "12000"
    assert peak_kb < 200 * 1024


def test_a_jpeg_at_the_200_megapixel_limit_is_fingerprinted(tmp_path: Path) -> None:
    # Given a 16320x12240 JPEG (a 200 MP sensor; over twice Pillow's default limit)
    assert MAX_IMAGE_PIXELS >= 16320 * 12240
    path = tmp_path / "200mp.jpg"
    _blocky_jpeg(path, 16320, 12240, mode="L")
    # Then it is fingerprinted, and Pillow's process-wide limit is left as it was
    before = Image.MAX_IMAGE_PIXELS
    assert hash_image(path).width == 16320
    assert before == Image.MAX_IMAGE_PIXELS


def test_a_progressive_jpeg_over_its_coefficient_cap_is_refused(tmp_path: Path) -> None:
    # Given a progressive JPEG of 48 MP (libjpeg buffers all its coefficients)
    assert MAX_PROGRESSIVE_PIXELS < 8000 * 6000
    path = tmp_path / "progressive.jpg"
    _blocky_jpeg(path, 8000, 6000, mode="L", progressive=True)
    # Then it is refused with the typed error, while a baseline one of that size is hashed
    with pytest.raises(MediaTooLarge, match="progressive"):
        fingerprint_file(path)
    _blocky_jpeg(path, 8000, 6000, mode="L")
    assert hash_image(path).width == 8000


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_hash_as_the_picture_on_white(mode: str) -> None:
    # Given a picture with a transparent part whose hidden colour is noise, big enough to reduce
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8), "RGB")
    picture = Image.radial_gradient("L").resize((1600, 1200)).convert("RGB")
    alpha = Image.new("L", picture.size, 255)
    alpha.paste(0, (0, 0, 800, 1200))
    layered = noise.copy()
    layered.paste(picture, (0, 0), alpha)
    layered.putalpha(alpha)
    if mode == "LA":
        layered = layered.convert("LA")
    elif mode == "P":
        layered = layered.convert("RGB").quantize(64)
        layered.info["transparency"] = 0
    source = io.BytesIO()
    layered.save(source, "PNG")
    # When it is hashed, and the same picture is hashed composited on white by Pillow
    on_white = Image.new("RGBA", layered.size, (255, 255, 255, 255))
    on_white.alpha_composite(layered.convert("RGBA"))
    reference = io.BytesIO()
    on_white.convert("RGB").save(reference, "PNG")
    # Then both hash alike: the hidden colour did not leak into the hash
    found = hash_image(io.BytesIO(source.getvalue()))
    assert _d(found.pdq, hash_image(io.BytesIO(reference.getvalue())).pdq) <= 8


def test_a_webp_over_its_own_lower_cap_is_refused_before_decoding(tmp_path: Path) -> None:
    # Given a 20 MP WebP (Pillow's WebP decoder holds about 16 bytes a pixel at its peak)
    assert decode_limit("WEBP") < 5000 * 4000 <= MAX_DECODED_PIXELS
    path = tmp_path / "big.webp"
    small = Image.linear_gradient("L").resize((8, 6)).convert("RGB")
    small.resize((5000, 4000), Image.Resampling.NEAREST).save(path, "WEBP", quality=10, method=0)
    # Then it is refused with the typed error naming the format, in one line
    with pytest.raises(MediaTooLarge, match="WEBP of 5000x4000"):
        fingerprint_file(path)
