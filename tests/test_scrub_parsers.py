"""The format cleaners on files made to carry metadata, on bombs, and on hostile bytes.

Generated files carry each kind of metadata the issue names; the cleaned copy
is checked with exiftool and a decoder. Hypothesis feeds every parser random
and mutated structures: whatever happens, only ScrubError subclasses escape.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin

from sijil.errors import CorruptMedia, ScrubError
from sijil.scrub import ScrubReport, leaks, scrub
from sijil.scrub.findings import printable
from sijil.scrub.h264 import user_data_texts
from sijil.scrub.tags import describe_id3v2, describe_vorbis_comments

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "media"
EXIFTOOL = shutil.which("exiftool")
FFMPEG = shutil.which("ffmpeg")
needs_tools = pytest.mark.skipif(not (EXIFTOOL and FFMPEG), reason="needs exiftool and ffmpeg")


def _clean(data: bytes) -> tuple[ScrubReport, bytes]:
    out = io.BytesIO()
    return scrub(io.BytesIO(data), out), out.getvalue()


def _exif_tags(path: Path, *extra: str) -> dict[str, Any]:
    assert EXIFTOOL is not None
    run = subprocess.run(
        [EXIFTOOL, "-a", "-G0:1", "-s", "-j", "-n", *extra, str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    entry: dict[str, Any] = json.loads(run.stdout)[0]
    return entry


def _leaks(path: Path, *extra: str) -> list[str]:
    tags = _exif_tags(path, *extra)
    return [k for k, v in tags.items() if leaks(k, v)]


def _texts(report: ScrubReport) -> str:
    return " | ".join(f.text for f in report.removed)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_chunks(data: bytes) -> list[bytes]:
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


# --- PNG ----------------------------------------------------------------------------


def _dirty_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Abu Ibrahim")
    info.add_text("Comment", "Raqqa, near the bridge", zip=True)
    info.add_itxt("Description", "شارع تل أبيض", lang="ar")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 6"
    exif[0x8825] = {1: "N", 2: (35.0, 57.0, 11.0), 3: "E", 4: (39.0, 0.0, 22.0)}
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image = Image.new("RGBA", (40, 30), (10, 200, 30, 128))
    image.save(out, "PNG", pnginfo=info, exif=exif, icc_profile=profile)
    data = out.getvalue()
    when = _chunk(b"tIME", struct.pack(">HBBBBB", 2016, 11, 22, 3, 14, 15))
    return data[:33] + when + data[33:] + b"trailing secret"


def test_png_text_exif_time_profile_and_trailer_are_removed() -> None:
    # Given a PNG with text, iTXt, zTXt, eXIf (GPS), tIME, an lcms ICC profile and a trailer
    dirty = _dirty_png()
    # When cleaned
    report, cleaned = _clean(dirty)
    # Then each is reported, and only picture chunks remain
    texts = _texts(report)
    assert 'PNG text "Author": "Abu Ibrahim"' in texts
    assert "Raqqa, near the bridge" in texts and "شارع تل أبيض" in texts
    assert "GPS 35.9531 N 39.0061 E" in texts and "camera Apple iPhone 6" in texts
    assert "PNG last-modified time" in texts and "ICC colour profile" in texts
    assert "15 bytes after the image end" in texts
    assert _png_chunks(cleaned) == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(io.BytesIO(cleaned)) as a, Image.open(io.BytesIO(dirty)) as b:
        assert a.tobytes() == b.tobytes() and a.mode == b.mode


def test_png_unknown_critical_chunk_is_refused_and_bad_crc_is_corrupt() -> None:
    plain = io.BytesIO()
    Image.new("L", (4, 4)).save(plain, "PNG")
    data = plain.getvalue()
    with pytest.raises(ScrubError, match="needs chunk ABCD"):
        _clean(data[:33] + _chunk(b"ABCD", b"x") + data[33:])
    broken = bytearray(data)
    broken[45] ^= 0xFF  # inside the IDAT data
    with pytest.raises(CorruptMedia, match="checksum"):
        _clean(bytes(broken))


_PNG_KINDS = [b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tEXt", b"zTXt", b"iTXt", b"eXIf",
              b"iCCP", b"tIME", b"pHYs", b"tRNS", b"acTL", b"fcTL", b"fdAT", b"abcD",
              b"ABCD", b"cICP"]  # fmt: skip
_KEEP_KINDS = {b"IHDR", b"IDAT", b"IEND", b"PLTE", b"pHYs", b"tRNS", b"acTL", b"fcTL", b"fdAT",
               b"cICP"}  # fmt: skip
_FAST = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow],
)


@_FAST
@given(
    st.lists(
        st.tuples(st.sampled_from(_PNG_KINDS), st.binary(max_size=64), st.booleans()),
        max_size=10,
    ),
    st.integers(1, 70_000),
)
def test_random_png_chunks_only_raise_scrub_errors(
    chunks: list[tuple[bytes, bytes, bool]], side: int
) -> None:
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
    body = b"".join(
        _chunk(k, b) if good else _chunk(k, b)[:-4] + b"\0\0\0\0" for k, b, good in chunks
    )
    data = b"\x89PNG\r\n\x1a\n" + ihdr + body + _chunk(b"IEND", b"")
    try:
        _, cleaned = _clean(data)
    except ScrubError:
        return
    assert set(_png_chunks(cleaned)) <= _KEEP_KINDS


# --- MP3, ID3 ----------------------------------------------------------------------


def _id3_frame(frame_id: bytes, text: bytes) -> bytes:
    body = b"\x03" + text
    size = len(body)
    synch = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return frame_id + synch + b"\0\0" + body


def _id3(frames: bytes) -> bytes:
    n = len(frames)
    synch = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x04\x00\x00" + synch + frames


@pytest.fixture(scope="module")
def mp3_audio() -> bytes:
    """The MPEG frames of mat2's dirty.mp3, without its tags (via our own cleaner)."""
    path = CORPUS / "mat2" / "dirty.mp3"
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    return scrub_bytes(path.read_bytes())


