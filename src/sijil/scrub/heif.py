"""Lossless HEIC/HEIF and AVIF cleaning: rebuild the item boxes, copy the image items.

A HEIF file is ``ftyp``, a ``meta`` box that lists *items* (coded images,
grids, the Exif block, XMP packets) with where their bytes are (``iloc``),
how they relate (``iref``) and their properties (``iprp``: sizes, colour,
rotation), and an ``mdat`` holding the bytes. Cleaning writes a new file:

* items of type ``Exif``, ``mime`` (XMP and any other document) and ``uri ``
  are dropped, as are thumbnails (``thmb`` references) and the image tiles
  only they use; references to or from dropped items go with them;
* colour profiles (``colr`` of type ``prof``/``rICC``) that are not a
  standard profile (icc.py) and user descriptions (``udes``) are dropped
  from the property container, and every item's associations renumbered;
* the handler box is rewritten without its name; boxes we do not know, at
  the top level or inside ``meta``, are dropped;
* a fresh ``mdat`` receives, byte for byte, the extents of the items that
  remain; ``iloc`` is rewritten to point at their new places. Bytes no kept
  item points at (old metadata, padding) are not carried over.

The coded image data never changes, so the decoded pixels are identical.
Image sequences (a ``moov`` box, as in animated AVIF or Live Photos) are
refused. Files are cleaned in memory.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.bmff import Fields, box, iter_boxes
from sijil.scrub.exif import EXIF_PREFIX, read_exif
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.icc import standard_profile_name
from sijil.scrub.limits import MAX_INMEMORY_BYTES, MAX_PIXELS

__all__ = ["MAX_HEIF_BYTES", "scrub_heif"]

MAX_HEIF_BYTES = MAX_INMEMORY_BYTES
# Items in one file: a 48-megapixel photo in 512x512 tiles has ~200.
MAX_ITEMS = 65_536
_META_ITEM_TYPES = {b"Exif", b"mime", b"uri "}
_KEEP_META = {b"pitm", b"dinf", b"grpl"}  # copied unchanged


def _items(data: bytes, start: int, end: int) -> dict[int, tuple[bytes, bytes, int]]:
    """iinf: {item_ID: (item_type, content_type, infe version and flags)}."""
    bits = Fields(data, start, end)
    version = bits.take(4) >> 24
    bits.take(2 if version == 0 else 4)
    items: dict[int, tuple[bytes, bytes, int]] = {}
    for kind, s, e in iter_boxes(data, bits.pos, end):
        if kind != b"infe" or len(items) >= MAX_ITEMS:
            continue
        entry = Fields(data, s, e)
        head = entry.take(4)
        infe_version = head >> 24
        if infe_version < 2:
            raise UnsupportedFormat("cannot clean HEIF files with old item entries")
        item_id = entry.take(2 if infe_version == 2 else 4)
        entry.take(2)
        item_type = entry.take(4).to_bytes(4, "big")
        entry.cstring()  # item name
        content = entry.cstring() if item_type == b"mime" else b""
        items[item_id] = (item_type, content, head)
    return items


_Extent = tuple[int, int]  # (absolute or idat-relative offset, length)


def _iloc(data: bytes, start: int, end: int) -> dict[int, tuple[int, list[_Extent]]]:
    """{item_ID: (construction_method, extents)} with base offsets folded in."""
    bits = Fields(data, start, end)
    version = bits.take(4) >> 24
    sizes = bits.take(2)
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    count = bits.take(2 if version < 2 else 4)
    if count > MAX_ITEMS:
        raise CorruptMedia("HEIF lists too many items")
    out: dict[int, tuple[int, list[_Extent]]] = {}
    for _ in range(count):
        item_id = bits.take(2 if version < 2 else 4)
        method = bits.take(2) & 15 if version in (1, 2) else 0
        if bits.take(2) != 0:
            raise UnsupportedFormat("cannot clean HEIF files whose images live in other files")
        base = bits.take(base_size)
        extents = []
        for _ in range(bits.take(2)):
            bits.take(index_size)
            extents.append((base + bits.take(off_size), bits.take(len_size)))
        if method == 2:
            raise UnsupportedFormat("cannot clean HEIF files with item-relative data")
        out[item_id] = (method, extents)
    return out


def _iref(data: bytes, start: int, end: int) -> list[tuple[bytes, int, list[int]]]:
    bits = Fields(data, start, end)
    width = 2 if bits.take(4) >> 24 == 0 else 4
    refs = []
    for kind, s, e in iter_boxes(data, bits.pos, end):
        ref = Fields(data, s, e)
        source = ref.take(width)
        refs.append((kind, source, [ref.take(width) for _ in range(ref.take(2))]))
    return refs


def _irefbox(refs: list[tuple[bytes, int, list[int]]]) -> bytes:
    wide = any(max([s, *t]) > 0xFFFF for _, s, t in refs)
    fmt = ">I" if wide else ">H"
    body = b"".join(
        box(
            k,
            struct.pack(fmt, s)
            + struct.pack(">H", len(t))
            + b"".join(struct.pack(fmt, x) for x in t),
        )
        for k, s, t in refs
    )
    return box(b"iref", bytes([1 if wide else 0, 0, 0, 0]) + body)


def _properties(
    data: bytes, start: int, end: int
) -> tuple[list[bytes], list[Finding], dict[int, int]]:
    """ipco: the kept property boxes, findings, and old 1-based index -> new index."""
    kept: list[bytes] = []
    found: list[Finding] = []
    renumber: dict[int, int] = {}
    for index, (kind, s, e) in enumerate(iter_boxes(data, start, end), 1):
        payload = data[s:e]
        if kind == b"ispe" and len(payload) >= 12:
            width, height = struct.unpack_from(">II", payload, 4)
            if width * height > MAX_PIXELS:
                raise CorruptMedia(
                    f"HEIF declares {width}x{height} pixels, over the "
                    f"{MAX_PIXELS // 1_000_000}-megapixel limit; "
                    "refusing a likely decompression bomb"
                )
        if kind == b"colr" and payload[:4] in (b"prof", b"rICC"):
            if not standard_profile_name(payload[4:]):
                found.append(Finding("icc", "ICC colour profile"))
                continue
        elif kind == b"udes":
            found.append(Finding("comment", "user description property"))
            continue
        kept.append(box(kind, payload))
        renumber[index] = len(kept)
    return kept, found, renumber


def _ipma(data: bytes, start: int, end: int, renumber: dict[int, int], drop: set[int]) -> bytes:
    bits = Fields(data, start, end)
    head = bits.take(4)
    version, flags = head >> 24, head & 0xFFFFFF
    wide_index = bool(flags & 1)
    entries = []
    for _ in range(bits.take(4)):
        item_id = bits.take(2 if version < 1 else 4)
        assoc = []
        for _ in range(bits.take(1)):
            raw = bits.take(2 if wide_index else 1)
            top = 0x8000 if wide_index else 0x80
            new = renumber.get(raw & (top - 1))
            if new is not None:
                assoc.append((raw & top, new))
        if item_id not in drop:
            entries.append((item_id, assoc))
    out = bytearray(bytes([version]) + (1).to_bytes(3, "big") + struct.pack(">I", len(entries)))
    for item_id, assoc in entries:
        out += item_id.to_bytes(2 if version < 1 else 4, "big") + bytes([len(assoc)])
        for essential, index in assoc:
            out += struct.pack(">H", (0x8000 if essential else 0) | index)
    return box(b"ipma", bytes(out))


def _describe(kind: bytes, content: bytes, body: bytes) -> list[Finding]:
    if kind == b"Exif":
        skip = int.from_bytes(body[:4], "big") if len(body) >= 4 else 0
        tiff = body[4 + skip :] if 4 + skip <= len(body) else b""
        return read_exif(tiff if tiff.startswith(EXIF_PREFIX) else EXIF_PREFIX + tiff)[0]
    if kind == b"mime" and (b"xml" in content or b"xmp" in content):
        return [Finding("xmp", f"XMP metadata ({len(body)} bytes)")]
    return [Finding("other", f"{printable(kind)} item {printable(content)} ({len(body)} bytes)")]


def _hdlr(data: bytes, start: int, end: int) -> bytes:
    handler = data[start + 8 : start + 12]
    return box(b"hdlr", b"\x00" * 8 + handler + b"\x00" * 13)


def _infe(item_id: int, item_type: bytes, head: int) -> bytes:
    """An item entry with its name left empty (names are free text)."""
    width = 2 if head >> 24 == 2 else 4
    return box(
        b"infe",
        struct.pack(">I", head) + item_id.to_bytes(width, "big") + b"\0\0" + item_type + b"\0",
    )


def _ilocbox(locs: dict[int, tuple[int, list[_Extent]]], base: int) -> bytes:
    """iloc version 1/2 with 4-byte offsets and lengths, idat offsets unshifted."""
    version = 2 if any(i > 0xFFFF for i in locs) else 1
    out = bytearray(bytes([version, 0, 0, 0]) + bytes([0x44, 0x00]))
    out += len(locs).to_bytes(2 if version == 1 else 4, "big")
    for item_id, (method, extents) in locs.items():
        out += item_id.to_bytes(2 if version == 1 else 4, "big")
        out += struct.pack(">HHH", method, 0, len(extents))
        shift = base if method == 0 else 0
        for offset, length in extents:
            out += struct.pack(">II", offset + shift, length)
    return box(b"iloc", bytes(out))


def _extent_bytes(source: bytes, extents: list[_Extent]) -> bytes:
    parts = []
    for offset, length in extents:
        length = length or len(source) - offset
        if offset < 0 or length < 0 or offset + length > len(source):
            raise CorruptMedia("HEIF is damaged: an item's data lies outside the file")
        parts.append(source[offset : offset + length])
    return b"".join(parts)


def _dropped_items(
    items: dict[int, tuple[bytes, bytes, int]],
    refs: list[tuple[bytes, int, list[int]]],
    primary: int,
) -> tuple[set[int], set[int]]:
    """(items to drop, of which thumbnails): metadata, thumbnails, tiles only they use."""
    thumbs = {source for kind, source, _ in refs if kind == b"thmb"} - {primary}
    drop = {i for i, (kind, _, _) in items.items() if kind in _META_ITEM_TYPES} | thumbs
    users: dict[int, set[int]] = {}
    for kind, source, targets in refs:
        if kind == b"dimg":
            for target in targets:
                users.setdefault(target, set()).add(source)
    changed = True
    while changed:
        changed = False
        for tile, sources in users.items():
            if tile not in drop and tile != primary and sources <= drop:
                drop.add(tile)
                changed = True
    return drop, thumbs


def scrub_heif(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the HEIC/HEIF/AVIF file in ``src`` into ``dst``; see the module docstring."""
    data = src.read_rest()
    top = list(iter_boxes(data))
    if not top or top[0][0] != b"ftyp":
        raise CorruptMedia("not a HEIF file: no file-type box first")
    removed: list[Finding] = []
    metas = [(s, e) for kind, s, e in top if kind == b"meta"]
    for kind, _, _end in top:
        if kind == b"moov":
            raise UnsupportedFormat("cannot clean HEIF image sequences or Live Photos")
        if kind not in (b"ftyp", b"meta", b"mdat", b"free", b"skip"):
            removed.append(Finding("other", f"box {printable(kind)}"))
    if len(metas) != 1:
        raise CorruptMedia("HEIF file must have exactly one meta box")
    meta_start, meta_end = metas[0]
    children: dict[bytes, tuple[int, int]] = {}
    order: list[bytes] = []
    for kind, s, e in iter_boxes(data, meta_start + 4, meta_end):
        if kind not in children:
            children[kind] = (s, e)
            order.append(kind)
    for needed in (b"hdlr", b"iinf", b"iloc", b"iprp", b"pitm"):
        if needed not in children:
            raise CorruptMedia(f"HEIF is damaged: no {needed.decode()} box")
    items = _items(data, *children[b"iinf"])
    locs = _iloc(data, *children[b"iloc"])
    refs = _iref(data, *children[b"iref"]) if b"iref" in children else []
    pitm = Fields(data, *children[b"pitm"])
    primary = pitm.take(2 if pitm.take(4) >> 24 == 0 else 4)
    idat = data[slice(*children[b"idat"])] if b"idat" in children else b""
    drop, thumbs = _dropped_items(items, refs, primary)
    for item_id in sorted(drop):
        kind, content, _ = items.get(item_id, (b"????", b"", 0))
        if item_id in thumbs:
            removed.append(Finding("thumbnail", "embedded thumbnail image"))
        elif kind in _META_ITEM_TYPES and item_id in locs:
            method, extents = locs[item_id]
            body = _extent_bytes(data if method == 0 else idat, extents)
            removed.extend(_describe(kind, content, body))
    # Properties and their associations.
    iprp_start, iprp_end = children[b"iprp"]
    iprp = dict((k, (s, e)) for k, s, e in iter_boxes(data, iprp_start, iprp_end))
    if b"ipco" not in iprp or b"ipma" not in iprp:
        raise CorruptMedia("HEIF is damaged: no item properties")
    props, found, renumber = _properties(data, *iprp[b"ipco"])
    removed.extend(found)
    new_iprp = box(
        b"iprp", box(b"ipco", b"".join(props)) + _ipma(data, *iprp[b"ipma"], renumber, drop)
    )
    # Item data: file-offset items into a new mdat, idat items into a new idat.
    kept_locs: dict[int, tuple[int, list[_Extent]]] = {}
    mdat, new_idat = bytearray(), bytearray()
    for item_id, (method, extents) in locs.items():
        if item_id in drop:
            continue
        target, source = (mdat, data) if method == 0 else (new_idat, idat)
        moved = []
        for offset, length in extents:
            piece = _extent_bytes(source, [(offset, length)])
            moved.append((len(target), len(piece)))
            target += piece
        kept_locs[item_id] = (method, moved)
    kept_items = {i: v for i, v in items.items() if i not in drop}
    entries = b"".join(_infe(i, kind, head) for i, (kind, _, head) in kept_items.items())
    new_iinf = box(b"iinf", b"\0\0\0\0" + struct.pack(">H", len(kept_items)) + entries)
    if len(kept_items) > 0xFFFF:
        new_iinf = box(b"iinf", b"\1\0\0\0" + struct.pack(">I", len(kept_items)) + entries)
    kept_refs = [(k, s, [t for t in ts if t not in drop]) for k, s, ts in refs if s not in drop]
    kept_refs = [(k, s, ts) for k, s, ts in kept_refs if ts]

    def metabox(base: int) -> bytes:
        parts = []
        for kind in order:
            s, e = children[kind]
            if kind == b"hdlr":
                parts.append(_hdlr(data, s, e))
            elif kind == b"iinf":
                parts.append(new_iinf)
            elif kind == b"iloc":
                parts.append(_ilocbox(kept_locs, base))
            elif kind == b"iref":
                parts.append(_irefbox(kept_refs) if kept_refs else b"")
            elif kind == b"iprp":
                parts.append(new_iprp)
            elif kind == b"idat":
                parts.append(box(b"idat", bytes(new_idat)))
            elif kind in _KEEP_META:
                parts.append(box(kind, data[s:e]))
            else:
                removed.append(Finding("other", f"meta box {printable(kind)}"))
        return box(b"meta", b"\0\0\0\0" + b"".join(parts))

    ftyp = data[: top[0][2]]
    base = len(ftyp) + len(metabox(0)) + 8
    removed[:] = list(dict.fromkeys(removed))
    dst.write(ftyp + metabox(base) + box(b"mdat", bytes(mdat)))
    return ScrubReport(
        format="heif", removed=list(dict.fromkeys(removed)), kept=["coded image items, unchanged"]
    )
