"""Tests for the JPEG cleaner of sijil.scrub (other formats: test_scrub_formats.py).

Cleaned corpus files are checked with exiftool, an independent reader, against
the package's own list of identifying tags, and pixel-compared with Pillow.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import struct
import subprocess
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sijil.errors import CorruptMedia, ScrubError, UnsupportedFormat
from sijil.scrub import ScrubReport, detect_format, inspect, is_identifying, scrub
from sijil.scrub.jpeg import MAX_SEGMENTS

CORPUS = Path(__file__).parents[1] / ".." / "shared" / "corpus" / "media"
JPG_DIR = CORPUS / "exif-samples" / "jpg"
EXIFTOOL = shutil.which("exiftool")

# Corpus JPEGs whose image data (not just metadata) is damaged. Every other
# corpus JPEG, including invalid/ (broken XMP only), must scrub cleanly.
CORRUPT = {"exif-samples/jpg/corrupted.jpg": "invalid marker 0xFF9F"}

# What exiftool may still report about a cleaned JPEG (family-0 groups): the
# frame, the JFIF and Adobe colour headers, EXIF holding Orientation only, and
# the standard sRGB profile (checked by hash in test_scrub_formats.py).
ALLOWED_GROUPS = {"ExifTool", "File", "JFIF", "APP14", "EXIF", "Composite", "ICC_Profile"}


def _corpus(paths: list[Path]) -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus absent at {CORPUS}"))]
    return [pytest.param(p, id=str(p.relative_to(CORPUS))) for p in sorted(paths)]


def _corpus_jpegs() -> list[Path]:
    found = [p for p in JPG_DIR.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")]
    return [*found, CORPUS / "mat2" / "dirty.jpg", CORPUS / "mat2" / "control_chars.jpg"]


def _rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _scrub_bytes(data: bytes) -> tuple[ScrubReport, bytes]:
    out = io.BytesIO()
    report = scrub(io.BytesIO(data), out)
    return report, out.getvalue()


def _pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as im:
        return im.mode, im.size, im.tobytes()


def _from_first_sos(data: bytes) -> bytes:
    """Everything from the first SOS marker on, found by a plain segment walk."""
    i = 2
    while data[i + 1] != 0xDA:
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return data[i:]


def _jpeg(size: tuple[int, int] = (16, 12), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, "JPEG", **save)
    return out.getvalue()


def _with_segment(jpeg: bytes, marker: int, body: bytes) -> bytes:
    """Insert one marker segment right after SOI."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def _gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "Canon EOS 40D", 6
    exif[0x0132] = "2014:01:02 03:04:05"
    exif[0x8825] = {1: "N", 2: (36.0, 7.0, 12.0), 3: "E", 4: (39.0, 1.0, 12.0)}
    return exif.tobytes()


