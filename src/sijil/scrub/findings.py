"""What a scrub reports, and the shared list of tags that identify people.

``IDENTIFYING_TAGS`` and ``IDENTIFYING_GROUPS`` are data, not code buried in a
cleaner: the tests check cleaned files against them with an independent reader
(exiftool), and the later full scrubber and the user documentation use the
same list, so "what we promise to remove" is written down exactly once.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

__all__ = [
    "IDENTIFYING_GROUPS",
    "IDENTIFYING_TAGS",
    "NON_CONTENT_GROUPS",
    "Finding",
    "ScrubReport",
    "is_identifying",
    "printable",
]

# exiftool tag names (shell-style globs) that can locate, date or name the
# person behind a picture, or the device they carry.
IDENTIFYING_TAGS: tuple[str, ...] = (
    "GPS*",  # position, altitude, speed, direction, GPS time
    "Make",
    "Model",  # together with Make: narrows down to a device owner
    "*SerialNumber*",  # body, lens, internal serials: a device fingerprint
    "InternalSerial*",
    "CameraID",
    "ImageUniqueID",  # per-device counters link photos to one phone
    "Lens*",
    "Artist",
    "Creator*",
    "By-line*",
    "Copyright*",
    "Owner*",
    "*OwnerName",
    "HostComputer",
    "Software",  # firmware build can narrow the device
    "DateTime*",
    "CreateDate",
    "ModifyDate",
    "SubSecTime*",
    "OffsetTime*",  # time zone = where
    "ThumbnailImage",  # an old, uncropped version of the picture
    "PreviewImage",
    "Comment",
    "UserComment",
    "ImageDescription",
    "XP*",  # Windows XPAuthor, XPComment, XPKeywords ...
)

# exiftool family-0 groups that are identifying as a whole: their contents vary
# by vendor and cannot be reviewed tag by tag.
IDENTIFYING_GROUPS: tuple[str, ...] = (
    "MakerNotes",  # vendor blobs: serials, owner names, face data
    "XMP",
    "IPTC",
    "Photoshop",
    "ICC_Profile",  # device/calibration profiles carry makers, dates
    "MPF",  # secondary images
    "FlashPix",
    "Ducky",
    "PrintIM",
    "Trailer",
)

# Groups exiftool reports about the file on disk or about itself, not about
# anything inside the file; ignored when checking a cleaned file.
NON_CONTENT_GROUPS: tuple[str, ...] = ("ExifTool", "System")


def is_identifying(key: str) -> bool:
    """True if an ``exiftool -G0:1 -j`` key names identifying content.

    Keys look like ``"MakerNotes:Canon:SerialNumber"`` or ``"File:Comment"``.
    """
    *groups, name = key.split(":")
    if any(g in NON_CONTENT_GROUPS for g in groups):
        return False
    if groups and groups[0] in IDENTIFYING_GROUPS:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IDENTIFYING_TAGS)


@dataclass(frozen=True)
class Finding:
    """One piece of identifying metadata, said plainly.

    ``kind`` is a short key ("gps", "camera", "serial", "datetime", "software",
    "thumbnail", "comment", "xmp", "iptc", "icc", "makernote", "owner", "exif",
    "trailer", "other"); ``text`` is for a person, e.g. "GPS 36.1200 N 39.0200 E".
    """

    kind: str
    text: str


@dataclass(frozen=True)
class ScrubReport:
    """What a scrub did: ``removed`` was in the file and is gone; ``kept`` names
    what the cleaned file still says (e.g. "orientation 6")."""

    format: str
    removed: list[Finding] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0


# Longest quoted value in a finding: enough to recognise, short on a phone screen.
_MAX_TEXT = 80


def printable(value: object) -> str:
    """A metadata value as a short, single-line, safe string.

    Values come from hostile files: control characters (terminal escapes,
    newlines that fake extra report lines) are shown as escapes, and long
    values are cut.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.strip("\x00 \t\r\n")
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    if len(out) > _MAX_TEXT:
        out = out[: _MAX_TEXT - 1] + "…"
    return out
