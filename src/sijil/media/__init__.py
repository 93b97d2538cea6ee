"""sijil.media: perceptual fingerprints and the near-duplicate index.

Images get PDQ (256 bits and a quality score, with the eight dihedral variants
so a rotated or mirrored copy matches); videos get one PDQ hash per second
(vPDQ style). A multi-index-hashing index answers exact Hamming-radius queries
over every fingerprint the desk holds, persisted beside the store. See
docs/media.md.

    fingerprint   sniff bytes, dispatch to pdq (images) or video
    pdq           reduced decoding, 64x64 grid, PDQ + dihedral, inner picture
    regions       128-bit low-frequency hashes of regions, for crops and captions
    region_check  confirming a region match on detail (24x24 thumbnails)
    region_index  the region hashes of many photos, looked up by probes
    video         ffmpeg at one frame a second, vPDQ match scores
    index         HammingIndex: exact radius search (multi-index hashing), 256 or 128 bits

The desk's workflow around these (store rows, ledger entries, backfill, lookup)
lives in sijil.desk.neardup; this package imports no database.
"""

from sijil.media.fingerprint import MediaPrint, fingerprint_file
from sijil.media.index import DEFAULT_RADIUS, HammingIndex
from sijil.media.pdq import ImagePrint, hash_image
from sijil.media.video import VideoPrint, hash_video

__all__ = [
    "DEFAULT_RADIUS",
    "HammingIndex",
    "ImagePrint",
    "MediaPrint",
    "VideoPrint",
    "fingerprint_file",
    "hash_image",
    "hash_video",
]
