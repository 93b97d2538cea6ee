"""Every supported file of the shared corpus through the scrubber, checked independently.

For each corpus file (mat2's dirty.* of every format, every JPEG and TIFF):
exiftool, run once over all the cleaned copies, must find no identifying tag
(the package's list) and nothing outside what each format needs; and a
decoder must find the same content: Pillow (and pillow-heif) pixels for
images, ffmpeg packet hashes and decoded-audio hashes for audio and video,
raw page-content and image bytes (pikepdf) for PDF.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pikepdf
import pillow_heif
import pytest
from PIL import Image

from sijil.errors import CorruptMedia
from sijil.scrub import detect_format, leaks, scrub
from sijil.scrub.icc import STANDARD_ICC_PROFILES

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "media"
EXIFTOOL = shutil.which("exiftool")
FFMPEG = shutil.which("ffmpeg")
pillow_heif.register_heif_opener()

# Refused on purpose, with the reason's words.
CORRUPT = {"exif-samples/jpg/corrupted.jpg": "invalid marker"}

IMAGE = {"jpeg", "png", "gif", "webp", "tiff", "heic", "avif"}
AUDIO_VIDEO = {"mp4", "mov", "mp3", "ogg", "flac", "wav"}

# exiftool family-0 groups a cleaned file may still show: structure, not content.
ALLOWED_GROUPS = {
    "ExifTool", "File", "Composite", "JFIF", "APP14", "EXIF", "PNG", "GIF", "RIFF",
    "QuickTime", "Meta", "MPEG", "FLAC", "Vorbis", "PDF", "ICC_Profile",
}  # fmt: skip
# Groups that mix structure with free tags: only these names may remain.
ALLOWED_TAGS = {
    # JPEG: Orientation only; TIFF: the fields that decode the image.
    "EXIF": {
        "Orientation", "SubfileType", "ImageWidth", "ImageHeight", "BitsPerSample",
        "Compression", "PhotometricInterpretation", "StripOffsets", "SamplesPerPixel",
        "RowsPerStrip", "StripByteCounts", "XResolution", "YResolution",
        "PlanarConfiguration", "ResolutionUnit", "Predictor", "ExtraSamples", "SampleFormat",
        "TileWidth", "TileLength", "TileOffsets", "TileByteCounts", "ColorMap", "FillOrder",
        "YCbCrSubSampling", "YCbCrPositioning", "ReferenceBlackWhite", "JPEGTables",
    },
    "Vorbis": {"VorbisVersion", "AudioChannels", "SampleRate", "NominalBitrate", "Vendor"},
    "PDF": {"PDFVersion", "Linearized", "PageCount"},
    "RIFF": {
        "Encoding", "NumChannels", "SampleRate", "AvgBytesPerSec", "BitsPerSample",
        "WebP_Flags", "ImageWidth", "ImageHeight", "VP8Version", "HorizontalScale",
        "VerticalScale", "AlphaPreprocessing", "AlphaFiltering", "AlphaCompression",
    },
}  # fmt: skip


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and detect_format(path.read_bytes()[:64]) in IMAGE | AUDIO_VIDEO | {
            "pdf"
        }:
            found.append(path)
    return found


def _params() -> list[Any]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus absent at {CORPUS}"))]
    return [pytest.param(p, id=p.relative_to(CORPUS).as_posix()) for p in files]


def _rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """rel path -> (cleaned copy, exiftool tags of it); one exiftool run for all."""
    if not CORPUS.is_dir() or EXIFTOOL is None:
        pytest.skip("needs the shared corpus and exiftool")
    out_dir = tmp_path_factory.mktemp("cleaned")
    names: dict[str, str] = {}
    for n, src in enumerate(corpus_files()):
        if _rel(src) in CORRUPT:
            continue
        dst = out_dir / f"{n}{src.suffix}"
        with dst.open("wb") as f:
            scrub(src, f)
        names[str(dst)] = _rel(src)
    run = subprocess.run(
        [EXIFTOOL, "-a", "-G0:1", "-s", "-j", "-n", "-api", "QuickTimeUTC", *names],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return {names[e["SourceFile"]]: (Path(e["SourceFile"]), e) for e in json.loads(run.stdout)}


def _icc_is_standard(path: Path) -> bool:
    with Image.open(path) as im:
        profile = im.info.get("icc_profile") or b""
    return hashlib.sha256(profile).hexdigest() in STANDARD_ICC_PROFILES


@pytest.mark.parametrize("path", _params())
def test_cleaned_corpus_file_has_no_identifying_tag(
    path: Path, cleaned: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    # Given a corpus file cleaned by scrub, read back by exiftool
    if _rel(path) in CORRUPT:
        pytest.skip("refused as corrupt; nothing is written")
    out, tags = cleaned[_rel(path)]
    keys = [k for k in tags if k != "SourceFile"]
    # Then no identifying value survives (a kept profile must be a standard one)
    assert [k for k in keys if leaks(k, tags[k]) and not k.startswith("ICC_Profile:")] == []
    if any(k.startswith("ICC_Profile:") for k in keys):
        assert _icc_is_standard(out)
    # And only structural groups, and in mixed groups only structural tags, remain
    groups = {k.split(":")[0] for k in keys}
    assert groups <= ALLOWED_GROUPS, groups - ALLOWED_GROUPS
    for key in keys:
        group, name = key.split(":")[0], key.split(":")[-1]
        if group in ALLOWED_TAGS:
            assert name in ALLOWED_TAGS[group], key
    assert "ExifTool:Warning" not in tags or "trailer" in str(tags["ExifTool:Warning"])


def _frames(path: Path) -> list[tuple[str, tuple[int, int], bytes]]:
    with Image.open(path) as im:
        out = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append((im.mode, im.size, im.tobytes()))
        return out


def _ffmpeg(path: Path, *args: str) -> str:
    assert FFMPEG is not None
    done = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), *args, "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def _packets(path: Path, *, drop_h264_sei: bool = False) -> str:
    """SHA-256 of each copied audio/video stream's packets (no decoding).

    ``drop_h264_sei``: as the cleaner does, without H.264 SEI NAL units (only H.264:
    in HEVC that NAL type is a picture slice). Hashed from a remuxed file: hashing
    the filter's output directly differs (ffmpeg hashes its packet side data too).
    """
    codecs = _ffprobe_video_codecs(path) if drop_h264_sei else []
    bsf: list[str] = []
    for n, codec in enumerate(codecs):
        if codec == "h264":
            bsf += [f"-bsf:v:{n}", "filter_units=remove_types=6"]
    if not bsf:
        return _ffmpeg(path, "-map", "0:V?", "-map", "0:a?", "-c", "copy", "-f", "streamhash",
                       "-hash", "sha256")  # fmt: skip
    with tempfile.TemporaryDirectory() as work:
        ref = Path(work) / f"reference{path.suffix}"
        assert FFMPEG is not None
        subprocess.run(
            [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:V?", "-map", "0:a?",
             "-c", "copy", *bsf, str(ref)],
            check=True, timeout=60,
        )  # fmt: skip
        return _packets(ref)


def _ffprobe_video_codecs(path: Path) -> list[str]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "V", "-show_entries", "stream=codec_name",
         "-of", "csv=p=0", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.decode().split()


def _decoded_video(path: Path) -> list[str]:
    """ffmpeg framemd5 of every decoded video frame (headers left out)."""
    text = _ffmpeg(path, "-map", "0:V?", "-f", "framemd5")
    return [line for line in text.splitlines() if not line.startswith("#")]


def _decoded_audio(path: Path) -> str:
    return _ffmpeg(path, "-map", "0:a?", "-f", "md5")


def _pdf_content(path: Path) -> list[list[bytes]]:
    """Per page: raw (still encoded) content streams and image XObject bytes."""
    pages = []
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            contents = page.obj.get("/Contents")
            streams = contents if isinstance(contents, pikepdf.Array) else [contents]
            raw = [s.read_raw_bytes() for s in streams if isinstance(s, pikepdf.Stream)]
            for xobj in page.get_images().values():
                raw.append(xobj.read_raw_bytes())
            pages.append(raw)
    return pages


@pytest.mark.parametrize("path", _params())
def test_cleaning_is_lossless(path: Path, cleaned: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    # Given a corpus file and its cleaned copy
    if _rel(path) in CORRUPT:
        pytest.skip("refused as corrupt; nothing is written")
    out, _ = cleaned[_rel(path)]
    fmt = detect_format(path.read_bytes()[:64])
    # Then a decoder reads the same content from both
    if fmt in IMAGE:
        assert _frames(out) == _frames(path)
    elif fmt in AUDIO_VIDEO:
        # Every packet is copied; only H.264 SEI NAL units go, and the frames decode the same.
        packets = _packets(path, drop_h264_sei=True)
        assert packets and _packets(out) == packets
        assert _decoded_audio(out) == _decoded_audio(path)
        if fmt in ("mp4", "mov"):
            assert _decoded_video(out) == _decoded_video(path)
    else:
        assert _pdf_content(out) == _pdf_content(path)


def test_every_format_of_the_issue_is_in_the_corpus_run() -> None:
    # The issue's list, by what detect_format reads from the corpus bytes.
    if not CORPUS.is_dir():
        pytest.skip(f"corpus absent at {CORPUS}")
    seen = {detect_format(p.read_bytes()[:64]) for p in corpus_files()}
    assert seen >= {"jpeg", "png", "webp", "gif", "tiff", "heic", "avif", "mp4", "mp3"}
    assert seen >= {"ogg", "flac", "wav", "pdf"}


@pytest.mark.parametrize("rel", sorted(CORRUPT))
def test_corrupt_corpus_file_is_refused_in_one_line(rel: str) -> None:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    with pytest.raises(CorruptMedia, match=CORRUPT[rel]) as caught:
        scrub(path, io.BytesIO())
    assert "\n" not in str(caught.value)
