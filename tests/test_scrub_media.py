"""Video, audio and PDF cleaning on generated files that carry what phones and tools write.

Files are made with ffmpeg and pikepdf (location atoms, creation times,
subtitle tracks, cover art, Vorbis and RIFF tags, PDF info, XMP, attachments
and annotation authors); cleaned copies are read back with exiftool, ffmpeg
and pikepdf.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from conftest import CliResult
from media import camera_jpeg
from sijil.errors import CorruptMedia, ScrubError
from sijil.scrub import inspect, leaks, scrub
from sijil.scrub.av import zero_quicktime_times
from sijil.scrub.ogg import ogg_crc

FFMPEG = shutil.which("ffmpeg")
EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(not (FFMPEG and EXIFTOOL), reason="needs ffmpeg and exiftool")

PLACE = "+35.9500+039.0000/"
WHEN = "2016-11-22T03:14:15Z"


def _ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def _tags(path: Path) -> dict[str, Any]:
    assert EXIFTOOL is not None
    run = subprocess.run(
        [EXIFTOOL, "-a", "-G0:1", "-s", "-j", "-n", "-api", "QuickTimeUTC", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    entry: dict[str, Any] = json.loads(run.stdout)[0]
    return entry


def _streams(path: Path, *, decode: bool = False) -> str:
    assert FFMPEG is not None
    how = ["-map", "0:a?", "-f", "md5"] if decode else [
        "-map", "0:V?", "-map", "0:a?", "-c", "copy", "-f", "streamhash", "-hash", "sha256"
    ]  # fmt: skip
    done = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), *how, "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def _without_sei(path: Path, work: Path) -> Path:
    """``path`` remuxed without the SEI NAL units of its first video stream (H.264)."""
    ref = work / f"reference-without-sei{path.suffix}"
    _ffmpeg("-i", str(path), "-map", "0:V", "-map", "0:a?", "-c", "copy",
            "-bsf:v:0", "filter_units=remove_types=6", str(ref))  # fmt: skip
    return ref


def _frames(path: Path) -> list[str]:
    """ffmpeg framemd5 of every decoded video frame (headers left out)."""
    assert FFMPEG is not None
    done = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:V", "-f", "framemd5", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [line for line in done.stdout.decode().splitlines() if not line.startswith("#")]


def _clean_file(src: Path, dst: Path) -> list[str]:
    with dst.open("wb") as f:
        report = scrub(src, f)
    return [x.text for x in report.removed]


@pytest.fixture(scope="module")
def phone_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 with H.264 + AAC, a location atom, creation time and a subtitle track."""
    work = tmp_path_factory.mktemp("video")
    subs = work / "s.srt"
    subs.write_text("1\n00:00:00,000 --> 00:00:01,000\nAbu Ibrahim filmed this\n")
    path = work / "VID_20161122.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-f", "lavfi",
        "-i", "sine=frequency=300", "-i", str(subs), "-t", "1.5",
        "-map", "0", "-map", "1", "-map", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "mov_text",
        "-metadata", f"location={PLACE}", "-metadata", f"creation_time={WHEN}",
        "-metadata", "title=Raqqa", "-metadata:s:v", "handler_name=Raven's phone",
        str(path),
    )  # fmt: skip
    return path


def test_video_location_times_and_extra_tracks_are_removed_losslessly(
    phone_video: Path, tmp_path: Path
) -> None:
    # Given a phone video with location, creation time, title and a subtitle track
    before = _tags(phone_video)
    assert any("GPS" in k or "Location" in k for k in before)
    # When cleaned
    out = tmp_path / "clean.mp4"
    removed = _clean_file(phone_video, out)
    # Then the findings name the place and the time, and the track that goes
    assert "GPS 35.9500 N 39.0000 E" in removed
    assert f"recorded {WHEN.replace('Z', '.000000Z')}" in removed
    assert "subtitle track (tx3g)" in removed
    # And exiftool finds no identifying value; every QuickTime date is zero
    after = _tags(out)
    assert [k for k, v in after.items() if leaks(k, v)] == []
    dates = {k: v for k, v in after.items() if k.endswith("Date") and k.startswith("QuickTime")}
    assert dates and set(dates.values()) == {"1904:01:01 00:00:00+00:00"}
    # And the audio and video packets are the same but for H.264 SEI, and only they remain
    assert _streams(out) == _streams(_without_sei(phone_video, tmp_path))
    assert _frames(out) == _frames(phone_video)
    assert _streams(out, decode=True) == _streams(phone_video, decode=True)
    assert "Raven" not in json.dumps(after) and b"Raven" not in out.read_bytes()


