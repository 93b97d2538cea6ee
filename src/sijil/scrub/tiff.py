"""Lossless TIFF cleaning: a new file around the original image data.

A TIFF is a list of directories (pages) of tagged fields that point at strips
or tiles of image data anywhere in the file. Cleaning writes a fresh file:
for each full-size page, its strips or tiles are copied byte for byte (so
the pixels decode identically, whatever the compression), followed by a new
directory holding only the fields needed to decode and display them (the
``_IMAGE_TAGS`` below: size, sample layout, compression, colour
interpretation, palette, resolution, orientation, tiling, predictor ...).

Everything else is left behind: the EXIF and GPS sub-directories, make,
model, software, dates, artist, copyright, descriptions, XMP, IPTC and
Photoshop blocks, maker notes, sub-images (SubIFDs) and reduced-resolution
pages (thumbnails), and any ICC profile that is not a standard one. Nothing
is copied from the original except the image data and those fields, so
unreferenced bytes (old metadata left by editors) go too.

Camera RAW files (DNG and the TIFF-based vendor formats), BigTIFF and
old-style JPEG-in-TIFF are refused. TIFFs are cleaned in memory.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.exif import EXIF_PREFIX, read_exif
from sijil.scrub.findings import Finding, ScrubReport
from sijil.scrub.icc import standard_profile_name
from sijil.scrub.limits import MAX_INMEMORY_BYTES, MAX_PIXELS

__all__ = ["MAX_TIFF_BYTES", "scrub_tiff"]

MAX_TIFF_BYTES = MAX_INMEMORY_BYTES
# Pages kept or dropped in one file; scanners make multi-page TIFFs of tens.
MAX_PAGES = 1024
# Entries in one directory: real ones have 10-60.
MAX_ENTRIES = 4096
# Strips or tiles per page: a 250-megapixel image in 8-row strips is ~2,000.
MAX_PIECES = 1_000_000

_IMAGE_TAGS = frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 274, 277, 278, 280, 281,
        282, 283, 284, 290, 291, 292, 293, 296, 301, 317, 318, 319, 320, 321, 322, 323,
        332, 334, 338, 339, 340, 341, 347, 529, 530, 531, 532,
    }
)  # fmt: skip
_STRIP_OFFSETS, _STRIP_COUNTS, _TILE_OFFSETS, _TILE_COUNTS = 273, 279, 324, 325
_ICC, _XMP, _IPTC, _PHOTOSHOP, _SUBIFDS = 34675, 700, 33723, 34377, 330
_RAW_MARKERS = {50706: "DNG", 50708: "DNG", 33421: "camera RAW (CFA)"}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_LONG, _SHORT = 4, 3


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.bo = "<" if data[:2] == b"II" else ">"

    def unpack(self, fmt: str, pos: int) -> tuple[int, ...]:
        size = struct.calcsize(self.bo + fmt)
        if pos < 0 or pos + size > len(self.data):
            raise CorruptMedia("TIFF is damaged: a pointer leads outside the file")
        return struct.unpack_from(self.bo + fmt, self.data, pos)

    def directory(self, pos: int) -> tuple[dict[int, tuple[int, int, bytes]], int]:
        """Entries {tag: (type, count, raw value bytes)} and the next directory's offset."""
        (count,) = self.unpack("H", pos)
        if count > MAX_ENTRIES:
            raise CorruptMedia("TIFF directory has too many entries")
        entries: dict[int, tuple[int, int, bytes]] = {}
        for i in range(count):
            tag, kind, n = self.unpack("HHI", pos + 2 + 12 * i)
            size = _TYPE_SIZES.get(kind, 0) * n
            where = pos + 2 + 12 * i + 8
            if size > 4:
                (where,) = self.unpack("I", where)
            if size and where + size > len(self.data):
                raise CorruptMedia("TIFF is damaged: a field runs past the end of the file")
            entries[tag] = (kind, n, self.data[where : where + size])
        (following,) = self.unpack("I", pos + 2 + 12 * count)
        return entries, following

    def numbers(self, entry: tuple[int, int, bytes]) -> list[int]:
        kind, n, raw = entry
        code = {3: "H", 4: "I", 1: "B", 13: "I"}.get(kind)
        if code is None:
            raise CorruptMedia("TIFF is damaged: an offset field has the wrong type")
        return list(struct.unpack(f"{self.bo}{n}{code}", raw))

    def first(self, entry: tuple[int, int, bytes]) -> int:
        """A field's one value; a field with no values is damage (found by fuzzing)."""
        values = self.numbers(entry)
        if not values:
            raise CorruptMedia("TIFF is damaged: a field has no value")
        return values[0]


def _check_page(reader: _Reader, tags: dict[int, tuple[int, int, bytes]]) -> None:
    for tag, name in _RAW_MARKERS.items():
        if tag in tags:
            raise UnsupportedFormat(f"cannot clean {name} files")
    compression = reader.first(tags[259]) if 259 in tags else 1
    if compression == 6:
        raise UnsupportedFormat("cannot clean old-style JPEG-compressed TIFF files")
    if 256 not in tags or 257 not in tags:
        raise CorruptMedia("TIFF page has no image size")
    width, height = reader.first(tags[256]), reader.first(tags[257])
    if width * height > MAX_PIXELS:
        raise CorruptMedia(
            f"TIFF declares {width}x{height} pixels, over the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit; refusing a likely decompression bomb"
        )


