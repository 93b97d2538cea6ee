"""``sijil desk migrate-encrypt``: a desk made before encryption, encrypted in place."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PASSPHRASE, CliResult, DeskFixture, seal_reports
from sijil.crypto.kdf import KdfParams
from sijil.desk.encrypt_db import encrypt_database
from sijil.desk.home import DeskHome, database_key
from sijil.desk.intake import import_paths
from sijil.desk.reports import list_reports
from sijil.errors import ConfigError
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.store.sqlcipher import SqliteFile, connect, file_state, row_counts

Legacy = Callable[[], DeskFixture]


@pytest.fixture
def legacy_desk(
    tmp_path: Path,
    fast_kdf: KdfParams,
    passphrase: str,
    migrated_sqlite: Path,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
) -> Legacy:
    """Factory: a desk whose sijil.db is plaintext, as before encryption, with 3 reports."""

    def make() -> DeskFixture:
        home = DeskHome(root=tmp_path / "old-desk")
        home.root.mkdir(mode=0o700)
        shutil.copyfile(migrated_sqlite, home.root / "sijil.db")
        home.init(passphrase, fast_kdf)
        desk = DeskFixture(home=home)
        raven = make_correspondent(desk, "Raven")
        (tmp_path / "photos").mkdir()
        seal_reports(raven, tmp_path / "photos", 3)
        export_outbox(raven, tmp_path / "usb")
        identity = home.unlock(passphrase)
        with home.open_store(identity) as store:
            import_paths(home, identity, store, [tmp_path / "usb"], channel="usb")
        return desk

    return make


def _plain_counts(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return row_counts(db)


def test_a_plaintext_desk_still_opens_as_it_is_until_migrated(
    legacy_desk: Legacy, run_cli: Callable[..., CliResult]
) -> None:
    # Given a desk made before encryption
    desk = legacy_desk()
    database = desk.home.root / "sijil.db"
    # When its reports are listed with the passphrase (its sealed values need it)
    listed = run_cli("desk", "reports", *desk.args)
    # Then they are, and the file stays plaintext until migrate-encrypt
    assert listed.code == 0, listed.err
    assert "r report 0" in listed.out
    assert file_state(database) is SqliteFile.PLAIN


def test_migrate_encrypt_keeps_every_row_and_leaves_no_plaintext(
    legacy_desk: Legacy, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # Given a plaintext desk with reports, its row counts, and a second name for its
    # file (a hard link: what a disk keeps of the old bytes)
    desk = legacy_desk()
    database = desk.home.root / "sijil.db"
    before = _plain_counts(database)
    peek = tmp_path / "peek"
    os.link(database, peek)
    assert b"r report 0" in peek.read_bytes()
    # When it is migrated
    result = run_cli("desk", "migrate-encrypt", *desk.args)
    # Then the file is encrypted and holds every row of every table
    assert result.code == 0, result.err
    assert f"{len(before)} tables, {sum(before.values())} rows" in result.out
    assert file_state(database) is SqliteFile.ENCRYPTED
    assert database.stat().st_mode & 0o777 == 0o600
    key = database_key(desk.home.unlock(PASSPHRASE))
    with connect(database, key) as db:
        assert row_counts(db) == before
    # And the old bytes were overwritten; no copy, log or journal is left beside it
    old = peek.read_bytes()
    assert len(old) > 0 and old.count(0) == len(old)
    left = {p.name for p in desk.home.root.iterdir()}
    assert left.isdisjoint(
        {".sijil.db.encrypting", "sijil.db-wal", "sijil.db-shm", "sijil.db-journal"}
    )
    # And the desk works: reports listed, the custody audit passes
    listed = run_cli("desk", "reports", *desk.args)
    assert listed.code == 0 and "r report 0" in listed.out
    audit = run_cli("verify", *desk.args)
    assert audit.code == 0, audit.out + audit.err


def test_migrate_encrypt_refuses_an_encrypted_desk(
    make_desk: Callable[..., DeskFixture], run_cli: Callable[..., CliResult]
) -> None:
    # Given a desk whose database is already encrypted (every new desk)
    desk = make_desk()
    # When it is migrated, then one line refuses and the file is untouched
    assert desk.home.sqlite_file is not None
    before = desk.home.sqlite_file.read_bytes()
    result = run_cli("desk", "migrate-encrypt", *desk.args)
    assert result.code == 1
    assert result.err.splitlines() == ["sijil: error: the desk's database is already encrypted"]
    assert desk.home.sqlite_file.read_bytes() == before


def test_migrate_encrypt_refuses_before_asking_for_the_passphrase(
    make_desk: Callable[..., DeskFixture],
    store_url: str,
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a desk on PostgreSQL or on an (encrypted) SQLite file, and no passphrase
    desk = make_desk(store_url)
    monkeypatch.delenv("SIJIL_PASSPHRASE")
    # When it is migrated
    result = run_cli("desk", "migrate-encrypt", *desk.args)
    # Then one line refuses: sijil does not encrypt that server, or it is done already
    assert result.code == 1
    (line,) = result.err.splitlines()
    if desk.home.sqlite_file is None:
        assert "database is PostgreSQL" in line and "encrypted volume" in line
    else:
        assert line == "sijil: error: the desk's database is already encrypted"


def test_an_unfinished_copy_of_an_earlier_run_is_replaced(legacy_desk: Legacy) -> None:
    # Given a plaintext desk, and the half-written copy of a run that crashed
    desk = legacy_desk()
    unfinished = desk.home.root / ".sijil.db.encrypting"
    unfinished.write_bytes(b"half of a copy")
    before = _plain_counts(desk.home.root / "sijil.db")
    # When it is migrated again
    done = encrypt_database(desk.home, desk.home.unlock(PASSPHRASE))
    # Then it succeeds with every row, and the leftover is gone
    assert (done.tables, done.rows) == (len(before), sum(before.values()))
    assert not unfinished.exists()
    with desk.home.with_key(desk.home.unlock(PASSPHRASE)).open_store() as store:
        assert sorted(row.title for row in list_reports(store)) == [
            "r report 0",
            "r report 1",
            "r report 2",
        ]


def test_a_desk_without_a_database_is_refused(tmp_path: Path, fast_kdf: KdfParams) -> None:
    # Given desk keys whose database file was removed
    home = DeskHome(root=tmp_path / "desk")
    home.init(PASSPHRASE, fast_kdf)
    (home.root / "sijil.db").unlink()
    # When encrypting, then ConfigError names the missing file
    with pytest.raises(ConfigError, match="no database at"):
        encrypt_database(home, home.unlock(PASSPHRASE))
