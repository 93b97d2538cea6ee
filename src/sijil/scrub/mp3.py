"""Lossless MP3 cleaning: copy the MPEG audio frames, drop every tag around them.

The file is walked frame by frame (each header gives the frame's length), so
the audio is copied byte for byte and anything that is not a frame is seen:
ID3v2 tags (at the start, or appended with a footer), ID3v1 (``TAG``, and
the 227-byte ``TAG+`` extension), APEv2 tags and Lyrics3 blocks are dropped
and reported. The first frame of many files is a Xing/LAME header: it is part
of the stream (gapless-playback delays, the seek table) and is kept, which
keeps the name of the encoder library it carries (see docs/scrub.md).

Bytes that are neither a frame nor a known tag are refused as damage, except
at the very end of the file (after the last whole frame), where cut-off
frames and junk from old taggers are common and are dropped and reported.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from sijil.errors import CorruptMedia
from sijil.scrub._source import CHUNK_BYTES, ByteSource, Output
from sijil.scrub.findings import Finding, ScrubReport
from sijil.scrub.flac import scrub_flac
from sijil.scrub.limits import MAX_AUDIO_BYTES, MAX_META_BYTES
from sijil.scrub.tags import describe_ape, describe_id3v1, describe_id3v2, id3v2_size

__all__ = ["MAX_MP3_BYTES", "frame_length", "scrub_mp3"]

MAX_MP3_BYTES = MAX_AUDIO_BYTES

# Junk tolerated after the last frame: a cut-off frame is at most 2,881 bytes,
# old taggers leave a few KB. More than this is damage in the middle.
_MAX_TAIL_JUNK = 64 * 1024

# kbit/s by [version is MPEG-1][layer] and bitrate index 1..14.
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def frame_length(header: bytes) -> int | None:
    """Length of the MPEG audio frame whose 4-byte header this is, or None."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values; free-format bitrate (0) is not supported
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if mpeg1 or layer == 2 else 72
    return per_frame * bitrate // rate + padding


def _same_stream(first: bytes, second: bytes) -> bool:
    """True if ``second`` is a frame header of the same version, layer and rate."""
    if frame_length(second) is None:
        return len(second) < 4 and second[:3] in (b"", b"TAG"[: len(second)])
    return first[1] & 0xFE == second[1] & 0xFE and first[2] & 0x0C == second[2] & 0x0C


def _ape_size(footer: bytes) -> int:
    """Whole APEv2 tag size from its 32-byte header or footer."""
    size, _count, flags = struct.unpack("<III", footer[12:24])
    return int(size) + (32 if flags & 0x80000000 else 0)


class _Batch:
    """Gathers the many small frame writes into chunk-sized ones."""

    def __init__(self, dst: Output) -> None:
        self._dst, self._buf = dst, bytearray()

    def write(self, data: bytes, /) -> int:
        self._buf += data
        if len(self._buf) >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._dst.write(bytes(self._buf))
            self._buf.clear()


def _tail(src: ByteSource, frames: int) -> Finding:
    """Drop unrecognised bytes if they are the file's last few; else refuse."""
    rest = src.skip(_MAX_TAIL_JUNK + 1)
    if rest > _MAX_TAIL_JUNK or frames == 0:
        raise CorruptMedia("MP3 is damaged: unrecognised data where an audio frame belongs")
    return Finding("trailer", f"{rest} bytes of unrecognised data after the audio")


def scrub_mp3(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the MP3 in ``src`` into ``dst``; see the module docstring."""
    removed: list[Finding] = []
    frames = 0
    out = _Batch(dst)
    while True:
        head = src.peek(10)
        if not head:
            break
        length = frame_length(head[:4])
        if length is not None:
            if not src.has(length):
                removed.append(_tail(src, frames))  # the last frame, cut off
                continue
            if frames == 0 and not _same_stream(head[:4], src.peek(length + 4)[length:]):
                # One frame header is 11 set bits and some valid fields: chance
                # finds it in any file. Two in a row, agreeing, are an MP3.
                raise CorruptMedia("not an MP3: no run of audio frames at the start")
            src.copy_exact(length, out, "an MPEG audio frame")
            frames += 1
            continue
        if head[:3] in (b"ID3", b"3DI"):
            size = id3v2_size(head)
            if size > MAX_META_BYTES:
                raise CorruptMedia("ID3 tag is implausibly large")
            if frames == 0 and head[:3] == b"ID3" and src.peek(size + 4)[size:] == b"fLaC":
                report = scrub_flac(src, dst)
                return replace(report, removed=removed + report.removed)
            tag = src.read_exact(size, "an ID3 tag")
            removed.extend(describe_id3v2(tag))
            continue
        if head[:8] == b"APETAGEX":
            header = src.peek(32)
            size = _ape_size(header) if len(header) == 32 else 0
            if not 32 <= size <= MAX_META_BYTES:
                raise CorruptMedia("APE tag is malformed")
            removed.extend(describe_ape(src.read_exact(size, "an APE tag")))
            continue
        if head[:3] == b"TAG":
            plus = head[:4] == b"TAG+" and len(src.peek(227 + 128)) == 227 + 128
            if plus:
                src.skip(227)
            tag = src.read_exact(128, "an ID3v1 tag") if len(src.peek(128)) == 128 else b""
            if tag:
                removed.extend(describe_id3v1(tag))
                continue
        removed.append(_tail(src, frames))
    if frames == 0:
        raise CorruptMedia("MP3 has no audio frames")
    out.flush()
    return ScrubReport(format="mp3", removed=removed)
