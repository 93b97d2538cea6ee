"""sijil.scrub: remove identifying metadata from media before it is sealed.

A photo's GPS tag or camera serial can get a correspondent killed, so nothing
leaves the device unscrubbed. Every cleaner is lossless: pixels, audio
samples and video packets are copied byte for byte (H.264 video loses only
its SEI messages, where encoders sign their names; the frames decode the
same), only the structures around them are rewritten (see docs/scrub.md
for each format, and for what is identifying, what is kept and why). The
cleaner is chosen by the format ``detect_format`` reads from the magic
bytes, never from the file name.

    report = scrub("photo.jpg", dst)   # dst: a temp file the caller owns
    findings = inspect("photo.jpg")    # what the file would give away

On any error ``dst`` holds garbage: a partial, unusable file. The caller must
discard it (the field side writes to an anonymous temp file outside the
correspondent's home, which vanishes when closed). Only the video and Ogg
cleaner (ffmpeg needs files) creates files of its own, in a private scratch
folder it always removes (see ``sijil.scrub._workspace``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from sijil.errors import InputRefused, ScrubError, UnsupportedFormat
from sijil.fsutil import open_regular
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.av import MAX_AV_BYTES, scrub_mov, scrub_mp4, scrub_ogg
from sijil.scrub.detect import FORMAT_NAMES, HEAD_BYTES, detect_format
from sijil.scrub.findings import (
    IDENTIFYING_GROUPS,
    IDENTIFYING_TAGS,
    KEPT_TAGS,
    Finding,
    ScrubReport,
    is_identifying,
    leaks,
)
from sijil.scrub.flac import MAX_FLAC_BYTES, scrub_flac
from sijil.scrub.gif import MAX_GIF_BYTES, scrub_gif
from sijil.scrub.heif import MAX_HEIF_BYTES, scrub_heif
from sijil.scrub.jpeg import MAX_JPEG_BYTES, scrub_jpeg
from sijil.scrub.mp3 import MAX_MP3_BYTES, scrub_mp3
from sijil.scrub.pdf import MAX_PDF_BYTES, scrub_pdf
from sijil.scrub.png import MAX_PNG_BYTES, scrub_png
from sijil.scrub.riff import MAX_WAV_BYTES, MAX_WEBP_BYTES, scrub_wav, scrub_webp
from sijil.scrub.tiff import MAX_TIFF_BYTES, scrub_tiff

__all__ = [
    "IDENTIFYING_GROUPS",
    "IDENTIFYING_TAGS",
    "KEPT_TAGS",
    "REGISTRY",
    "Finding",
    "FormatCleaner",
    "ScrubReport",
    "detect_format",
    "inspect",
    "is_identifying",
    "leaks",
    "scrub",
    "survey",
]

Source = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class FormatCleaner:
    """How one format is cleaned: the function, and the largest input it takes."""

    clean: Callable[[ByteSource, Output], ScrubReport]
    max_bytes: int


# The formats that can be cleaned, keyed by detect_format()'s name.
REGISTRY: dict[str, FormatCleaner] = {
    "jpeg": FormatCleaner(scrub_jpeg, MAX_JPEG_BYTES),
    "png": FormatCleaner(scrub_png, MAX_PNG_BYTES),
    "gif": FormatCleaner(scrub_gif, MAX_GIF_BYTES),
    "webp": FormatCleaner(scrub_webp, MAX_WEBP_BYTES),
    "tiff": FormatCleaner(scrub_tiff, MAX_TIFF_BYTES),
    "heic": FormatCleaner(scrub_heif, MAX_HEIF_BYTES),
    "avif": FormatCleaner(scrub_heif, MAX_HEIF_BYTES),
    "mp4": FormatCleaner(scrub_mp4, MAX_AV_BYTES),
    "mov": FormatCleaner(scrub_mov, MAX_AV_BYTES),
    "mp3": FormatCleaner(scrub_mp3, MAX_MP3_BYTES),
    "ogg": FormatCleaner(scrub_ogg, MAX_AV_BYTES),
    "flac": FormatCleaner(scrub_flac, MAX_FLAC_BYTES),
    "wav": FormatCleaner(scrub_wav, MAX_WAV_BYTES),
    "pdf": FormatCleaner(scrub_pdf, MAX_PDF_BYTES),
}


def scrub(src: Source, dst: BinaryIO) -> ScrubReport:
    """Write a cleaned copy of ``src`` to ``dst`` and report what was removed.

    ``src`` is a path or a readable binary stream (read from its current
    position, not closed). The input is streamed, never held whole in memory.
    Raises UnsupportedFormat, CorruptMedia or ScrubError (I/O failure); then
    ``dst`` holds garbage and must be discarded.
    """
    return _run(src, Output(dst))


def inspect(src: Source) -> list[Finding]:
    """The identifying metadata ``src`` carries, in file order.

    Runs the same parser as scrub() into nowhere, so what inspect() reports is
    exactly what scrub() removes; the same errors apply.
    """
    return _run(src, Output(None)).removed


def survey(src: Source) -> ScrubReport:
    """What scrub() would report for ``src``, writing nothing.

    ``removed`` is inspect(); ``remaining`` what would stay (docs/scrub.md).
    """
    return _run(src, Output(None))


def _run(src: Source, sink: Output) -> ScrubReport:
    try:
        with _open(src) as stream:
            head = _read_head(stream)
            fmt = detect_format(head)
            cleaner = REGISTRY.get(fmt)
            if cleaner is None:
                raise UnsupportedFormat(_refusal(fmt, head))
            path = Path(src) if isinstance(src, str | os.PathLike) else None
            source = ByteSource(stream, cleaner.max_bytes, head, path)
            report = cleaner.clean(source, sink)
            # The detected name, not the cleaner's: HEIC and AVIF share one.
            return replace(report, format=fmt, bytes_in=source.consumed, bytes_out=sink.count)
    except OSError as exc:
        # Write errors were translated by the sink, so this is the input.
        # strerror only: the path may reveal the correspondent's home.
        raise ScrubError(f"cannot read the file: {exc.strerror or 'I/O error'}") from exc


def _refusal(fmt: str, head: bytes) -> str:
    supported = ", ".join(FORMAT_NAMES[name] for name in REGISTRY)
    if not head:
        return "cannot clean an empty file"
    if fmt == "unknown":
        return f"cannot clean this file: its type is not recognised (only {supported} can be)"
    return f"cannot clean {FORMAT_NAMES[fmt]} files yet; only {supported} files can be cleaned"


# The largest input any cleaner takes: a path is refused above it before a byte is
# read (each cleaner then holds its own format to its own, smaller, limit).
MAX_INPUT_BYTES = max(cleaner.max_bytes for cleaner in REGISTRY.values())


@contextmanager
def _open(src: Source) -> Iterator[BinaryIO]:
    """A path is opened without following a link or blocking on a FIFO, and only if
    it is a regular file (sijil.fsutil.open_regular); a stream is the caller's."""
    if isinstance(src, str | os.PathLike):
        try:
            stream = open_regular(os.fspath(src), max_bytes=MAX_INPUT_BYTES)
        except InputRefused as exc:
            raise ScrubError(str(exc)) from exc
        with stream:
            yield stream
    else:
        yield src


def _read_head(stream: BinaryIO) -> bytes:
    """The first HEAD_BYTES, looping because pipes may return short reads."""
    head = b""
    while len(head) < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head