def test_quicktime_times_left_by_a_muxer_are_zeroed_in_place(
    phone_video: Path, tmp_path: Path
) -> None:
    # Given a remux that writes a creation time into the movie, track and media headers
    copy = tmp_path / "copy.mp4"
    _ffmpeg("-i", str(phone_video), "-map", "0:v", "-c", "copy", "-metadata",
            f"creation_time={WHEN}", str(copy))  # fmt: skip
    times = {v for k, v in _tags(copy).items() if k.startswith("QuickTime") and "Date" in k}
    assert "2016:11:22 03:14:15+00:00" in times
    # When its headers are checked, Then every mvhd/tkhd/mdhd time is zeroed
    assert zero_quicktime_times(copy) == 3
    times = {v for k, v in _tags(copy).items() if k.startswith("QuickTime") and "Date" in k}
    assert times == {"1904:01:01 00:00:00+00:00"}
    assert zero_quicktime_times(copy) == 0


def test_mov_stays_quicktime_and_m4a_cover_art_is_dropped(tmp_path: Path) -> None:
    # Given a QuickTime MOV and an M4A with an artist tag and cover art
    mov, m4a, cover = tmp_path / "a.mov", tmp_path / "a.m4a", tmp_path / "c.png"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1", "-c:v", "mjpeg",
            "-metadata", "make=Apple", "-metadata", f"creation_time={WHEN}", str(mov))  # fmt: skip
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:size=32x32", "-frames:v", "1", str(cover))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=500", "-i", str(cover), "-t", "1",
            "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v",
            "attached_pic", "-metadata", "artist=Raven", str(m4a))  # fmt: skip
    # When cleaned
    for src in (mov, m4a):
        out = tmp_path / f"clean{src.suffix}"
        removed = _clean_file(src, out)
        tags = _tags(out)
        # Then nothing identifying is left and the container kind is kept
        assert [k for k, v in tags.items() if leaks(k, v)] == []
        assert _streams(out) == _streams(src)
        if src is m4a:
            assert "embedded cover picture" in removed and 'artist "Raven"' in removed
            assert out.read_bytes()[4:8] == b"ftyp" and b"Raven" not in out.read_bytes()
        else:
            assert out.read_bytes()[8:12] == b"qt  "


def test_opus_and_vorbis_tags_are_removed(tmp_path: Path) -> None:
    for codec, name in (("libopus", "a.opus"), ("libvorbis", "a.ogg")):
        src, out = tmp_path / name, tmp_path / f"clean-{name}"
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=700", "-t", "1", "-c:a", codec,
                "-metadata", "artist=Raven", "-metadata", "date=2016-11-22", str(src))  # fmt: skip
        removed = _clean_file(src, out)
        assert any("Raven" in r for r in removed)
        assert [k for k, v in _tags(out).items() if leaks(k, v)] == []
        assert b"Raven" not in out.read_bytes()
        assert _streams(out, decode=True) == _streams(src, decode=True)
        assert _streams(out) == _streams(src)
        # And every page checksum is valid, and the page count is unchanged
        assert _ogg_pages(out) == _ogg_pages(src)


def _ogg_pages(path: Path) -> int:
    data, pos, pages = path.read_bytes(), 0, 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS"
        nsegs = data[pos + 26]
        end = pos + 27 + nsegs + sum(data[pos + 27 : pos + 27 + nsegs])
        page = data[pos:end]
        assert ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == struct.unpack("<I", page[22:26])[0]
        pos, pages = end, pages + 1
    return pages


def test_ogg_video_goes_through_ffmpeg_and_loses_its_tags(tmp_path: Path) -> None:
    # Given an Ogg with Theora video and Vorbis audio (two logical streams) and tags
    src, out = tmp_path / "v.ogg", tmp_path / "clean.ogg"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-f", "lavfi", "-i",
            "sine=frequency=300", "-t", "1", "-c:v", "libtheora", "-c:a", "libvorbis",
            "-metadata", "artist=Raven", str(src))  # fmt: skip
    # When cleaned, Then the remux keeps both streams and drops the tags
    removed = _clean_file(src, out)
    assert any("Raven" in r for r in removed)
    assert b"Raven" not in out.read_bytes()
    assert [k for k, v in _tags(out).items() if leaks(k, v)] == []
    assert _streams(out) == _streams(src)


