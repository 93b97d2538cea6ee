"""Published media: re-encoded derivatives of chosen photos, never the originals.

An editor names the attachments a post shows (``sijil publish post --media SHA``,
the SHA-256 of an attachment of a report linked to the incident; none by
default). Each is decoded with Pillow and written as a new baseline JPEG from
its pixels alone, no larger than :data:`MAX_EDGE` on its longer side: no EXIF,
XMP, ICC profile, comment or thumbnail is carried over. The derivative is then
re-checked with :func:`sijil.scrub.inspect`; a file that still carries anything
identifying, or that cannot be decoded as a photo, stops the post.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from sijil import scrub
from sijil.errors import ScrubError

__all__ = [
    "JPEG_QUALITY",
    "MAX_EDGE",
    "MAX_PIXELS",
    "Derivative",
    "check_outgoing",
    "derive",
    "derive_all",
]

#: Long enough for a reader to see what a photo shows; small enough that fine
#: detail (a face in a crowd, a sign on a shop) is not sharper than needed.
MAX_EDGE = 1600
JPEG_QUALITY = 85
#: A decompression bomb guard: a phone photo is under 50 megapixels.
MAX_PIXELS = 80_000_000
MEDIA_TYPE = "image/jpeg"


@dataclass(frozen=True)
class Derivative:
    source_sha256: str  # the attachment it was made from (never published)
    sha256: str
    content: bytes
    media_type: str = MEDIA_TYPE

    def entry(self) -> dict[str, str]:
        """The post's ``media`` entry."""
        return {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "path": f"media/{self.sha256}.jpg",
        }


def check_outgoing(data: bytes) -> list[str]:
    """What identifying metadata ``data`` still carries, by kind ("serial", "gps"); [] if clean.

    A file the scrubber cannot parse counts as carrying something: unknown is not clean.
    """
    try:
        findings = scrub.inspect(io.BytesIO(data))
    except ScrubError:
        return ["unreadable"]
    return sorted({f.kind for f in findings})


def derive(original: bytes, source_sha256: str) -> Derivative:
    """A clean JPEG of the photo ``original``; ScrubError if it is no photo or stays unclean."""
    try:
        with Image.open(io.BytesIO(original)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ValueError("too many pixels")
            upright = ImageOps.exif_transpose(opened)
            upright.thumbnail((MAX_EDGE, MAX_EDGE))
            pixels = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ScrubError(
            f"attachment {source_sha256[:12]} cannot be re-encoded as a photo"
        ) from exc
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    data = out.getvalue()
    left = check_outgoing(data)
    if left:
        raise ScrubError(f"the derivative of {source_sha256[:12]} still carries {', '.join(left)}")
    return Derivative(
        source_sha256=source_sha256, sha256=hashlib.sha256(data).hexdigest(), content=data
    )


def derive_all(
    chosen: Sequence[str], read: Callable[[str], bytes]
) -> tuple[list[Derivative], list[str]]:
    """Derivatives of the chosen attachments, and one reason for each that failed."""
    made: list[Derivative] = []
    failed: list[str] = []
    for sha in chosen:
        try:
            made.append(derive(read(sha), sha))
        except ScrubError as exc:
            failed.append(str(exc))
    return made, failed