def scrub_bytes(data: bytes) -> bytes:
    return _clean(data)[1]


def test_mp3_id3v2_id3v1_and_ape_tags_are_all_removed(mp3_audio: bytes) -> None:
    # Given audio with an ID3v2 tag before, and APEv2 and ID3v1 tags after
    front = _id3(_id3_frame(b"TIT2", b"Voice note") + _id3_frame(b"TDRC", b"2016-11-22"))
    ape_items = struct.pack("<II", 6, 0) + b"Artist\x00Raven!"
    ape = b"APETAGEX" + struct.pack("<IIII", 2000, len(ape_items) + 32, 1, 0x80000000) + b"\0" * 8
    footer = b"APETAGEX" + struct.pack("<IIII", 2000, len(ape_items) + 32, 1, 0) + b"\0" * 8
    v1 = b"TAG" + b"Title".ljust(30, b"\0") + b"Abu".ljust(30, b"\0") + b"\0" * 30 + b"2016"
    v1 += b"\0" * (128 - len(v1))
    dirty = front + mp3_audio + ape + ape_items + footer + v1
    # When cleaned
    report, cleaned = _clean(dirty)
    # Then the tags are reported and gone, the frames untouched
    texts = _texts(report)
    assert 'ID3 title "Voice note"' in texts and 'ID3 recording time "2016-11-22"' in texts
    assert "APEv2 tag" in texts and 'ID3v1 artist "Abu"' in texts
    assert cleaned == mp3_audio


