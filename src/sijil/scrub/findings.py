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
    "KEPT_TAGS",
    "NON_CONTENT_GROUPS",
    "Finding",
    "ScrubReport",
    "is_identifying",
    "leaks",
    "printable",
]

# exiftool tag names (shell-style globs) that can locate, date or name the
# person behind a file, or the device they carry. docs/scrub.md lists every
# entry (a test checks it), with what each means.
IDENTIFYING_TAGS: tuple[str, ...] = (
    # where
    "GPS*",  # EXIF/XMP position, altitude, speed, direction, GPS time
    "*GPS*",  # QuickTime GPSCoordinates, XMP exif:GPSLatitude ...
    "Location*",  # QuickTime location atoms and ISO 6709 keys
    "*Location",  # XMP-iptcCore Location, LocationShown ...
    "City",
    "Country*",
    "State",
    "Sub-location",
    "OffsetTime*",  # time zone = where
    "TimeZone*",
    # which device
    "Make",
    "Model",  # together with Make: narrows down to a device owner
    "*SerialNumber*",  # body, lens, internal serials: a device fingerprint
    "InternalSerial*",
    "CameraID",
    "ImageUniqueID",  # per-device counters link photos to one phone
    "ContentIdentifier",  # Apple's Live Photo link between photo and video
    "Lens*",
    "Software",  # firmware build can narrow the device
    "Firmware*",
    "HostComputer",
    "Encoder",  # muxer or app that wrote the file (HandBrake, a phone app)
    "EncodedBy",
    "Producer",  # PDF: the program that wrote it
    "Creator*",  # PDF Creator, XMP CreatorTool, dc:creator
    "Application",
    "PTEX*",  # pdfTeX banner: TeX distribution and its version
    # who
    "Artist",
    "Author*",
    "By-line*",
    "Copyright*",
    "Owner*",
    "*OwnerName",
    "Rights",
    # when
    "DateTime*",
    "*CreateDate",  # EXIF, XMP, PDF, QuickTime container, track and media dates
    "*ModifyDate",
    "MetadataDate",
    "CreationDate",
    "DateCreated",
    "Date",
    "Year",
    "RecordingTime",
    "*ReleaseTime",
    "SubSecTime*",
    # what was said about it
    "Title",
    "Subject",
    "Keywords",
    "Album",
    "Genre",
    "Track",
    "TrackNumber",
    "Product",
    "Comment*",
    "UserComment",
    "UserDefinedText",
    "ImageDescription",
    "Description",
    "XP*",  # Windows XPAuthor, XPComment, XPKeywords ...
    # copies of the picture
    "ThumbnailImage",  # an old, uncropped version of the picture
    "PreviewImage",
    "Picture",  # cover art in FLAC and ID3
    "CoverArt",
    # document identity
    "DocumentID",
    "InstanceID",
    "OriginalDocumentID",
)

# exiftool family-0 groups that are identifying as a whole: their contents vary
# by vendor and cannot be reviewed tag by tag.
IDENTIFYING_GROUPS: tuple[str, ...] = (
    "MakerNotes",  # vendor blobs: serials, owner names, face data
    "XMP",
    "IPTC",
    "Photoshop",
    "ICC_Profile",  # device/calibration profiles carry makers, dates (see icc.py)
    "MPF",  # secondary images
    "FlashPix",
    "Ducky",
    "PrintIM",
    "Trailer",
    "ID3",  # every ID3v1/ID3v2 frame
    "APE",  # APEv2 tags on MP3
    "Lyrics3",
)

# Tags that match the list above but are kept, and why (docs/scrub.md too).
KEPT_TAGS: tuple[str, ...] = (
    # The LAME/Xing header is the first frame of the MP3 stream itself: it holds
    # the gapless-playback delays. It names the encoder library, never a device.
    "MPEG:Encoder",
)

# Groups exiftool reports about the file on disk or about itself, not about
# anything inside the file; ignored when checking a cleaned file.
NON_CONTENT_GROUPS: tuple[str, ...] = ("ExifTool", "System", "Composite")

# A date exiftool prints for a zeroed field ("0000:00:00 00:00:00", or 0 with -n).
_ZERO = frozenset("0: ")
_QT_EPOCH = frozenset({"1904:01:01 00:00:00", "1904:01:01 00:00:00+00:00"})


def is_identifying(key: str) -> bool:
    """True if an ``exiftool -G0:1 -j`` key names identifying content.

    Keys look like ``"MakerNotes:Canon:SerialNumber"`` or ``"File:Comment"``.
    """
    *groups, name = key.split(":")
    if any(g in NON_CONTENT_GROUPS for g in groups):
        return False
    if groups and f"{groups[0]}:{name}" in KEPT_TAGS:
        return False
    if groups and groups[0] in IDENTIFYING_GROUPS:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IDENTIFYING_TAGS)


def leaks(key: str, value: object) -> bool:
    """True if ``key`` is identifying and ``value`` says something.

    Muxers must write the QuickTime date fields; zero (1904-01-01, shown by
    exiftool as "0000:00:00 00:00:00") is the field saying nothing.
    """
    if not is_identifying(key):
        return False
    text = str(value).strip()
    # 1904-01-01 00:00 UTC is QuickTime's epoch: what a zero field reads as
    # when exiftool converts times to UTC (-api QuickTimeUTC).
    return bool(text) and not set(text) <= _ZERO and text not in _QT_EPOCH


@dataclass(frozen=True)
class Finding:
    """One piece of identifying metadata, said plainly.

    ``kind`` is a short key ("gps", "camera", "serial", "datetime", "software",
    "thumbnail", "comment", "xmp", "iptc", "icc", "makernote", "owner", "exif",
    "trailer", "other"); ``text`` is for a person, e.g. "GPS 36.1200 N 39.0200 E".
    ``value`` is set only for the two facts verification mode can send to the
    desk: the capture position as "lat,lon" in signed decimal degrees (kind
    "gps"), and the capture time as ISO 8601 (kind "datetime").
    """

    kind: str
    text: str
    value: str | None = None


@dataclass(frozen=True)
class ScrubReport:
    """What a scrub did: ``removed`` was in the file and is gone; ``kept`` names
    what the cleaned file still says (e.g. "orientation 6"); ``remaining`` names
    what could point to the software behind the file and stays, because it is
    inside the coded audio or video (docs/scrub.md, "What is NOT removed")."""

    format: str
    removed: list[Finding] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
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
