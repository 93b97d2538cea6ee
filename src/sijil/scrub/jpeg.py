"""Lossless JPEG cleaning: a rewrite of the marker segments, never a re-encode.

The image itself (quantisation and Huffman tables, frame and scan headers, the
entropy-coded data) is copied byte for byte, so the pixels a decoder produces
are bit-identical and the file's evidential value is untouched. Everything
else is dropped:

* APP1..APP15: EXIF (GPS, camera, serials, dates, maker notes, thumbnails),
  XMP, ICC profiles, Photoshop IRB/IPTC, MPF secondary-image indexes, vendor
  blobs. An ICC profile stays only when it is byte for byte a standard one
  (see icc.py): custom or device profiles carry makers and dates, and
  without one colour is read as sRGB, which is what phone cameras produce.
* COM comments, JFIF extension (JFXX) thumbnails, and any bytes after EOI
  (where MPF and some phones put a second, full-size image).

Rewritten rather than copied, so no stray byte survives:

* JFIF APP0: version and pixel density kept, thumbnail dropped. Kept at all
  because decoders use its presence to pick the colour space.
* Adobe APP14: only the colour-transform fields; decoders need them to read
  RGB and CMYK JPEGs with the right colours.
* Orientation: when the EXIF block said anything but 1 (upright), a fresh
  minimal EXIF block with only that tag, so the picture still displays the
  right way up.

Anything outside that grammar is refused rather than copied: we never pass on
bytes we do not understand.
"""

from __future__ import annotations

import struct

from sijil.errors import CorruptMedia, UnsupportedFormat
from sijil.scrub._source import ByteSource, Sink
from sijil.scrub.exif import EXIF_PREFIX, minimal_exif, read_exif
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.icc import standard_profile_name

__all__ = ["MAX_JPEG_BYTES", "MAX_PIXELS", "MAX_SEGMENTS", "scrub_jpeg"]

# Largest JPEG accepted. Memory use does not grow with the file (scans are
# streamed in chunks), but an endless or enormous stream must still end: no
# phone photo comes near 1 GiB.
MAX_JPEG_BYTES = 1 << 30

# Most marker segments in one file. Real photos have under 30 and progressive
# ones about 40; a flood of tiny segments is an attack on time, not a photo.
MAX_SEGMENTS = 4096

# Largest frame (width x height) accepted. Cleaning never decodes, but the
# desk's viewers and thumbnailers will: a small file declaring 65535x65535
# is a decompression bomb waiting for them. 250 megapixels is several times any
# phone camera. Over it we raise CorruptMedia: no camera makes such a file, so
# it is treated as a crafted one.
MAX_PIXELS = 250_000_000

# Longest run of 0xFF fill bytes before a marker. They are read one by one,
# so a file of nothing but 0xFF must not cost a byte-by-byte walk of 1 GiB.
_MAX_FILL = 4096

_SOI, _EOI, _SOS, _COM, _DNL = 0xD8, 0xD9, 0xDA, 0xFE, 0xDC
_APP0, _APP1, _APP2, _APP13, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xEF
# Frame headers: baseline, extended, progressive, lossless, Huffman or
# arithmetic. 0xC4 (DHT), 0xC8 (reserved) and 0xCC (DAC) share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Tables and restart interval: needed to decode, hold no metadata.
_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDD})  # DHT, DAC, DQT, DRI
_HIERARCHICAL = frozenset({0xDE, 0xDF})  # DHP, EXP

_XMP = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_JFIF_LEN = 14  # identifier, version, units, densities, thumbnail size