def test_wav_broadcast_and_info_chunks_are_removed(tmp_path: Path) -> None:
    # Given a WAV with a LIST/INFO list after the data and a bext chunk before it
    src = tmp_path / "a.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=900", "-t", "0.5", "-metadata", "artist=Raven",
            "-metadata", "ICRD=2016-11-22", str(src))  # fmt: skip
    data = src.read_bytes()
    bext = b"bext" + struct.pack("<I", 11) + b"Raven rec 1" + b"\0"
    at = data.index(b"data")
    dirty = data[:12] + bext + data[12:at] + data[at:]
    dirty = dirty[:4] + struct.pack("<I", len(dirty) - 8) + dirty[8:]
    path = tmp_path / "dirty.wav"
    path.write_bytes(dirty)
    # When cleaned, Then the chunks are reported and only fmt and data remain
    out = tmp_path / "clean.wav"
    removed = _clean_file(path, out)
    assert "WAV chunk bext (11 bytes)" in removed and any("Raven" in r for r in removed)
    assert b"Raven" not in out.read_bytes() and b"LIST" not in out.read_bytes()
    assert _streams(out, decode=True) == _streams(path, decode=True)


def test_flac_picture_and_comments_are_removed(tmp_path: Path) -> None:
    src, cover = tmp_path / "a.flac", tmp_path / "c.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=16x16", "-frames:v", "1", str(cover))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=400", "-i", str(cover), "-t", "1",
            "-map", "0", "-map", "1", "-c:v", "png", "-disposition:v", "attached_pic",
            "-metadata", "artist=Raven", str(src))  # fmt: skip
    out = tmp_path / "clean.flac"
    removed = _clean_file(src, out)
    assert "embedded picture 16x16" in removed and 'tag ARTIST "Raven"' in removed
    assert b"Raven" not in out.read_bytes() and b"PNG" not in out.read_bytes()
    assert _streams(out, decode=True) == _streams(src, decode=True)


def test_pdf_info_xmp_attachments_and_annotation_authors_are_removed(tmp_path: Path) -> None:
    # Given a PDF with an info dictionary, XMP, an attachment and an annotation author
    pdf = pikepdf.new()
    pdf.add_blank_page()
    page = pdf.pages[0]
    page.obj["/Contents"] = pdf.make_stream(b"0 0 m 10 10 l S")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Abu Ibrahim"]
    pdf.docinfo["/Author"] = "Abu Ibrahim"
    pdf.docinfo["/CreationDate"] = "D:20161122031415"
    pdf.attachments["witness.txt"] = pikepdf.AttachedFileSpec(pdf, b"names of witnesses")
    annot = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[0, 0, 10, 10],
        T=pikepdf.String("Raven"), M=pikepdf.String("D:20161122"), Contents=pikepdf.String("x"),
    )  # fmt: skip
    page.obj["/Annots"] = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(annot)]))
    src, out = tmp_path / "a.pdf", tmp_path / "clean.pdf"
    pdf.save(src)
    # When cleaned
    removed = _clean_file(src, out)
    # Then all of it is reported and gone; the page draws the same
    assert 'PDF Author "Abu Ibrahim"' in removed and "XMP metadata stream" in removed
    assert "1 attached file(s)" in removed and "annotation author" in removed
    data = out.read_bytes()
    for secret in (b"Abu Ibrahim", b"witnesses", b"Raven", b"20161122"):
        assert secret not in data
    assert [k for k, v in _tags(out).items() if leaks(k, v)] == []
    with pikepdf.open(out) as clean, pikepdf.open(src) as original:
        raw = clean.pages[0].obj["/Contents"].read_raw_bytes()
        assert raw == original.pages[0].obj["/Contents"].read_raw_bytes()
        assert clean.pages[0].obj["/Contents"].read_bytes() == b"0 0 m 10 10 l S"


