"""sijil.scrub: remove identifying metadata from media before it is sealed.

A photo's GPS tag or camera serial can get a correspondent killed, so nothing
leaves the device unscrubbed. This interim scrubber cleans JPEG losslessly
(see ``sijil.scrub.jpeg``) and refuses every other format with
UnsupportedFormat naming it; the full scrubber adds cleaners to ``REGISTRY``,
keyed by the format that ``detect_format`` reads from the magic bytes (never
from the file name).

    report = scrub("photo.jpg", dst)   # dst: a temp file the caller owns
    findings = inspect("photo.jpg")    # what the file would give away

On any error ``dst`` holds garbage: a partial, unusable file. The caller must
discard it (the field side writes to an anonymous temp file outside the
correspondent's home, which vanishes when closed). This module never creates
files of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

from sijil.errors import ScrubError, UnsupportedFormat
from sijil.scrub._source import ByteSource, Sink
from sijil.scrub.detect import FORMAT_NAMES, HEAD_BYTES, detect_format
from sijil.scrub.findings import (
    IDENTIFYING_GROUPS,
    IDENTIFYING_TAGS,
    Finding,
    ScrubReport,
    is_identifying,
)
from sijil.scrub.jpeg import MAX_JPEG_BYTES, scrub_jpeg

__all__ = [
    "IDENTIFYING_GROUPS",
    "IDENTIFYING_TAGS",
    "REGISTRY",
    "Finding",
    "FormatCleaner",
    "ScrubReport",
    "detect_format",
    "inspect",
    "is_identifying",
    "scrub",
]

Source = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class FormatCleaner:
    """How one format is cleaned: the function, and the largest input it takes."""

    clean: Callable[[ByteSource, Sink], ScrubReport]
    max_bytes: int


# The formats that can be cleaned, keyed by detect_format()'s name.
REGISTRY: dict[str, FormatCleaner] = {
    "jpeg": FormatCleaner(scrub_jpeg, MAX_JPEG_BYTES),
}


def scrub(src: Source, dst: BinaryIO) -> ScrubReport:
    """Write a cleaned copy of ``src`` to ``dst`` and report what was removed.

    ``src`` is a path or a readable binary stream (read from its current
    position, not closed). The input is streamed, never held whole in memory.
    Raises UnsupportedFormat, CorruptMedia or ScrubError (I/O failure); then
    ``dst`` holds garbage and must be discarded.
    """
    return _run(src, _Counting(dst))


def inspect(src: Source) -> list[Finding]:
    """The identifying metadata ``src`` carries, in file order.

    Runs the same parser as scrub() into nowhere, so what inspect() reports is
    exactly what scrub() removes; the same errors apply.
    """
    return _run(src, _Counting(None)).removed


def _run(src: Source, sink: _Counting) -> ScrubReport:
    try:
        with _open(src) as stream:
            head = _read_head(stream)
            fmt = detect_format(head)
            cleaner = REGISTRY.get(fmt)
            if cleaner is None:
                raise UnsupportedFormat(_refusal(fmt, head))
            source = ByteSource(stream, cleaner.max_bytes, head)
            report = cleaner.clean(source, sink)
            return replace(report, bytes_in=source.consumed, bytes_out=sink.count)
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


@contextmanager
def _open(src: Source) -> Iterator[BinaryIO]:
    if isinstance(src, str | os.PathLike):
        with open(src, "rb") as stream:  # noqa: PTH123 - a plain path or PathLike
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


class _Counting:
    """Counts what is written; forwards to ``dst`` unless it is None (inspect)."""

    def __init__(self, dst: BinaryIO | None) -> None:
        self._dst = dst
        self.count = 0

    def write(self, data: bytes, /) -> int:
        if self._dst is not None:
            try:
                self._dst.write(data)
            except OSError as exc:
                raise ScrubError(
                    f"cannot write the cleaned file: {exc.strerror or 'I/O error'}"
                ) from exc
        self.count += len(data)
        return len(data)
