"""Generated test photos carrying the metadata a scrubber must remove."""

from __future__ import annotations

import io
import random

from PIL import Image


def camera_jpeg(width: int = 160, height: int = 120, *, seed: int = 1) -> bytes:
    """A JPEG with make, model, serial, capture time, software and a GPS position."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            (rng.randrange(256), (x * 2) % 256, (y * 2) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 40D"  # Model
    exif[0x0131] = "Firmware 1.0.3"  # Software
    exif[0x0132] = "2016:11:22 03:14:15"  # DateTime
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2016:11:22 03:14:15"  # DateTimeOriginal
    sub[0xA431] = "0123456789"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (35.0, 57.0, 11.0)
    gps[3] = "E"
    gps[4] = (39.0, 0.0, 22.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()
