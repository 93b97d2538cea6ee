"""Tell images from videos by their first bytes and fingerprint either.

The media type an attachment claims is not trusted: the bytes decide which
decoder sees them, so a video named ``.jpg`` is still hashed as a video.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import BinaryIO, Final

from sijil.errors import DamagedMedia, UnsupportedMedia
from sijil.media.loopback import Opener
from sijil.media.pdq import ImagePrint, hash_image
from sijil.media.video import VideoPrint, hash_video

__all__ = ["IMAGE", "VIDEO", "MediaPrint", "fingerprint_file", "sniff"]

IMAGE: Final = "image"
VIDEO: Final = "video"
HEAD_BYTES: Final = 64

MediaPrint = ImagePrint | VideoPrint

_IMAGE_BRANDS: Final = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def sniff(head: bytes) -> str | None:
    """``"image"``, ``"video"`` or None (not media sijil fingerprints)."""
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")):
        return IMAGE
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return VIDEO
    if head[4:8] == b"ftyp":
        return IMAGE if head[8:12] in _IMAGE_BRANDS else VIDEO
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return VIDEO
    return None


def _open(path: Path) -> BinaryIO:
    return path.open("rb")


def fingerprint_file(path: Path | Opener) -> MediaPrint:
    """PDQ for an image, per-second PDQ for a video; a typed MediaError otherwise.

    ``path`` is a file, or a function opening a seekable stream of the bytes each
    time it is called (the desk's vault: nothing decrypted is written to disk).
    """
    opener: Opener = path if not isinstance(path, Path) else partial(_open, path)
    try:
        with opener() as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise DamagedMedia("file cannot be read") from exc
    kind = sniff(head)
    if kind == IMAGE:
        try:
            with opener() as handle:
                return hash_image(handle)
        except UnsupportedMedia as exc:
            # it starts like an image, so an unreadable one is damaged, not foreign
            raise DamagedMedia("image signature but no readable image") from exc
    if kind == VIDEO:
        return hash_video(path)
    raise UnsupportedMedia("not an image or video format sijil fingerprints")
