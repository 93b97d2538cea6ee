"""Non-regular files and hostile archives (issue 14, item 8).

A FIFO given to ``verify-package``, ``scrub`` or ``media`` must not hang it; a
link to ``/dev/zero`` must not be read at all; a zip with the encryption flag or
an unknown compression method is a one-line problem, in ``sijil verify-package``
and in the standalone verifier every package carries, never a traceback.

Commands that could hang run in a child process (tests/cli_process.py) or a
subprocess, joined with a timeout: the timeout only bounds a regression, nothing
waits on it when the code is right.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_process import start_cli
from conftest import CliResult, DeskFixture, Evidence, desk_with_evidence
from export_helpers import export_package, package_members
from media import camera_jpeg
from sijil.errors import InputRefused
from sijil.field.home import FieldSession
from sijil.fsutil import open_regular, read_regular
from sijil.store import Store

# A refusal takes milliseconds; a hang would take forever. This only bounds a regression.
PROMPT_S = 60.0


# --- factories ------------------------------------------------------------------------


@pytest.fixture
def make_hostile(tmp_path: Path) -> Callable[[str], Path]:
    """Factory: a FIFO ('fifo'), a link to /dev/zero ('zero'), a link to a real
    photo ('link') or a character device ('device'), under the given kind's name."""
    folder = tmp_path / "hostile"
    folder.mkdir()

    def make(kind: str) -> Path:
        path = folder / f"{kind}.jpg"
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "zero":
            path.symlink_to("/dev/zero")
        elif kind == "link":
            (folder / "real.jpg").write_bytes(camera_jpeg(seed=3))
            path.symlink_to(folder / "real.jpg")
        elif kind == "device":
            return Path("/dev/null")
        else:
            raise AssertionError(kind)
        return path

    return make


@dataclass
class Done:
    code: int | None
    out: str


@pytest.fixture
def run_bounded(tmp_path: Path) -> Callable[..., Done]:
    """Factory: ``sijil ARGS`` in a child process, joined within PROMPT_S."""
    counter = iter(range(1000))

    def run(*argv: str) -> Done:
        output = tmp_path / f"cli-{next(counter)}.out"
        process = start_cli(list(argv), dict(os.environ), output)
        process.join(PROMPT_S)
        if process.exitcode is None:
            process.kill()
            process.join(PROMPT_S)
            pytest.fail(f"sijil {' '.join(argv)} still running after {PROMPT_S} s")
        return Done(code=process.exitcode, out=output.read_text(errors="replace"))

    return run


@dataclass
class Package:
    zip: Path
    desk_key: Path
    verifier: Path


