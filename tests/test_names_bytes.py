"""File names are bytes (issue 14, item 5), and ``sijil verify`` names what has no record.

On Linux a file name is any bytes: a stick formatted elsewhere, or a hostile one,
carries names that are not UTF-8. Import, scrub and export must take them; the
CLI runs in a subprocess with a strict UTF-8 stdout (as under a UTF-8 locale
other than C.UTF-8), where an undecodable byte printed raw is a crash.
``sijil verify`` names each kept file without a record (a quarantine copy or a
vault blob an interrupted import left) and each attachment without its media
fingerprint, instead of a bare "nothing lost".
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from conftest import PASSPHRASE, CliResult, DeskFixture, Evidence
from export_helpers import export_package
from media import camera_jpeg
from sijil.desk.audit import DeskAudit, audit_desk
from sijil.desk.unrecorded_audit import MAX_NAMED
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.fsutil import shown_name
from sijil.store import Attachment, MediaPrintRow, QuarantineItem, Report

JUNK = b"PK\x03\x04 a document, not an envelope"
ODD = b"\xff\xfe"  # not UTF-8 in any position
RUN_TIMEOUT_S = 120.0  # bounds a hang; a run takes a second or two


def byte_path(folder: Path, name: bytes) -> Path:
    """The path of ``name`` (raw bytes) in ``folder``, as Python spells it (surrogates)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


@dataclass
class Run:
    code: int
    out: str


