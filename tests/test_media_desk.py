"""Media at the desk: matched on import, shown by reports, asked about from the CLI, in the ledger."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from conftest import CliResult, DeskFixture
from neardup_set import ARABIC, caption_over, cropped
from sijil.desk.intake import import_paths
from sijil.desk.neardup.intake import fingerprint_report
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.ledger.entries import EntryKind
from sijil.store import Attachment, LedgerEntry, MediaMatch, MediaPrintRow, Report

Correspondent_ = Callable[[DeskFixture, str], FieldSession]
Cli = Callable[..., CliResult]
PHOTO = ("media", "exif-samples", "jpg", "gps", "DSCN0010.jpg")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 5-second video and a smaller, re-encoded copy of it."""
    folder = tmp_path_factory.mktemp("video")
    original, copy = folder / "street.mp4", folder / "street-forwarded.mp4"
    for args in (
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5", "-pix_fmt", "yuv420p",
         str(original)],
        ["-i", str(original), "-vf", "scale=192:144", "-crf", "34", str(copy)],
    ):  # fmt: skip
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)
    return original, copy


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


def _import(desk: DeskFixture, folder: Path) -> None:
    identity = desk.home.unlock("test passphrase, not secret")
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, identity, store, [folder])
    assert {o.status for o in outcomes} == {"imported"}


def _send(who: FieldSession, title: str, files: list[Path], usb: Path) -> None:
    compose(who, Draft(title=title, body="...", lang="en"), files)
    export_outbox(who, usb, only_new=True)


@pytest.fixture
def recycled(
    desk: DeskFixture,
    make_correspondent: Correspondent_,
    corpus: Path,
    clip: tuple[Path, Path],
    tmp_path: Path,
) -> DeskFixture:
    """Raven sends a photo and a video; later Falcon sends a mirrored small copy and the video."""
    raven, falcon = make_correspondent(desk, "Raven"), make_correspondent(desk, "Falcon")
    _send(raven, "Strike at dawn", [corpus.joinpath(*PHOTO), clip[0]], tmp_path / "usb1")
    _import(desk, tmp_path / "usb1")
    with Image.open(corpus.joinpath(*PHOTO)) as image:
        copy = image.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((320, 240))
    forwarded = tmp_path / "forwarded.jpg"
    copy.save(forwarded, "JPEG", quality=60)
    _send(falcon, "New strike today", [forwarded, clip[1]], tmp_path / "usb2")
    _import(desk, tmp_path / "usb2")
    return desk


def test_an_arriving_copy_is_matched_on_import_and_recorded(recycled: DeskFixture) -> None:
    with recycled.home.open_store() as store, store.session() as session:
        prints = session.scalars(select(MediaPrintRow).order_by(MediaPrintRow.id)).all()
        assert [p.kind for p in prints] == ["image", "video", "image", "video"]
        assert all(p.quality is not None for p in prints if p.kind == "image")
        matches = session.scalars(select(MediaMatch).order_by(MediaMatch.id)).all()
        assert [(m.kind, m.attachment_id, m.other_id) for m in matches] == [
            ("image", prints[2].attachment_id, prints[0].attachment_id),
            ("video", prints[3].attachment_id, prints[1].attachment_id),
        ]
        image, video = matches
        assert image.distance <= 16 and image.transform == "mirror"
        assert video.score is not None and video.score >= 0.8
        # and each match is a media.matched entry in the custody ledger, committed with it
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == EntryKind.MEDIA_MATCHED)
        ).all()
        facts = [json.loads(e.body)["data"] for e in entries]
        assert [(f["kind"], f["distance"]) for f in facts] == [
            ("image", image.distance),
            ("video", video.distance),
        ]
        assert all("derived" not in f for f in facts)
        # and it names the two files by salted commitments, never by their SHA-256, so a
        # ledger copied off the desk cannot confirm it holds a known photo
        assert all(f["salted"] is True for f in facts)
        hashes = session.scalars(select(Attachment.sha256)).all()
        assert not any(h in e.body for h in hashes for e in entries)
        borrowed = select(LedgerEntry).where(LedgerEntry.kind == EntryKind.DERIVATIVE_MADE)
        assert session.scalars(borrowed).all() == []


def test_the_audit_holds_each_match_to_its_ledger_entry(
    recycled: DeskFixture, run_cli: Cli
) -> None:
    # Given a desk with two recorded matches: the audit passes
    assert run_cli("verify", *recycled.args).code == 0
    # When someone edits a match's distance
    with recycled.home.open_store() as store, store.session(write=True) as session:
        first = session.scalars(select(MediaMatch).order_by(MediaMatch.id)).first()
        assert first is not None
        first.distance += 1
    # Then the audit names the match and the field
    result = run_cli("verify", *recycled.args)
    assert result.code == 1
    assert f"PROBLEM  media match #{first.id} (attachment 1 of report #" in result.out
    assert "field 'distance' differs from its ledger entry #" in result.out