@pytest.fixture
def package(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> Package:
    """A real evidence package (SQLite desk), its desk.pub and its verifier copied out."""
    evidence: Evidence = desk_with_evidence(
        make_desk, make_correspondent, Store.sqlite_url(tmp_path / "desk.db"), tmp_path
    )
    out = tmp_path / "case.zip"
    export_package(run_cli, evidence, out)
    script = tmp_path / "alone" / "verify_package.py"
    script.parent.mkdir()
    script.write_bytes(package_members(out)["verify_package.py"])
    return Package(zip=out, desk_key=evidence.desk.home.public_file, verifier=script)


def standalone(pkg: Package, target: Path) -> subprocess.CompletedProcess[str]:
    """The verifier as an investigator runs it: python -I verify_package.py, no sijil."""
    return subprocess.run(
        [sys.executable, "-I", str(pkg.verifier), str(target), "--desk-key", str(pkg.desk_key)],
        capture_output=True,
        text=True,
        timeout=PROMPT_S,
        cwd=pkg.verifier.parent,
        check=False,
    )


def edit_member(source: Path, target: Path, *, flag: int = 0, method: int | None = None) -> Path:
    """Copy a zip, setting general-purpose ``flag`` bits or the compression ``method``
    of its first member, in its local header and in the central directory alike."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        first = archive.infolist()[0]
        local = first.header_offset
    central = data.index(b"PK\x01\x02")  # the first central record is the first member's
    for at, flags_at, method_at in ((local, 6, 8), (central, 8, 10)):
        data[at + flags_at] |= flag
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    target.write_bytes(bytes(data))
    return target


def one_line_problem(text: str) -> None:
    assert "Traceback" not in text, text
    assert any(line.startswith("PROBLEM") for line in text.splitlines()), text


# --- open_regular: the one way an input is opened -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("zero", "is a symbolic link"),
        ("link", "is a symbolic link"),
        ("device", "is a character device"),
    ],
)
def test_open_regular_refuses_links_and_devices_before_reading(
    make_hostile: Callable[[str], Path], kind: str, said: str
) -> None:
    # Given a link or a device / When opened as an input / Then refused by name
    with pytest.raises(InputRefused, match=said):
        open_regular(make_hostile(kind), max_bytes=1 << 20)


def test_open_regular_refuses_a_folder_and_a_file_over_its_limit(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x" * 100)
    with pytest.raises(InputRefused, match="is a folder"):
        open_regular(tmp_path, max_bytes=1 << 20)
    with pytest.raises(InputRefused, match="100 bytes, over the 99-byte limit"):
        open_regular(photo, max_bytes=99)
    assert read_regular(photo, max_bytes=100) == b"x" * 100


def test_a_file_that_grows_after_it_was_opened_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    # Given a file within the limit when it is opened
    path = tmp_path / "growing.bin"
    path.write_bytes(b"a" * 10)
    with open_regular(path, max_bytes=16) as handle:
        # When it grows past the limit before it is read
        with path.open("ab") as writer:
            writer.write(b"b" * 100)
        # Then reading it stops with InputRefused, not after the whole file
        with pytest.raises(InputRefused, match="grew past the 16-byte limit"):
            handle.read()


def test_a_fifo_is_refused_without_blocking_even_with_no_writer(
    make_hostile: Callable[[str], Path], run_bounded: Callable[..., Done]
) -> None:
    # Given a FIFO nobody writes to / When scrub inspects it (in a child, bounded)
    done = run_bounded("scrub", "--inspect", str(make_hostile("fifo")))
    # Then it answers at once, one line, exit 1
    assert done.code == 1, done.out
    assert "fifo.jpg: NOT CLEANED: fifo.jpg is a FIFO (named pipe), not a regular file" in done.out
    assert "Traceback" not in done.out


# --- scrub and media -----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "said"), [("fifo", "is a FIFO"), ("zero", "is a symbolic link")])
def test_scrub_names_the_hostile_file_and_still_cleans_the_others(
    make_hostile: Callable[[str], Path],
    run_bounded: Callable[..., Done],
    tmp_path: Path,
    kind: str,
    said: str,
) -> None:
    # Given a real photo and a FIFO or a link to /dev/zero
    good = tmp_path / "good.jpg"
    good.write_bytes(camera_jpeg(seed=9))
    hostile = make_hostile(kind)
    out = tmp_path / "out"
    # When both are scrubbed
    done = run_bounded("scrub", str(good), str(hostile), "--out", str(out))
    # Then the photo is cleaned, the other is refused in one line, and nothing else is left
    assert done.code == 1, done.out
    assert f"{hostile.name}: NOT CLEANED: {hostile.name} {said}" in done.out
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]
    assert "Traceback" not in done.out


@pytest.mark.parametrize(("kind", "said"), [("fifo", "is a FIFO"), ("zero", "symbolic link")])
def test_media_hash_and_match_refuse_a_fifo_or_a_link_to_dev_zero(
    make_hostile: Callable[[str], Path],
    run_bounded: Callable[..., Done],
    make_desk: Callable[..., DeskFixture],
    kind: str,
    said: str,
) -> None:
    hostile = make_hostile(kind)
    desk = make_desk()
    for argv in (["media", "hash", str(hostile)], ["media", "match", *desk.args, str(hostile)]):
        # When it is fingerprinted / Then one line, exit 1, promptly
        done = run_bounded(*argv)
        assert done.code == 1, done.out
        assert said in done.out and len(done.out.strip().splitlines()) == 1, done.out


# --- verify-package and the standalone verifier --------------------------------------------


@pytest.mark.parametrize(("kind", "said"), [("fifo", "not a regular file"), ("zero", "link")])
def test_verify_package_refuses_a_fifo_or_a_link_to_dev_zero(
    package: Package,
    make_hostile: Callable[[str], Path],
    run_bounded: Callable[..., Done],
    kind: str,
    said: str,
) -> None:
    hostile = make_hostile(kind)
    # When sijil verify-package is given it / Then a problem line and exit 1, promptly
    done = run_bounded("verify-package", str(hostile), "--desk-key", str(package.desk_key))
    assert done.code == 1, done.out
    one_line_problem(done.out)
    assert said in done.out
    # And the standalone verifier says the same
    alone = standalone(package, hostile)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    one_line_problem(alone.stdout + alone.stderr)
    assert said in alone.stdout


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ({"flag": 0x1}, "is encrypted"),
        ({"method": 99}, "uses compression method 99"),
    ],
)
def test_an_encrypted_member_or_an_unknown_method_is_one_problem_line_in_both_verifiers(
    package: Package,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    edit: dict[str, int],
    said: str,
) -> None:
    # Given the real package with its first member's bytes edited
    hostile = edit_member(package.zip, tmp_path / "edited.zip", **edit)
    # When sijil verify-package checks it / Then one problem line naming it, exit 1
    result = run_cli("verify-package", str(hostile), "--desk-key", str(package.desk_key))
    assert result.code == 1, result.out + result.err
    one_line_problem(result.out + result.err)
    assert said in result.out
    # And the standalone verifier, run alone, says the same without a traceback
    alone = standalone(package, hostile)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    one_line_problem(alone.stdout + alone.stderr)
    assert said in alone.stdout and alone.stdout.rstrip().endswith("FAILED")


def test_the_genuine_package_still_verifies_through_the_bounded_open(
    package: Package, run_cli: Callable[..., CliResult]
) -> None:
    result = run_cli("verify-package", str(package.zip), "--desk-key", str(package.desk_key))
    assert result.code == 0, result.out + result.err
    assert standalone(package, package.zip).returncode == 0


def test_a_fifo_as_the_desk_key_is_refused_not_waited_on(
    package: Package, make_hostile: Callable[[str], Path]
) -> None:
    # Given a FIFO where desk.pub should be
    fifo = make_hostile("fifo")
    # When the standalone verifier is given it / Then one problem line, exit 1, at once
    alone = subprocess.run(
        [sys.executable, "-I", str(package.verifier), str(package.zip), "--desk-key", str(fifo)],
        capture_output=True,
        text=True,
        timeout=PROMPT_S,
        check=False,
    )
    assert alone.returncode == 1 and "not a regular file" in alone.stdout, alone.stdout
    assert "Traceback" not in alone.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
