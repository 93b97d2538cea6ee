"""Format detection from magic bytes.

The file name is never consulted: a correspondent's phone may save a HEIC
photo as ``IMG_0001.JPG``, and a hostile file may lie on purpose. The result
selects a cleaner from the registry, and when there is none it names the
format in the refusal so the correspondent knows what they tried to send.
"""

from __future__ import annotations

__all__ = ["FORMAT_NAMES", "HEAD_BYTES", "detect_format"]

# Bytes needed to tell every format below apart (the ISO-BMFF brand list is
# the furthest anyone looks).
HEAD_BYTES = 64

# Human names used in messages, keyed by what detect_format() returns.
FORMAT_NAMES: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "tiff": "TIFF (or camera RAW)",
    "heic": "HEIC",
    "avif": "AVIF",
    "mp4": "MP4",
    "mov": "QuickTime MOV",
    "pdf": "PDF",
    "mp3": "MP3",
    "aac": "AAC",
    "ogg": "Ogg",
    "flac": "FLAC",
    "wav": "WAV",
    "avi": "AVI",
    "aiff": "AIFF",
    "amr": "AMR",
    "matroska": "Matroska/WebM",
    "bmp": "BMP",
    "psd": "Photoshop PSD",
    "jp2": "JPEG 2000",
    "jxl": "JPEG XL",
    "zip": "ZIP (or Office document)",
    "unknown": "unrecognised",
}

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Brands of HEIF containers that do not say which codec: look at compatibles.
_GENERIC_HEIF = {b"mif1", b"msf1", b"mif2"}


def _iso_bmff(head: bytes) -> str:
    """Tell HEIC, AVIF, MOV and MP4 apart by the ftyp box's brands."""
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    # Compatible brands follow the minor version, up to the box end.
    end = min(size, len(head)) if size >= 16 else 16
    brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS or (major in _GENERIC_HEIF and brands & _AVIF_BRANDS):
        return "avif"
    if major in _HEIF_BRANDS or major in _GENERIC_HEIF or brands & _HEIF_BRANDS:
        return "heic"
    if major == b"qt  ":
        return "mov"
    return "mp4"


def detect_format(head: bytes) -> str:
    """Name the format of a file from its first bytes (HEAD_BYTES suffice).

    Returns a key of FORMAT_NAMES; "unknown" when nothing matches.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
        return riff.get(head[8:12], "unknown")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _iso_bmff(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"  # old QuickTime files start without an ftyp box
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"8BPS"):
        return "psd"
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n"):
        return "jp2"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "jxl"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync without an ID3 tag; layer bits 00 mean ADTS AAC.
        return "mp3" if head[1] & 0x06 else "aac"
    return "unknown"
