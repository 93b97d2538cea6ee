"""Reading audio tags (ID3v2, ID3v1, APEv2, Vorbis comments) for findings only.

Tags are never copied, only described, so the correspondent sees what their
voice note gave away. The bytes come from hostile files: every reader here is
bounded by the data it is handed and raises CorruptMedia at worst, and the
callers fence the description so an unreadable tag is still removed.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia
from sijil.scrub.findings import Finding, printable

__all__ = [
    "describe_ape",
    "describe_id3v1",
    "describe_id3v2",
    "describe_vorbis_comments",
    "id3v2_size",
    "synchsafe",
]

# Most tag entries described; the rest are counted. A phone screen shows a few.
_MAX_DESCRIBED = 64

_ID3_KINDS = {
    "TIT2": "title", "TPE1": "artist", "TPE2": "artist", "TALB": "album", "TCON": "genre",
    "TRCK": "track", "TYER": "year", "TDRC": "recording time", "TDAT": "date",
    "TENC": "encoded by", "TSSE": "encoder settings", "TCOP": "copyright", "TOWN": "owner",
    "TXXX": "user text", "COMM": "comment", "APIC": "picture", "GEOB": "embedded object",
    "PRIV": "private data", "USLT": "lyrics", "WXXX": "link", "TT2": "title", "TP1": "artist",
    "TAL": "album", "TYE": "year", "COM": "comment", "PIC": "picture",
}  # fmt: skip
_ID3_TIME = {"TYER", "TDRC", "TDAT", "TYE", "TIME", "TDEN", "TDTG", "TORY", "TDOR"}


def synchsafe(data: bytes) -> int:
    """A 28-bit ID3 "synchsafe" integer: four bytes of seven bits each."""
    if any(b & 0x80 for b in data):
        raise CorruptMedia("ID3 tag size is malformed")
    return data[0] << 21 | data[1] << 14 | data[2] << 7 | data[3]


def id3v2_size(header: bytes) -> int:
    """Whole size of the ID3v2 tag starting with the 10-byte ``header``, footer included."""
    if len(header) < 10 or header[:3] not in (b"ID3", b"3DI"):
        raise CorruptMedia("ID3 tag header is malformed")
    footer = 10 if header[5] & 0x10 else 0
    return 10 + synchsafe(header[6:10]) + footer


def _text(encoding: int, raw: bytes) -> str:
    codec = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}.get(encoding, "latin-1")
    return raw.decode(codec, "replace").replace("\x00", " / ").strip(" /")


def _frame_text(frame_id: str, body: bytes) -> str:
    if not body:
        return ""
    if frame_id.startswith("T"):
        return printable(_text(body[0], body[1:]))
    if frame_id in ("COMM", "COM", "USLT") and len(body) > 4:
        return printable(_text(body[0], body[4:]))
    if frame_id in ("APIC", "PIC", "GEOB", "PRIV"):
        return f"({len(body)} bytes)"
    return printable(body[:40].decode("latin-1"))


def describe_id3v2(tag: bytes) -> list[Finding]:
    """Findings for one whole ID3v2 tag (header included)."""
    major = tag[3] if len(tag) > 3 else 0
    found = [Finding("id3", f"ID3v2.{major} tag ({len(tag)} bytes)")]
    if len(tag) < 10 or major not in (2, 3, 4) or tag[5] & 0x80:
        return found  # unsynchronised or unknown: removed whole, not itemised
    try:
        _id3_frames(tag, major, found)
    except (CorruptMedia, struct.error, IndexError):
        found.append(Finding("id3", "ID3 frames (unreadable)"))
    return found


def _id3_frames(tag: bytes, major: int, found: list[Finding]) -> None:
    pos, end = 10, len(tag)
    if tag[5] & 0x40 and major >= 3:  # extended header
        size = struct.unpack(">I", tag[10:14])[0] if major == 3 else synchsafe(tag[10:14])
        pos += size + (4 if major == 3 else 0)
    idlen, hlen = (3, 6) if major == 2 else (4, 10)
    while pos + hlen <= end and len(found) <= _MAX_DESCRIBED:
        frame_id = tag[pos : pos + idlen]
        if not frame_id.strip(b"\x00"):
            break  # padding
        if major == 2:
            size = int.from_bytes(tag[pos + 3 : pos + 6], "big")
        elif major == 3:
            size = struct.unpack(">I", tag[pos + 4 : pos + 8])[0]
        else:
            size = synchsafe(tag[pos + 4 : pos + 8])
        body = tag[pos + hlen : pos + hlen + size]
        name = frame_id.decode("latin-1")
        label = _ID3_KINDS.get(name, f"frame {printable(name)}")
        kind = "datetime" if name in _ID3_TIME else ("owner" if "artist" in label else "id3")
        found.append(Finding(kind, f'ID3 {label} "{_frame_text(name, body)}"'))
        pos += hlen + size


def describe_id3v1(tag: bytes) -> list[Finding]:
    fields = (("title", 3, 33), ("artist", 33, 63), ("album", 63, 93), ("year", 93, 97))
    found = [Finding("id3", "ID3v1 tag")]
    for label, start, stop in fields:
        value = printable(tag[start:stop].decode("latin-1"))
        if value:
            found.append(
                Finding("datetime" if label == "year" else "id3", f'ID3v1 {label} "{value}"')
            )
    comment = printable(tag[97:125].decode("latin-1"))
    if comment:
        found.append(Finding("comment", f'ID3v1 comment "{comment}"'))
    return found


def describe_ape(tag: bytes) -> list[Finding]:
    """Findings for an APEv2 tag (items and footer, optional header)."""
    return [Finding("id3", f"APEv2 tag ({len(tag)} bytes)")]


def describe_vorbis_comments(block: bytes) -> list[Finding]:
    """Findings for a Vorbis comment block (FLAC VORBIS_COMMENT, Ogg headers)."""
    found: list[Finding] = []
    try:
        (vlen,) = struct.unpack("<I", block[:4])
        vendor = block[4 : 4 + vlen]
        pos = 4 + vlen
        (count,) = struct.unpack("<I", block[pos : pos + 4])
        pos += 4
        found.append(Finding("software", f'encoder "{printable(vendor)}"'))
        for _ in range(min(count, _MAX_DESCRIBED)):
            (size,) = struct.unpack("<I", block[pos : pos + 4])
            entry = block[pos + 4 : pos + 4 + size]
            pos += 4 + size
            key, _, value = entry.partition(b"=")
            name = printable(key).upper()
            kind = "datetime" if "DATE" in name or "TIME" in name else "comment"
            kind = "owner" if name in ("ARTIST", "AUTHOR", "PERFORMER") else kind
            kind = "gps" if "LOCATION" in name or "GPS" in name else kind
            found.append(Finding(kind, f'tag {name} "{printable(value)}"'))
    except struct.error:
        found.append(Finding("comment", "Vorbis comments (unreadable)"))
    return found