@pytest.fixture(scope="module")
def cleaned_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scrubbable corpus JPEG cleaned to disk, read back by one exiftool run."""
    if not CORPUS.is_dir() or EXIFTOOL is None:
        pytest.skip("needs the shared corpus and exiftool")
    out_dir = tmp_path_factory.mktemp("cleaned")
    names: dict[str, str] = {}
    for n, src in enumerate(sorted(_corpus_jpegs())):
        if _rel(src) in CORRUPT:
            continue
        dst = out_dir / f"{n}.jpg"
        with dst.open("wb") as f:
            scrub(src, f)
        names[str(dst)] = _rel(src)
    # -G0:1 gives "family0:family1:Tag" keys: family 0 names MakerNotes, XMP
    # and IPTC groups the same whatever the vendor; -n gives numeric values.
    run = subprocess.run(
        [EXIFTOOL, "-a", "-G0:1", "-s", "-j", "-n", *names],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return {names[entry["SourceFile"]]: entry for entry in json.loads(run.stdout)}


# --- corpus: JPEG ---------------------------------------------------------


@pytest.mark.parametrize("path", _corpus(_corpus_jpegs()))
def test_corpus_jpeg_is_cleaned_losslessly_or_refused_as_corrupt(path: Path) -> None:
    # Given a JPEG from the corpus
    original = path.read_bytes()
    if _rel(path) in CORRUPT:
        # When it is scrubbed, Then its damaged image data is refused, one line
        with pytest.raises(CorruptMedia, match=CORRUPT[_rel(path)]) as caught:
            scrub(path, io.BytesIO())
        assert "\n" not in str(caught.value)
        return
    # When it is scrubbed
    report, cleaned = _scrub_bytes(original)
    # Then the report counts the bytes and the output is a whole JPEG
    assert (report.format, report.bytes_in, report.bytes_out) == (
        "jpeg",
        len(original),
        len(cleaned),
    )
    assert cleaned.startswith(b"\xff\xd8") and cleaned.endswith(b"\xff\xd9")
    # And the entropy-coded data through EOI is the original's, byte for byte
    tail = _from_first_sos(cleaned)
    start = len(original) - len(_from_first_sos(original))
    assert original[start : start + len(tail)] == tail
    # And the decoded pixels are bit-identical
    assert _pixels(cleaned) == _pixels(original)


@pytest.mark.parametrize("path", _corpus(_corpus_jpegs()))
def test_cleaned_corpus_jpeg_has_no_identifying_tag(
    path: Path, cleaned_corpus: dict[str, dict[str, Any]]
) -> None:
    # Given a corpus JPEG cleaned by scrub and read back by exiftool
    if _rel(path) in CORRUPT:
        pytest.skip("refused as corrupt; nothing is written")
    tags = cleaned_corpus[_rel(path)]
    # Then no tag on the identifying list survives (a kept standard profile aside)
    assert [k for k in tags if is_identifying(k) and not k.startswith("ICC_Profile:")] == []
    # And only the frame, colour headers and Orientation remain
    assert {k.split(":")[0] for k in tags if k != "SourceFile"} <= ALLOWED_GROUPS
    assert [k for k in tags if k.startswith("EXIF:")] in ([], ["EXIF:IFD0:Orientation"])


@pytest.mark.parametrize(
    "path",
    _corpus(
        [
            JPG_DIR / "orientation" / f"{s}_{n}.jpg"
            for s in ("landscape", "portrait")
            for n in range(1, 9)
        ]
    ),
)
def test_orientation_survives_cleaning(
    path: Path, cleaned_corpus: dict[str, dict[str, Any]]
) -> None:
    # Given orientation/<shape>_N.jpg, whose EXIF says Orientation N
    n = int(path.stem.rsplit("_", 1)[1])
    # When cleaned, Then exiftool reads Orientation N (1 may be left implicit)
    assert cleaned_corpus[_rel(path)].get("EXIF:IFD0:Orientation", 1) == n
    report = scrub(path, io.BytesIO())
    assert (f"orientation {n}" in report.kept) == (n != 1)


def test_inspect_reports_gps_and_camera_of_a_corpus_photo() -> None:
    # Given a Nikon photo with a GPS fix
    path = JPG_DIR / "gps" / "DSCN0010.jpg"
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    # When inspected
    found = inspect(path)
    # Then a plausible position is reported, with the camera and the time
    gps = [f.text for f in found if f.kind == "gps"]
    assert len(gps) == 1
    m = re.fullmatch(r"GPS (\d+\.\d{4}) ([NS]) (\d+\.\d{4}) ([EW])", gps[0])
    assert m, gps
    assert 0 < float(m[1]) <= 90 and 0 < float(m[3]) <= 180
    assert 43.4 < float(m[1]) < 43.5 and 11.8 < float(m[3]) < 11.9  # Tuscany
    kinds = {f.kind: f.text for f in found}
    assert kinds["camera"] == "camera NIKON COOLPIX P6000"
    assert "taken 2008:10:22 16:28:39" in {f.text for f in found}
    assert {"thumbnail", "makernote", "xmp"} <= kinds.keys()


def test_control_characters_in_a_comment_are_escaped() -> None:
    # Given a corpus JPEG whose comment holds a terminal escape
    path = CORPUS / "mat2" / "control_chars.jpg"
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    # When inspected, Then the finding shows it escaped, on one line
    texts = [f.text for f in inspect(path) if f.kind == "comment"]
    assert texts and all(t.isprintable() for t in texts)
    assert "\\x1b" in texts[0]


# --- synthetic JPEGs ---------------------------------------------------------


def test_exif_gps_comment_and_trailer_are_removed_orientation_kept() -> None:
    # Given a JPEG with GPS EXIF, a comment, an XMP packet and a second image after EOI
    plain = _jpeg()
    dirty = _jpeg(exif=_gps_exif(), comment=b"shot by Abu Ibrahim")
    dirty = _with_segment(dirty, 0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
    dirty += plain
    # When scrubbed
    report, cleaned = _scrub_bytes(dirty)
    # Then the findings name what went, and the output carries none of it
    texts = {f.text for f in report.removed}
    assert "GPS 36.1200 N 39.0200 E" in texts
    assert "camera Canon EOS 40D" in texts
    assert "modified 2014:01:02 03:04:05" in texts
    assert 'comment "shot by Abu Ibrahim"' in texts
    assert f"{len(plain)} bytes after the image end (another JPEG image)" in texts
    assert {"xmp", "exif"} <= {f.kind for f in report.removed}
    for secret in (b"Canon", b"Abu Ibrahim", b"xmpmeta", b"GPS", b"2014"):
        assert secret not in cleaned
    assert cleaned.count(b"\xff\xd9") == 1 and cleaned.endswith(b"\xff\xd9")
    # And the orientation is kept in a fresh EXIF block
    assert report.kept == ["JFIF header (no thumbnail)", "orientation 6"]
    with Image.open(io.BytesIO(cleaned)) as im:
        assert dict(im.getexif()) == {0x0112: 6}
    assert _pixels(cleaned) == _pixels(dirty)


def test_jfif_thumbnail_is_zeroed() -> None:
    # Given a JFIF header that declares a 2x1 RGB thumbnail
    body = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x02\x01" + b"\x11" * 6
    plain = _jpeg()
    dirty = _with_segment(plain[:2] + plain[20:], 0xE0, body)  # replace Pillow's JFIF
    # When scrubbed, Then the thumbnail is reported and gone, density kept
    report, cleaned = _scrub_bytes(dirty)
    assert _texts(report) >= {"JFIF thumbnail 2x1"}
    assert cleaned[2:20] == b"\xff\xe0\x00\x10JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00"


def _texts(report: ScrubReport) -> set[str]:
    return {f.text for f in report.removed}


def test_unreadable_exif_is_still_removed() -> None:
    # Given an APP1 that claims EXIF but holds garbage
    dirty = _with_segment(_jpeg(), 0xE1, b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8)
    # When scrubbed, Then it is reported as unreadable and removed
    report, cleaned = _scrub_bytes(dirty)
    assert "EXIF block (unreadable)" in _texts(report)
    assert b"Exif" not in cleaned and b"\xde\xad" not in cleaned


class _Parts(io.RawIOBase):
    """A stream serving the byte strings of an iterator, at most one per read."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts, self._current = parts, b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if not self._current:
            self._current = next(self._parts, b"")
        n = len(self._current) if n < 0 else n
        out, self._current = self._current[:n], self._current[n:]
        return out


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def test_chunk_boundaries_do_not_change_the_output() -> None:
    # Given a JPEG, and streams that return it a few bytes per read
    data = _jpeg((64, 48), quality=100, exif=_gps_exif()) + b"\xff\xd8trailing"
    _, whole = _scrub_bytes(data)
    for step in (1, 2, 3, 7):
        trickle = _Parts(data[i : i + step] for i in range(0, len(data), step))
        out = io.BytesIO()
        # When scrubbed through one, Then the output is the same as from memory
        scrub(trickle, out)  # type: ignore[arg-type]
        assert out.getvalue() == whole


