"""Encoder banners inside H.264 and HEVC video: SEI "user data unregistered" messages.

x264 writes its version and every option it was run with ("x264 - core 164
r3095 baf4d3a - H.264/MPEG-4 AVC codec - ... options: cabac=1 ...") into a
Supplemental Enhancement Information (SEI) NAL unit of the first frame; phone
and app encoders may do the same. It sits inside the video packets, where no
container tag reaches, and names the software behind the file.

The video cleaner (av.py) drops every SEI NAL unit from H.264 streams with
ffmpeg's ``filter_units`` bitstream filter. SEI holds no picture data: the
decoded frames are identical (the tests compare ffmpeg ``framemd5``). This
module only reads the first frame, to tell the correspondent what went.

HEVC's SEI is kept: there it also carries HDR signalling (mastering display,
content light level, HLG's alternative transfer), and dropping it would
change how the video looks. x265's banner ("x265 (build 199) - 3.5+1...")
is read the same way and reported as kept.
"""

from __future__ import annotations

import re

from sijil.scrub.findings import printable

__all__ = ["DROP_SEI_BSF", "user_data_texts"]

# Every H.264 NAL unit of type 6 (SEI). Only for H.264: in HEVC, type 6 is a
# picture slice (RADL_N), so this filter must never reach another codec.
DROP_SEI_BSF = "filter_units=remove_types=6"

_NAL_SEI = 6
_HEVC_SEI = (39, 40)  # prefix and suffix SEI
_USER_DATA_UNREGISTERED = 5
_UUID_BYTES = 16
# Banners shown per stream; a first frame holds one, a crafted one could hold thousands.
_MAX_TEXTS = 4
_START_CODE = re.compile(rb"\x00\x00\x01")
_EMULATION = re.compile(rb"\x00\x00\x03")


def user_data_texts(annexb: bytes, *, hevc: bool = False) -> list[str]:
    """The text of each user-data-unregistered SEI message in an Annex B stream.

    H.264, or HEVC with ``hevc``. Tolerates any input (it comes from a hostile
    file): a malformed SEI ends the walk of that NAL unit, it never raises.
    """
    texts: list[str] = []
    for nal in _START_CODE.split(annexb)[1:]:
        nal = nal.rstrip(b"\x00")  # the next start code's leading zero byte
        header = 2 if hevc else 1
        if len(nal) <= header:
            continue
        is_sei = (nal[0] >> 1) & 0x3F in _HEVC_SEI if hevc else nal[0] & 0x1F == _NAL_SEI
        if not is_sei:
            continue
        for kind, payload in _sei_messages(_EMULATION.sub(b"\x00\x00", nal[header:])):
            if kind == _USER_DATA_UNREGISTERED and len(payload) > _UUID_BYTES:
                text = printable(payload[_UUID_BYTES:].split(b"\x00", 1)[0])
                if text and text not in texts:
                    texts.append(text)
            if len(texts) >= _MAX_TEXTS:
                return texts
    return texts


def _sei_messages(rbsp: bytes) -> list[tuple[int, bytes]]:
    """(payload type, payload) pairs of one SEI NAL unit's RBSP."""
    messages: list[tuple[int, bytes]] = []
    pos = 0
    # 0x80 alone is the RBSP trailing bits: the end of the messages.
    while pos < len(rbsp) and rbsp[pos:] != b"\x80":
        kind, pos = _ff_number(rbsp, pos)
        size, pos = _ff_number(rbsp, pos)
        if kind < 0 or size < 0 or pos + size > len(rbsp):
            break
        messages.append((kind, rbsp[pos : pos + size]))
        pos += size
    return messages


def _ff_number(data: bytes, pos: int) -> tuple[int, int]:
    """An SEI payload type or size: 0xFF bytes each add 255, the last byte ends it."""
    value = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value += byte
        if byte != 0xFF:
            return value, pos
    return -1, pos
