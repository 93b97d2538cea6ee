"""Reading an EXIF block for findings, and writing the one tag we keep.

EXIF is only *read* to tell the correspondent what was in the file and to
carry the Orientation over; it is never copied. Reading uses Pillow's TIFF
directory parser on the segment bytes alone (no image decode). A hostile or
broken block can make that parser raise almost anything, so every read is
fenced: on failure the block is still removed and reported as unreadable.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from collections.abc import Mapping
from typing import Any

from PIL import Image

from sijil.scrub.findings import Finding, printable

__all__ = ["EXIF_PREFIX", "minimal_exif", "read_exif"]

EXIF_PREFIX = b"Exif\x00\x00"

_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_IFD1 = -1  # Pillow's key for the thumbnail directory
_USER_COMMENT = 0x9286
_DATETIME_ORIGINAL = 0x9003
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")

# (directory, tag) -> (kind, label). Directory 0 is IFD0, the others are
# the Exif sub-IFD and IFD1; one table keeps the list reviewable.
_TEXT_TAGS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 0x010E): ("comment", "description"),
    (0, 0x0131): ("software", "software"),
    (0, 0x0132): ("datetime", "modified"),
    (0, 0x013B): ("owner", "artist"),
    (0, 0x013C): ("owner", "computer"),
    (0, 0x8298): ("owner", "copyright"),
    (0, 0xC62F): ("serial", "camera serial"),
    (_IFD_EXIF, 0x9003): ("datetime", "taken"),
    (_IFD_EXIF, 0x9004): ("datetime", "digitised"),
    (_IFD_EXIF, 0x9010): ("datetime", "time zone"),
    (_IFD_EXIF, 0x9011): ("datetime", "time zone"),
    (_IFD_EXIF, _USER_COMMENT): ("comment", "user comment"),
    (_IFD_EXIF, 0xA420): ("serial", "image id"),
    (_IFD_EXIF, 0xA430): ("owner", "owner"),
    (_IFD_EXIF, 0xA431): ("serial", "camera serial"),
    (_IFD_EXIF, 0xA433): ("camera", "lens make"),
    (_IFD_EXIF, 0xA434): ("camera", "lens"),
    (_IFD_EXIF, 0xA435): ("serial", "lens serial"),
}


def minimal_exif(orientation: int) -> bytes:
    """APP1 payload holding only Orientation: a TIFF header and one IFD0 entry.

    Hand-built so that nothing from the original block can ride along.
    """
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)  # big-endian, IFD0 at offset 8
    entry = struct.pack(">HHIHH", _ORIENTATION, 3, 1, orientation, 0)  # SHORT x1
    ifd = struct.pack(">H", 1) + entry + struct.pack(">I", 0)  # no IFD1
    return EXIF_PREFIX + tiff + ifd


def read_exif(payload: bytes) -> tuple[list[Finding], int | None]:
    """Findings for an APP1 EXIF payload, and its Orientation if valid (1-8)."""
    found = [Finding("exif", f"EXIF block ({len(payload)} bytes)")]
    try:
        with warnings.catch_warnings():
            # Pillow warns on every oddity of a broken block; we report instead.
            warnings.simplefilter("ignore")
            exif = Image.Exif()
            exif.load(payload)
            ifds: dict[int, Mapping[int, Any]] = {0: dict(exif)}
            for key, name in ((_IFD_EXIF, "Exif"), (_IFD_GPS, "GPS"), (_IFD1, "thumbnail")):
                # Fence each sub-directory so one broken pointer does not hide
                # the GPS position that another directory does hold.
                try:
                    ifds[key] = exif.get_ifd(key)
                except Exception:  # noqa: BLE001 - see the module docstring
                    ifds[key] = {}
                    found.append(Finding("exif", f"EXIF {name} directory (unreadable)"))
            found += _describe(ifds, payload[len(EXIF_PREFIX) :])
            raw = ifds[0].get(_ORIENTATION)
    except Exception:  # noqa: BLE001 - hostile bytes can break Pillow's parser in any way
        return [Finding("exif", "EXIF block (unreadable)")], None
    orientation = raw if isinstance(raw, int) and 1 <= raw <= 8 else None
    return found, orientation


def _describe(ifds: Mapping[int, Mapping[int, Any]], tiff: bytes) -> list[Finding]:
    found: list[Finding] = []
    ifd0, sub = ifds[0], ifds[_IFD_EXIF]
    make, model = printable(ifd0.get(0x010F, "")), printable(ifd0.get(0x0110, ""))
    if make or model:
        # Models usually repeat the make ("Canon" + "Canon EOS 40D").
        name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
        found.append(Finding("camera", f"camera {name.strip()}"))
    for (where, tag), (kind, label) in _TEXT_TAGS.items():
        raw = ifds[where].get(tag, "")
        if tag == _USER_COMMENT and isinstance(raw, bytes):
            raw = raw[8:]  # an 8-byte character-code header ("ASCII\0\0\0") leads
        value = printable(raw)
        if value:
            iso = _iso_time(value) if (where, tag) == (_IFD_EXIF, _DATETIME_ORIGINAL) else None
            found.append(Finding(kind, f"{label} {value}", iso))
    if ifds[_IFD_GPS]:
        found.append(_gps(ifds[_IFD_GPS]))
    note = sub.get(0x927C)
    if isinstance(note, bytes) and note:
        found.append(Finding("makernote", f"maker notes ({len(note)} bytes)"))
    if ifds[_IFD1]:
        found.append(Finding("thumbnail", _thumbnail(ifds[_IFD1], tiff)))
    return found


def _iso_time(value: str) -> str | None:
    """EXIF "2008:10:22 16:28:39" as ISO 8601 local time, or None if malformed."""
    m = _EXIF_TIME.fullmatch(value.strip())
    if not m or m[1] == "0000":
        return None
    return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}"


def _gps(gps: Mapping[int, Any]) -> Finding:
    lat = _degrees(gps.get(2), gps.get(1), "NS")
    lon = _degrees(gps.get(4), gps.get(3), "EW")
    if lat and lon:
        return Finding("gps", f"GPS {lat} {lon}", f"{_signed(lat)},{_signed(lon)}")
    return Finding("gps", f"GPS tags ({len(gps)}), no readable position")


def _signed(shown: str) -> str:
    """ "36.1200 N" -> "36.12", "39.0200 W" -> "-39.02" (manifest decimal form)."""
    number, hemi = shown.split()
    text = number.rstrip("0").rstrip(".") or "0"
    return f"-{text}" if hemi in "SW" and text != "0" else text


def _degrees(value: Any, ref: Any, hemispheres: str) -> str | None:
    """Degrees/minutes/seconds rationals as "36.1200 N", or None if unreadable."""
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    try:
        deg = float(value[0]) + float(value[1]) / 60 + float(value[2]) / 3600
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not math.isfinite(deg):
        return None
    hemi = printable(ref)[:1].upper() if ref else ""
    if hemi not in hemispheres:
        hemi = hemispheres[0]  # EXIF default is north/east when the ref is missing
    return f"{deg:.4f} {hemi}"


def _thumbnail(ifd1: Mapping[int, Any], tiff: bytes) -> str:
    """Describe IFD1's embedded JPEG thumbnail by its frame size when possible."""
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if isinstance(offset, int) and isinstance(length, int) and length > 0:
        size = _jpeg_size(tiff[offset : offset + length])
        if size:
            return f"embedded thumbnail {size[0]}x{size[1]}"
        return f"embedded thumbnail ({length} bytes)"
    return "thumbnail directory (IFD1)"


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a small in-memory JPEG's SOF, without decoding."""
    stream = io.BytesIO(data)
    if stream.read(2) != b"\xff\xd8":
        return None
    while True:
        marker = stream.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        code, length = marker[1], int.from_bytes(marker[2:4], "big")
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            sof = stream.read(5)
            if len(sof) < 5:
                return None
            return int.from_bytes(sof[3:5], "big"), int.from_bytes(sof[1:3], "big")
        if length < 2:
            return None
        stream.seek(length - 2, io.SEEK_CUR)
