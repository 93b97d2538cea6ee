"""ISO base media file format (ISO/IEC 14496-12) boxes: walking and writing them.

Shared by the HEIF cleaner; every read is bounded by the box it is in, so a
size field that lies ends in CorruptMedia, never in a read past the data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from sijil.errors import CorruptMedia
from sijil.scrub.findings import printable

__all__ = ["Fields", "box", "iter_boxes"]


def iter_boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise CorruptMedia("HEIF is damaged: a box header is cut short")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise CorruptMedia("HEIF is damaged: a box header is cut short")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise CorruptMedia(f"HEIF is damaged: box {printable(kind)} has a bad size")
        yield kind, pos + header, pos + size
        pos += size


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


class Fields:
    """A cursor over a box payload reading big-endian fields of given byte widths."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def take(self, width: int) -> int:
        if width == 0:
            return 0
        if self.pos + width > self.end:
            raise CorruptMedia("HEIF is damaged: a field runs past its box")
        value = int.from_bytes(self.data[self.pos : self.pos + width], "big")
        self.pos += width
        return value

    def cstring(self) -> bytes:
        stop = self.data.find(b"\x00", self.pos, self.end)
        stop = self.end if stop < 0 else stop
        value = self.data[self.pos : stop]
        self.pos = min(stop + 1, self.end)
        return value
