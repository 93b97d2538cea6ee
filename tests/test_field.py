"""The correspondent's side: compose, scrub, seal, outbox, export, wipe."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from conftest import DeskFixture
from media import camera_jpeg
from sijil.crypto.identity import DeskIdentity
from sijil.crypto.kdf import KdfParams
from sijil.envelope import shards
from sijil.envelope.sealing import Draft, open_envelope
from sijil.errors import PassphraseError, UnsupportedFormat
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldHome, FieldSession, wipe

Correspondent = Callable[[DeskFixture, str], FieldSession]


@pytest.fixture
def raven(make_desk: Callable[..., DeskFixture], make_correspondent: Correspondent) -> FieldSession:
    return make_correspondent(make_desk(), "Raven")


def _desk_identity(session: FieldSession, passphrase: str) -> DeskIdentity:
    root = session.home.root.parents[1] / "desk"
    return DeskIdentity.unlock((root / "desk.key").read_bytes(), passphrase)


def test_compose_scrubs_photos_and_seals_them_for_the_desk(
    raven: FieldSession, tmp_path: Path, passphrase: str
) -> None:
    # Given a photo with camera, serial, time and GPS metadata
    photo = tmp_path / "IMG_20161122_031415.jpg"
    photo.write_bytes(camera_jpeg())
    # When the correspondent composes a report with it
    result = compose(raven, Draft(title="Strike on the bakery", body="03:10", lang="en"), [photo])
    # Then the removed metadata is reported and the envelope is in the outbox
    removed = " ".join(result.files[0].removed)
    assert "GPS" in removed and "Canon" in removed
    assert result.files[0].name == "attachment-1.jpg"  # the dated original name stays home
    sealed = raven.envelope_path(result.envelope_id)
    assert sealed.is_file()
    # And the desk opens it to a clean photo with the same pixels
    desk = _desk_identity(raven, passphrase)
    with sealed.open("rb") as handle:
        opened = open_envelope(handle, identity=desk.age, staging=tmp_path)
    cleaned = Image.open(opened.attachments[0].path)
    assert dict(cleaned.getexif()) == {}
    assert cleaned.tobytes() == Image.open(io.BytesIO(camera_jpeg())).tobytes()


def test_no_plaintext_attachment_or_title_is_written_to_the_field_home(
    raven: FieldSession, tmp_path: Path
) -> None:
    # Given a photo whose scan data is recognisable
    data = camera_jpeg(320, 240, seed=7)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(data)
    probe = data[-3000:-1000]  # from the middle of the entropy-coded scan
    # When it is composed and exported
    compose(raven, Draft(title="UNIQUE-TITLE-4242", body="", lang="en"), [photo])
    # Then nothing under the home holds the photo's bytes or the title in the clear
    for path in raven.home.root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert probe not in content, path
            assert b"UNIQUE-TITLE-4242" not in content, path


def test_a_file_that_cannot_be_cleaned_is_refused_unless_keep_metadata(
    raven: FieldSession, tmp_path: Path
) -> None:
    # Given a BMP, which the scrubber cannot clean
    png = tmp_path / "x.bmp"
    Image.new("RGB", (8, 8)).save(png)
    before = list(raven.home.outbox.iterdir())
    # When composed normally, then it is refused and nothing is sealed
    with pytest.raises(UnsupportedFormat, match="keep-metadata"):
        compose(raven, Draft(title="t", body="", lang="en"), [png])
    assert list(raven.home.outbox.iterdir()) == before
    # When the correspondent insists, then it is sealed unchanged and flagged
    result = compose(raven, Draft(title="t", body="", lang="en"), [png], keep_metadata=True)
    assert result.files[0].kept_metadata and result.files[0].name.endswith(".bin")


def test_the_outbox_lists_reports_only_with_the_passphrase(
    raven: FieldSession, passphrase: str
) -> None:
    compose(raven, Draft(title="عنوان التقرير", body="", lang="ar"), [])
    again = FieldHome(raven.home.root).unlock(passphrase)
    assert [e["title"] for e in again.load_index()] == ["عنوان التقرير"]
    with pytest.raises(PassphraseError):
        FieldHome(raven.home.root).unlock("wrong passphrase")


def test_export_writes_files_and_text_shards_that_rebuild(
    raven: FieldSession, tmp_path: Path
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(camera_jpeg())
    made = compose(raven, Draft(title="t", body="", lang="en"), [photo])
    # When exported as files and as text
    usb = export_outbox(raven, tmp_path / "usb")
    text = export_outbox(raven, tmp_path / "chat", text=True)
    # Then the file is the envelope and the shards rebuild it
    original = raven.envelope_path(made.envelope_id).read_bytes()
    assert usb[0].paths[0].read_bytes() == original
    found, problems = shards.parse_text("\n".join(p.read_text() for p in text[0].paths))
    assert problems == []
    assert shards.rebuild(found) == original
    # And a second export with --new-only skips it
    assert export_outbox(raven, tmp_path / "usb2", only_new=True) == []


def test_wipe_destroys_keys_and_outbox_in_under_a_second(
    raven: FieldSession, fast_kdf: KdfParams
) -> None:
    for i in range(20):
        compose(raven, Draft(title=f"r{i}", body="x" * 1000, lang="en"), [])
    started = time.monotonic()
    removed = wipe(raven.home)
    assert time.monotonic() - started < 1.0
    assert removed >= 22  # key, index, 20 envelopes
    assert not raven.home.key_file.exists() and not raven.home.outbox.exists()


def test_init_refuses_to_overwrite_an_existing_home(
    raven: FieldSession, fast_kdf: KdfParams
) -> None:
    from sijil.envelope.invite import Invite
    from sijil.errors import ConfigError

    invite = Invite(codename="X", desk=raven.desk, token="0" * 64)
    with pytest.raises(ConfigError, match="already exists"):
        FieldHome(raven.home.root).init(invite, "pw", fast_kdf)


def test_an_envelope_too_large_for_text_does_not_hold_back_the_others(
    raven: FieldSession, tmp_path: Path
) -> None:
    # Given a large report sealed before an urgent small one
    big = compose(raven, Draft(title="big", body="x" * 900_000, lang="en"), [])
    # (envelopes are not compressed: this one is ~900 KB, past what text shards carry)
    urgent = compose(raven, Draft(title="urgent", body="now", lang="en"), [])
    # When everything is exported as text
    results = {r.envelope_id: r for r in export_outbox(raven, tmp_path / "chat", text=True)}
    # Then the big one is skipped with its reason and the urgent one is exported
    assert results[big.envelope_id].skipped is not None
    assert "USB" in results[big.envelope_id].skipped
    assert results[urgent.envelope_id].skipped is None and results[urgent.envelope_id].paths
