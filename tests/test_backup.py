"""`sijil desk backup` and `sijil desk restore`: backup, restore, verify, on both databases."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import (
    PASSPHRASE,
    CliResult,
    DeskFixture,
    Evidence,
    _postgres_schema_url,
    desk_with_evidence,
    seal_reports,
)
from sijil.desk.home import DeskHome
from sijil.desk.intake import import_paths
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.store import Store

BACKUP_SECRET = "backup passphrase, not secret"


@pytest.fixture
def backup_passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIJIL_BACKUP_PASSPHRASE", BACKUP_SECRET)
    return BACKUP_SECRET


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A second, empty PostgreSQL schema: the target of a restore."""
    yield from _postgres_schema_url()


@pytest.fixture
def backup(
    run_cli: Callable[..., CliResult], backup_passphrase: str, tmp_path: Path
) -> Callable[..., tuple[Path, CliResult]]:
    """Factory: back up a desk with the CLI; returns the file and the CLI's result."""

    def make(desk: DeskFixture, name: str = "desk.backup", *extra: str) -> tuple[Path, CliResult]:
        target = tmp_path / "backups" / name
        result = run_cli("desk", "backup", *desk.args, "--to", str(target), *extra)
        assert result.code == 0, result.err
        return target, result

    return make


@pytest.fixture
def restore(
    run_cli: Callable[..., CliResult], backup_passphrase: str, tmp_path: Path
) -> Callable[..., CliResult]:
    """Factory: restore backups into ``tmp_path/NAME`` (and ``db`` if given) with the CLI."""

    def run(*archives: Path, name: str = "restored", db: str | None = None) -> CliResult:
        sources = [arg for archive in archives for arg in ("--from", str(archive))]
        target = ["--home", str(tmp_path / name)] + (["--db", db] if db else [])
        return run_cli("desk", "restore", *sources, *target)

    return run


def _verify(run_cli: Callable[..., CliResult], home: Path, db: str | None = None) -> CliResult:
    return run_cli("verify", "--home", str(home), *(["--db", db] if db else []))


def _reports(run_cli: Callable[..., CliResult], home: Path, db: str | None = None) -> object:
    result = run_cli(
        "desk", "reports", "--home", str(home), *(["--db", db] if db else []), "--json"
    )
    assert result.code == 0, result.err
    return json.loads(result.out)


def _nothing_half_written(tmp_path: Path, name: str = "restored") -> None:
    assert not (tmp_path / name).exists()
    assert not list(tmp_path.glob(f".{name}.partial-*"))


