"""A bounded, buffered byte source shared by the format cleaners.

Cleaners read headers a few bytes at a time but copy bulk data (a JPEG's
entropy-coded scans, later a video's sample data) in chunks, so one buffered
reader serves both. It counts every byte it hands out, which gives the report
its ``bytes_in`` without ever needing to seek or stat the input, and it refuses
to go past ``limit`` so an endless or enormous stream ends in bounded time.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO, Protocol

from sijil.errors import CorruptMedia, ScrubError

__all__ = ["CHUNK_BYTES", "ByteSource", "Output", "Sink"]

# Copy size for bulk data: large enough that per-call overhead is nothing on a
# 50 MB video, small enough that an old phone never holds much in memory.
CHUNK_BYTES = 256 * 1024


class Sink(Protocol):
    """Where cleaned bytes go: a file, a temp file, or a counter for inspect()."""

    def write(self, data: bytes, /) -> int | None: ...


class ByteSource:
    """Reads ``stream`` through a buffer, never more than ``limit`` bytes."""

    def __init__(
        self, stream: BinaryIO, limit: int, head: bytes = b"", path: Path | None = None
    ) -> None:
        # ``head`` holds bytes the caller already read to sniff the format;
        # they are served first so unseekable streams work too. ``path`` names
        # the regular file behind ``stream`` when there is one, so a cleaner
        # that runs an external tool can hand it the file instead of a copy.
        self.path = path
        self._stream = stream
        self._limit = limit
        self._buf = bytearray(head)
        self._pos = 0
        self._pulled = len(head)  # bytes taken from the stream so far
        self._eof = False
        if self._pulled > limit:
            raise CorruptMedia(f"file is larger than the {limit}-byte limit")

    @property
    def consumed(self) -> int:
        """Bytes handed out (or skipped) so far."""
        return self._pulled - (len(self._buf) - self._pos)

    def hand_over(self) -> Path | None:
        """Give the whole input to an external tool by path, if it is a regular file.

        Returns None (and changes nothing) for a stream, or for a file that has
        changed since it was opened. Otherwise the rest of the input counts as
        consumed, and the path is returned; a file over the limit is refused.
        """
        if self.path is None or self._pos != 0 or self._eof:
            return None
        try:
            info = os.fstat(self._stream.fileno())
            same = self.path.stat()
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (
            same.st_dev,
            same.st_ino,
        ):
            return None
        if info.st_size > self._limit:
            raise CorruptMedia(f"file is larger than the {self._limit}-byte limit")
        self._buf.clear()
        self._pulled, self._eof = info.st_size, True
        return self.path.resolve()

    def _fill(self) -> bool:
        """Append one chunk to the buffer; False at end of input."""
        if self._eof:
            return False
        chunk = self._stream.read(CHUNK_BYTES)
        if not chunk:
            self._eof = True
            return False
        self._pulled += len(chunk)
        if self._pulled > self._limit:
            raise CorruptMedia(f"file is larger than the {self._limit}-byte limit")
        # Drop what was already consumed so the buffer stays about one chunk.
        del self._buf[: self._pos]
        self._pos = 0
        self._buf += chunk
        return True

    def read_exact(self, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes, or CorruptMedia naming ``what`` was cut short."""
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise CorruptMedia(f"file ends inside {what}")
        data = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return data

    def read_byte(self, what: str) -> int:
        if self._pos >= len(self._buf) and not self._fill():
            raise CorruptMedia(f"file ends inside {what}")
        value = self._buf[self._pos]
        self._pos += 1
        return value

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes without consuming them (fewer only at end of input)."""
        while len(self._buf) - self._pos < n and self._fill():
            pass
        return bytes(self._buf[self._pos : self._pos + n])

    def copy_exact(self, n: int, dst: Sink, what: str, crc: int | None = None) -> int:
        """Stream exactly ``n`` bytes to ``dst`` in chunks; return their running CRC-32.

        ``crc`` starts a CRC-32 over the copied bytes (PNG checks its chunks
        with it); None skips the computation.
        """
        value = 0 if crc is None else crc
        while n > 0:
            if self._pos >= len(self._buf) and not self._fill():
                raise CorruptMedia(f"file ends inside {what}")
            take = min(n, len(self._buf) - self._pos)
            piece = bytes(self._buf[self._pos : self._pos + take])
            dst.write(piece)
            if crc is not None:
                value = zlib.crc32(piece, value)
            self._pos += take
            n -= take
        return value

    def has(self, n: int) -> bool:
        """True if ``n`` more bytes can be read, without consuming or copying them."""
        while len(self._buf) - self._pos < n:
            if not self._fill():
                return False
        return True

    def skip(self, n: int) -> int:
        """Consume up to ``n`` bytes without keeping them; fewer only at end of input."""
        done = 0
        while done < n:
            if self._pos >= len(self._buf) and not self._fill():
                break
            take = min(n - done, len(self._buf) - self._pos)
            self._pos += take
            done += take
        return done

    def read_rest(self) -> bytes:
        """Everything left, in memory (bounded by ``limit``)."""
        while self._fill():
            pass
        data = bytes(self._buf[self._pos :])
        self._pos = len(self._buf)
        return data

    def copy_rest(self, dst: Sink, keep_tail: int = 0) -> bytes:
        """Copy everything left to ``dst`` except the last ``keep_tail`` bytes, returned.

        Trailing tags (ID3v1 after FLAC audio) can only be recognised at the
        end, so the last bytes are held back while the rest streams through.
        """
        while True:
            more = self._fill()
            spare = len(self._buf) - self._pos - keep_tail
            if spare > 0:
                dst.write(bytes(self._buf[self._pos : self._pos + spare]))
                self._pos += spare
            if not more:
                tail = bytes(self._buf[self._pos :])
                self._pos = len(self._buf)
                return tail

    def drain(self) -> int:
        """Consume everything left, without keeping it; return how many bytes."""
        start = self.consumed
        self._pos = len(self._buf)
        while self._fill():
            self._pos = len(self._buf)
        return self.consumed - start

    def copy_jpeg_scan(self, dst: Sink) -> int:
        """Copy entropy-coded data to ``dst`` up to the next real marker.

        Inside a scan 0xFF is always followed by 0x00 (a stuffed data byte), by
        0xD0-0xD7 (a restart marker, part of the scan), or by more 0xFF (fill).
        Any other byte after 0xFF is a marker that ends the scan; its code is
        returned and both marker bytes are consumed but not copied. Only whole
        buffers are searched, so a 0xFF at a chunk boundary waits for the next
        chunk before it is judged.
        """
        start = self._pos  # first byte not yet written
        search = self._pos
        while True:
            i = self._buf.find(b"\xff", search)
            if i < 0 or i + 1 >= len(self._buf):
                # Flush all but a possible trailing 0xFF, then read on.
                keep_from = len(self._buf) if i < 0 else i
                dst.write(bytes(self._buf[start:keep_from]))
                self._pos = keep_from
                if not self._fill():
                    raise CorruptMedia("file ends before the end-of-image marker")
                start = search = self._pos
                continue
            code = self._buf[i + 1]
            if code == 0x00 or 0xD0 <= code <= 0xD7:
                search = i + 2
            elif code == 0xFF:
                search = i + 1  # fill byte; judge the next one
            else:
                dst.write(bytes(self._buf[start:i]))
                self._pos = i + 2
                return code


class Output:
    """Counts what is written; forwards to ``dst`` unless it is None (inspect).

    ``discarding`` tells a cleaner that nobody wants its output, so the ones
    that run external tools can skip the rewrite and only report.
    """

    def __init__(self, dst: BinaryIO | None) -> None:
        self._dst = dst
        self.count = 0

    @property
    def discarding(self) -> bool:
        return self._dst is None

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
