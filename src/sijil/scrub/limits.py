"""Limits shared by the format cleaners, each with the reason for its value.

Cleaning never decodes a picture, but the desk's viewers and thumbnailers
will, and every parser here walks structures a hostile file controls: these
bounds keep both memory and time finite whatever the file says.
"""

from __future__ import annotations

__all__ = [
    "FFMPEG_TIMEOUT_S",
    "FFPROBE_TIMEOUT_S",
    "MAX_AUDIO_BYTES",
    "MAX_CHUNKS",
    "MAX_IMAGE_BYTES",
    "MAX_INMEMORY_BYTES",
    "MAX_META_BYTES",
    "MAX_PIXELS",
    "MAX_VIDEO_BYTES",
]

# Largest picture (width x height) accepted. A small file declaring 65535x65535
# is a decompression bomb waiting for the desk's viewers; 250 megapixels is
# several times any phone camera. Over it we raise CorruptMedia: no camera
# makes such a file, so it is treated as a crafted one.
MAX_PIXELS = 250_000_000

# Largest streamed image file (JPEG, PNG, GIF). Memory does not grow with the
# file, but an endless stream must end: no phone photo comes near 1 GiB.
MAX_IMAGE_BYTES = 1 << 30

# Largest file cleaned in memory (TIFF, WebP, HEIC/AVIF, PDF need random
# access). 512 MiB is far past any phone picture or report PDF and still fits
# in an old laptop's memory.
MAX_INMEMORY_BYTES = 512 << 20

# Largest streamed audio file (MP3, FLAC, WAV): hours of uncompressed audio.
MAX_AUDIO_BYTES = 4 << 30

# Largest video remuxed: 64 GiB, the envelope's own attachment limit.
MAX_VIDEO_BYTES = 64 << 30

# Largest single metadata structure read whole (a text chunk, an ID3 tag, an
# EXIF block, a FLAC picture). Cover art is the big one; 64 MiB is ample.
MAX_META_BYTES = 64 << 20

# Most chunks, blocks or frames-of-metadata walked in one file. A real PNG of
# 100 MB has about 12,000 IDAT chunks; a flood of empty chunks is an attack on
# time, not a picture.
MAX_CHUNKS = 200_000

# ffmpeg copies streams without decoding at disk speed: a 4 GiB video remuxes in
# well under a minute on an old laptop. A hung ffmpeg must not hang the report.
FFMPEG_TIMEOUT_S = 600

# ffprobe only reads headers.
FFPROBE_TIMEOUT_S = 60