def test_backup_restore_verify(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    backup: Callable[..., tuple[Path, CliResult]],
    restore: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a desk holding reports, photos and a quarantined file, on SQLite or PostgreSQL
    before = _reports(run_cli, evidence.desk.home.root, evidence.desk.home.db_url)
    # When it is backed up
    archive, made = backup(evidence.desk)
    # Then the archive and its index are written, with progress on stderr
    assert archive.is_file() and archive.with_name(archive.name + ".index").is_file()
    assert "backup: 100%" in made.err and "full backup" in made.out
    # When it is restored into a new home (on SQLite)
    restored = restore(archive)
    assert restored.code == 0, restored.err
    # Then the new desk passes the audit and holds the same reports
    home = tmp_path / "restored"
    checked = _verify(run_cli, home)
    assert checked.code == 0, checked.out + checked.err
    assert "OK: nothing lost, nothing altered" in checked.out
    assert _reports(run_cli, home) == before
    assert not list(tmp_path.glob(".restored.partial-*"))


def test_a_sqlite_backup_restores_onto_postgresql(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    backup: Callable[..., tuple[Path, CliResult]],
    restore: Callable[..., CliResult],
    pg_url: str,
    tmp_path: Path,
) -> None:
    # Given a laptop desk on SQLite with evidence
    evidence = desk_with_evidence(
        make_desk, make_correspondent, Store.sqlite_url(tmp_path / "desk" / "sijil.db"), tmp_path
    )
    before = _reports(run_cli, evidence.desk.home.root, evidence.desk.home.db_url)
    archive, _ = backup(evidence.desk)
    # When it is restored onto PostgreSQL
    restored = restore(archive, db=pg_url)
    assert restored.code == 0, restored.err
    # Then the audit passes there and the reports are the same
    home = tmp_path / "restored"
    checked = _verify(run_cli, home, pg_url)
    assert checked.code == 0, checked.out + checked.err
    assert _reports(run_cli, home, pg_url) == before
    # And new rows get fresh ids (the sequences continue after the restored rows)
    make_correspondent(DeskFixture(home=DeskHome(root=home, db_url=pg_url)), "Falcon")


def _more_reports(
    evidence: Evidence,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    tmp_path: Path,
) -> None:
    falcon = make_correspondent(evidence.desk, "Falcon")
    (tmp_path / "more").mkdir()
    seal_reports(falcon, tmp_path / "more", 2, tag="later")
    export_outbox(falcon, tmp_path / "inbox2")
    home = evidence.desk.home
    identity = home.unlock(PASSPHRASE)
    with home.open_store(identity) as store:
        import_paths(home, identity, store, [tmp_path / "inbox2"], channel="usb")


@pytest.mark.slow
def test_an_incremental_backup_holds_only_new_blobs_and_restores_as_a_chain(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    backup: Callable[..., tuple[Path, CliResult]],
    restore: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a full backup, and then two more reports (two envelopes, two photos)
    full, _ = backup(evidence.desk, "full.backup")
    _more_reports(evidence, make_correspondent, tmp_path)
    after = _reports(run_cli, evidence.desk.home.root, evidence.desk.home.db_url)
    # When an incremental backup is made since the full one
    incremental, made = backup(evidence.desk, "incr.backup", "--since", str(full))
    # Then it holds only the four new blobs, and is much smaller than the full one
    assert "incremental backup" in made.out and " 4 vault blob(s)" in made.out
    # When the chain is restored
    restored = restore(full, incremental)
    assert restored.code == 0, restored.err
    # Then the desk is whole as of the incremental
    home = tmp_path / "restored"
    assert _verify(run_cli, home).code == 0
    assert _reports(run_cli, home) == after
    # And an incremental alone, or the chain out of order, is refused with one line
    for chain, words in (
        ((incremental,), "incremental backup: give its full backup first"),
        ((incremental, full), "incremental backup: give its full backup first"),
    ):
        refused = restore(*chain, name="again")
        assert refused.code == 1 and words in refused.err
        assert refused.err.count("\n") == 1
        _nothing_half_written(tmp_path, "again")


def test_a_backup_to_an_age_recipient_opens_with_age_and_restores_with_an_identity(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    backup: Callable[..., tuple[Path, CliResult]],
    tmp_path: Path,
) -> None:
    if shutil.which("age-keygen") is None:
        pytest.skip("the age tools are not installed")
    # Given an age identity the desk keeps offline, and a backup to its recipient
    identity = tmp_path / "backup-identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    archive, _ = backup(evidence.desk, "desk.backup", "--recipient", recipient)
    # When the real age opens it
    plain = subprocess.run(
        ["age", "-d", "-i", str(identity), str(archive)], check=True, capture_output=True
    ).stdout
    (tmp_path / "backup.tar").write_bytes(plain)
    # Then it is a tar stream: header first, manifest last, keys and blobs between
    with tarfile.open(tmp_path / "backup.tar") as tar:
        names = tar.getnames()
    assert names[0] == "sijil-backup.json" and names[-1] == "manifest.json"
    assert "home/desk.key" in names and any(n.startswith("vault/") for n in names)
    # When sijil restores it with the identity file
    result = run_cli(
        "desk", "restore", "--from", str(archive), "--home", str(tmp_path / "restored"),
        "--identity", str(identity),
    )  # fmt: skip
    # Then the restored desk passes the audit
    assert result.code == 0, result.err
    assert _verify(run_cli, tmp_path / "restored").code == 0


def test_a_desk_on_an_object_store_restores_into_a_folder_vault(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    make_s3_url: Callable[[], str],
    backup: Callable[..., tuple[Path, CliResult]],
    restore: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a desk whose vault moved to an object store, its folder copy deleted
    evidence = desk_with_evidence(
        make_desk, make_correspondent, Store.sqlite_url(tmp_path / "desk" / "sijil.db"), tmp_path
    )
    home = evidence.desk.home
    moved = run_cli("desk", "vault", "migrate", "--home", str(home.root), "--to", make_s3_url())
    assert moved.code == 0, moved.err
    shutil.rmtree(home.vault)
    # When it is backed up (the blobs read from the store) and restored
    archive, _ = backup(evidence.desk)
    assert restore(archive).code == 0
    # Then the restored desk keeps its vault in its own folder and passes the audit
    restored = tmp_path / "restored"
    assert not (restored / "vault.json").exists()
    assert any((restored / "vault").glob("??/*"))
    checked = _verify(run_cli, restored)
    assert checked.code == 0, checked.out + checked.err