@pytest.fixture
def sijil_strict(passphrase: str) -> Callable[..., Run]:
    """Factory: ``sijil ARGS`` in a new interpreter whose stdout is strict UTF-8."""

    def run(*argv: str, script: Path | None = None) -> Run:
        env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
        env.pop("SIJIL_DEBUG", None)
        head = (
            [sys.executable, "-I", str(script)]
            if script
            else [sys.executable, "-m", "sijil.cli.main"]
        )
        done = subprocess.run(
            [*head, *argv],
            capture_output=True,
            env=env,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        out = (done.stdout + done.stderr).decode("utf-8", "backslashreplace")
        return Run(code=done.returncode, out=out)

    return run


def no_crash(run: Run) -> None:
    assert "Traceback" not in run.out and "internal error" not in run.out, run.out
    assert "UnicodeEncodeError" not in run.out, run.out


# --- the name as shown ------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=64).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_any_byte_name_is_shown_as_one_storable_line(raw: bytes) -> None:
    # Given any file name the kernel accepts / When shown
    shown = shown_name(Path(os.fsdecode(raw)))
    # Then it encodes as UTF-8 (storable in PostgreSQL, printable) and is one line
    shown.encode("utf-8")
    assert "\n" not in shown and "\r" not in shown
    # And an undecodable byte is spelled out, so the file can be found again
    if raw == ODD:
        assert shown == "\\xff\\xfe"


# --- import ------------------------------------------------------------------------------


@pytest.fixture
def odd_stick(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> tuple[DeskFixture, Path]:
    """A desk, and a stick with two real envelopes (one under an undecodable name)
    and a document under an undecodable name."""
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    for title in ("first", "second"):
        compose(raven, Draft(title=title, body="نص", lang="ar"), [])
    stick = tmp_path / "stick"
    export_outbox(raven, stick)
    first = sorted(stick.iterdir())[0]
    first.rename(byte_path(stick, ODD + b".age"))
    byte_path(stick, b"notes" + ODD + b".docx").write_bytes(JUNK)
    return desk, stick


def test_a_folder_with_undecodable_names_imports_the_rest_and_quarantines_with_a_record(
    odd_stick: tuple[DeskFixture, Path], sijil_strict: Callable[..., Run]
) -> None:
    desk, stick = odd_stick
    # When the folder is imported by the CLI under a strict UTF-8 stdout
    done = sijil_strict("desk", "import", *desk.args, str(stick))
    # Then it finishes (exit 3: something was quarantined) without a crash
    no_crash(done)
    assert done.code == 3, done.out
    assert "done: 2 imported, 1 quarantined" in done.out, done.out
    # And the document is quarantined WITH its record and ledger entry
    with desk.home.open_store() as store, store.session() as session:
        (item,) = session.scalars(select(QuarantineItem)).all()
        assert session.scalar(select(func.count()).select_from(Report)) == 2
    assert item.source_name.startswith("notes") and item.source_name.endswith(".docx")
    item.source_name.encode("utf-8")  # storable and printable: no lone surrogate
    # And the audit finds nothing without a record
    audit = run_audit(desk)
    assert audit.problems == [] and audit.unrecorded == 0, audit.notes


def run_audit(desk: DeskFixture) -> DeskAudit:
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        return audit_desk(
            store, desk.home.open_vault(identity), identity.sign.public_key(), home=desk.home.root
        )


# --- scrub and export --------------------------------------------------------------------


def test_scrub_cleans_a_photo_with_an_undecodable_name_and_names_it_escaped(
    sijil_strict: Callable[..., Run], tmp_path: Path
) -> None:
    # Given a photo (GPS and camera serial inside) whose name is not UTF-8
    photo = byte_path(tmp_path, b"IMG" + ODD + b".jpg")
    photo.write_bytes(camera_jpeg(seed=4))
    out = tmp_path / "out"
    # When scrubbed by the CLI under a strict UTF-8 stdout
    done = sijil_strict("scrub", str(photo), "--out", str(out))
    # Then the clean copy keeps the same bytes for a name, and the output escapes them
    no_crash(done)
    assert done.code == 0, done.out
    assert os.listdir(os.fsencode(out)) == [b"IMG" + ODD + b".jpg"]
    assert "IMG" in done.out and "removed" in done.out


def test_scrub_refuses_a_fifo_with_an_undecodable_name_in_one_escaped_line(
    sijil_strict: Callable[..., Run], tmp_path: Path
) -> None:
    fifo = byte_path(tmp_path, ODD + b".jpg")
    os.mkfifo(fifo)
    done = sijil_strict("scrub", "--inspect", str(fifo))
    no_crash(done)
    assert done.code == 1 and "is a FIFO (named pipe)" in done.out, done.out


def test_export_to_an_undecodable_path_and_both_verifiers_read_it(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    sijil_strict: Callable[..., Run],
    tmp_path: Path,
) -> None:
    # Given a package exported by the CLI to a file whose name is not UTF-8
    target = byte_path(tmp_path, b"case" + ODD + b".zip")
    done = sijil_strict(
        "export", "package", *evidence.desk.args, "--report", "2", "--out", str(target)
    )
    no_crash(done)
    assert done.code == 0, done.out
    assert target.is_file()
    key = str(evidence.desk.home.public_file)
    # When sijil verify-package checks it / Then it verifies
    checked = sijil_strict("verify-package", str(target), "--desk-key", key)
    no_crash(checked)
    assert checked.code == 0 and "OK: the package verifies" in checked.out, checked.out
    # And the standalone verifier, shipped inside, verifies it too
    script = tmp_path / "verify_package.py"
    reference = tmp_path / "reference.zip"
    export_package(run_cli, evidence, reference)
    with zipfile.ZipFile(reference) as archive:
        script.write_bytes(archive.read(next(n for n in archive.namelist() if n.endswith(".py"))))
    alone = sijil_strict(str(target), "--desk-key", key, script=script)
    no_crash(alone)
    assert alone.code == 0 and "OK: the package verifies" in alone.out, alone.out
    # And a FIFO under an undecodable name is one escaped problem line, no traceback
    fifo = byte_path(tmp_path, ODD + b".zip")
    os.mkfifo(fifo)
    refused = sijil_strict(str(fifo), "--desk-key", key, script=script)
    no_crash(refused)
    assert refused.code == 1 and "PROBLEM" in refused.out, refused.out


# --- sijil verify names what has no record -----------------------------------------------


def verify(run_cli: Callable[..., CliResult], evidence: Evidence) -> CliResult:
    return run_cli("verify", *evidence.desk.args)


def test_a_quarantine_copy_without_a_record_is_named_by_its_hash(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given an input's bytes stored in the vault with no quarantine row (a quarantine
    # whose record was never written)
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    ref = vault.put_bytes(b"an input quarantined without its record")
    # When the desk is verified
    result = verify(run_cli, evidence)
    # Then it passes (nothing recorded is lost) but names the copy, and does not say "nothing lost"
    assert result.code == 0, result.out + result.err
    name = vault.name_of(ref.sha256)[:12]
    assert f"vault blob {name}: a file of {ref.size} bytes, sha256 {ref.sha256[:12]}" in result.out
    assert "has no record" in result.out
    assert "1 kept file(s) have no record yet" in result.out
    assert "OK: nothing lost" not in result.out


def test_an_envelope_left_without_a_row_by_a_kill_is_named_as_a_sealed_envelope(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given a sealed envelope stored in the vault by an import killed before its rows
    envelope = next(p for p in evidence.inbox.iterdir() if p.suffix == ".age").read_bytes()
    forged_copy = envelope[:-1] + bytes([envelope[-1] ^ 1])  # another envelope's bytes
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    ref = vault.put_bytes(forged_copy)
    # When verified / Then named as a sealed envelope without a record
    result = verify(run_cli, evidence)
    assert result.code == 0, result.out + result.err
    assert f"a sealed envelope of {ref.size} bytes, sha256 {ref.sha256[:12]}" in result.out


def test_an_older_desks_quarantine_file_without_a_row_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given a clear file in an older desk's quarantine/ folder that no row names
    folder = evidence.desk.home.root / "quarantine"
    folder.mkdir(exist_ok=True)
    byte_path(folder, b"lost" + ODD + b".bin").write_bytes(JUNK)
    # When verified / Then the file is named, its odd bytes escaped
    result = verify(run_cli, evidence)
    assert result.code == 0, result.out + result.err
    assert "quarantine/lost\\xff\\xfe.bin: a kept input with no quarantine record" in result.out
    assert "1 kept file(s) have no record yet" in result.out


def test_an_attachment_without_its_media_fingerprint_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given a photo whose fingerprint row is gone (fingerprinting failed or was cut short)
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        attachment = session.scalars(select(Attachment).order_by(Attachment.id)).first()
        assert attachment is not None
        report, position = attachment.report_id, attachment.position
        session.execute(delete(MediaPrintRow).where(MediaPrintRow.attachment_id == attachment.id))
    # When verified / Then the attachment is named with what to run
    result = verify(run_cli, evidence)
    assert result.code == 0, result.out + result.err
    assert (
        f"attachment {position + 1} of report #{report}: no media fingerprint "
        "(run 'sijil media backfill')"
    ) in result.out


def test_many_blobs_without_a_record_are_named_up_to_the_bound_then_counted(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    for i in range(MAX_NAMED + 3):
        vault.put_bytes(f"orphan {i}".encode())
    result = verify(run_cli, evidence)
    assert result.code == 0, result.out + result.err
    assert result.out.count("has no record") == MAX_NAMED
    assert "... and 3 more vault blob(s) without a record" in result.out
