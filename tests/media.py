"""Generated test photos carrying the metadata a scrubber must remove."""

from __future__ import annotations

import functools
import io
import random

import numpy as np
from PIL import Image


@functools.lru_cache(maxsize=256)
def camera_jpeg(width: int = 160, height: int = 120, *, seed: int | str = 1) -> bytes:
    """A JPEG with make, model, serial, capture time, software and a GPS position.

    The same arguments give the same bytes on every run and in every process: a
    ``str`` seed is hashed by ``random.Random`` with SHA-512, not with ``hash()``,
    so it does not depend on PYTHONHASHSEED. Results are cached (bytes are
    immutable); the noise makes each seed a different photo to the desk.
    """
    rng = random.Random(seed)
    red = np.frombuffer(rng.randbytes(width * height), np.uint8).reshape(height, width)
    green = np.broadcast_to((np.arange(width) * 2 % 256).astype(np.uint8), (height, width))
    blue = np.broadcast_to((np.arange(height) * 2 % 256).astype(np.uint8)[:, None], (height, width))
    image = Image.fromarray(np.dstack([red, green, blue]), "RGB")
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
