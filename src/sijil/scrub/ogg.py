"""Lossless Ogg Vorbis and Ogg Opus cleaning without ffmpeg (WhatsApp voice notes are Opus).

An Ogg stream is a run of pages; its first packets are headers: Vorbis has an
identification header, a comment header (the tags: title, artist, dates,
location, cover art, and the encoder's vendor string) and a setup header;
Opus has OpusHead and OpusTags. Audio starts on a fresh page after them.

Cleaning replaces the comment packet with an empty one (empty vendor string,
no comments), lays the header packets out again over *exactly as many pages*
as before, and copies every audio page byte for byte. Keeping the page count
keeps every later page's sequence number, so their checksums stay valid and
nothing of the audio is rewritten. The first page (identification header) is
copied unchanged.

Handled elsewhere: streams with several logical streams (Ogg Theora video,
multiplexed audio) and header layouts that cannot keep their page count go
to the ffmpeg remux (av.py). A second, chained stream later in the file is
refused: its own comment header would need the same treatment.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.findings import Finding, ScrubReport
from sijil.scrub.limits import MAX_CHUNKS, MAX_META_BYTES
from sijil.scrub.tags import describe_vorbis_comments

__all__ = ["ogg_crc", "scrub_ogg_native"]

_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, seq, crc, nsegs
_CONTINUED, _BOS = 0x01, 0x02


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, unreflected, initial 0."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc


def _page_at(data: bytes, pos: int) -> tuple[tuple[int, ...], list[int], int]:
    """(header fields, lacing values, page end) of the page at ``pos`` in ``data``."""
    if pos + 27 > len(data) or data[pos : pos + 4] != b"OggS":
        raise CorruptMedia("Ogg is damaged: a page does not start where one belongs")
    fields = _HEADER.unpack_from(data, pos)
    lacing = list(data[pos + 27 : pos + 27 + fields[7]])
    end = pos + 27 + fields[7] + sum(lacing)
    if len(lacing) != fields[7] or end > len(data):
        raise CorruptMedia("Ogg is damaged: a page is cut short")
    return fields, lacing, end


def _header_pages(data: bytes, wanted: int) -> tuple[list[bytes], int, int]:
    """The first ``wanted`` packets (after the first page) and the pages they use.

    Returns (packets, number of pages after the first, offset of the first audio page).
    """
    _, lacing, pos = _page_at(data, 0)
    if len(lacing) != 1 and not (lacing and all(v == 255 for v in lacing[:-1])):
        raise CorruptMedia("Ogg is damaged: the first page holds more than the stream header")
    packets: list[bytes] = []
    current = bytearray()
    pages = 0
    while len(packets) < wanted:
        fields, lacing, end = _page_at(data, pos)
        pages += 1
        body = pos + 27 + len(lacing)
        for value in lacing:
            current += data[body : body + value]
            body += value
            if value < 255:
                packets.append(bytes(current))
                current.clear()
        if fields[2] & _BOS:
            raise CorruptMedia("Ogg has several streams")
        pos = end
    if current or len(packets) != wanted:
        raise UnsupportedFormat("Ogg headers do not end on a page boundary")
    return packets, pages, pos


def _lay_out(packets: list[bytes], pages: int) -> list[tuple[list[int], list[bool]]] | None:
    """Lacing values split over exactly ``pages`` pages, or None if impossible."""
    lacing: list[int] = []
    ends: list[bool] = []
    for packet in packets:
        full, rest = divmod(len(packet), 255)
        lacing += [255] * full + [rest]
        ends += [False] * full + [True]
    if not pages <= len(lacing) <= 255 * pages:
        return None
    per, extra = divmod(len(lacing), pages)
    out, at = [], 0
    for i in range(pages):
        take = per + (1 if i < extra else 0)
        out.append((lacing[at : at + take], ends[at : at + take]))
        at += take
    return out


def scrub_ogg_native(src: ByteSource, dst: Output) -> ScrubReport | None:
    """Clean a single-stream Ogg Vorbis/Opus file; None if it needs the ffmpeg path."""
    head = src.peek(MAX_META_BYTES)
    fields, _, first_end = _page_at(head, 0)
    if not fields[2] & _BOS:
        raise CorruptMedia("Ogg does not start with a stream header")
    ident = head[27 + fields[7] : first_end]
    if ident.startswith(b"\x01vorbis"):
        wanted, empty = 2, b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01"
    elif ident.startswith(b"OpusHead"):
        wanted, empty = 1, b"OpusTags" + struct.pack("<II", 0, 0)
    else:
        return None  # Theora, FLAC-in-Ogg, Speex ...: ffmpeg
    try:
        if _HEADER.unpack_from(head, first_end)[2] & _BOS:
            return None  # several logical streams: ffmpeg
        packets, pages, audio_start = _header_pages(head, wanted)
    except struct.error as exc:
        raise CorruptMedia("Ogg is damaged: the headers are cut short") from exc
    layout = _lay_out([empty, *packets[1:]], pages)
    if layout is None:
        return None
    comment = packets[0]
    removed = describe_vorbis_comments(comment[7:] if wanted == 2 else comment[8:])
    serial, data = fields[4], [empty, *packets[1:]]
    dst.write(head[:first_end])
    stream = b"".join(data)
    at, continued = 0, False
    for seq, (lacing, ends) in enumerate(layout, 1):
        granule = 0 if any(ends) else -1
        body = stream[at : at + sum(lacing)]
        at += sum(lacing)
        header = _HEADER.pack(b"OggS", 0, _CONTINUED if continued else 0, granule, serial, seq, 0,
                              len(lacing)) + bytes(lacing)  # fmt: skip
        crc = ogg_crc(header + body)
        dst.write(header[:22] + struct.pack("<I", crc) + header[26:] + body)
        continued = not ends[-1]
    src.skip(audio_start)
    removed += _copy_audio(src, dst, serial)
    return ScrubReport(format="ogg", removed=removed, kept=["audio pages, unchanged"])


def _copy_audio(src: ByteSource, dst: Output, serial: int) -> list[Finding]:
    for _ in range(MAX_CHUNKS * 50):
        head = src.peek(27)
        if not head:
            return []
        if len(head) < 27 or head[:4] != b"OggS":
            junk = src.drain()
            return [Finding("trailer", f"{junk} bytes after the last Ogg page")]
        fields = _HEADER.unpack(head)
        if fields[4] != serial or fields[2] & _BOS:
            raise UnsupportedFormat("cannot clean Ogg files with chained or multiplexed streams")
        lacing = src.peek(27 + fields[7])[27:]
        size = 27 + fields[7] + sum(lacing)
        src.copy_exact(size, dst, "an Ogg page")
    raise CorruptMedia("Ogg has too many pages")
