"""Lossless GIF cleaning: a walk over the blocks, copying the picture verbatim.

Kept byte for byte: the header and logical screen descriptor, colour tables,
every image (descriptor and LZW data), graphic control extensions (frame
delays, transparency) and the NETSCAPE2.0/ANIMEXTS1.0 looping extension.

Dropped: comment extensions, plain-text extensions (rendered by almost no
viewer, and free text), every other application extension (XMP packets,
ICC profiles, editor data), and bytes after the trailer.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.limits import MAX_CHUNKS, MAX_IMAGE_BYTES, MAX_META_BYTES, MAX_PIXELS

__all__ = ["MAX_GIF_BYTES", "scrub_gif"]

MAX_GIF_BYTES = MAX_IMAGE_BYTES
_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _sub_blocks(src: ByteSource, dst: Output | None, what: str) -> bytes:
    """Walk data sub-blocks to the terminator; copy them to ``dst`` or collect them.

    Collected data (for findings) stops growing at MAX_META_BYTES.
    """
    collected = bytearray()
    for _ in range(MAX_IMAGE_BYTES // 256):
        size = src.read_byte(what)
        if dst is not None:
            dst.write(bytes([size]))
        if size == 0:
            return bytes(collected)
        if dst is not None:
            src.copy_exact(size, dst, what)
        else:
            block = src.read_exact(size, what)
            if len(collected) < MAX_META_BYTES:
                collected += block
    raise CorruptMedia(f"GIF {what} never ends")


def _color_table(flags: int) -> int:
    return 3 * (2 ** ((flags & 0x07) + 1)) if flags & 0x80 else 0


def scrub_gif(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the GIF in ``src`` into ``dst``; see the module docstring."""
    header = src.read_exact(13, "the GIF header")
    if header[:6] not in (b"GIF87a", b"GIF89a"):
        raise CorruptMedia("not a GIF: bad signature")
    width, height = struct.unpack("<HH", header[6:10])
    if width * height > MAX_PIXELS:
        raise CorruptMedia(
            f"GIF declares {width}x{height} pixels, over the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit; refusing a likely decompression bomb"
        )
    dst.write(header)
    src.copy_exact(_color_table(header[10]), dst, "the global colour table")
    removed: list[Finding] = []
    kept: list[str] = []
    images = 0
    for _ in range(MAX_CHUNKS):
        introducer = src.read_byte("a GIF block")
        if introducer == 0x3B:  # trailer
            if images == 0:
                raise CorruptMedia("GIF has no image")
            dst.write(b"\x3b")
            trailing = src.drain()
            if trailing:
                removed.append(Finding("trailer", f"{trailing} bytes after the image end"))
            return ScrubReport(format="gif", removed=removed, kept=kept)
        if introducer == 0x2C:  # image descriptor
            desc = src.read_exact(9, "a GIF image descriptor")
            left, top, w, h = struct.unpack("<HHHH", desc[:8])
            if left + w > 0xFFFF or top + h > 0xFFFF or w * h > MAX_PIXELS:
                raise CorruptMedia("GIF frame is out of bounds")
            dst.write(b"\x2c" + desc)
            src.copy_exact(_color_table(desc[8]), dst, "a local colour table")
            dst.write(bytes([src.read_byte("the LZW code size")]))
            _sub_blocks(src, dst, "image data")
            images += 1
            continue
        if introducer != 0x21:
            raise CorruptMedia(f"GIF is damaged: unknown block 0x{introducer:02X}")
        label = src.read_byte("a GIF extension")
        if label == 0xF9:  # graphic control: delays, transparency, disposal
            dst.write(b"\x21\xf9")
            _sub_blocks(src, dst, "a graphic control extension")
        elif label == 0xFE:
            text = _sub_blocks(src, None, "a comment")
            removed.append(Finding("comment", f'comment "{printable(text)}"'))
        elif label == 0xFF:
            size = src.read_byte("an application extension")
            ident = src.read_exact(size, "an application extension")
            if ident in _LOOPING:
                dst.write(b"\x21\xff" + bytes([size]) + ident)
                _sub_blocks(src, dst, "an application extension")
                kept.append("animation looping")
            else:
                data = _sub_blocks(src, None, "an application extension")
                what = "XMP metadata" if ident.startswith(b"XMP Data") else "application data"
                removed.append(
                    Finding(
                        "xmp" if what.startswith("XMP") else "other",
                        f"{what} {printable(ident)} ({len(data)} bytes)",
                    )
                )
        elif label == 0x01:
            text = _sub_blocks(src, None, "a plain-text extension")
            removed.append(Finding("comment", f'plain-text block "{printable(text[12:])}"'))
        else:
            data = _sub_blocks(src, None, "an extension")
            removed.append(Finding("other", f"GIF extension 0x{label:02X} ({len(data)} bytes)"))
    raise CorruptMedia(f"GIF has more than {MAX_CHUNKS} blocks")
