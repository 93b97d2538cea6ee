"""The demo plays end to end and leaves a desk home that shows what it claims.

The demo runs once per test session: every assertion about it lives in this
module, on the module's ``played`` run, and the ``xdist_group`` mark keeps the
module on one xdist worker (``--dist loadgroup``), so no second worker plays it again.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select

from sijil.cli.demo import PASSPHRASE, run_demo
from sijil.cli.main import main
from sijil.desk.home import DeskHome
from sijil.desk.reports import ReportRow, list_reports
from sijil.store import Envelope, MediaMatch, QuarantineItem

pytestmark = pytest.mark.xdist_group("demo")


@dataclass(frozen=True)
class Played:
    home: Path
    desk: DeskHome
    lines: list[str]
    rows: list[ReportRow]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    home = tmp_path_factory.mktemp("run") / "demo"
    lines: list[str] = []
    assert run_demo(home, echo=lines.append) == home
    desk = DeskHome(root=home / "desk")
    desk = desk.with_key(desk.unlock(PASSPHRASE))  # the demo's database is encrypted
    with desk.open_store() as store:
        rows = list_reports(store)
    return Played(home=home, desk=desk, lines=lines, rows=rows)


def test_a_dozen_reports_reach_the_desk(played: Played) -> None:
    assert len(played.rows) >= 12
    assert {row.lang for row in played.rows} == {"ar", "en"}
    assert any(row.location for row in played.rows)
    assert sum(len(row.attachments) for row in played.rows) >= 8


def test_three_enrolled_codenames_and_one_unenrolled_source(played: Played) -> None:
    enrolled = {row.correspondent for row in played.rows if row.enrolled}
    strangers = {row.correspondent for row in played.rows if not row.enrolled}
    assert enrolled == {"Raven", "Falcon", "Olive"}
    assert len(strangers) == 1
    assert next(iter(strangers)).startswith("unenrolled-")


def test_the_damaged_envelope_is_quarantined_with_its_reason(played: Played) -> None:
    vault = played.desk.open_vault(played.desk.unlock(PASSPHRASE))
    with played.desk.open_store() as store, store.session() as session:
        items = session.scalars(select(QuarantineItem)).all()
    assert items
    assert all(item.reason for item in items)
    (damaged,) = [i for i in items if i.source_name == "IMG-copy-from-old-stick.age"]
    assert damaged.error_type == "TamperedEnvelope"
    # kept byte for byte: in the vault, or (a desk before migration 0005) in quarantine/
    kept = (
        vault.read_bytes(damaged.sha256)
        if damaged.stored_path is None
        else (played.desk.root / damaged.stored_path).read_bytes()
    )
    assert hashlib.sha256(kept).hexdigest() == damaged.sha256


def test_the_waiting_envelope_completes_on_the_second_import(played: Played) -> None:
    waiting = [line for line in played.lines if line.lstrip().startswith("waiting")]
    assert len(waiting) == 1
    match = re.search(r"shards of ([0-9a-f]{12})", waiting[0])
    assert match is not None
    with played.desk.open_store() as store, store.session() as session:
        envelope = session.scalar(select(Envelope).where(Envelope.id.startswith(match[1])))
        assert envelope is not None
        assert (envelope.status, envelope.channel) == ("opened", "text")
        assert envelope.report is not None
    assert not any(played.desk.pending_shards.iterdir())


def test_stored_photos_carry_no_camera_or_gps_metadata(played: Played) -> None:
    # attachments live encrypted in the vault; read them back through it
    vault = played.desk.open_vault(played.desk.unlock(PASSPHRASE))
    shas = {a["sha256"] for row in played.rows for a in row.attachments}
    stored = [io.BytesIO(vault.read_bytes(sha)) for sha in sorted(shas)]
    assert len(stored) >= 8
    for path in stored:
        with Image.open(path) as image:
            exif = image.getexif()
            assert set(exif) <= {ExifTags.Base.Orientation}, path
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo)


def test_plaintext_photos_never_enter_a_field_home(played: Played) -> None:
    for path in (played.home / "field").rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\xff\xd8"), path


def test_the_output_ends_with_commands_to_explore(played: Played) -> None:
    text = "\n".join(played.lines)
    desk = str(played.desk.root)
    assert f"sijil desk reports --home {desk}" in text
    assert f"SIJIL_PASSPHRASE={PASSPHRASE}" in text
    assert f"sijil desk quarantine list --home {desk}" in text
    assert f"sijil field outbox --home {played.home / 'field' / 'raven'}" in text
    assert "sijil desk key export-age" in text
    assert "age -d -i" in text
    assert len(played.lines) <= 150  # a screenful or two per scene, no flood


def test_the_demo_ends_with_the_audit_passing_and_a_package_verified(played: Played) -> None:
    # Given the custody section, before the closing "Explore" commands
    start = next(i for i, line in enumerate(played.lines) if "Chain of custody" in line)
    custody = played.lines[start + 1 : start + 4]
    assert "nothing lost, nothing altered" in custody[0]
    assert custody[2].endswith("OK, the package verifies")
    assert any("Explore" in line for line in played.lines[start:])
    assert (played.home / "evidence-package.zip").is_file()


def test_the_demo_flags_its_recycled_photo(played: Played) -> None:
    flagged = [line for line in played.lines if "recycled photo" in line]
    # a copy cut at the sides and captioned: found by its region hashes, and said so
    assert len(flagged) == 1 and "region distance" in flagged[0]
    assert "cropped" in flagged[0] or "covered" in flagged[0]
    with played.desk.open_store() as store, store.session() as session:
        (match,) = session.scalars(select(MediaMatch)).all()
        assert match.kind == "partial" and match.distance <= 22


def test_demo_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--home", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("sijil: error:")
    assert "not an empty folder" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_desk_turns_the_night_into_reviewed_incidents_and_a_debunked_claim(
    played: Played,
) -> None:
    from sijil.desk.claims import get_claim
    from sijil.desk.incident_view import show_incident
    from sijil.desk.incidents import list_incidents
    from sijil.desk.verdicts import current_verdict

    with played.desk.open_store() as store, store.session() as session:
        # Given the demo's two incidents, built from the night's reports
        codes = sorted(i.code for i in list_incidents(session))
        assert len(codes) == 2
        bakery, block = (show_incident(session, code) for code in codes)
        assert {bakery["titles"]["en"][:8], block["titles"]["en"][:8]} == {
            "Strike o",
            "Resident",
        }
        assert len(bakery["evidence"]) == 3 and len(block["evidence"]) == 3
        # Then the bakery's casualty range was proposed by one editor and reviewed by another
        current = bakery["current_assessment"]
        assert current["grading"] == "fair"
        assert current["author"] == "Layla" and current["reviewed_by"] == "Omar"
        assert current["independently_reviewed"] is True
        killed = {
            (c["status"], c["group"]): (c["min"], c["max"])
            for c in current["casualties"]
            if c["outcome"] == "killed"
        }
        assert killed[("civilian", "all")] == (7, 9)
        # And the "only a weapons depot" claim is rated false, citing the block's photos
        verdict = current_verdict(session, get_claim(session, "C-1"))
        assert verdict is not None and verdict.rating == "false"
    assert any("rated false as V-1" in line for line in played.lines)


def test_the_demo_desk_is_searched_in_arabic_and_english(
    played: Played, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import subprocess
    import sys

    from sijil.cli.main import main

    # Given the demo's desk, where the night's bakery strike was reported in both languages
    assert any(line.startswith("  search 'الفُرْن': report #") for line in played.lines)
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    home = str(played.desk.root)
    # When an editor searches for the bakery without vowel marks, and with them
    for query in ("الفرن", "الفُرْن"):
        assert main(["desk", "search", "--home", home, query, "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)
        # Then the bakery incident and its Arabic reports are found, with marked snippets
        assert "SJ-2026-0001" in {h["id"] for h in hits}
        assert all(set(h) >= {"kind", "id", "title", "snippet", "lang", "score"} for h in hits)
        assert any("⟦" in h["snippet"] for h in hits)
    assert main(["desk", "search", "--home", home, "Bakery", "--kind", "report"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("report") and "[Bakery]" in out
    # And bytes that are not UTF-8, from a shell, give no traceback
    child = subprocess.run(
        [sys.executable, "-m", "sijil.cli.main", "desk", "search", "--home", home.encode(),
         b"\xff\xfe\xd8"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 0 and b"Traceback" not in child.stderr
    assert child.stdout.strip() == b"no matches"


def test_a_caught_correspondent_warns_the_desk_with_a_duress_envelope(played: Played) -> None:
    # Given the demo's capture scene
    start = next(i for i, line in enumerate(played.lines) if "A correspondent caught" in line)
    scene = "\n".join(played.lines[start : start + 5])
    # Then the real outbox was wiped, the desk alerted, flagged the report and stopped replies
    assert "outbox shows 0 reports" in scene
    assert "ALERT: SENT UNDER DURESS" in scene
    assert "[SENT UNDER DURESS]" in scene
    assert "a reply to Falcon: refused" in scene
    flagged = [row for row in played.rows if row.flag]
    assert [(row.correspondent, row.flag) for row in flagged] == [("Falcon", "sent under duress")]


def test_the_demo_ends_with_a_web_login_that_starts_an_enrolment(played: Played) -> None:
    from sijil.desk.accounts import start_enrolment

    # Given the demo's last lines, naming the serve command and Layla's code
    assert any("sijil desk serve --home" in line for line in played.lines[-3:])
    (line,) = [line for line in played.lines if "/enrol, user Layla, code" in line]
    code = line.split("code ")[1].split(" ")[0]
    # Then the code starts Layla's enrolment in the web app
    with played.desk.open_store() as store:
        assert start_enrolment(store, "Layla", code).totp_secret


def test_the_demo_publishes_a_signed_site_that_stock_tools_verify(played: Played) -> None:
    import shlex
    import subprocess

    # Given the demo's publishing scene
    start = played.lines.index(next(x for x in played.lines if "== 11. The public record" in x))
    scene = played.lines[start : start + 16]
    # Then the post without an attestation was refused by the gate, and two posts went out
    assert any("without an attestation: the safety gate refused" in x for x in scene)
    assert sum(x.startswith("  posted ") for x in scene) == 2
    site = played.home / "site"
    assert (site / "ar" / "index.html").is_file() and (site / "log" / "checkpoint").is_file()
    # And the two commands it prints for a reader verify the first post
    commands = [x.strip() for x in scene if x.strip().startswith(("minisign -V", "ssh-keygen -Y"))]
    assert len(commands) == 2
    for command in commands:
        argv, _, stdin = command.partition(" < ")
        with open(shlex.split(stdin)[0], "rb") if stdin else open("/dev/null", "rb") as feed:
            done = subprocess.run(shlex.split(argv), stdin=feed, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