def test_photos_embedded_in_a_pdf_lose_their_exif_not_their_pixels(tmp_path: Path) -> None:
    # Given a PDF page showing a phone photo embedded whole (DCTDecode), GPS EXIF included
    photo = camera_jpeg(64, 48)
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(64, 48))
    image = pdf.make_stream(
        photo, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=64, Height=48,
        ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode,
    )  # fmt: skip
    page = pdf.pages[0]
    page.obj["/Resources"] = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj["/Contents"] = pdf.make_stream(b"q 64 0 0 48 0 0 cm /Im0 Do Q")
    src, out = tmp_path / "photo.pdf", tmp_path / "clean.pdf"
    pdf.save(src)
    # When cleaned
    removed = _clean_file(src, out)
    # Then the photo's GPS and camera are reported and gone, its pixels the same
    assert "embedded image: GPS 35.9531 N 39.0061 E" in removed
    assert "embedded image: camera Canon EOS 40D" in removed
    assert b"Canon" not in out.read_bytes() and b"Exif" not in out.read_bytes()
    with pikepdf.open(src) as a, pikepdf.open(out) as b:
        before = pikepdf.PdfImage(a.pages[0].Resources.XObject.Im0).as_pil_image()
        after = pikepdf.PdfImage(b.pages[0].Resources.XObject.Im0).as_pil_image()
        assert before.tobytes() == after.tobytes()
        assert b.pages[0].Contents.read_raw_bytes() == a.pages[0].Contents.read_raw_bytes()


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    src = tmp_path / "e.pdf"
    pdf.save(src, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(ScrubError, match="encrypted"):
        scrub(src, io.BytesIO())


@pytest.fixture
def scratch_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp folder of this test's own, so no other process's scratch folders count."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_broken_video_is_refused_quickly_and_leaves_no_scratch_files(
    phone_video: Path, scratch_root: Path, cut: float
) -> None:
    # Given a video cut short (the index at the end is missing)
    data = phone_video.read_bytes()
    broken = data[: int(len(data) * cut)]
    started = time.monotonic()
    # When cleaned, Then a typed one-line error comes back quickly
    with pytest.raises(CorruptMedia) as caught:
        scrub(io.BytesIO(broken), io.BytesIO())
    assert "\n" not in str(caught.value) and "sijil-scrub-" not in str(caught.value)
    assert time.monotonic() - started < 30
    # And the private scratch folder (it was made: the input was a stream) is gone
    assert list(scratch_root.iterdir()) == []


def test_inspect_of_a_video_runs_no_remux(phone_video: Path) -> None:
    found = inspect(phone_video)
    assert any(f.kind == "gps" and f.value == "35.95,39" for f in found)
    assert any(f.kind == "datetime" and f.value == "2016-11-22T03:14:15" for f in found)


def test_a_successful_remux_leaves_no_scratch_files(phone_video: Path, scratch_root: Path) -> None:
    # Given a video given as a stream (so it is copied into a scratch folder)
    out = io.BytesIO()
    # When cleaned, Then the output is whole and the scratch folder is gone
    report = scrub(io.BytesIO(phone_video.read_bytes()), out)
    assert report.bytes_out == len(out.getvalue()) > 0
    assert list(scratch_root.iterdir()) == []


def test_x264_banner_inside_h264_video_is_removed_and_frames_decode_the_same(
    phone_video: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    # Given a libx264 video: x264 wrote its version and options into an SEI of the first frame
    assert b"x264 - core" in phone_video.read_bytes()
    # When cleaned
    out = tmp_path / "clean.mp4"
    with out.open("wb") as f:
        report = scrub(phone_video, f)
    # Then the banner is gone from the bytes, and the correspondent is told it went
    assert b"x264 - core" not in out.read_bytes()
    banners = [x.text for x in report.removed if x.text.startswith("video encoder banner")]
    assert len(banners) == 1 and '"x264 - core ' in banners[0]
    assert any(x.text == banners[0] for x in inspect(phone_video))
    # And every decoded frame is identical, the audio packets too
    assert _frames(out) == _frames(phone_video)
    assert _streams(out).splitlines()[1] == _streams(phone_video).splitlines()[1]
    # And ffmpeg's AAC encoder tag, audio data, is reported as what stays, truthfully
    assert any(f.text.startswith('audio encoder tag "Lavc') for f in report.remaining)
    assert b"Lavc" in out.read_bytes()
    # And the command line shows both before anything is written
    shown = run_cli("scrub", "--inspect", str(phone_video))
    assert shown.code == 0, shown.err
    assert '- video encoder banner "x264 - core' in shown.out
    assert '  stays: audio encoder tag "Lavc' in shown.out


def test_hevc_video_is_not_filtered_and_its_encoder_banner_is_reported_as_kept(
    tmp_path: Path,
) -> None:
    # Given an HEVC video from x265, whose SEI also carries HDR signalling in general
    src, out = tmp_path / "h.mp4", tmp_path / "clean.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "0.5", "-c:v", "libx265",
            "-preset", "ultrafast", "-x265-params", "log-level=error", str(src))  # fmt: skip
    # When cleaned
    with out.open("wb") as f:
        report = scrub(src, f)
    # Then its packets are copied byte for byte (the H.264 SEI filter never touches HEVC)
    assert _streams(out) == _streams(src)
    # And the banner that stays is named in the report
    assert any(f.text.startswith('video encoder banner "x265 (build') for f in report.remaining)