def _page(reader: _Reader, tags: dict[int, tuple[int, int, bytes]], out: bytearray) -> int:
    """Append one page (data, then its directory) to ``out``; return the directory offset."""
    bo = reader.bo
    if _TILE_OFFSETS in tags:
        offsets_tag, counts_tag = _TILE_OFFSETS, _TILE_COUNTS
    else:
        offsets_tag, counts_tag = _STRIP_OFFSETS, _STRIP_COUNTS
    if offsets_tag not in tags or counts_tag not in tags:
        raise CorruptMedia("TIFF page has no image data pointers")
    offsets, counts = reader.numbers(tags[offsets_tag]), reader.numbers(tags[counts_tag])
    if len(offsets) != len(counts) or len(offsets) > MAX_PIECES:
        raise CorruptMedia("TIFF is damaged: image data pointers do not match")
    new_offsets = []
    for offset, count in zip(offsets, counts, strict=True):
        if offset + count > len(reader.data):
            raise CorruptMedia("TIFF is damaged: image data runs past the end of the file")
        out += b"\x00" * (len(out) & 1)  # word alignment
        new_offsets.append(len(out))
        out += reader.data[offset : offset + count]
    fields = {t: v for t, v in tags.items() if t in _IMAGE_TAGS}
    fields[offsets_tag] = (_LONG, len(offsets), struct.pack(f"{bo}{len(offsets)}I", *new_offsets))
    fields[counts_tag] = (_LONG, len(counts), struct.pack(f"{bo}{len(counts)}I", *counts))
    if _ICC in tags and standard_profile_name(tags[_ICC][2]):
        fields[_ICC] = tags[_ICC]
    entries = []
    for tag in sorted(fields):
        kind, n, raw = fields[tag]
        if len(raw) > 4:
            out += b"\x00" * (len(out) & 1)
            value = struct.pack(f"{bo}I", len(out))
            out += raw
        else:
            value = raw.ljust(4, b"\x00")
        entries.append(struct.pack(f"{bo}HHI", tag, kind, n) + value)
    out += b"\x00" * (len(out) & 1)
    where = len(out)
    out += struct.pack(f"{bo}H", len(entries)) + b"".join(entries) + b"\x00\x00\x00\x00"
    return where


def _findings(data: bytes, pages: list[dict[int, tuple[int, int, bytes]]]) -> list[Finding]:
    found, _ = read_exif(EXIF_PREFIX + data)
    found = [f for f in found if not f.text.startswith(("EXIF block", "embedded thumbnail"))]
    found = [f for f in found if f.text != "thumbnail directory (IFD1)"]
    names = {_XMP: ("xmp", "XMP metadata"), _IPTC: ("iptc", "IPTC metadata")}
    names |= {_PHOTOSHOP: ("iptc", "Photoshop data"), _SUBIFDS: ("thumbnail", "sub-images")}
    names |= {34665: ("exif", "EXIF directory"), 34853: ("gps", "GPS directory")}
    for tags in pages:
        for tag, (kind, text) in names.items():
            if tag in tags:
                found.append(Finding(kind, text))
        if _ICC in tags and not standard_profile_name(tags[_ICC][2]):
            found.append(Finding("icc", "ICC colour profile"))
    return list(dict.fromkeys(found))


def scrub_tiff(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the TIFF in ``src`` into ``dst``; see the module docstring."""
    data = src.read_rest()
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        raise UnsupportedFormat("cannot clean BigTIFF files")
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise CorruptMedia("not a TIFF: bad header")
    reader = _Reader(data)
    (offset,) = reader.unpack("I", 4)
    pages: list[dict[int, tuple[int, int, bytes]]] = []
    seen: set[int] = set()
    while offset:
        if offset in seen or len(pages) >= MAX_PAGES:
            raise CorruptMedia("TIFF is damaged: its pages loop or never end")
        seen.add(offset)
        tags, offset = reader.directory(offset)
        pages.append(tags)
    if not pages:
        raise CorruptMedia("TIFF has no pages")
    removed = _findings(data, pages)
    out = bytearray(data[:4] + b"\x00" * 4)
    link = 4  # where the offset of the next kept directory goes
    for tags in pages:
        _check_page(reader, tags)
        subfile = reader.first(tags[254]) if 254 in tags else 0
        if subfile & 1:  # reduced-resolution version of another page
            removed.append(Finding("thumbnail", "reduced-resolution copy (thumbnail)"))
            continue
        where = _page(reader, tags, out)
        out[link : link + 4] = struct.pack(f"{reader.bo}I", where)
        link = len(out) - 4
    if link == 4:
        raise CorruptMedia("TIFF has no full-size page")
    if len(out) > 0xFFFFFFFF:
        raise UnsupportedFormat("cannot clean TIFF files over 4 GiB")
    dst.write(bytes(out))
    kept = ["image data and the fields needed to decode it"]
    return ScrubReport(format="tiff", removed=removed, kept=kept)
