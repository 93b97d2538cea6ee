"""Video and Ogg cleaning: a stream-copy remux with ffmpeg, then a date check.

MP4, MOV, M4A, 3GP and Ogg with video or several streams (plain Ogg Vorbis
and Opus are cleaned in Python, see ogg.py) hold their metadata in many
places (QuickTime user data and keys, iTunes lists, Apple location keys,
per-track names, Vorbis comments, chapters, and whole timed-metadata tracks
of GPS fixes). Rather than edit each in place, the file is remuxed: ffmpeg
copies the audio and video packets byte for byte (``-c copy``) into a fresh
container and writes nothing else:

* ``-map 0:V? -map 0:a?``: video (not cover art) and audio streams only, so
  data tracks (GoPro GPMF, Apple ``mebx`` location/face tracks, timecode),
  subtitles and attached pictures are left behind;
* ``-map_metadata -1 -map_chapters -1``: no global, stream or chapter tags;
* ``-fflags +bitexact`` and ``-flags:v/-flags:a +bitexact``: no "Lavf"
  encoder tag and zero QuickTime creation/modification times;
* ``-bsf:v:N filter_units=remove_types=6`` on each H.264 stream: its SEI NAL
  units go, with x264's banner of version and options (see h264.py). The
  decoded frames are unchanged; every other packet byte is copied.

Afterwards the movie, track and media headers (mvhd, tkhd, mdhd) are read
back and any creation or modification time left non-zero is zeroed in place,
so the guarantee does not rest on one ffmpeg flag.

ffmpeg needs files: the input is copied into a private scratch folder (see
_workspace.py) that is removed afterwards. Findings come from ffprobe on the
input, and from the first video and audio packet (encoder banners). What the
desk sees is the streams, decoding to the same frames and samples; rotation
(a stream's display matrix) is kept. ffmpeg's own AAC encoder tag
("Lavc59.37.100", a fill element inside the first audio frame) stays: it is
audio data, reported as kept.
"""

from __future__ import annotations

import json
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sijil.errors import CorruptMedia
from sijil.scrub._source import CHUNK_BYTES, ByteSource, Output
from sijil.scrub._workspace import private_workdir, run_tool
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.h264 import DROP_SEI_BSF, user_data_texts
from sijil.scrub.limits import FFMPEG_TIMEOUT_S, FFPROBE_TIMEOUT_S, MAX_VIDEO_BYTES
from sijil.scrub.ogg import scrub_ogg_native

__all__ = ["MAX_AV_BYTES", "scrub_mov", "scrub_mp4", "scrub_ogg", "zero_quicktime_times"]

MAX_AV_BYTES = MAX_VIDEO_BYTES

# Container tags that describe the container's structure, not its maker.
_STRUCTURAL = {"major_brand", "minor_version", "compatible_brands", "language", "vendor_id"}
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
_ISO6709 = re.compile(r"([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)")
# Boxes on the way from the file's top level to the time fields.
_CONTAINERS = {b"moov", b"trak", b"mdia"}
_TIMED = {b"mvhd", b"tkhd", b"mdhd"}
_MAX_BOXES = 100_000  # boxes walked when checking times; a movie has dozens
# ffmpeg's AAC encoder names itself ("Lavc59.37.100") in a fill element of the first frame.
_SEI_CODECS = ("h264", "hevc")  # video whose first packet is read for encoder banners
_LAVC = re.compile(rb"Lavc\d{1,3}\.\d{1,3}\.\d{1,3}")
# Bytes of a first packet searched for banners: a 4K keyframe is a few MB, the banner is
# in its first kilobytes (SEI precedes the picture slices).
_MAX_FIRST_PACKET = 1 << 20


def _brand_muxer(head: bytes) -> str:
    if head[4:8] != b"ftyp":
        return "mov"
    brand = head[8:12]
    if brand == b"qt  ":
        return "mov"
    if brand.startswith(b"3g2"):
        return "3g2"
    if brand.startswith((b"3gp", b"3gg")):
        return "3gp"
    return "mp4"


def _position(value: str) -> Finding | None:
    m = _ISO6709.match(value.strip())
    if not m:
        return None
    lat, lon = float(m[1]), float(m[2])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    ns, ew = "N" if lat >= 0 else "S", "E" if lon >= 0 else "W"
    text = f"GPS {abs(lat):.4f} {ns} {abs(lon):.4f} {ew}"
    return Finding("gps", text, f"{_decimal(lat)},{_decimal(lon)}")


def _decimal(x: float) -> str:
    """Signed decimal degrees as the manifest writes them: at most 7 decimals, no padding."""
    return f"{x:.7f}".rstrip("0").rstrip(".")