@_FAST
@given(
    st.lists(
        st.tuples(st.sampled_from([b"TIT2", b"TPE1", b"COMM", b"APIC", b"TXXX", b"\0\0\0\0"]),
                  st.binary(max_size=40)),
        max_size=6,
    ),
    st.binary(max_size=16),
)  # fmt: skip
def test_random_id3_frames_only_raise_scrub_errors(
    frames: list[tuple[bytes, bytes]], noise: bytes
) -> None:
    tag = _id3(b"".join(_id3_frame(f, t) for f, t in frames) + noise)
    assert describe_id3v2(tag)[0].kind == "id3"
    describe_id3v2(tag[: len(tag) // 2])  # cut short: still described, never raises
    try:
        _clean(tag + b"\xff\xfb\x90\x00" + b"\0" * 413 + b"\xff\xfb\x90\x00" + b"\0" * 413)
    except ScrubError:
        pass


@_FAST
@given(st.binary(max_size=200))
def test_random_vorbis_comments_are_described_not_raised(block: bytes) -> None:
    assert describe_vorbis_comments(block)


# --- mutated seeds of every streamed or in-memory format -----------------------------


def _seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    gif = io.BytesIO()
    frames = [Image.new("P", (6, 5), i) for i in range(3)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], comment=b"c", loop=0)
    seeds["gif"] = gif.getvalue()
    webp = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(webp, "WEBP", exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0")
    seeds["webp"] = webp.getvalue()
    tiff = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    Image.new("RGB", (8, 6), (9, 8, 7)).save(tiff, "TIFF", exif=exif)
    seeds["tiff"] = tiff.getvalue()
    seeds["png"] = _dirty_png()[:2000]
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    info = b"INFO" + b"IART" + struct.pack("<I", 4) + b"Abu\0"
    seeds["wav"] = (
        b"RIFF" + struct.pack("<I", 4 + 24 + 12 + len(info) + 8 + 16) + b"WAVE"
        + b"fmt " + struct.pack("<I", 16) + fmt + b"LIST" + struct.pack("<I", len(info)) + info
        + b"data" + struct.pack("<I", 16) + bytes(range(16))
    )  # fmt: skip
    for name in ("dirty.flac", "dirty.avif"):
        path = CORPUS / "mat2" / name
        if path.is_file():
            seeds[name] = path.read_bytes()[:4096] if name.endswith("flac") else path.read_bytes()
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Abu Ibrahim"
    out = io.BytesIO()
    pdf.save(out)
    seeds["pdf"] = out.getvalue()
    return seeds


SEEDS = _seeds()


@settings(max_examples=400, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255), st.sampled_from("sid")),
             min_size=1, max_size=6),
    st.integers(0, 1 << 20),
)  # fmt: skip
def test_mutated_files_of_every_format_only_raise_scrub_errors(
    name: str, edits: list[tuple[int, int, str]], cut: int
) -> None:
    data = bytearray(SEEDS[name])
    for pos, value, op in edits:
        pos %= min(len(data), 600) or 1  # the headers, where the structure is
        if op == "s":
            data[pos : pos + 1] = bytes([value])
        elif op == "i":
            data[pos:pos] = bytes([value])
        else:
            del data[pos : pos + 1]
    data = data[: max(cut % (len(data) + 1), 1)] if cut % 3 == 0 else data
    try:
        report, _ = _clean(bytes(data))
    except ScrubError:
        return
    assert report.bytes_in == len(data)


# --- decompression bombs --------------------------------------------------------------


