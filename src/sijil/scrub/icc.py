"""Which ICC colour profiles may stay in a cleaned file.

A colour profile is needed to show colours right, but most profiles are not
neutral: a display calibration profile ("Color LCD") carries the date that
one machine was calibrated, and profiles written by editors (GIMP, lcms)
carry the moment of export. So a profile is kept only when its bytes are, to
the byte, a published standard profile that countless devices embed
unchanged; every other profile is removed and reported. Pixels are never
touched either way: a viewer then assumes sRGB.

Listed by SHA-256 of the whole profile, with the evidence that it identifies
no one. Adding one needs the same kind of evidence (see docs/scrub.md).
"""

from __future__ import annotations

import hashlib

__all__ = ["STANDARD_ICC_PROFILES", "standard_profile_name"]

STANDARD_ICC_PROFILES: dict[str, str] = {
    # "sRGB IEC61966-2.1", Hewlett-Packard 1998, 3144 bytes: the reference
    # sRGB profile. Byte-identical in the corpus photos of a Canon 40D, a
    # Nikon D70 and a Pentax K10D, so it says nothing about which camera.
    "2b3aa1645779a9e634744faf9b01e9102b0c9b88fd6deced7934df86b949af7e": "sRGB IEC61966-2.1",
}


def standard_profile_name(profile: bytes) -> str | None:
    """The standard profile's name if ``profile`` is one of the kept ones, else None."""
    return STANDARD_ICC_PROFILES.get(hashlib.sha256(profile).hexdigest())