class _Cleaner:
    """State of one pass over one JPEG."""

    def __init__(self, src: ByteSource, dst: Sink) -> None:
        self.src, self.dst = src, dst
        self.removed: list[Finding] = []
        self.kept: list[str] = []
        self.frame_seen = False
        self.jfif_written = False
        self.orientation_done = False
        self.icc_parts: dict[int, bytes] = {}  # sequence number -> whole segment body

    def segment(self, code: int, body: bytes) -> None:
        self.dst.write(b"\xff" + bytes([code]) + struct.pack(">H", len(body) + 2) + body)

    def run(self) -> None:
        if self.src.read_exact(2, "the start-of-image marker") != b"\xff\xd8":
            raise CorruptMedia("not a JPEG: no start-of-image marker")
        self.dst.write(b"\xff\xd8")
        pending: int | None = None  # marker that ended the previous scan
        scanned = False
        for _ in range(MAX_SEGMENTS):
            code = self.next_marker() if pending is None else pending
            pending = None
            if code == _EOI:
                if not scanned:
                    raise CorruptMedia("JPEG has no image data before its end marker")
                self.dst.write(b"\xff\xd9")
                self.trailer()
                return
            if code < 0xC0:
                # Stuffing, TEM and reserved codes: damaged data, not a marker.
                raise CorruptMedia(f"JPEG is damaged: invalid marker 0xFF{code:02X}")
            if code == _SOI or 0xD0 <= code <= 0xD7:
                # A second SOI, or a restart marker outside a scan.
                raise CorruptMedia(f"JPEG is damaged: misplaced marker 0xFF{code:02X}")
            length = struct.unpack(">H", self.src.read_exact(2, "a segment length"))[0]
            if length < 2:
                raise CorruptMedia(f"JPEG segment 0xFF{code:02X} has a bad length")
            body = self.src.read_exact(length - 2, f"segment 0xFF{code:02X}")
            if code == _SOS:
                self.scan_header(body)
                pending, scanned = self.src.copy_jpeg_scan(self.dst), True
            elif code in _SOF:
                self.frame(code, body)
            elif code in _TABLES or (code == _DNL and scanned):
                self.segment(code, body)
            elif _APP0 <= code <= _APP15 or code == _COM:
                self.metadata(code, body)
            elif code in _HIERARCHICAL:
                raise UnsupportedFormat("cannot clean hierarchical JPEG files yet")
            else:
                raise UnsupportedFormat(
                    f"cannot clean this JPEG: it uses marker 0xFF{code:02X}, unknown to sijil"
                )
        raise CorruptMedia(f"JPEG has more than {MAX_SEGMENTS} segments")

    def next_marker(self) -> int:
        if self.src.read_byte("a marker") != 0xFF:
            where = self.src.consumed
            raise CorruptMedia(f"JPEG is damaged: stray bytes instead of a marker at byte {where}")
        # 0xFF fill bytes may precede a marker; encoders write a handful.
        for _ in range(_MAX_FILL):
            code = self.src.read_byte("a marker")
            if code != 0xFF:
                return code
        raise CorruptMedia("JPEG is damaged: a long run of 0xFF bytes where a marker belongs")

    def frame(self, code: int, body: bytes) -> None:
        if self.frame_seen:
            raise CorruptMedia("JPEG has more than one frame header")
        if len(body) < 6 or len(body) < 6 + 3 * body[5]:
            raise CorruptMedia("JPEG frame header is too short")
        height, width = struct.unpack(">HH", body[1:5])
        if width == 0 or body[5] == 0:
            raise CorruptMedia("JPEG frame header declares an empty image")
        if height == 0:
            raise UnsupportedFormat("cannot clean JPEGs whose height is given after the image data")
        if width * height > MAX_PIXELS:
            raise CorruptMedia(
                f"JPEG declares {width}x{height} pixels, over the "
                f"{MAX_PIXELS // 1_000_000}-megapixel limit; refusing a likely decompression bomb"
            )
        self.frame_seen = True
        self.segment(code, body)

    def scan_header(self, body: bytes) -> None:
        if not self.frame_seen:
            raise CorruptMedia("JPEG scan comes before its frame header")
        if not body or len(body) != 1 + 2 * body[0] + 3:
            raise CorruptMedia("JPEG scan header is malformed")
        self.segment(_SOS, body)

    def metadata(self, code: int, body: bytes) -> None:
        """Every APPn and COM segment: report it, and rewrite the few we keep."""
        if code == _COM:
            self.removed.append(Finding("comment", f'comment "{printable(body)}"'))
        elif code == _APP0 and body.startswith(b"JFIF\x00") and len(body) >= _JFIF_LEN:
            self.jfif(body)
        elif code == _APP0 and body.startswith(b"JFXX\x00"):
            self.removed.append(Finding("thumbnail", "JFIF extension thumbnail"))
        elif code == _APP1 and body.startswith(EXIF_PREFIX):
            self.exif(body)
        elif code == _APP1 and body.startswith(_XMP):
            self.removed.append(Finding("xmp", f"XMP metadata ({len(body)} bytes)"))
        elif code == _APP2 and body.startswith(b"ICC_PROFILE\x00") and len(body) > 14:
            self.icc(body)
        elif code == _APP2 and body.startswith(b"MPF\x00"):
            self.removed.append(Finding("thumbnail", "multi-picture index of extra images"))
        elif code == _APP13 and body.startswith(b"Photoshop 3.0\x00"):
            self.removed.append(Finding("iptc", f"Photoshop/IPTC block ({len(body)} bytes)"))
        elif code == _APP14 and body.startswith(b"Adobe") and len(body) >= 12:
            # Version, two flag words and the transform byte; any tail is dropped.
            self.segment(code, body[:12])
            self.kept.append(f"Adobe colour transform {body[11]}")
        else:
            label = printable(body.split(b"\x00", 1)[0][:20]) or "unlabelled"
            self.removed.append(
                Finding("other", f"APP{code - _APP0} segment {label} ({len(body)} bytes)")
            )

    def icc(self, body: bytes) -> None:
        """Gather a profile split over APP2 segments; write it back only if standard."""
        self.icc_parts[body[12]] = body
        total = body[13]
        if len(self.icc_parts) < total:
            return
        parts = [self.icc_parts.get(n, b"") for n in range(1, total + 1)]
        name = standard_profile_name(b"".join(p[14:] for p in parts))
        if name and all(parts) and len(self.icc_parts) == total:
            for part in parts:
                self.segment(_APP2, part)
            self.kept.append(f"standard colour profile {name}")
        else:
            self.removed.append(Finding("icc", "ICC colour profile"))
        self.icc_parts = {0: b""}  # a second profile is never complete: it is dropped

    def jfif(self, body: bytes) -> None:
        xthumb, ythumb = body[12], body[13]
        if xthumb and ythumb:
            self.removed.append(Finding("thumbnail", f"JFIF thumbnail {xthumb}x{ythumb}"))
        if self.jfif_written:
            return  # a second JFIF header is an anomaly; one is enough
        self.jfif_written = True
        # Identifier, version, density units and X/Y density; no thumbnail.
        self.segment(_APP0, body[:12] + b"\x00\x00")
        self.kept.append("JFIF header (no thumbnail)")

    def exif(self, body: bytes) -> None:
        found, orientation = read_exif(body)
        self.removed.extend(found)
        if self.orientation_done or orientation is None:
            return
        self.orientation_done = True  # the first EXIF block is the one viewers obey
        if orientation != 1:
            self.segment(_APP1, minimal_exif(orientation))
            self.kept.append(f"orientation {orientation}")

    def trailer(self) -> None:
        """Drop whatever follows EOI, and say what it looked like."""
        second = self.src.peek(3) == b"\xff\xd8\xff"
        count = self.src.drain()
        if count:
            what = " (another JPEG image)" if second else ""
            self.removed.append(Finding("trailer", f"{count} bytes after the image end{what}"))


def scrub_jpeg(src: ByteSource, dst: Sink) -> ScrubReport:
    """Clean the JPEG in ``src`` into ``dst``; see the module docstring.

    ``bytes_in``/``bytes_out`` are left 0 for the caller, who counts them.
    """
    cleaner = _Cleaner(src, dst)
    cleaner.run()
    if cleaner.icc_parts and cleaner.icc_parts != {0: b""}:
        cleaner.removed.append(Finding("icc", "ICC colour profile (incomplete)"))
    unique = list(dict.fromkeys(cleaner.removed))  # ICC chunks etc. repeat
    return ScrubReport(format="jpeg", removed=unique, kept=cleaner.kept)