def _tag_finding(key: str, value: str, where: str) -> Finding:
    low = key.lower()
    shown = printable(value)
    if "location" in low or "gps" in low or low.endswith("iso6709"):
        return _position(value) or Finding("gps", f'{where}location "{shown}"')
    if low == "creation_time" and not where and _ISO_TIME.fullmatch(value.strip()):
        return Finding("datetime", f"recorded {shown}", value.strip()[:19])
    if "time" in low or "date" in low:
        return Finding("datetime", f"{where}{printable(key)} {shown}")
    if low.endswith(("make", "model")):
        return Finding("camera", f"{where}{printable(key)} {shown}")
    if "software" in low or "encoder" in low or low == "vendor":
        return Finding("software", f'{where}{printable(key)} "{shown}"')
    if "serial" in low or "identifier" in low:
        return Finding("serial", f"{where}{printable(key)} {shown}")
    return Finding("comment", f'{where}{printable(key)} "{shown}"')


def _findings(probe: dict[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for key, value in (probe.get("format", {}).get("tags") or {}).items():
        if key not in _STRUCTURAL:
            found.append(_tag_finding(str(key), str(value), ""))
    for stream in probe.get("streams", []):
        kind = str(stream.get("codec_type", "?"))
        tag = str(stream.get("codec_tag_string") or stream.get("codec_name") or "?")
        if stream.get("disposition", {}).get("attached_pic"):
            found.append(Finding("thumbnail", "embedded cover picture"))
        elif kind not in ("video", "audio"):
            what = "timed metadata" if kind == "data" else kind
            found.append(Finding("gps" if kind == "data" else "other", f"{what} track ({tag})"))
        for key, value in (stream.get("tags") or {}).items():
            if key not in _STRUCTURAL and key != "handler_name":
                found.append(_tag_finding(str(key), str(value), f"{kind} track "))
            elif key == "handler_name" and str(value).strip():
                found.append(Finding("software", f'{kind} track handler "{printable(value)}"'))
    for chapter in probe.get("chapters", []):
        title = (chapter.get("tags") or {}).get("title", "")
        found.append(Finding("comment", f'chapter "{printable(title)}"'))
    return list(dict.fromkeys(found))


def _probe(
    source: str, demuxer: str, workdir: Path, what: str, hide: Path | None
) -> dict[str, Any]:
    done = run_tool(
        ["ffprobe", "-v", "error", "-f", demuxer, "-of", "json", "-show_format",
         "-show_streams", "-show_chapters", source],
        timeout=FFPROBE_TIMEOUT_S, workdir=workdir, what=what, hide=hide,
    )  # fmt: skip
    try:
        probe = json.loads(done.stdout)
    except ValueError as exc:
        raise CorruptMedia(f"cannot read {what}: unexpected ffprobe output") from exc
    if not isinstance(probe, dict):
        raise CorruptMedia(f"cannot read {what}: unexpected ffprobe output")
    return probe


def zero_quicktime_times(path: Path) -> int:
    """Zero non-zero creation/modification times in mvhd, tkhd and mdhd; return how many."""
    patched = 0
    with path.open("r+b") as f:
        size = f.seek(0, 2)
        stack = [(0, size)]
        boxes = 0
        while stack:
            pos, end = stack.pop()
            while pos + 8 <= end:
                boxes += 1
                if boxes > _MAX_BOXES:
                    raise CorruptMedia("the cleaned file has too many boxes to check")
                f.seek(pos)
                box_size, kind = struct.unpack(">I4s", f.read(8))
                header = 8
                if box_size == 1:
                    box_size, header = struct.unpack(">Q", f.read(8))[0], 16
                elif box_size == 0:
                    box_size = end - pos
                if box_size < header or pos + box_size > end:
                    raise CorruptMedia("the cleaned file's box structure is broken")
                if kind in _CONTAINERS:
                    stack.append((pos + header, pos + box_size))
                elif kind in _TIMED:
                    version = f.read(4)[0]
                    width = 8 if version == 1 else 4
                    times = f.read(2 * width)
                    if any(times):
                        f.seek(pos + header + 4)
                        f.write(b"\x00" * (2 * width))
                        patched += 1
                pos += box_size
    return patched


def _remux(src: ByteSource, dst: Output, fmt: str, what: str) -> ScrubReport:
    demuxer = "ogg" if fmt == "ogg" else "mov"  # chosen from the bytes, never the name
    with private_workdir() as work:
        original = src.hand_over()
        if original is None:
            # A stream, not a file: ffmpeg needs a file, so copy it into the scratch folder.
            with (work / "input").open("wb") as f:
                src.copy_rest(f)
            original = work / "input"
        source = f"file:{original}"
        head = _head(original)
        muxer = "ogg" if fmt == "ogg" else _brand_muxer(head)
        target = work / f"output.{muxer}"
        # The probe comes first: which streams are H.264 decides the remux's filters.
        probe = _probe(source, demuxer, work, what, original)
        streams = [s for s in probe.get("streams", []) if isinstance(s, dict)]
        removed = _findings(probe)
        kept = ["audio and video streams: decoded frames and samples unchanged"]
        # The banners are read while ffmpeg remuxes the same input.
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading = pool.submit(_banners, source, streams, demuxer, work, what, original)
            if not dst.discarding:
                run_tool(
                    ["ffmpeg", "-nostdin", "-v", "error", "-f", demuxer, "-i", source,
                     "-map", "0:V?", "-map", "0:a?", "-c", "copy", *_sei_filters(streams),
                     "-map_metadata", "-1", "-map_chapters", "-1",
                     "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                     "-f", muxer, target.name],
                    timeout=FFMPEG_TIMEOUT_S, workdir=work, what=what, hide=original,
                )  # fmt: skip
            banners, remaining = reading.result()
        removed = list(dict.fromkeys([*removed, *banners]))
        if dst.discarding:
            return ScrubReport(format=fmt, removed=removed, kept=kept, remaining=remaining)
        if muxer != "ogg":
            zero_quicktime_times(target)
        with target.open("rb") as f:
            while block := f.read(CHUNK_BYTES):
                dst.write(block)
    return ScrubReport(format=fmt, removed=removed, kept=kept, remaining=remaining)


def _remuxed_video(streams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The video streams ``-map 0:V`` keeps (not cover art), in output order."""
    return [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]


def _sei_filters(streams: list[dict[str, Any]]) -> list[str]:
    """``-bsf:v:N`` arguments dropping SEI from each H.264 output stream, and only those."""
    args: list[str] = []
    for n, stream in enumerate(_remuxed_video(streams)):
        if stream.get("codec_name") == "h264":
            args += [f"-bsf:v:{n}", DROP_SEI_BSF]
    return args


def _banners(
    source: str, streams: list[dict[str, Any]], demuxer: str, work: Path, what: str, hide: Path
) -> tuple[list[Finding], list[Finding]]:
    """Encoder banners in the first packets: H.264 SEI (removed), HEVC SEI and AAC tags (kept).

    The encoders write them into the first frame only, so one packet each is read.
    """
    if demuxer != "mov":
        return [], []
    video = [s for s in _remuxed_video(streams) if s.get("codec_name") in _SEI_CODECS][:1]
    audio = [s for s in streams if s.get("codec_type") == "audio"][:1]
    args: list[str] = []
    for stream in video + audio:
        codec = str(stream.get("codec_name"))
        muxer = codec if stream in video else "data"
        args += ["-map", f"0:{int(stream.get('index', 0))}", "-c", "copy", "-frames", "1",
                 "-f", muxer, f"first.{muxer}"]  # fmt: skip
    if not args:
        return [], []
    try:
        run_tool(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", demuxer, "-i", source, *args],
            timeout=FFMPEG_TIMEOUT_S, workdir=work, what=what, hide=hide,
        )  # fmt: skip
    except CorruptMedia:
        # Only the report depends on it: the remux still drops the H.264 SEI.
        return [], [Finding("other", "encoder banners inside the streams: could not be checked")]
    found = [
        Finding("software", f'video encoder banner "{text}"')
        for text in user_data_texts(_read_small(work / "first.h264"))
    ]
    remaining = [
        Finding("software", f'video encoder banner "{text}" inside the HEVC data')
        for text in user_data_texts(_read_small(work / "first.hevc"), hevc=True)
    ]
    tags = dict.fromkeys(m.decode() for m in _LAVC.findall(_read_small(work / "first.data")))
    remaining += [
        Finding("software", f'audio encoder tag "{tag}" inside the audio data') for tag in tags
    ]
    return found, remaining


def _read_small(path: Path) -> bytes:
    if not path.is_file():
        return b""
    with path.open("rb") as f:
        return f.read(_MAX_FIRST_PACKET)


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(16)


def scrub_mp4(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean an MP4/MOV/M4A/3GP file in ``src`` into ``dst``; see the module docstring."""
    return _remux(src, dst, "mp4", "this video")


def scrub_mov(src: ByteSource, dst: Output) -> ScrubReport:
    return _remux(src, dst, "mov", "this video")


def scrub_ogg(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean an Ogg file in ``src`` into ``dst``: Vorbis/Opus in Python (ogg.py), else ffmpeg."""
    return scrub_ogg_native(src, dst) or _remux(src, dst, "ogg", "this audio file")
