"""The ``sijil`` command end to end, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from conftest import CliResult, DeskFixture
from media import camera_jpeg
from sijil.crypto.kdf import KdfParams

Run = Callable[..., CliResult]


@pytest.fixture
def world(
    make_desk: Callable[..., DeskFixture],
    store_url: str,
    tmp_path: Path,
    run_cli: Run,
    fast_kdf: KdfParams,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[DeskFixture, Path]:
    """A desk on the given database and one correspondent, both set up through the CLI.

    The correspondent's key is locked with the cheap test scrypt, not the real one,
    which would cost a third of a second at every command that unlocks it; the
    ``*_uses_the_real_kdf`` tests check what ``init`` uses without the patch.
    """
    monkeypatch.setattr("sijil.cli.field_cmds.DEFAULT_KDF", fast_kdf)
    desk = make_desk(store_url)
    invite = tmp_path / "raven.invite"
    assert run_cli("desk", "invite", *desk.args, "--name", "Raven", "--out", str(invite)).code == 0
    field = tmp_path / "raven"
    result = run_cli("field", "init", "--home", str(field), "--invite", str(invite))
    assert result.code == 0, result.err
    assert desk.home.public().fingerprint in result.out
    return desk, field


def test_a_report_travels_from_field_to_desk_by_usb_and_by_text(
    world: tuple[DeskFixture, Path], tmp_path: Path, run_cli: Run
) -> None:
    desk, field = world
    photo = tmp_path / "DSC_0042.jpg"
    photo.write_bytes(camera_jpeg())
    # When Raven composes a located report with a photo
    new = run_cli(
        "field",
        "new",
        "--home",
        str(field),
        "--title",
        "غارة على الجسر",
        "--text",
        "03:10",
        "--lang",
        "ar",
        "--file",
        str(photo),
        "--location",
        "35.9531,39.0061",
        "--precision",
        "500",
    )
    assert new.code == 0, new.err
    assert "GPS" in new.out and "sealed" in new.out
    envelope_id = new.out.strip().split()[-3]
    # And exports it to a USB folder and as text shards
    assert run_cli("field", "export", "--home", str(field), "--to", str(tmp_path / "usb")).code == 0
    text = run_cli(
        "field", "export", "--home", str(field), "--to", str(tmp_path / "chat"), "--text"
    )
    assert text.code == 0 and "text shards" in text.out
    outbox = run_cli("field", "outbox", "--home", str(field))
    assert envelope_id[:16] in outbox.out and "file,text" in outbox.out
    # Then the desk imports both; the second copy is a duplicate
    imported = run_cli("desk", "import", *desk.args, str(tmp_path / "usb"), str(tmp_path / "chat"))
    assert imported.code == 0, imported.err
    assert "1 imported" in imported.out and "1 duplicate" in imported.out
    # And lists it, with the location that travelled only inside the envelope
    listed = run_cli("desk", "reports", *desk.args, "--json")
    (report,) = json.loads(listed.out)
    assert report["envelope_id"] == envelope_id
    assert report["correspondent"] == "Raven" and report["title"] == "غارة على الجسر"
    assert report["location"] == {"lat": 35.9531, "lon": 39.0061, "precision_m": 500}
    human = run_cli("desk", "reports", *desk.args)
    assert "Raven" in human.out and "1 file(s)" in human.out


def test_the_exported_age_identity_opens_envelopes_with_the_age_tool(
    world: tuple[DeskFixture, Path], tmp_path: Path, run_cli: Run
) -> None:
    desk, field = world
    assert run_cli("field", "new", "--home", str(field), "--title", "t", "--lang", "en").code == 0
    (envelope,) = (field / "outbox").glob("*.age")
    result = run_cli(
        "desk",
        "key",
        "export-age",
        "--home",
        str(desk.home.root),
        "--out",
        str(tmp_path / "desk.agekey"),
    )
    assert result.code == 0 and "WARNING" in result.err
    assert (tmp_path / "desk.agekey").stat().st_mode & 0o077 == 0
    plain = subprocess.run(
        ["age", "-d", "-i", tmp_path / "desk.agekey", envelope], capture_output=True, check=True
    )
    assert plain.stdout.startswith(b"SIJIL/1\n")


def test_wipe_now_destroys_the_home_without_asking(
    world: tuple[DeskFixture, Path], run_cli: Run
) -> None:
    _, field = world
    result = run_cli("field", "wipe", "--home", str(field), "--now")
    assert result.code == 0 and "wiped" in result.out
    assert not (field / "identity.key").exists()
    again = run_cli("field", "outbox", "--home", str(field))
    assert again.code != 0 and "no correspondent home" in again.err


def _one_line_error(result: CliResult) -> str:
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


def test_a_wrong_passphrase_is_one_line(
    world: tuple[DeskFixture, Path], run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, field = world
    monkeypatch.setenv("SIJIL_PASSPHRASE", "not the passphrase")
    assert "wrong passphrase" in _one_line_error(run_cli("field", "outbox", "--home", str(field)))


def test_no_passphrase_and_no_terminal_is_one_line(
    world: tuple[DeskFixture, Path], tmp_path: Path
) -> None:
    _, field = world
    env = {k: v for k, v in __import__("os").environ.items() if k != "SIJIL_PASSPHRASE"}
    done = subprocess.run(
        [sys.executable, "-m", "sijil.cli.main", "field", "outbox", "--home", str(field)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "SIJIL_PASSPHRASE" in done.stderr


def test_an_uncleanable_file_is_refused_in_one_line(
    world: tuple[DeskFixture, Path], tmp_path: Path, run_cli: Run
) -> None:
    _, field = world
    bmp = tmp_path / "a.bmp"
    Image.new("RGB", (4, 4)).save(bmp)
    line = _one_line_error(
        run_cli("field", "new", "--home", str(field), "--title", "t", "--file", str(bmp))
    )
    assert "BMP" in line and "--keep-metadata" in line
    assert list((field / "outbox").glob("*.age")) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["desk", "reports", "--home", "/nonexistent/desk"], "no desk home"),
        (["field", "new", "--home", "/nonexistent/f", "--title", "t"], "no correspondent home"),
        (
            ["desk", "invite", "--home", "/nonexistent/desk", "--name", "../x", "--out", "x"],
            "--name",
        ),
        (
            ["field", "init", "--home", "/nonexistent/f", "--invite", "/nonexistent.invite"],
            "does not exist",
        ),
    ],
)
def test_usage_errors_are_one_line(
    run_cli: Run, passphrase: str, args: list[str], expected: str
) -> None:
    assert expected in _one_line_error(run_cli(*args))


def test_a_bad_location_is_one_line(world: tuple[DeskFixture, Path], run_cli: Run) -> None:
    _, field = world
    line = _one_line_error(
        run_cli("field", "new", "--home", str(field), "--title", "t", "--location", "somewhere")
    )
    assert "decimal degrees" in line


def test_a_taken_codename_is_refused(
    world: tuple[DeskFixture, Path], tmp_path: Path, run_cli: Run
) -> None:
    desk, _ = world
    line = _one_line_error(
        run_cli("desk", "invite", *desk.args, "--name", "Raven", "--out", str(tmp_path / "again"))
    )
    assert "taken" in line


def test_a_non_invite_file_is_refused(run_cli: Run, tmp_path: Path, passphrase: str) -> None:
    junk = tmp_path / "junk"
    junk.write_text("{}")
    line = _one_line_error(
        run_cli("field", "init", "--home", str(tmp_path / "f"), "--invite", str(junk))
    )
    assert "not a sijil invite" in line


def test_home_comes_from_the_environment_twin(
    world: tuple[DeskFixture, Path], run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk, _ = world
    monkeypatch.setenv("SIJIL_DESK_HOME", str(desk.home.root))
    if desk.home.db_url:
        monkeypatch.setenv("SIJIL_DB_URL", desk.home.db_url)
    result = run_cli("desk", "reports", "--json")
    assert result.code == 0 and json.loads(result.out) == []


def test_desk_init_through_the_cli_uses_the_real_kdf(
    tmp_path: Path, run_cli: Run, passphrase: str
) -> None:
    result = run_cli("desk", "init", "--home", str(tmp_path / "d"))
    assert result.code == 0
    doc = json.loads((tmp_path / "d" / "desk.key").read_text())
    assert doc["kdf"]["log_n"] >= 17
    assert "Fingerprint:" in result.out
    again = run_cli("desk", "init", "--home", str(tmp_path / "d"))
    assert "already exists" in _one_line_error(again)


def test_field_init_through_the_cli_uses_the_real_kdf(
    make_desk: Callable[..., DeskFixture], tmp_path: Path, run_cli: Run
) -> None:
    desk = make_desk()
    invite = tmp_path / "raven.invite"
    assert run_cli("desk", "invite", *desk.args, "--name", "Raven", "--out", str(invite)).code == 0
    result = run_cli("field", "init", "--home", str(tmp_path / "f"), "--invite", str(invite))
    assert result.code == 0, result.err
    doc = json.loads((tmp_path / "f" / "identity.key").read_text())
    assert doc["kdf"]["log_n"] >= 17


def test_report_text_can_come_from_stdin_and_a_missing_title_is_one_line(
    world: tuple[DeskFixture, Path], run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    _, field = world
    # Given the body piped in, out of the shell history
    monkeypatch.setattr("sys.stdin", io.StringIO("قصف على السوق\nثلاثة جرحى"))
    made = run_cli("field", "new", "--home", str(field), "--title", "t", "--text", "-")
    assert made.code == 0, made.err
    # And a title left out without a terminal to ask on
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    line = _one_line_error(run_cli("field", "new", "--home", str(field), "--text", "x"))
    assert "--title" in line