def _bombs() -> list[Any]:
    png = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    )
    gif = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0\0\0"
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4 + (20000 - 1).to_bytes(3, "little") * 2
    webp = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (273, 4, 1, 8), (279, 4, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd + b"\0\0\0\0"
    return [
        pytest.param(png + _chunk(b"IEND", b""), id="png"),
        pytest.param(gif, id="gif"),
        pytest.param(webp, id="webp"),
        pytest.param(tiff, id="tiff"),
    ]


@pytest.mark.parametrize("data", _bombs())
def test_absurd_dimensions_are_refused_before_any_decoding(data: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(CorruptMedia, match="decompression bomb"):
        _clean(data)
    assert time.monotonic() - started < 1


def test_heif_absurd_dimensions_are_refused() -> None:
    path = CORPUS / "mat2" / "dirty.avif"
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    data = bytearray(path.read_bytes())
    at = data.index(b"ispe") + 8
    data[at : at + 8] = struct.pack(">II", 50000, 50000)
    with pytest.raises(CorruptMedia, match="50000x50000 pixels"):
        _clean(bytes(data))


# --- HEIC -------------------------------------------------------------------------


def test_heic_exif_and_xmp_items_are_removed_and_pixels_kept(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    # Given a HEIC written by libheif with an Exif item (camera, GPS) and an XMP item
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 12"
    exif[0x8825] = {1: "N", 2: (35.0, 57.0, 11.0), 3: "E", 4: (39.0, 0.0, 22.0)}
    heif = pillow_heif.from_pillow(Image.new("RGB", (256, 192), (200, 100, 50)))
    heif.info["exif"] = exif.tobytes()
    heif.info["xmp"] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>Abu Ibrahim</x:xmpmeta>"
    src = tmp_path / "IMG_0001.HEIC"
    heif.save(src, format="HEIF")
    # When cleaned
    out = tmp_path / "clean.heic"
    with out.open("wb") as f:
        report = scrub(src, f)
    # Then both items are reported, exiftool finds nothing, libheif decodes the same pixels
    assert "GPS 35.9531 N 39.0061 E" in _texts(report) and "XMP metadata" in _texts(report)
    if EXIFTOOL:
        assert _leaks(out) == []
    assert b"Abu Ibrahim" not in out.read_bytes() and b"iPhone" not in out.read_bytes()
    with Image.open(src) as a, Image.open(out) as b:
        assert a.tobytes() == b.tobytes()
        assert not b.info.get("exif") and not b.info.get("xmp")


@settings(max_examples=60, deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.integers(0, 4000), st.integers(0, 255))
def test_mutated_ogg_pages_only_raise_scrub_errors(pos: int, value: int) -> None:
    # Mutations past the identification header stay on the Python path (no ffmpeg).
    path = CORPUS / "mat2" / "dirty.ogg"
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    data = bytearray(path.read_bytes())
    data[58 + pos] = value
    try:
        report, _ = _clean(bytes(data))
    except ScrubError:
        return
    assert report.bytes_in == len(data)


def test_a_standard_profile_is_kept_under_a_neutral_name_and_others_removed() -> None:
    # Given the reference sRGB profile (from a corpus photo) in a PNG chunk named by its writer
    photo = CORPUS / "exif-samples" / "jpg" / "Canon_40D.jpg"
    if not photo.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    with Image.open(photo) as im:
        standard = im.info["icc_profile"]
    body = b"Abu Ibrahim's profile\x00\x00" + zlib.compress(standard)
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, "PNG")
    data = plain.getvalue()
    report, cleaned = _clean(data[:33] + _chunk(b"iCCP", body) + data[33:])
    # Then the profile stays, byte for byte, under the name "sRGB"
    assert report.kept == ["standard sRGB colour profile"]
    assert b"Abu" not in cleaned
    with Image.open(io.BytesIO(cleaned)) as im:
        assert im.info["icc_profile"] == standard
    # And a profile that differs in one byte (its date, say) is removed
    edited = bytearray(standard)
    edited[24] ^= 1  # inside the header's creation date
    other = b"x\x00\x00" + zlib.compress(bytes(edited))
    report, cleaned = _clean(data[:33] + _chunk(b"iCCP", other) + data[33:])
    assert "ICC colour profile" in _texts(report) and b"iCCP" not in cleaned


def _sei_nal(payload_type: int, payload: bytes) -> bytes:
    """An Annex B H.264 SEI NAL unit with one message, emulation prevention applied."""

    def ff(n: int) -> bytes:
        return b"\xff" * (n // 255) + bytes([n % 255])

    rbsp = ff(payload_type) + ff(len(payload)) + payload + b"\x80"
    escaped = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            escaped.append(3)
            zeros = 0
        escaped.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return b"\x00\x00\x00\x01\x06" + bytes(escaped)


@settings(max_examples=300, deadline=None)
@given(
    uuid=st.binary(min_size=16, max_size=16),
    text=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=300),
    before=st.binary(max_size=40),
)
def test_h264_user_data_banner_is_read_back_whatever_surrounds_it(
    uuid: bytes, text: str, before: bytes
) -> None:
    # Given a slice-like NAL and an SEI carrying a banner after any 16-byte UUID
    stream = (
        b"\x00\x00\x01\x65"
        + before.replace(b"\x00", b"\x01")
        + _sei_nal(5, uuid + text.encode() + b"\x00")
    )
    # When read, Then the banner comes back (shortened for display like every finding)
    assert user_data_texts(stream) == [printable(text)]


@given(st.binary(max_size=400))
def test_h264_sei_reader_never_raises_on_hostile_bytes(data: bytes) -> None:
    for hevc in (False, True):
        texts = user_data_texts(b"\x00\x00\x01\x06" + data, hevc=hevc)
        assert len(texts) <= 4 and all("\n" not in t for t in texts)
