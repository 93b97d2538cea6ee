"""Lossless PNG (and APNG) cleaning: a walk over the chunks, never a re-encode.

Every chunk that makes up the picture is copied byte for byte, CRC included:
IHDR, PLTE, IDAT, IEND, the APNG animation chunks (acTL, fcTL, fdAT), and the
few ancillary chunks a viewer needs to show it right (transparency tRNS,
gamma gAMA, chromaticities cHRM, sRGB rendering intent, significant bits
sBIT, background bKGD, pixel density pHYs, and the HDR/colour signalling
cICP, mDCv, cLLi). These hold numbers about the picture, no text.

Everything else goes: text chunks (tEXt, zTXt, iTXt: comments, authors,
creation times, XMP, "Raw profile" EXIF dumps), eXIf, tIME (last
modification), iCCP unless it is a standard profile (see icc.py), sPLT
(named palettes), digital signatures and provenance manifests (dSIG, caBX),
and any chunk we do not know. An unknown *critical* chunk is refused: a
decoder would need it, so dropping it could change the picture. Bytes after
IEND are dropped.

Every chunk's CRC is checked as it is copied, so a damaged file is refused
rather than passed on half-cleaned.
"""

from __future__ import annotations

import struct
import zlib

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.exif import read_exif
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.icc import standard_profile_name
from sijil.scrub.limits import MAX_CHUNKS, MAX_IMAGE_BYTES, MAX_META_BYTES, MAX_PIXELS

__all__ = ["MAX_PNG_BYTES", "PNG_SIGNATURE", "scrub_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = MAX_IMAGE_BYTES

_KEEP = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT",
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD", b"pHYs",
        b"cICP", b"mDCv", b"cLLi",
    }
)  # fmt: skip
_TEXT = {b"tEXt", b"zTXt", b"iTXt"}
_STREAMED = {b"IDAT", b"fdAT"}  # may be huge: copied in chunks, never held


def _text_finding(kind: bytes, body: bytes) -> Finding:
    key, _, rest = body.partition(b"\x00")
    name = printable(key.decode("latin-1"))
    value = b""
    try:
        if kind == b"tEXt":
            value = rest
        elif kind == b"zTXt" and rest[:1] == b"\x00":
            value = zlib.decompressobj().decompress(rest[1:], 4096)
        elif kind == b"iTXt" and len(rest) >= 2:
            compressed, tail = rest[0], rest[2:]
            _lang, _, tail = tail.partition(b"\x00")
            _tkey, _, text = tail.partition(b"\x00")
            value = zlib.decompressobj().decompress(text, 4096) if compressed else text
    except zlib.error:
        value = b"(unreadable)"
    if name == "XML:com.adobe.xmp":
        return Finding("xmp", f"XMP metadata ({len(body)} bytes)")
    if name.lower().startswith("raw profile type"):
        return Finding("exif", f'PNG text "{name}" ({len(body)} bytes)')
    kinds = {"comment": "comment", "author": "owner", "creation time": "datetime"}
    kinds |= {"software": "software", "copyright": "owner", "source": "camera"}
    shown = printable(value.decode("utf-8", "replace"))
    return Finding(kinds.get(name.lower(), "comment"), f'PNG text "{name}": "{shown}"')


def _iccp(body: bytes) -> tuple[bool, Finding | None]:
    """(keep?, finding): keep a standard profile, report any other."""
    name, _, rest = body.partition(b"\x00")
    try:
        profile = zlib.decompressobj().decompress(rest[1:], MAX_META_BYTES)
    except zlib.error:
        profile = b""
    if standard_profile_name(profile):
        return True, None
    return False, Finding("icc", f'ICC colour profile "{printable(name.decode("latin-1"))}"')


def _ihdr(body: bytes) -> None:
    if len(body) != 13:
        raise CorruptMedia("PNG header chunk has the wrong length")
    width, height = struct.unpack(">II", body[:8])
    if width == 0 or height == 0:
        raise CorruptMedia("PNG header declares an empty image")
    if width * height > MAX_PIXELS:
        raise CorruptMedia(
            f"PNG declares {width}x{height} pixels, over the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit; refusing a likely decompression bomb"
        )


def scrub_png(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the PNG in ``src`` into ``dst``; see the module docstring."""
    if src.read_exact(8, "the PNG signature") != PNG_SIGNATURE:
        raise CorruptMedia("not a PNG: bad signature")
    dst.write(PNG_SIGNATURE)
    removed: list[Finding] = []
    kept: list[str] = []
    has_data = False
    for index in range(MAX_CHUNKS):
        length, kind = struct.unpack(">I4s", src.read_exact(8, "a PNG chunk header"))
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise CorruptMedia("PNG is damaged: a chunk header is invalid")
        if index == 0 and kind != b"IHDR":
            raise CorruptMedia("PNG does not start with its header chunk")
        header = struct.pack(">I4s", length, kind)
        if kind in _STREAMED:
            has_data |= kind == b"IDAT"
            dst.write(header)
            crc = src.copy_exact(length, dst, "PNG image data", zlib.crc32(kind))
            stored = src.read_exact(4, "a PNG chunk checksum")
            if struct.unpack(">I", stored)[0] != crc:
                raise CorruptMedia("PNG is damaged: an image data checksum does not match")
            dst.write(stored)
            continue
        if length > MAX_META_BYTES:
            raise CorruptMedia(f"PNG chunk {printable(kind)} is implausibly large")
        body = src.read_exact(length, f"PNG chunk {printable(kind)}")
        stored = src.read_exact(4, "a PNG chunk checksum")
        if struct.unpack(">I", stored)[0] != zlib.crc32(kind + body):
            raise CorruptMedia(f"PNG is damaged: chunk {printable(kind)} fails its checksum")
        keep = kind in _KEEP
        if kind == b"IHDR":
            _ihdr(body)
        elif kind == b"iCCP":
            keep, finding = _iccp(body)
            if finding:
                removed.append(finding)
            else:
                # The profile's name is the writer's free text: write a fixed one.
                body = b"sRGB\x00" + body.split(b"\x00", 1)[1]
                header = struct.pack(">I4s", len(body), kind)
                stored = struct.pack(">I", zlib.crc32(kind + body))
                kept.append("standard sRGB colour profile")
        elif kind in _TEXT:
            removed.append(_text_finding(kind, body))
        elif kind == b"eXIf":
            found, orientation = read_exif(b"Exif\x00\x00" + body)
            removed.extend(found)
            if orientation not in (None, 1):
                # PNG has no orientation field of its own; the rare viewer that
                # honours eXIf is not worth keeping a whole EXIF block for.
                removed.append(Finding("other", f"EXIF orientation {orientation} (not kept)"))
        elif kind == b"tIME":
            removed.append(Finding("datetime", "PNG last-modified time"))
        elif not keep:
            if not kind[0] & 0x20:  # uppercase first letter: critical
                raise UnsupportedFormat(
                    f"cannot clean this PNG: it needs chunk {printable(kind)}, unknown to sijil"
                )
            removed.append(Finding("other", f"PNG chunk {printable(kind)} ({length} bytes)"))
        if keep:
            dst.write(header + body + stored)
        if kind == b"IEND":
            if not has_data:
                raise CorruptMedia("PNG has no image data")
            trailing = src.drain()
            if trailing:
                removed.append(Finding("trailer", f"{trailing} bytes after the image end"))
            return ScrubReport(format="png", removed=list(dict.fromkeys(removed)), kept=kept)
    raise CorruptMedia(f"PNG has more than {MAX_CHUNKS} chunks")
