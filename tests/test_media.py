"""Media fingerprints: PDQ on every image format, per-second video hashes, typed errors."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sijil.errors import DamagedMedia, MediaError, MediaTooLarge, UnsupportedMedia
from sijil.media.fingerprint import fingerprint_file, sniff
from sijil.media.index import hamming
from sijil.media.pdq import TRANSFORMS, ImagePrint, content_box, decode_small, hash_image
from sijil.media.video import VideoPrint, hash_video, match_videos, pack_frames, unpack_frames

MAT2 = ("media", "mat2")


def _d(a: bytes, b: bytes) -> int:
    return int(hamming(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))[0])


def _best(query: ImagePrint, stored: ImagePrint) -> tuple[int, str]:
    """Smallest distance of any dihedral variant of ``query`` to ``stored``, as the desk matches."""
    return min(
        (_d(variant, stored.pdq), name)
        for name, variant in zip(TRANSFORMS, query.dihedral, strict=True)
    )


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


# --- images -----------------------------------------------------------------------


def test_every_image_format_in_the_corpus_gets_a_pdq_with_quality(corpus: Path) -> None:
    # Given the same scrubber test picture as JPEG, PNG, HEIC and AVIF, plus WebP, GIF, TIFF
    folder = corpus.joinpath(*MAT2)
    prints = {
        name: fingerprint_file(folder / name)
        for name in ("dirty.jpg", "dirty.png", "dirty.heic", "dirty.avif", "dirty.webp",
                     "dirty.gif", "dirty.tiff")
    }  # fmt: skip
    # Then each is a 256-bit PDQ with a quality score, and the four copies of one picture agree
    for name, found in prints.items():
        assert isinstance(found, ImagePrint), name
        assert len(found.pdq) == 32 and len(found.dihedral) == 8
        assert 0 <= found.quality <= 100
    same = [prints[n] for n in ("dirty.jpg", "dirty.png", "dirty.heic", "dirty.avif")]
    assert max(_d(same[0].pdq, other.pdq) for other in same[1:]) <= 8
    assert _d(prints["dirty.jpg"].pdq, prints["dirty.webp"].pdq) > 31


def test_a_12_megapixel_jpeg_is_decoded_at_reduced_size(tmp_path: Path) -> None:
    # Given a 4000x3000 JPEG
    big = Image.radial_gradient("L").resize((4000, 3000)).convert("RGB")
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg(big))
    # When it is opened for hashing
    with path.open("rb") as handle:
        image, width, height = decode_small(handle)
    # Then the decoder scaled it in the DCT domain (1/8), yet the full size is reported
    assert (width, height) == (4000, 3000)
    assert image.width * image.height <= 500 * 375
    assert hash_image(path).width == 4000


def test_exif_orientation_is_applied_so_all_eight_orientations_hash_alike(corpus: Path) -> None:
    # Given the corpus's landscape photo stored in the eight EXIF orientations
    folder = corpus / "media" / "exif-samples" / "jpg" / "orientation"
    prints = [hash_image(folder / f"landscape_{i}.jpg") for i in range(1, 9)]
    # Then every one hashes as the upright picture: well inside the match radius (each
    # file was JPEG-compressed in its own orientation, so a dozen bits differ)
    assert all(_d(prints[0].pdq, p.pdq) <= 24 for p in prints[1:])


@pytest.mark.parametrize(
    ("transpose", "expected"),
    [
        (Image.Transpose.ROTATE_90, "rotate-ccw90"),
        (Image.Transpose.ROTATE_180, "rotate180"),
        (Image.Transpose.ROTATE_270, "rotate-cw90"),
        (Image.Transpose.FLIP_LEFT_RIGHT, "mirror"),
        (Image.Transpose.FLIP_TOP_BOTTOM, "upside-down"),
    ],
)
def test_a_rotated_or_mirrored_copy_matches_through_a_dihedral_hash(
    corpus: Path, transpose: Image.Transpose, expected: str
) -> None:
    # Given a photo and a turned or mirrored, re-encoded copy of it
    photo = Image.open(corpus / "media" / "exif-samples" / "jpg" / "Reconyx_HC500_Hyperfire.jpg")
    photo = photo.convert("RGB")
    stored = hash_image(io.BytesIO(_jpeg(photo, 90)))
    copy = hash_image(io.BytesIO(_jpeg(photo.transpose(transpose), 70)))
    # Then the plain hashes differ, but one dihedral variant is near, and it names the turn
    assert _d(copy.pdq, stored.pdq) > 31
    distance, name = _best(copy, stored)
    assert distance <= 10
    assert name == expected


def test_a_photo_inside_a_screenshot_gets_an_inner_hash(corpus: Path) -> None:
    # Given a photo pasted into a flat canvas with a flat title bar (a screenshot)
    photo = Image.open(corpus / "media" / "exif-samples" / "jpg" / "gps" / "DSCN0010.jpg")
    photo = photo.convert("RGB")
    photo.thumbnail((640, 640))
    canvas = Image.new("RGB", (photo.width + 200, photo.height + 300), (240, 240, 240))
    canvas.paste((30, 60, 120), (0, 0, canvas.width, 90))
    canvas.paste(photo, (100, 150))
    shot = io.BytesIO()
    canvas.save(shot, "PNG")
    # When both are hashed
    plain = hash_image(io.BytesIO(_jpeg(photo)))
    framed = hash_image(io.BytesIO(shot.getvalue()))
    # Then the margins were found and the inner hash is the photo's
    assert content_box(canvas) is not None and content_box(photo) is None
    assert plain.inner is None and framed.inner is not None
    assert _d(framed.inner.pdq, plain.pdq) <= 16
    assert _d(framed.pdq, plain.pdq) > 31


# --- corrupt and foreign input --------------------------------------------------------


def test_truncated_and_garbled_images_raise_damaged_media(tmp_path: Path, corpus: Path) -> None:
    good = (corpus / "media" / "mat2" / "dirty.jpg").read_bytes()
    cases = {
        "truncated.jpg": good[: len(good) // 3],
        "garbled.jpg": good[:200] + bytes(range(256)) * 40,
        "png-header-only.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DamagedMedia):
            fingerprint_file(path)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    # Given a tiny PNG that claims 30000 x 30000 pixels
    bomb = Image.new("1", (30000, 30000))
    path = tmp_path / "bomb.png"
    bomb.save(path, optimize=True)
    assert path.stat().st_size < 2_000_000
    # Then it is refused by its declared size, with the typed error
    with pytest.raises(MediaTooLarge):
        hash_image(path)


def test_invalid_corpus_jpegs_give_a_print_or_a_typed_error_never_a_crash(corpus: Path) -> None:
    folder = corpus / "media" / "exif-samples" / "jpg"
    paths = [*sorted((folder / "invalid").glob("*.jpg")), folder / "corrupted.jpg"]
    assert paths
    for path in paths:
        try:
            result = fingerprint_file(path)
        except MediaError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(result, ImagePrint)


def test_files_that_are_not_photos_or_videos_are_unsupported(corpus: Path) -> None:
    folder = corpus.joinpath(*MAT2)
    for name in ("dirty.pdf", "dirty.mp3", "dirty.wav", "dirty.flac"):
        with pytest.raises(UnsupportedMedia):
            fingerprint_file(folder / name)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    magic=st.sampled_from([b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP",
                           b"II*\x00", b"\0\0\0\x18ftypheic", b"\0\0\0\x18ftypavif"]),
    body=st.binary(max_size=2048),
)  # fmt: skip
def test_random_bytes_behind_an_image_signature_give_only_typed_errors(
    tmp_path: Path, magic: bytes, body: bytes
) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(magic + body)
    try:
        fingerprint_file(path)
    except MediaError as exc:
        assert "\n" not in str(exc)


def test_sniffing_trusts_bytes_not_names() -> None:
    assert sniff(b"\xff\xd8\xff\xe1") == "image"
    assert sniff(b"\0\0\0\x20ftypisom\0\0\x02\0") == "video"
    assert sniff(b"\0\0\0\x1cftypheic") == "image"
    assert sniff(b"\x1a\x45\xdf\xa3") == "video"
    assert sniff(b"%PDF-1.4") is None


# --- video ----------------------------------------------------------------------------


# the tests sharing the clips run on one xdist worker, which makes them once
CLIPS = pytest.mark.xdist_group("media-clips")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short generated videos: an original, a re-encoded small copy, its first half, another."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}.mp4" for name in ("original", "copy", "half", "other")}
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=8",
        "-pix_fmt",
        "yuv420p",
        str(paths["original"]),
    )
    _ffmpeg("-i", str(paths["original"]), "-vf", "scale=160:120", "-crf", "35", str(paths["copy"]))
    _ffmpeg("-i", str(paths["original"]), "-t", "4", "-crf", "28", str(paths["half"]))
    _ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "8",
            "-pix_fmt", "yuv420p", str(paths["other"]))  # fmt: skip
    return paths


@CLIPS
def test_a_video_gets_one_hash_a_second(clips: dict[str, Path]) -> None:
    video = fingerprint_file(clips["original"])
    assert isinstance(video, VideoPrint)
    assert 7 <= len(video.frames) <= 9
    assert (video.width, video.height) == (320, 240)
    assert unpack_frames(pack_frames(video.frames)) == video.frames


@CLIPS
def test_a_re_encoded_copy_and_a_clip_match_an_unrelated_video_does_not(
    clips: dict[str, Path],
) -> None:
    prints = {name: hash_video(path) for name, path in clips.items()}
    original = prints["original"].distinct()
    copy_scores = match_videos(prints["copy"].distinct(), original)
    half_scores = match_videos(prints["half"].distinct(), original)
    other_scores = match_videos(prints["other"].distinct(), original)
    assert min(copy_scores) >= 0.9
    # the first half is wholly inside the original; the original only half inside it
    assert half_scores[0] >= 0.9 and half_scores[1] <= 0.7
    assert max(other_scores) == 0.0


@CLIPS
def test_corrupt_or_empty_videos_raise_typed_errors(tmp_path: Path, clips: dict[str, Path]) -> None:
    data = clips["original"].read_bytes()
    cases = {
        "truncated.mp4": data[: len(data) // 10],
        "header-only.mp4": data[:32],
        "garbage.mkv": b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 16,
    }
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(DamagedMedia):
            fingerprint_file(path)


@given(
    frames=st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 100)), max_size=50
    )
)
def test_stored_video_frames_round_trip(frames: list[tuple[bytes, int]]) -> None:
    packed = pack_frames(tuple(frames))
    assert len(packed) == 33 * len(frames)
    assert unpack_frames(packed) == tuple(frames)


@given(blob=st.binary(max_size=200).filter(lambda b: len(b) % 33 != 0))
def test_a_partial_stored_frame_is_damaged_not_misread(blob: bytes) -> None:
    with pytest.raises(DamagedMedia):
        unpack_frames(blob)