def test_a_large_scan_is_streamed_not_loaded() -> None:
    # Given a 48 MB JPEG produced lazily: headers, a long scan, EOI
    small = _jpeg()
    scan = _from_first_sos(small)
    head = small[: len(small) - len(scan)] + scan[: 2 + struct.unpack(">H", scan[2:4])[0]]
    chunks = 48 * 4
    body = (b"\x55" * (256 * 1024) for _ in range(chunks))
    stream = _Parts(itertools.chain([head], body, [b"\xff\xd9"]))
    # When scrubbed into a counter, Then memory stays far below the file size
    tracemalloc.start()
    try:
        report = scrub(stream, _Discard())  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.bytes_in == report.bytes_out == len(head) + chunks * 256 * 1024 + 2
    assert peak < 4 * 1024 * 1024


# --- limits and damage -------------------------------------------------------


def test_decompression_bomb_dimensions_are_refused() -> None:
    # Given a tiny JPEG whose frame header claims 65535x65535 pixels
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\xff\xff\xff\xff"
    # When scrubbed, Then it is refused before any image data is copied
    with pytest.raises(CorruptMedia, match="65535x65535 pixels, over the 250-megapixel limit"):
        scrub(io.BytesIO(bytes(data)), io.BytesIO())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xd8\xff\xd9", "no image data"),
        (b"\xff\xd8\xff", "ends inside a marker"),
        (b"\xff\xd8\xff\xe1\x00", "ends inside a segment length"),
        (b"\xff\xd8\xff\xe1\x00\x01", "bad length"),
        (b"\xff\xd8\xffX\x00\x04", "invalid marker"),
        (b"\xff\xd8\xff\xfe\x00\x02junk", "stray bytes"),
        (b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", "scan comes before its frame"),
        (b"\xff\xd8" + b"\xff\xfe\x00\x02" * (MAX_SEGMENTS + 1), "more than 4096 segments"),
        (b"\xff\xd8" + b"\xff" * 100_000, "long run of 0xFF"),
    ],
)
def test_broken_structure_is_corrupt_media(data: bytes, message: str) -> None:
    # Given a JPEG broken in its structure, When scrubbed, Then CorruptMedia says why
    with pytest.raises(CorruptMedia, match=message):
        scrub(io.BytesIO(data), io.BytesIO())


