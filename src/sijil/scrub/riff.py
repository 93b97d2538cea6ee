"""Lossless WebP and WAV cleaning: RIFF chunk walks that copy only the media.

WebP keeps the bitstream chunks byte for byte (VP8, VP8L, ALPH, ANIM, ANMF)
and VP8X with its ICC, EXIF and XMP flags cleared; it drops EXIF, XMP, ICCP
(unless a standard profile, see icc.py) and unknown chunks. WebP files are
small, so they are cleaned in memory and the RIFF size is written up front.

WAV keeps ``fmt `` (how to read the samples), ``fact`` (sample count of
compressed audio) and ``data``, streamed; it drops LIST/INFO (title, artist,
dates, software), ``id3 ``, ``bext`` (broadcast originator and time), iXML,
``_PMX`` (XMP), cue and every other chunk. The RIFF size is known once the
``data`` chunk is reached, because nothing after it is kept.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.exif import EXIF_PREFIX, read_exif
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.icc import standard_profile_name
from sijil.scrub.limits import MAX_AUDIO_BYTES, MAX_CHUNKS, MAX_INMEMORY_BYTES, MAX_META_BYTES
from sijil.scrub.limits import MAX_PIXELS as _MAX_PIXELS

__all__ = ["MAX_WAV_BYTES", "MAX_WEBP_BYTES", "scrub_wav", "scrub_webp"]

MAX_WEBP_BYTES = MAX_INMEMORY_BYTES
MAX_WAV_BYTES = MAX_AUDIO_BYTES

_WEBP_MEDIA = {b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"}
_VP8X_ICC, _VP8X_EXIF, _VP8X_XMP = 0x20, 0x08, 0x04
_WAV_KEEP = {b"fmt ", b"fact"}


def _chunks(data: bytes, start: int) -> list[tuple[bytes, bytes]]:
    """(fourcc, body) of every chunk in ``data`` from ``start``; pads are skipped."""
    out: list[tuple[bytes, bytes]] = []
    pos = start
    while pos < len(data):
        if len(out) >= MAX_CHUNKS:
            raise CorruptMedia(f"file has more than {MAX_CHUNKS} RIFF chunks")
        if pos + 8 > len(data):
            raise CorruptMedia("RIFF file ends inside a chunk header")
        fourcc, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if len(body) != size:
            raise CorruptMedia(f"RIFF chunk {printable(fourcc)} runs past the end of the file")
        out.append((fourcc, body))
        pos += 8 + size + (size & 1)
    return out


def _check_canvas(width: int, height: int) -> None:
    if width * height > _MAX_PIXELS:
        raise CorruptMedia(
            f"WebP declares {width}x{height} pixels, over the "
            f"{_MAX_PIXELS // 1_000_000}-megapixel limit; refusing a likely decompression bomb"
        )


def scrub_webp(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the WebP in ``src`` into ``dst``; see the module docstring."""
    data = src.read_rest()
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CorruptMedia("not a WebP: bad RIFF header")
    declared = struct.unpack("<I", data[4:8])[0]
    removed: list[Finding] = []
    kept: list[str] = []
    if declared + 8 < len(data):
        removed.append(Finding("trailer", f"{len(data) - declared - 8} bytes after the image end"))
    out: list[bytes] = []
    media = False
    for fourcc, body in _chunks(data[: declared + 8], 12):
        if fourcc == b"VP8X":
            if len(body) < 10:
                raise CorruptMedia("WebP extended header is too short")
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
            _check_canvas(width, height)
            flags = body[0] & ~(_VP8X_EXIF | _VP8X_XMP)
            icc = next((b for f, b in _chunks(data[: declared + 8], 12) if f == b"ICCP"), b"")
            if not standard_profile_name(icc):
                flags &= ~_VP8X_ICC
            body = bytes([flags]) + body[1:]
        elif fourcc == b"VP8 " and len(body) >= 10:
            _check_canvas(struct.unpack("<H", body[6:8])[0] & 0x3FFF, body[8] | body[9] << 8)
        elif fourcc == b"VP8L" and len(body) >= 5:
            bits = int.from_bytes(body[1:5], "little")
            _check_canvas((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if fourcc in _WEBP_MEDIA or fourcc == b"VP8X":
            media |= fourcc in _WEBP_MEDIA
        elif fourcc == b"ICCP" and standard_profile_name(body):
            kept.append("standard sRGB colour profile")
        else:
            removed.extend(_webp_finding(fourcc, body))
            continue
        out.append(fourcc + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1))
    if not media:
        raise CorruptMedia("WebP has no image data")
    payload = b"WEBP" + b"".join(out)
    dst.write(b"RIFF" + struct.pack("<I", len(payload)) + payload)
    return ScrubReport(format="webp", removed=removed, kept=kept)


def _webp_finding(fourcc: bytes, body: bytes) -> list[Finding]:
    if fourcc == b"EXIF":
        return read_exif(body if body.startswith(EXIF_PREFIX) else EXIF_PREFIX + body)[0]
    if fourcc == b"XMP ":
        return [Finding("xmp", f"XMP metadata ({len(body)} bytes)")]
    if fourcc == b"ICCP":
        return [Finding("icc", "ICC colour profile")]
    return [Finding("other", f"WebP chunk {printable(fourcc)} ({len(body)} bytes)")]


def _info_findings(body: bytes) -> list[Finding]:
    """Findings for a LIST chunk: each INFO entry by name and value."""
    if body[:4] != b"INFO":
        return [Finding("other", f"RIFF list {printable(body[:4])} ({len(body)} bytes)")]
    found = []
    try:
        for key, value in _chunks(body, 4):
            kind = {b"ICRD": "datetime", b"IART": "owner", b"ISFT": "software"}
            found.append(
                Finding(
                    kind.get(key, "comment"), f'RIFF INFO {printable(key)} "{printable(value)}"'
                )
            )
    except CorruptMedia:
        found.append(Finding("other", "RIFF INFO list (unreadable)"))
    return found


def scrub_wav(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the WAV in ``src`` into ``dst``; see the module docstring."""
    head = src.read_exact(12, "the WAV header")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise UnsupportedFormat("cannot clean this WAV: only RIFF WAVE files are supported")
    removed: list[Finding] = []
    kept: list[bytes] = []
    for _ in range(MAX_CHUNKS):
        fourcc, size = struct.unpack("<4sI", src.read_exact(8, "a WAV chunk header"))
        if fourcc == b"data":
            if not any(k.startswith(b"fmt ") for k in kept):
                raise CorruptMedia("WAV has no format chunk before its samples")
            pad = size & 1
            total = 4 + sum(len(k) for k in kept) + 8 + size + pad
            if total > 0xFFFFFFFF:
                raise UnsupportedFormat("cannot clean WAV files over 4 GiB")
            dst.write(b"RIFF" + struct.pack("<I", total) + b"WAVE" + b"".join(kept))
            dst.write(b"data" + struct.pack("<I", size))
            src.copy_exact(size, dst, "the WAV samples")
            if pad:  # writers often leave out the last pad byte; we always write it
                src.skip(1)
                dst.write(b"\x00")
            removed.extend(_after_data(src))
            return ScrubReport(format="wav", removed=removed)
        if size > MAX_META_BYTES:
            raise CorruptMedia(f"WAV chunk {printable(fourcc)} is implausibly large")
        body = src.read_exact(size, f"WAV chunk {printable(fourcc)}")
        if size & 1:
            src.read_exact(1, "a chunk pad byte")
        if fourcc in _WAV_KEEP:
            kept.append(fourcc + struct.pack("<I", size) + body + b"\x00" * (size & 1))
        elif fourcc == b"LIST":
            removed.extend(_info_findings(body))
        else:
            removed.append(Finding("other", f"WAV chunk {printable(fourcc)} ({size} bytes)"))
    raise CorruptMedia(f"WAV has more than {MAX_CHUNKS} chunks")


def _after_data(src: ByteSource) -> list[Finding]:
    """Report the chunks after the samples (all dropped); tolerate a ragged end."""
    found: list[Finding] = []
    for _ in range(MAX_CHUNKS):
        header = src.peek(8)
        if len(header) < 8:
            if src.drain():
                found.append(Finding("trailer", "bytes after the last chunk"))
            return found
        fourcc, size = struct.unpack("<4sI", header)
        src.read_exact(8, "a WAV chunk header")
        if fourcc == b"LIST" and size <= MAX_META_BYTES:
            body = src.peek(size)
            src.read_exact(len(body), "a WAV chunk")
            found.extend(_info_findings(body))
        else:
            src.skip(size)
            found.append(Finding("other", f"WAV chunk {printable(fourcc)} ({size} bytes)"))
        if size & 1:
            src.skip(1)
    raise CorruptMedia(f"WAV has more than {MAX_CHUNKS} chunks")
