"""Photos against video: a still grabbed from a video at the desk, and a video showing a photo.

The videos are a real one (the corpus's mat2 ``dirty.mp4``) and a slideshow of
corpus photos made with ffmpeg, as news videos show stills; frames are grabbed at
times between the desk's one-a-second samples. Asserted: recall >= 0.9 both ways,
with the time in the video within a second.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from conftest import CORPUS
from media_store import report_attachments
from neardup_set import corpus_sources
from sijil.desk.neardup.catalog import Catalog, Found, MatchKind
from sijil.desk.neardup.intake import Fingerprinted, store_print
from sijil.media.fingerprint import MediaPrint, fingerprint_file
from sijil.store import Store

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")

SHOW_SECONDS = 3  # each photo of the slideshow stays this long
PHOTOS = 8
MATCHED_SHARE = 0.9


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


@dataclass(frozen=True)
class FrameSet:
    """The videos, the photos and the grabbed stills, each fingerprinted once per module."""

    slideshow: MediaPrint
    real: MediaPrint
    photos: list[MediaPrint]
    # (which video: 0 slideshow, 1 real; the second grabbed at; the still's print)
    grabs: list[tuple[int, float, MediaPrint]]


def _grab(video: Path, second: float, out: Path) -> Path:
    _ffmpeg("-ss", f"{second:.2f}", "-i", str(video), "-frames:v", "1", "-q:v", "3", str(out))
    return out


@pytest.fixture(scope="module")
def frame_set(tmp_path_factory: pytest.TempPathFactory) -> FrameSet:
    """An H.264 slideshow of corpus photos (SHOW_SECONDS each), the corpus's real video,
    and stills grabbed from both between the desk's one-a-second samples."""
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS}")
    folder = tmp_path_factory.mktemp("frames")
    # the larger corpus photos (the test-suite set), so frames have detail
    photos = [data for name, data in corpus_sources(CORPUS) if name.startswith("DSC")]
    photos = (photos or [d for _n, d in corpus_sources(CORPUS)])[:PHOTOS]
    for i, data in enumerate(photos):
        (folder / f"photo-{i}.jpg").write_bytes(data)
        with Image.open(io.BytesIO(data)) as image:
            image.convert("RGB").resize((640, 480)).save(folder / f"still-{i:02d}.png")
    video = folder / "slideshow.mp4"
    _ffmpeg(
        "-framerate", f"1/{SHOW_SECONDS}", "-i", str(folder / "still-%02d.png"),
        "-vf", "fps=25,format=yuv420p", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "28", str(video),
    )  # fmt: skip
    real = CORPUS / "media" / "mat2" / "dirty.mp4"
    times = [(0, i * SHOW_SECONDS + 1.45) for i in range(PHOTOS)]
    times += [(1, s) for s in (0.3, 1.6, 2.5, 3.7, 4.9)]
    grabs = [
        (which, second, fingerprint_file(_grab((video, real)[which], second, folder / f"g{n}.jpg")))
        for n, (which, second) in enumerate(times)
    ]
    return FrameSet(
        slideshow=fingerprint_file(video),
        real=fingerprint_file(real),
        photos=[fingerprint_file(folder / f"photo-{i}.jpg") for i in range(len(photos))],
        grabs=grabs,
    )


def _at(found: Found) -> int:
    match = re.match(r"frame at (\d+):(\d\d)", found.transform or "")
    assert match, found.transform
    return int(match[1]) * 60 + int(match[2])


def _catalog(store: Store, prints: list[MediaPrint]) -> Catalog:
    for attachment_id, media in zip(report_attachments(store, len(prints)), prints, strict=True):
        store_print(store, attachment_id, Fingerprinted(position=0, media=media))
    return Catalog.open(store, None)


def test_a_still_grabbed_from_a_video_at_the_desk_is_found_with_its_time(
    store: Store, frame_set: FrameSet
) -> None:
    # Given the desk holds a slideshow video and the corpus's real video
    catalog = _catalog(store, [frame_set.slideshow, frame_set.real])
    # When stills grabbed between the one-a-second samples arrive as photos
    found_right = 0
    for which, second, still in frame_set.grabs:
        hits = [h for h in catalog.match(still) if h.kind is MatchKind.FRAME]
        # Then each is a frame of its video, at the second that picture first shows: no
        # later than the grab, and no earlier than the still's start (the slideshow's)
        owner = which + 1
        found_right += any(
            h.print_id == owner and -1 <= second - _at(h) <= SHOW_SECONDS for h in hits
        )
        assert all(h.print_id == owner for h in hits), (which, second, hits)
    assert found_right / len(frame_set.grabs) >= MATCHED_SHARE, found_right


def test_a_video_showing_photos_at_the_desk_names_each_and_when(
    store: Store, frame_set: FrameSet
) -> None:
    # Given the desk holds the photos as they were sent
    catalog = _catalog(store, frame_set.photos)
    # When a video that shows them one after the other arrives
    hits = {h.print_id: h for h in catalog.match(frame_set.slideshow)}
    # Then at least 90 % of the photos are found in it, each at the time it is shown
    shown = [
        i for i in range(len(frame_set.photos))
        if (hit := hits.get(i + 1)) is not None and hit.kind is MatchKind.FRAME
        and i * SHOW_SECONDS <= _at(hit) < (i + 1) * SHOW_SECONDS
    ]  # fmt: skip
    assert len(shown) / len(frame_set.photos) >= MATCHED_SHARE, (shown, hits)