def test_truncated_jpeg_is_corrupt_media() -> None:
    # Given a valid JPEG cut short inside its scan data
    data = _jpeg((64, 48))
    # When scrubbed, Then CorruptMedia names the missing end marker
    with pytest.raises(CorruptMedia, match="ends before the end-of-image marker"):
        scrub(io.BytesIO(data[:-40]), io.BytesIO())


def test_empty_and_unknown_files_are_unsupported() -> None:
    with pytest.raises(UnsupportedFormat, match="empty file"):
        scrub(io.BytesIO(b""), io.BytesIO())
    with pytest.raises(UnsupportedFormat, match="not recognised"):
        inspect(io.BytesIO(b"hello, desk"))


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF89a", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "avif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "avif"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "mov"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"%PDF-1.7", "pdf"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00\x00", "flac"),
        (b"", "unknown"),
        (b"\x00\x01\x02", "unknown"),
    ],
)
def test_detect_format_reads_magic_bytes(head: bytes, name: str) -> None:
    assert detect_format(head) == name


# --- property: hostile input never escapes the error tree --------------------

_SEED = _jpeg((24, 16), exif=_gps_exif(), comment=b"seed")


def _assert_contained(data: bytes) -> None:
    try:
        report, cleaned = _scrub_bytes(data)
    except ScrubError:
        return
    assert report.bytes_in == len(data)
    if report.format != "jpeg":
        return  # a mutation can make a valid file of another format (e.g. MPEG frames)
    assert cleaned.startswith(b"\xff\xd8") and cleaned.endswith(b"\xff\xd9")
    assert report.bytes_in == len(data)


_FAST = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)


@_FAST
@given(st.binary(max_size=2048), st.booleans())
def test_random_bytes_only_raise_scrub_errors(noise: bytes, jpeg_magic: bool) -> None:
    _assert_contained((b"\xff\xd8\xff" if jpeg_magic else b"") + noise)


@_FAST
@given(
    st.lists(
        st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255), st.sampled_from("sid")),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, len(_SEED)),
)
def test_mutated_jpeg_only_raises_scrub_errors(edits: list[tuple[int, int, str]], cut: int) -> None:
    data = bytearray(_SEED)
    for pos, value, op in edits:
        pos %= len(data) or 1
        if op == "s":
            data[pos : pos + 1] = bytes([value])
        elif op == "i":
            data[pos:pos] = bytes([value])
        else:
            del data[pos : pos + 1]
    _assert_contained(bytes(data[: max(cut, 3)]) if cut < len(data) else bytes(data))
