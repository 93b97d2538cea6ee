"""Bad backups and bad restores: one-line errors, and nothing half-written.

Most backups here are written to an age key (no scrypt per run, so the tests
stay quick); the wrong-passphrase test uses a passphrase, as people do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from conftest import CliResult, DeskFixture, Evidence, _postgres_schema_url
from sijil.crypto.identity import age_identity_string, age_recipient_string


@pytest.fixture
def age_key(tmp_path: Path) -> tuple[str, Path]:
    """An age recipient for backups and the identity file that opens them."""
    key = X25519PrivateKey.generate()
    identity = tmp_path / "identity.txt"
    identity.write_text(f"# backup key\n{age_identity_string(key)}\n")
    return age_recipient_string(key.public_key()), identity


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_schema_url()


@pytest.fixture
def backup(
    run_cli: Callable[..., CliResult], age_key: tuple[str, Path], tmp_path: Path
) -> Callable[..., Path]:
    """Factory: back up ``desk`` to the age key; returns the backup file."""

    def make(desk: DeskFixture, name: str = "desk.backup", *extra: str) -> Path:
        target = tmp_path / "backups" / name
        args = ["--to", str(target), "--recipient", age_key[0], "--quiet", *extra]
        result = run_cli("desk", "backup", *desk.args, *args)
        assert result.code == 0, result.err
        assert result.err == ""  # --quiet: no progress
        return target

    return make


@pytest.fixture
def restore(
    run_cli: Callable[..., CliResult], age_key: tuple[str, Path], tmp_path: Path
) -> Callable[..., CliResult]:
    def run(*archives: Path, db: str | None = None, name: str = "restored") -> CliResult:
        sources = [arg for archive in archives for arg in ("--from", str(archive))]
        target = ["--home", str(tmp_path / name), "--identity", str(age_key[1])]
        return run_cli("desk", "restore", *sources, *target, *(["--db", db] if db else []))

    return run


def _refused(result: CliResult, words: str, tmp_path: Path) -> None:
    """One line on stderr naming the problem, and no NEWDIR, whole or partial."""
    assert result.code == 1
    assert result.err.startswith("sijil: error: ") and result.err.count("\n") == 1
    assert words in result.err, result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "restored").exists()
    assert not list(tmp_path.glob(".restored.partial-*"))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda data: data[: len(data) // 2], "cut short"),
        (lambda data: data[:-1], "damaged, cut short or changed"),
        (
            lambda data: data[:300] + bytes([data[300] ^ 1]) + data[301:],
            "damaged, cut short or changed",
        ),
        (lambda data: b"not a backup at all\n" * 10, "not a sijil backup"),
    ],
    ids=["truncated", "last-byte-cut", "flipped-byte", "not-a-backup"],
)
def test_a_damaged_backup_is_refused_with_one_line(
    evidence: Evidence,
    backup: Callable[..., Path],
    restore: Callable[..., CliResult],
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    words: str,
) -> None:
    # Given a backup that was cut or altered
    archive = backup(evidence.desk)
    archive.write_bytes(damage(archive.read_bytes()))
    # When it is restored, Then it is refused and nothing is left behind
    _refused(restore(archive), words, tmp_path)


def test_a_wrong_passphrase_is_refused(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Given a backup locked with a passphrase
    monkeypatch.setenv("SIJIL_BACKUP_PASSPHRASE", "the right backup passphrase")
    archive = tmp_path / "desk.backup"
    made = run_cli("desk", "backup", *evidence.desk.args, "--to", str(archive), "-q")
    assert made.code == 0, made.err
    # When it is restored with another passphrase
    monkeypatch.setenv("SIJIL_BACKUP_PASSPHRASE", "a wrong backup passphrase")
    result = run_cli(
        "desk", "restore", "--from", str(archive), "--home", str(tmp_path / "restored")
    )
    # Then it is refused as a wrong passphrase, naming no secret
    _refused(result, "wrong passphrase for backup desk.backup", tmp_path)
    assert "wrong backup passphrase" not in result.err


def test_a_backup_of_another_desk_breaks_the_chain(
    make_desk: Callable[..., DeskFixture],
    evidence: Evidence,
    backup: Callable[..., Path],
    restore: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a full backup of our desk, and a full and an incremental of another desk
    ours = backup(evidence.desk, "ours.backup")
    other = make_desk(None, name="other")
    other_full = backup(other, "other.backup")
    other_incr = backup(other, "other-incr.backup", "--since", str(other_full))
    # When a chain mixes them, Then the foreign link is named
    _refused(restore(ours, other_incr), "other-incr.backup is a backup of another desk", tmp_path)
    # And an incremental of our desk cannot be based on the other desk's index either
    result = _backup_since(evidence.desk, other_full, tmp_path, backup)
    assert result is not None and "is a backup of another desk" in result


def _backup_since(
    desk: DeskFixture, since: Path, tmp_path: Path, backup: Callable[..., Path]
) -> str | None:
    try:
        backup(desk, "mixed.backup", "--since", str(since))
    except AssertionError as exc:
        return str(exc)
    return None


def test_a_missing_link_is_named(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    backup: Callable[..., Path],
    restore: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a full backup, an incremental, and a second incremental on top of it
    full = backup(evidence.desk, "full.backup")
    first = backup(evidence.desk, "incr1.backup", "--since", str(full))
    second = backup(evidence.desk, "incr2.backup", "--since", str(first))
    # When the middle link is left out, Then the chain is refused
    _refused(restore(full, second), "does not follow the backup before it", tmp_path)
    # And the whole chain restores
    assert restore(full, first, second).code == 0


def test_restore_refuses_a_folder_or_database_in_use(
    evidence: Evidence,
    backup: Callable[..., Path],
    restore: Callable[..., CliResult],
    pg_url: str,
    tmp_path: Path,
) -> None:
    archive = backup(evidence.desk)
    # Given a target folder that holds something
    (tmp_path / "restored").mkdir()
    (tmp_path / "restored" / "notes.txt").write_text("mine")
    # When a restore targets it, Then it is refused and the folder is untouched
    result = restore(archive)
    assert result.code == 1 and "exists and is not empty" in result.err
    assert (tmp_path / "restored" / "notes.txt").read_text() == "mine"
    # Given an empty folder and an empty PostgreSQL schema, the restore succeeds
    (tmp_path / "restored" / "notes.txt").unlink()
    assert restore(archive, db=pg_url).code == 0
    # When another restore targets the same, now full, database, Then it is refused
    again = restore(archive, db=pg_url, name="second")
    assert again.code == 1 and "the target database is not empty" in again.err
    assert not (tmp_path / "second").exists()


def test_a_failed_restore_onto_postgresql_leaves_the_database_empty(
    evidence: Evidence,
    backup: Callable[..., Path],
    restore: Callable[..., CliResult],
    pg_url: str,
    tmp_path: Path,
) -> None:
    # Given a backup cut just before its end (after the database rows)
    archive = backup(evidence.desk)
    whole = archive.read_bytes()
    cut = tmp_path / "cut.backup"
    cut.write_bytes(whole[:-100])
    # When it is restored onto PostgreSQL, Then it fails and leaves nothing behind
    _refused(restore(cut, db=pg_url), "cut.backup", tmp_path)
    # And the same database takes the whole backup afterwards
    assert restore(archive, db=pg_url).code == 0