def test_desk_reports_shows_the_matches(recycled: DeskFixture, run_cli: Cli) -> None:
    listed = run_cli("desk", "reports", *recycled.args, "--json")
    assert listed.code == 0, listed.err
    rows = {row["title"]: row for row in json.loads(listed.out)}
    later, earlier = rows["New strike today"], rows["Strike at dawn"]
    # each match is the same JSON object as before matches became dataclasses
    assert [list(m) for m in later["matches"]] == [
        ["kind", "distance", "transform", "score", "other_score", "attachment", "direction",
         "other_report_id", "other_attachment"]
    ] * 2  # fmt: skip
    assert {(m["kind"], m["attachment"]) for m in later["matches"]} == {
        ("image", "attachment-1.jpg"),
        ("video", "attachment-2.mp4"),
    }
    assert {m["direction"] for m in later["matches"]} == {"seen before"}
    assert {m["other_report_id"] for m in later["matches"]} == {earlier["id"]}
    assert {m["direction"] for m in earlier["matches"]} == {"seen again"}
    text = run_cli("desk", "reports", *recycled.args)
    assert f"seen before in #{earlier['id']}" in text.out
    assert "image distance" in text.out and "mirror" in text.out


def test_media_match_answers_where_a_file_found_online_was_seen(
    recycled: DeskFixture, run_cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    # Given the photo as found online: rotated a quarter turn and recompressed
    with Image.open(corpus.joinpath(*PHOTO)) as image:
        online = image.convert("RGB").transpose(Image.Transpose.ROTATE_270)
    found = tmp_path / "from-a-channel.jpg"
    online.save(found, "JPEG", quality=50)
    # When the verifier asks the desk
    answer = run_cli("media", "match", *recycled.args, str(found), "--json")
    # Then both reports holding that picture are named, nearest first
    assert answer.code == 0, answer.err
    seen = json.loads(answer.out)["matches"]
    assert len(seen) == 2
    # Raven's original is this turned a quarter clockwise; Falcon's mirrored copy, transposed
    assert {s["transform"] for s in seen} == {"rotate-cw90", "transverse"}
    text = run_cli("media", "match", *recycled.args, str(found))
    assert text.out.count("Seen in report #") == 2
    # and an unrelated picture is not seen
    other = tmp_path / "other.png"
    Image.radial_gradient("L").convert("RGB").save(other)
    assert "Not seen before" in run_cli("media", "match", *recycled.args, str(other)).out


def test_media_hash_prints_the_fingerprints(
    run_cli: Cli, corpus: Path, clip: tuple[Path, Path]
) -> None:
    image = run_cli("media", "hash", str(corpus.joinpath(*PHOTO)), "--json")
    assert image.code == 0, image.err
    described = json.loads(image.out)
    assert described["kind"] == "image" and len(described["pdq"]) == 64
    assert set(described["dihedral"]) >= {"original", "rotate90", "flipx"}
    video = run_cli("media", "hash", str(clip[0]))
    assert video.code == 0 and video.out.startswith("video 320x240")
    assert video.out.count(" quality ") == 5


def test_corrupt_or_foreign_files_are_one_line_errors(
    run_cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(corpus.joinpath(*PHOTO).read_bytes()[:3000])
    for path in (broken, corpus / "media" / "mat2" / "dirty.pdf"):
        result = run_cli("media", "hash", str(path))
        assert result.code == 1
        assert result.err.startswith("sijil: error:") and len(result.err.strip().splitlines()) == 1


def test_fingerprinting_failures_never_block_an_import(
    desk: DeskFixture, make_correspondent: Correspondent_, corpus: Path, tmp_path: Path
) -> None:
    # Given a registered report with two attachments
    raven = make_correspondent(desk, "Raven")
    photo, text = corpus.joinpath(*PHOTO), corpus / "media" / "mat2" / "dirty.pdf"
    _send(raven, "two files", [photo, text], tmp_path / "usb")
    _import(desk, tmp_path / "usb")
    with desk.home.open_store() as store:
        report_id = store_report_id(store)
        broken = tmp_path / "broken.jpg"
        broken.write_bytes(photo.read_bytes()[:2000])
        with store.session() as session:
            before = session.scalars(select(MediaPrintRow.kind).order_by(MediaPrintRow.id)).all()
        # When fingerprinting the same attachments again (a unique-key clash in the store)
        again = fingerprint_report(store, desk.home.root, report_id, [broken, text])
        # Then nothing is raised and nothing changes: the hook swallows and logs
        assert again == []
        with store.session() as session:
            after = session.scalars(select(MediaPrintRow.kind).order_by(MediaPrintRow.id)).all()
    assert before == after == ["image", "other"]


def store_report_id(store: object) -> int:
    from sijil.store import Store

    assert isinstance(store, Store)
    with store.session() as session:
        return session.scalars(select(Report.id)).one()


def test_a_damaged_photo_in_a_report_is_recorded_as_such(
    desk: DeskFixture, make_correspondent: Correspondent_, corpus: Path, tmp_path: Path
) -> None:
    # Given a report whose attachment, in staging, turns out to be a damaged JPEG
    raven = make_correspondent(desk, "Raven")
    _send(raven, "one photo", [corpus.joinpath(*PHOTO)], tmp_path / "usb")
    _import(desk, tmp_path / "usb")
    with desk.home.open_store() as store:
        report_id = store_report_id(store)
        with store.session(write=True) as session:
            session.execute(MediaPrintRow.__table__.delete())
        broken = tmp_path / "broken.jpg"
        broken.write_bytes(corpus.joinpath(*PHOTO).read_bytes()[:2000])
        # When the hook fingerprints it
        assert fingerprint_report(store, desk.home.root, report_id, [broken]) == []
        # Then the failure is a row with its reason, not an exception
        with store.session() as session:
            row = session.scalars(select(MediaPrintRow)).one()
    assert row.kind == "error" and row.error is not None and "DamagedMedia" in row.error


def test_backfill_fingerprints_an_archive_from_before_media_matching(
    recycled: DeskFixture, run_cli: Cli, passphrase: str
) -> None:
    # Given a desk whose reports arrived before fingerprints existed (rows removed)
    with recycled.home.open_store() as store, store.session(write=True) as session:
        session.execute(MediaMatch.__table__.delete())
        session.execute(MediaPrintRow.__table__.delete())
    # When the operator backfills from the vault
    result = run_cli("media", "backfill", *recycled.args)
    # Then every attachment is fingerprinted, oldest first, and the copies matched again
    assert result.code == 0, result.err
    assert "4 attachment(s) fingerprinted, 2 match(es) recorded" in result.out
    with recycled.home.open_store() as store, store.session() as session:
        kinds = session.scalars(select(MediaMatch.kind).order_by(MediaMatch.id)).all()
        assert kinds == ["image", "video"]
    # and a second run has nothing left to do
    assert "0 attachment(s) fingerprinted" in run_cli("media", "backfill", *recycled.args).out
    assert not list(recycled.home.staging.glob(".media-*"))


def test_media_match_takes_a_tighter_radius(
    recycled: DeskFixture, run_cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    # Given a heavily recompressed, mirrored copy of the photo
    with Image.open(corpus.joinpath(*PHOTO)) as image:
        copy = image.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    found = tmp_path / "copy.jpg"
    copy.save(found, "JPEG", quality=20)
    wide = json.loads(run_cli("media", "match", *recycled.args, str(found), "--json").out)
    distances = sorted(m["distance"] for m in wide["matches"])
    assert distances and distances[-1] <= 31
    # When asked with a radius just below the farthest match, that match drops out
    tight = run_cli(
        "media", "match", *recycled.args, str(found), "--json", "--radius", str(distances[-1] - 1)
    )
    assert len(json.loads(tight.out)["matches"]) < len(distances)
    assert run_cli("media", "match", *recycled.args, str(found), "--radius", "48").code == 2


@pytest.fixture
def recaptioned(
    desk: DeskFixture, make_correspondent: Correspondent_, corpus: Path, tmp_path: Path
) -> DeskFixture:
    """Raven sends a photo; later Falcon sends it cut by 8% on the left and right, captioned."""
    raven, falcon = make_correspondent(desk, "Raven"), make_correspondent(desk, "Falcon")
    _send(raven, "Strike at dawn", [corpus.joinpath(*PHOTO)], tmp_path / "usb1")
    _import(desk, tmp_path / "usb1")
    with Image.open(corpus.joinpath(*PHOTO)) as image:
        copy = caption_over("bottom", 0.16, ARABIC)(cropped(0.08, "lr")(image.convert("RGB")))
    forwarded = tmp_path / "forwarded.jpg"
    copy.save(forwarded, "JPEG", quality=70)
    _send(falcon, "New strike today", [forwarded], tmp_path / "usb2")
    _import(desk, tmp_path / "usb2")
    return desk


def test_a_cropped_captioned_copy_is_matched_on_import_with_its_kind(
    recaptioned: DeskFixture, run_cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    # Then the import recorded a partial match that says how the copy was made
    with recaptioned.home.open_store() as store, store.session() as session:
        (match,) = session.scalars(select(MediaMatch)).all()
        assert match.kind == "partial" and match.transform is not None
        assert match.transform.startswith(("cropped", "covered")), match.transform
        (entry,) = session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == EntryKind.MEDIA_MATCHED)
        ).all()
        assert json.loads(entry.body)["data"]["transform"] == match.transform
    # And the audit holds it to its ledger entry; the reports name it
    assert run_cli("verify", *recaptioned.args).code == 0
    assert f"partial distance {match.distance}, {match.transform}" in (
        run_cli("desk", "reports", *recaptioned.args).out
    )
    # And a copy found online, cut by 10% on the right, is answered with how it was cut
    with Image.open(corpus.joinpath(*PHOTO)) as image:
        cropped(0.10, "r")(image.convert("RGB")).save(tmp_path / "online.jpg", "JPEG", quality=80)
    text = run_cli("media", "match", *recaptioned.args, str(tmp_path / "online.jpg")).out
    # (Raven's original; Falcon's copy lost other parts of the picture, so it may not match)
    raven = text.splitlines()[0]
    assert "same photo, cropped 10% (right); region distance" in raven, text
