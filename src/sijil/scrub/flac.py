"""Lossless FLAC cleaning: keep the stream description, drop every other block.

A FLAC file is ``fLaC``, metadata blocks, then audio frames. Kept byte for
byte: STREAMINFO (sample rate, channels, the MD5 of the decoded audio) and
SEEKTABLE (seeking). Dropped: VORBIS_COMMENT (tags and the encoder's vendor
string), PICTURE (cover art, often a photo), APPLICATION (vendor data),
CUESHEET (disc and track identifiers) and PADDING. The frames are streamed
unchanged; an ID3 tag some taggers glue before or after the stream goes too.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.findings import Finding, ScrubReport
from sijil.scrub.limits import MAX_AUDIO_BYTES, MAX_CHUNKS, MAX_META_BYTES
from sijil.scrub.tags import describe_id3v1, describe_id3v2, describe_vorbis_comments, id3v2_size

__all__ = ["MAX_FLAC_BYTES", "scrub_flac"]

MAX_FLAC_BYTES = MAX_AUDIO_BYTES

_STREAMINFO, _PADDING, _APPLICATION, _SEEKTABLE, _COMMENT, _CUESHEET, _PICTURE = range(7)
_KEEP = (_STREAMINFO, _SEEKTABLE)


def _picture(body: bytes) -> Finding:
    try:
        (mlen,) = struct.unpack(">I", body[4:8])
        (dlen,) = struct.unpack(">I", body[8 + mlen : 12 + mlen])
        width, height = struct.unpack(">II", body[12 + mlen + dlen : 20 + mlen + dlen])
        return Finding("thumbnail", f"embedded picture {width}x{height}")
    except struct.error:
        return Finding("thumbnail", f"embedded picture ({len(body)} bytes)")


def scrub_flac(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the FLAC in ``src`` into ``dst``; see the module docstring."""
    removed: list[Finding] = []
    if src.peek(3) == b"ID3":
        tag = src.read_exact(id3v2_size(src.peek(10)), "an ID3 tag")
        removed.extend(describe_id3v2(tag))
    if src.read_exact(4, "the FLAC signature") != b"fLaC":
        raise CorruptMedia("not a FLAC file: bad signature")
    kept: list[tuple[int, bytes]] = []
    for index in range(MAX_CHUNKS):
        header = src.read_byte("a FLAC block header")
        kind, last = header & 0x7F, bool(header & 0x80)
        size = int.from_bytes(src.read_exact(3, "a FLAC block header"), "big")
        if kind == 127:
            raise CorruptMedia("FLAC is damaged: invalid metadata block type")
        if index == 0 and (kind != _STREAMINFO or size != 34):
            raise CorruptMedia("FLAC does not start with a valid stream description")
        if size > MAX_META_BYTES:
            raise CorruptMedia("FLAC metadata block is implausibly large")
        body = src.read_exact(size, "a FLAC metadata block")
        if kind in _KEEP:
            kept.append((kind, body))
        elif kind == _COMMENT:
            removed.extend(describe_vorbis_comments(body))
        elif kind == _PICTURE:
            removed.append(_picture(body))
        elif kind != _PADDING:
            names = {_APPLICATION: "application data", _CUESHEET: "cue sheet"}
            what = names.get(kind, f"metadata block type {kind}")
            removed.append(Finding("other", f"FLAC {what} ({size} bytes)"))
        if last:
            break
    else:
        raise CorruptMedia(f"FLAC has more than {MAX_CHUNKS} metadata blocks")
    dst.write(b"fLaC")
    for n, (kind, body) in enumerate(kept):
        flag = 0x80 if n == len(kept) - 1 else 0
        dst.write(bytes([flag | kind]) + len(body).to_bytes(3, "big") + body)
    if src.peek(2)[:1] != b"\xff" or len(src.peek(2)) < 2 or src.peek(2)[1] & 0xFE != 0xF8:
        raise CorruptMedia("FLAC is damaged: no audio frame after the metadata")
    tail = src.copy_rest(dst, keep_tail=128)
    if tail[:3] == b"TAG" and len(tail) == 128:
        removed.extend(describe_id3v1(tail))
    else:
        dst.write(tail)
    return ScrubReport(format="flac", removed=removed, kept=["stream description, seek table"])
