"""``sijil scrub``, the field side's use of the scrubber, verification mode, and the docs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from conftest import CliResult, DeskFixture
from media import camera_jpeg
from sijil.cli.scrub_cmds import _publish
from sijil.crypto.identity import DeskIdentity
from sijil.envelope.sealing import Draft, open_envelope
from sijil.errors import ConfigError
from sijil.field.compose import compose
from sijil.field.home import FieldSession
from sijil.scrub import IDENTIFYING_GROUPS, IDENTIFYING_TAGS, KEPT_TAGS, inspect
from sijil.scrub.icc import STANDARD_ICC_PROFILES
from sijil.scrub.limits import __all__ as LIMITS

Run = Callable[..., CliResult]
DOC = Path(__file__).resolve().parents[1] / "docs" / "scrub.md"


def test_inspect_names_the_gps_position_of_a_corpus_photo(corpus: Path, run_cli: Run) -> None:
    # Given the Nikon photo with a GPS fix from the corpus
    path = corpus / "media" / "exif-samples" / "jpg" / "gps" / "DSCN0010.jpg"
    # When inspected on the command line
    result = run_cli("scrub", "--inspect", str(path))
    # Then its position, camera and capture time are named, and nothing is written
    assert result.code == 0, result.err
    assert "GPS 43.4674 N 11.8851 E" in result.out
    assert "camera NIKON COOLPIX P6000" in result.out and "taken 2008:10:22 16:28:39" in result.out


def test_scrub_writes_clean_copies_and_nothing_for_a_broken_file(
    corpus: Path, tmp_path: Path, run_cli: Run
) -> None:
    # Given a GPS photo, a dirty PNG and a corrupt JPEG
    files = [
        corpus / "media" / "exif-samples" / "jpg" / "gps" / "DSCN0012.jpg",
        corpus / "media" / "mat2" / "dirty.png",
        corpus / "media" / "exif-samples" / "jpg" / "corrupted.jpg",
    ]
    out = tmp_path / "clean"
    # When cleaned into a folder
    result = run_cli("scrub", *map(str, files), "--out", str(out))
    # Then it fails, naming the broken file in one line, after cleaning the others
    assert result.code != 0
    assert "corrupted.jpg: NOT CLEANED: JPEG is damaged" in result.err
    assert (
        result.err.strip().splitlines()[-1] == "sijil: error: 1 of 3 file(s) could not be cleaned"
    )
    assert "removed" in result.out and "GPS" in result.out
    # And only the two clean copies exist: no partial file, no temp file
    assert sorted(p.name for p in out.iterdir()) == ["DSCN0012.jpg", "dirty.png"]
    assert inspect(out / "DSCN0012.jpg") == [] and inspect(out / "dirty.png") == []


def test_scrub_needs_out_or_inspect_and_never_overwrites_the_original(
    tmp_path: Path, run_cli: Run
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(camera_jpeg())
    assert run_cli("scrub", str(photo)).code != 0
    result = run_cli("scrub", str(photo), "--out", str(tmp_path))
    assert result.code != 0 and "overwrite the original" in result.err
    assert photo.read_bytes() == camera_jpeg()


def _desk_identity(session: FieldSession, passphrase: str) -> DeskIdentity:
    root = session.home.root.parents[1] / "desk"
    return DeskIdentity.unlock((root / "desk.key").read_bytes(), passphrase)


def test_verification_mode_sends_capture_time_and_place_only_inside_the_manifest(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    tmp_path: Path,
    passphrase: str,
) -> None:
    # Given a photo with a capture time and a GPS position
    raven = make_correspondent(make_desk(), "Raven")
    photo = tmp_path / "p.jpg"
    photo.write_bytes(camera_jpeg())
    # When composed in verification mode
    draft = Draft(title="t", body="", lang="en")
    result = compose(raven, draft, [photo], verification=True)
    # Then the desk finds them in the signed manifest, and the file is clean
    desk = _desk_identity(raven, passphrase)
    with raven.envelope_path(result.envelope_id).open("rb") as handle:
        opened = open_envelope(handle, identity=desk.age, staging=tmp_path)
    assert opened.manifest.extra == {
        "attachment-1.jpg.capture_time": "2016-11-22T03:14:15",
        "attachment-1.jpg.capture_location": "35.9531,39.0061",
    }
    assert inspect(opened.attachments[0].path) == []
    # And without verification mode nothing of it is sent
    plain = compose(raven, draft, [photo])
    with raven.envelope_path(plain.envelope_id).open("rb") as handle:
        assert open_envelope(handle, identity=desk.age, staging=tmp_path).manifest.extra == {}


def test_field_new_shows_the_findings_before_sealing(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    tmp_path: Path,
    run_cli: Run,
) -> None:
    raven = make_correspondent(make_desk(), "Raven")
    photo = tmp_path / "p.jpg"
    photo.write_bytes(camera_jpeg())
    result = run_cli(
        "field", "new", "--home", str(raven.home.root), "--title", "t", "--file", str(photo),
        "--verification",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    carries = next(i for i, line in enumerate(lines) if "carries (removed before sealing)" in line)
    sealed = next(i for i, line in enumerate(lines) if line.startswith("sealed "))
    assert carries < sealed
    assert any("GPS 35.9531 N 39.0061 E" in line for line in lines[carries:sealed])
    assert any("verification:" in line for line in lines)


def test_doc_lists_every_identifying_entry_kept_tag_profile_and_limit() -> None:
    # Given docs/scrub.md, When read, Then every list entry of the code is in it, quoted
    doc = DOC.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", doc, flags=re.DOTALL)  # code blocks pair backticks oddly
    quoted = set(re.findall(r"`([^`]+)`", prose))
    missing = [e for e in (*IDENTIFYING_TAGS, *IDENTIFYING_GROUPS, *KEPT_TAGS) if e not in quoted]
    assert missing == []
    assert all(name in doc for name in STANDARD_ICC_PROFILES.values())
    assert all(name in quoted for name in LIMITS)


def test_png_made_by_pillow_is_now_cleaned_not_refused(tmp_path: Path) -> None:
    png = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(png)
    assert inspect(png) == []


@pytest.mark.parametrize("name", ["x.bmp"])
def test_unsupported_formats_are_refused_by_name(tmp_path: Path, name: str, run_cli: Run) -> None:
    path = tmp_path / name
    Image.new("RGB", (8, 8)).save(path)
    result = run_cli("scrub", "--inspect", str(path))
    assert result.code != 0 and "cannot clean BMP files yet" in result.err


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_inputs_with_the_same_name_are_both_refused_never_overwritten(
    tmp_path: Path, run_cli: Run
) -> None:
    # Given two different photos both named a.jpg (one spelled A.JPG: one file on FAT),
    # and a third photo
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first, second, third = tmp_path / "x" / "a.jpg", tmp_path / "y" / "A.JPG", tmp_path / "b.jpg"
    first.write_bytes(camera_jpeg())
    Image.new("RGB", (8, 8), "red").save(second, "JPEG")
    third.write_bytes(camera_jpeg())
    out = tmp_path / "clean"
    # When cleaned into one folder
    result = run_cli("scrub", str(first), str(second), str(third), "--out", str(out))
    # Then both same-named files are refused, each named by its path in one line
    assert result.code != 0
    err = result.err.strip().splitlines()
    assert f"{first}: NOT CLEANED: another file given has the same name" in result.err
    assert f"{second}: NOT CLEANED: another file given has the same name" in result.err
    assert err[-1] == "sijil: error: 2 of 3 file(s) could not be cleaned"
    # And only the third is written: neither copy of a.jpg silently replaced the other
    assert sorted(p.name for p in out.iterdir()) == ["b.jpg"]
    assert "b.jpg: removed" in result.out and "a.jpg: removed" not in result.out


def test_a_file_already_in_out_is_kept_unless_overwrite_is_given(
    tmp_path: Path, run_cli: Run
) -> None:
    # Given a folder that already holds a p.jpg, and a photo p.jpg to clean
    photo, out = tmp_path / "p.jpg", tmp_path / "clean"
    photo.write_bytes(camera_jpeg())
    out.mkdir()
    (out / "p.jpg").write_bytes(b"yesterday's cleaned copy")
    # When cleaned into that folder
    result = run_cli("scrub", str(photo), "--out", str(out))
    # Then the file is refused in one line and the existing one is untouched
    assert result.code != 0
    assert "p.jpg: NOT CLEANED: a file of this name is already in --out" in result.err
    assert (out / "p.jpg").read_bytes() == b"yesterday's cleaned copy"
    assert _leftovers(out) == []
    # And with --overwrite it is replaced by the cleaned copy
    result = run_cli("scrub", str(photo), "--out", str(out), "--overwrite")
    assert result.code == 0, result.err
    assert inspect(out / "p.jpg") == [] and (out / "p.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_a_symlink_in_out_fails_only_its_file_and_the_batch_goes_on(
    tmp_path: Path, run_cli: Run
) -> None:
    # Given an --out folder where a.jpg is a symlink to a place outside it
    outside, out = tmp_path / "outside", tmp_path / "clean"
    outside.mkdir()
    out.mkdir()
    (out / "a.jpg").symlink_to(outside / "a.jpg")
    photos = [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"]
    for photo in photos:
        photo.write_bytes(camera_jpeg())
    # When three photos are cleaned into it
    result = run_cli("scrub", *map(str, photos), "--out", str(out))
    # Then a.jpg alone fails, in one line, and the others are cleaned
    assert result.code != 0
    assert "a.jpg: NOT CLEANED: path escapes its folder" in result.err
    assert (
        result.err.strip().splitlines()[-1] == "sijil: error: 1 of 3 file(s) could not be cleaned"
    )
    assert "Traceback" not in result.err
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert inspect(out / "b.jpg") == [] and inspect(out / "c.jpg") == []
    # And nothing was written outside, nor left half-written inside
    assert list(outside.iterdir()) == [] and (out / "a.jpg").is_symlink()
    assert _leftovers(out) == []


def test_publishing_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    # Given a finished temporary copy and a file that appeared at the target since the check
    tmp, target = tmp_path / ".tmp-1", tmp_path / "p.jpg"
    tmp.write_bytes(b"new")
    target.write_bytes(b"theirs")
    # When published without --overwrite, Then it is refused and the other file stays
    with pytest.raises(ConfigError, match="already in --out"):
        _publish(tmp, target, overwrite=False)
    assert target.read_bytes() == b"theirs"
    # And with --overwrite it replaces it
    _publish(tmp, target, overwrite=True)
    assert target.read_bytes() == b"new" and not tmp.exists()
