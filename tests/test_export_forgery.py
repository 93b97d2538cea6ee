"""Forged evidence packages: every payload file must be one the proven ledger accounts for."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSPHRASE, CliResult, DeskFixture, Evidence
from export_helpers import check_package as _check
from export_helpers import export_package as _export
from export_helpers import package_members as _members
from export_helpers import rewrite_package as _rewrite
from sijil import scrub
from sijil.desk.intake import import_paths
from sijil.envelope.sealing import AttachmentSource, Draft, seal
from sijil.export import verifier
from sijil.field.home import FieldSession

GPS_PHOTO = (
    Path(__file__).resolve().parents[1].parent
    / "shared/corpus/media/exif-samples/jpg/gps/DSCN0010.jpg"
)


def _forged(
    run_cli: Callable[..., CliResult],
    ev: Evidence,
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None],
    *extra: str,
) -> CliResult:
    package = tmp_path / "case.zip"
    _export(run_cli, ev, package, *extra)
    result = _check(run_cli, ev, _rewrite(package, tmp_path / "forged.zip", change))
    assert result.code == 1, result.out
    assert "OK: the package verifies" not in result.out
    return result


def _photo(files: dict[str, bytes]) -> str:
    return next(p for p in files if p.startswith("data/reports/"))


def _evidence_doc(files: dict[str, bytes], edit: Callable[[Any], None]) -> None:
    doc = json.loads(files["data/evidence.json"])
    edit(doc)
    files["data/evidence.json"] = json.dumps(doc).encode()


def _evidence(files: dict[str, bytes], edit: Callable[[dict[str, object]], None]) -> None:
    _evidence_doc(files, lambda doc: [edit(report) for report in doc["reports"]])


def test_a_working_copy_replaced_and_the_real_one_moved_elsewhere_fails(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given a forger who puts a new photo at the canonical path, moves the real
    # one elsewhere and points evidence.json at it
    def change(files: dict[str, bytes]) -> None:
        photo = _photo(files)
        hidden = "data/ledger/x/" + photo.rsplit("/", 1)[1]
        files[hidden], files[photo] = files[photo], b"\xff\xd8\xff FORGED PHOTO"

        def point(report: dict[str, object]) -> None:
            for item in report["files"]:  # type: ignore[attr-defined]
                if item["path"] == photo:
                    item["path"] = hidden

        _evidence(files, point)

    # Then the canonical path, derived from the ledger, is what is checked
    out = _forged(run_cli, evidence, tmp_path, change).out
    assert "differs from what the ledger recorded" in out
    assert "a file the ledger does not account for" in out


def test_a_planted_extra_file_and_an_emptied_file_list_fail(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    def plant(files: dict[str, bytes]) -> None:
        folder = _photo(files).rsplit("/", 1)[0]
        files[folder + "/02-attachment-2.jpg"] = b"\xff\xd8\xff planted"

    out = _forged(run_cli, evidence, tmp_path, plant).out
    assert "02-attachment-2.jpg: a file the ledger does not account for" in out

    def empty(files: dict[str, bytes]) -> None:
        files[_photo(files)] = b"\xff\xd8\xff FORGED"
        _evidence(files, lambda report: report.update(files=[]))

    out = _forged(run_cli, evidence, tmp_path, empty).out
    assert "differs from what the ledger recorded" in out


def test_a_sealed_original_dropped_from_evidence_and_replaced_fails(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    def change(files: dict[str, bytes]) -> None:
        original = next(p for p in files if p.startswith("data/originals/"))
        files[original] = b"age-encryption.org/v1\nforged"
        _evidence(files, lambda report: report.pop("original", None))

    out = _forged(run_cli, evidence, tmp_path, change, "--originals").out
    assert "sealed original differs from the envelope received" in out
    assert "does not name its sealed original" in out


def test_two_reports_cannot_swap_their_envelopes(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given a forger who swaps the received entries (and so the originals) of two reports
    def swap_received(files: dict[str, bytes]) -> None:
        def swap(doc: Any) -> None:
            one, two = doc["reports"]
            one["ledger"]["received"], two["ledger"]["received"] = (
                two["ledger"]["received"],
                one["ledger"]["received"],
            )

        _evidence_doc(files, swap)

    out = _forged(run_cli, evidence, tmp_path, swap_received, "--originals").out
    assert "its envelope.received entry is not in the package" in out

    # or points a report at another entry kind, or at the other report's envelope
    def wrong_kind(files: dict[str, bytes]) -> None:
        _evidence(files, lambda r: r["ledger"].update(received=r["ledger"]["registered"]))  # type: ignore[attr-defined]

    assert "envelope.received entry" in _forged(run_cli, evidence, tmp_path, wrong_kind).out

    def swap_envelopes(files: dict[str, bytes]) -> None:
        def swap(doc: Any) -> None:
            one, two = doc["reports"]
            one["envelope"], two["envelope"] = two["envelope"], one["envelope"]

        _evidence_doc(files, swap)

    out = _forged(run_cli, evidence, tmp_path, swap_envelopes).out
    assert "its registration entry is not in the package" in out


def test_a_report_dropped_from_the_package_or_a_second_export_entry_fails(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    def drop(files: dict[str, bytes]) -> None:
        _evidence_doc(files, lambda doc: doc.update(reports=doc["reports"][:1]))

    out = _forged(run_cli, evidence, tmp_path, drop).out
    assert "does not list exactly the reports the export recorded" in out

    def no_export(files: dict[str, bytes]) -> None:
        lines = files["data/ledger/entries.jsonl"].splitlines(keepends=True)
        kept = [line for line in lines if b'"kind":"exported"' not in line]
        files["data/ledger/entries.jsonl"] = b"".join(kept)

    out = _forged(run_cli, evidence, tmp_path, no_export).out
    assert "holds 0 export entries, not exactly one" in out


def _zip_with(package: Path, out: Path, extra: Callable[[zipfile.ZipFile, str], None]) -> Path:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        top = src.infolist()[0].filename.split("/", 1)[0]
        photo = next(i.filename for i in src.infolist() if "/data/reports/" in i.filename)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about duplicate names
            extra(dst, photo if extra is _duplicate else top)
            for info in src.infolist():
                dst.writestr(info, src.read(info))
    return out


def _duplicate(dst: zipfile.ZipFile, photo: str) -> None:
    # unzip extracts the first copy, a naive verifier reads the last
    dst.writestr(photo, b"\xff\xd8\xff FORGED")


def _absolute(dst: zipfile.ZipFile, top: str) -> None:
    info = zipfile.ZipInfo("x")
    info.filename = f"/{top}/data/x"  # ZipInfo() strips a leading slash; a forger's tool need not
    dst.writestr(info, b"x")


def _climbing(dst: zipfile.ZipFile, top: str) -> None:
    info = zipfile.ZipInfo("x")
    info.filename = f"{top}/../../etc/x"
    dst.writestr(info, b"x")


def _symlink(dst: zipfile.ZipFile, top: str) -> None:
    info = zipfile.ZipInfo(f"{top}/data/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    dst.writestr(info, "/etc/passwd")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (_duplicate, "appears twice in the zip"),
        (_absolute, "unsafe package: absolute path"),
        (_climbing, "climbs out with '..'"),
        (_symlink, "is a symbolic link"),
    ],
)
def test_zip_tricks_are_refused_by_name(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    tmp_path: Path,
    extra: Callable[[zipfile.ZipFile, str], None],
    named: str,
) -> None:
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    result = _check(run_cli, evidence, _zip_with(package, tmp_path / "trick.zip", extra))
    assert result.code == 1 and named in result.out, result.out


def test_deeply_nested_json_is_a_package_problem_not_a_crash(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)

    def nest(files: dict[str, bytes]) -> None:
        files["data/evidence.json"] = b"[" * 200_000

    forged = _rewrite(package, tmp_path / "deep.zip", nest)
    report = verifier.verify_package(forged, evidence.desk.home.public_file)
    assert any("RecursionError" in p for p in report.problems), report.problems
    result = _check(run_cli, evidence, forged)
    assert result.code == 1 and "Traceback" not in result.out + result.err


def test_a_package_does_not_carry_the_sender_key_digest(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    entries = _members(package)["data/ledger/entries.jsonl"]
    kinds = {json.loads(line)["kind"] for line in entries.splitlines()}
    assert kinds == {"envelope.received", "item.registered", "exported"}
    assert b"sender_key_sha256" not in entries
    assert _check(run_cli, evidence, package).code == 0


def _desk_with_gps_photo(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    photo: bytes,
) -> DeskFixture:
    # Given a photo sealed as is (as --keep-metadata does), GPS and camera included
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "inbox").mkdir()
    with (tmp_path / "inbox" / "e.age").open("wb") as out:
        seal(
            Draft(title="t", body="b", lang="en"),
            [
                AttachmentSource(
                    name="attachment-1.jpg", media_type="image/jpeg", stream=io.BytesIO(photo)
                )
            ],
            sender=raven.identity,
            desk=raven.desk,
            out=out,
            enrol_token=raven.enrol_token,
        )
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        import_paths(desk.home, identity, store, [tmp_path / "inbox"])
    return desk


def test_identifying_metadata_is_scrubbed_at_export_and_recorded(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
) -> None:
    photo = GPS_PHOTO.read_bytes()
    assert {f.kind for f in scrub.inspect(io.BytesIO(photo))} >= {"gps"}
    desk = _desk_with_gps_photo(make_desk, make_correspondent, store_url, tmp_path, photo)
    # When the report is exported
    package = tmp_path / "p.zip"
    made = run_cli("export", "package", *desk.args, "--report", "1", "--out", str(package))
    assert made.code == 0, made.err
    files = _members(package)
    copy = files["data/reports/report-1/01-attachment-1.jpg"]
    # Then the working copy in the package gives nothing away
    assert scrub.inspect(io.BytesIO(copy)) == []
    # and the export entry records it as a scrubbed derivative of the ledger's file
    entries = [json.loads(line) for line in files["data/ledger/entries.jsonl"].splitlines()]
    (export,) = [e["data"] for e in entries if e["kind"] == "exported"]
    (derived,) = export["scrubbed"]
    assert derived["position"] == 0 and "gps" in derived["removed"]
    assert derived["of"] != derived["sha256"]
    # and that entry, which stays on the desk's ledger, holds neither file's plain hash
    # (a seized ledger cannot confirm a known photo was held or exported)
    original_sha = hashlib.sha256(photo).hexdigest()
    copy_sha = hashlib.sha256(copy).hexdigest()
    assert export["salted"] is True
    assert original_sha not in json.dumps(export) and copy_sha not in json.dumps(export)
    # and only this package reveals the salt that opens the copy's commitment
    evidence = json.loads(files["data/evidence.json"])
    assert set(evidence["reports"][0]["scrubbed_salts"]) == {"0"}
    key = str(desk.home.public_file)
    result = run_cli("verify-package", str(package), "--desk-key", key)
    assert result.code == 0 and "1 scrubbed at export, recorded" in result.out, result.out

    # and the unscrubbed photo put back in its place does not verify
    def restore(files: dict[str, bytes]) -> None:
        files["data/reports/report-1/01-attachment-1.jpg"] = photo

    forged = _rewrite(package, tmp_path / "forged.zip", restore)
    result = run_cli("verify-package", str(forged), "--desk-key", key)
    assert result.code == 1 and "differs from what the ledger recorded" in result.out


def test_a_file_that_cannot_be_checked_for_metadata_is_refused_by_name(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a sealed "photo" whose bytes are a JPEG cut short (unparseable)
    photo = GPS_PHOTO.read_bytes()[:600]
    desk = _desk_with_gps_photo(make_desk, make_correspondent, store_url, tmp_path, photo)
    package = tmp_path / "p.zip"
    made = run_cli("export", "package", *desk.args, "--report", "1", "--out", str(package))
    # Then the export is refused, naming report and file, and no package is left
    assert made.code == 1 and "report #1, file 'attachment-1.jpg'" in made.err, made.err
    assert "Traceback" not in made.err and not package.exists()
    assert not list(tmp_path.glob(".sijil-export-*"))


def test_a_zip_claiming_more_than_any_real_package_is_refused_before_reading(
    evidence: Evidence, tmp_path: Path
) -> None:
    # Given a zip whose directory claims 20 members of ~4 GiB each (80 GiB in
    # all: under the old 1 TiB limit, over any real case)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w") as archive:
        for n in range(20):
            archive.writestr(f"bag/data/pad-{n}", b"x")
    raw = bytearray(bomb.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        raw[at + 24 : at + 28] = (0xFFFF_FFFE).to_bytes(4, "little")  # uncompressed size
        at = raw.find(b"PK\x01\x02", at + 4)
    bomb.write_bytes(bytes(raw))
    report = verifier.verify_package(bomb, evidence.desk.home.public_file)
    assert report.problems == [
        "the package cannot be read as a sijil evidence bag "
        "(the package is larger than any sijil package)"
    ]


def test_a_damaged_compressed_member_is_a_package_problem_not_a_crash(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given a package whose evidence.json has its deflate stream overwritten in the middle
    package = tmp_path / "case.zip"
    _export(run_cli, evidence, package)
    raw = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data/evidence.json"))
    assert info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size > 64
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start : start + 32] = b"\xff" * 32
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    # When it is checked, by the library and by the standalone script
    report = verifier.verify_package(damaged, evidence.desk.home.public_file)
    result = _check(run_cli, evidence, damaged)
    # Then each says, in one line, that the package cannot be read
    assert [p for p in report.problems if "cannot be read as a sijil evidence bag" in p], (
        report.problems
    )
    assert result.code == 1 and "Traceback" not in result.out + result.err
