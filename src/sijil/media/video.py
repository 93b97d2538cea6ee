"""vPDQ-style video fingerprints: one PDQ hash per second of video, via ffmpeg.

ffmpeg decodes, samples one frame a second and scales it to a small square
(PDQ reduces to 64x64 anyway), writing raw RGB to a pipe that is hashed frame
by frame, so memory stays flat however long the video is. Two videos are
compared as vPDQ does: the share of one's distinct frame hashes that have a
near twin in the other, in both directions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from sijil.errors import ConfigError, DamagedMedia, MediaTooLarge, UnsupportedMedia
from sijil.media.index import DEFAULT_RADIUS
from sijil.media.loopback import Opener, serve_stream
from sijil.media.pdq import HASH_SIDE, hash_pixels

__all__ = [
    "FRAME_RECORD",
    "FRAME_SIDE",
    "MAX_VIDEO_SECONDS",
    "MIN_FRAME_QUALITY",
    "VideoPrint",
    "hash_video",
    "match_videos",
    "pack_frames",
    "unpack_frames",
]

# PDQ's grid: ffmpeg resamples each sampled frame straight to it (as for images).
FRAME_SIDE: Final = HASH_SIDE
FRAME_BYTES: Final = FRAME_SIDE * FRAME_SIDE * 3
# Six hours at one frame a second; a longer "video" is refused, not hashed for hours.
MAX_VIDEO_SECONDS: Final = 6 * 3600
# ffmpeg gets this long per started hour of video before it is killed, so a
# file crafted to stall the decoder ends in an error instead of a hang.
DECODE_SECONDS_PER_HOUR: Final = 900
PROBE_TIMEOUT_S: Final = 30
#: Frames under this PDQ quality (flat, black, fades) match too easily to count.
MIN_FRAME_QUALITY: Final = 50
# one stored frame: its 32-byte hash then its quality byte
FRAME_RECORD: Final = 33


@dataclass(frozen=True, kw_only=True)
class VideoPrint:
    """Per-second PDQ hashes of a video (index i is second i) and its size."""

    frames: tuple[tuple[bytes, int], ...]
    width: int
    height: int
    duration_s: float

    def distinct(self, *, min_quality: int = MIN_FRAME_QUALITY) -> list[bytes]:
        """Distinct usable frame hashes, in order of first appearance."""
        seen: dict[bytes, None] = {}
        for digest, quality in self.frames:
            if quality >= min_quality:
                seen.setdefault(digest, None)
        return list(seen)


def pack_frames(frames: tuple[tuple[bytes, int], ...]) -> bytes:
    return b"".join(digest + bytes([quality]) for digest, quality in frames)


def unpack_frames(blob: bytes) -> tuple[tuple[bytes, int], ...]:
    if len(blob) % FRAME_RECORD:
        raise DamagedMedia("stored video fingerprint has a partial frame")
    return tuple((blob[i : i + 32], blob[i + 32]) for i in range(0, len(blob), FRAME_RECORD))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} is not installed (scripts/install-tools.sh installs it)")
    return found


# a stream is read through ffmpeg's HTTP reader (sijil.media.loopback): that protocol only
_HTTP_ONLY: Final = ("-protocol_whitelist", "http,tcp")


def _input(source: str | Path) -> list[str]:
    """``-i`` and the input, after the options a loopback URL needs."""
    if isinstance(source, Path):
        return ["-i", str(source)]
    return [*_HTTP_ONLY, "-i", source]


def _probe(source: str | Path) -> tuple[int, int, float]:
    target = [str(source)] if isinstance(source, Path) else [*_HTTP_ONLY, source]
    command = [
        _tool("ffprobe"), "-v", "error", "-select_streams", "v:0",
        "-show_entries", "stream=width,height,duration:format=duration",
        "-of", "json", *(["--"] if isinstance(source, Path) else []), *target,
    ]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DamagedMedia("video container could not be read in time") from exc
    try:
        info = json.loads(done.stdout or b"{}")
    except ValueError as exc:
        raise DamagedMedia("video container does not parse") from exc
    streams = info.get("streams") or []
    if done.returncode != 0 and not streams:
        raise DamagedMedia("video container does not parse")
    if not streams:
        raise UnsupportedMedia("file has no video stream")
    stream = streams[0]
    duration = stream.get("duration") or (info.get("format") or {}).get("duration") or 0
    try:
        return int(stream.get("width") or 0), int(stream.get("height") or 0), float(duration)
    except (TypeError, ValueError) as exc:
        raise DamagedMedia("video stream has no readable size or duration") from exc


def hash_video(source: Path | Opener) -> VideoPrint:
    """Hash one frame per second of the first video stream of ``source``.

    ``source`` is a file, or a function opening a seekable stream of the video
    (served to ffmpeg on loopback, :mod:`sijil.media.loopback`: no file is written).
    """
    if isinstance(source, Path):
        return _hash_video(source)
    with serve_stream(source) as url:
        return _hash_video(url)


def _hash_video(path: str | Path) -> VideoPrint:
    width, height, duration = _probe(path)
    if duration > MAX_VIDEO_SECONDS:
        raise MediaTooLarge(f"video of {duration:.0f} s is over the {MAX_VIDEO_SECONDS} s limit")
    command = [
        _tool("ffmpeg"), "-nostdin", "-v", "error", *_input(path),
        "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", f"fps=1,scale={FRAME_SIDE}:{FRAME_SIDE}:flags=lanczos",
        "-frames:v", str(MAX_VIDEO_SECONDS),
        "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    timeout = DECODE_SECONDS_PER_HOUR * (1 + int(duration // 3600))
    frames: list[tuple[bytes, int]] = []
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        stdout = process.stdout
        if stdout is None:  # pragma: no cover - PIPE always gives a stream
            raise DamagedMedia("ffmpeg gave no output stream")
        try:
            while True:
                chunk = stdout.read(FRAME_BYTES)
                if len(chunk) < FRAME_BYTES:
                    break
                rgb = np.frombuffer(chunk, dtype=np.uint8).reshape(FRAME_SIDE, FRAME_SIDE, 3)
                print_ = hash_pixels(rgb, width=FRAME_SIDE, height=FRAME_SIDE)
                frames.append((print_.pdq, print_.quality))
        finally:
            stdout.close()
            code = process.wait()
            timer.cancel()
        if not frames:
            errors.seek(0)
            first = errors.read(2000).decode("utf-8", "replace").strip().splitlines()
            why = "stopped: decoding took too long" if code < 0 else "no frame could be decoded"
            detail = f" ({first[0][:120]})" if first and code >= 0 else ""
            raise DamagedMedia(f"video {why}{detail}")
    return VideoPrint(frames=tuple(frames), width=width, height=height, duration_s=duration)


def _matrix(hashes: list[bytes]) -> np.ndarray[tuple[int, int], np.dtype[np.uint64]]:
    return np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(-1, 4)


def match_videos(
    query: list[bytes], candidate: list[bytes], *, radius: int = DEFAULT_RADIUS
) -> tuple[float, float]:
    """vPDQ scores: share of query frames found in candidate, and the reverse (0..1)."""
    if not query or not candidate:
        return 0.0, 0.0
    q, c = _matrix(query), _matrix(candidate)
    q_hit = np.zeros(len(q), dtype=bool)
    c_hit = np.zeros(len(c), dtype=bool)
    # blocks of query rows bound the distance matrix's memory on long videos
    for start in range(0, len(q), 256):
        block = q[start : start + 256]
        dist = np.bitwise_count(block[:, None, :] ^ c[None, :, :]).sum(axis=2)
        near = dist <= radius
        q_hit[start : start + 256] = near.any(axis=1)
        c_hit |= near.any(axis=0)
    return float(q_hit.mean()), float(c_hit.mean())
