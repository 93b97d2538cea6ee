"""A seized desk reveals nothing without the passphrase (issue 14, the embedded SQLite desk)."""

from __future__ import annotations

import shutil
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PASSPHRASE, CliResult, DeskFixture
from media import camera_jpeg
from sijil.desk.home import database_key
from sijil.desk.intake import import_paths
from sijil.envelope.manifest import Location
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.store.sqlcipher import SqliteFile, connect, file_state

CODENAME = "Nightjar"
TITLE = "قصف مستودع الحبوب قرب دوار النعيم"  # "shelling of the grain depot near al-Naim square"
BODY = "سقطت ثلاث قذائف عند الفجر، وأصيب حارس المستودع."  # "three shells at dawn, the guard hurt"
LAT, LON = "35.95317", "39.00871"
# Text shorter than this could turn up in random ciphertext by chance (2^-64 per place).
MIN_NEEDLE = 8


@dataclass
class Seized:
    desk: DeskFixture
    database: Path
    needles: dict[bytes, str]  # bytes a thief could search for -> what they are


def _text_and_real_values(database: Path, key: bytes | None) -> dict[bytes, str]:
    """Every text or blob value of MIN_NEEDLE bytes or more and every REAL, by table."""
    found: dict[bytes, str] = {}
    with connect(database, key) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")]
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the schema
                for value in row:
                    if isinstance(value, str) and len(value.encode()) >= MIN_NEEDLE:
                        found[value.encode()] = table
                    elif isinstance(value, bytes) and len(value) >= MIN_NEEDLE:
                        found[value] = f"{table} (bytes: a fingerprint, a hash)"
                    elif isinstance(value, float):
                        # SQLite stores a REAL as 8 big-endian bytes
                        found[struct.pack(">d", value)] = f"{table} (a coordinate or other REAL)"
    return found


def _raw(database: Path) -> bytes:
    """What a thief copies: the file, its write-ahead log and the log's index."""
    parts = (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
    return b"".join(part.read_bytes() for part in parts if part.exists())


@pytest.fixture
def seized(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    tmp_path: Path,
) -> Seized:
    """A default (SQLite) desk that imported Nightjar's located report with a photo."""
    desk = make_desk()
    nightjar = make_correspondent(desk, CODENAME)
    photo = tmp_path / "depot.jpg"
    photo.write_bytes(camera_jpeg(seed=14))
    where = Location(lat=LAT, lon=LON, precision_m=50)
    compose(nightjar, Draft(title=TITLE, body=BODY, lang="ar", location=where), [photo])
    export_outbox(nightjar, tmp_path / "usb")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        (outcome,) = import_paths(desk.home, identity, store, [tmp_path / "usb"], channel="usb")
    assert outcome.status == "imported"
    database = desk.home.sqlite_file
    assert database is not None
    needles = _text_and_real_values(database, database_key(identity))
    needles.update({TITLE.encode(): "title", BODY.encode(): "body", CODENAME.encode(): "codename"})
    needles.update({LAT.encode(): "latitude", LON.encode(): "longitude"})
    return Seized(desk=desk, database=database, needles=needles)


def test_a_seized_sqlite_desk_shows_no_report_text_codename_or_coordinate(
    seized: Seized,
) -> None:
    # Given a desk holding a report (title, body, manifest, codename, coordinates, hashes)
    assert len(seized.needles) > 20
    # When its database file, log and index are read as raw bytes, without the passphrase
    raw = _raw(seized.database)
    # Then no value stored in any table is in them
    shown = sorted({what for needle, what in seized.needles.items() if needle in raw})
    assert shown == []
    assert file_state(seized.database) is SqliteFile.ENCRYPTED


def test_the_same_search_finds_everything_in_a_plaintext_copy(
    seized: Seized, tmp_path: Path
) -> None:
    # Given a plaintext copy of the seized database, made with the desk's key
    key = database_key(seized.desk.home.unlock(PASSPHRASE))
    plain = tmp_path / "plain.db"
    with connect(seized.database, key) as db:
        db.execute("ATTACH DATABASE ? AS plain KEY ''", (str(plain),))
        db.execute("SELECT sqlcipher_export('plain')")
        db.execute("DETACH DATABASE plain")
    # When the same bytes are searched for in it
    raw = plain.read_bytes()
    # Then the text and the codename are there (the search works), and the position
    # rounded to about a kilometre; the exact coordinates are sealed even in this copy
    for needle in (TITLE, BODY, CODENAME):
        assert needle.encode() in raw, needle
    assert struct.pack(">d", round(float(LAT), 2)) in raw
    for needle in (LAT.encode(), LON.encode(), struct.pack(">d", float(LAT))):
        assert needle not in raw


def test_the_standard_sqlite3_cannot_open_the_seized_file(seized: Seized) -> None:
    # Given the seized database, when Python's own sqlite3 reads it, then it fails
    raw = sqlite3.connect(seized.database)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            raw.execute("SELECT count(*) FROM reports").fetchall()
    finally:
        raw.close()


def test_reading_an_encrypted_desk_needs_the_passphrase(
    seized: Seized, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no passphrase in the environment and no terminal
    monkeypatch.delenv("SIJIL_PASSPHRASE")
    # When the desk's reports are listed
    refused = run_cli("desk", "reports", *seized.desk.args)
    # Then one line asks for the passphrase
    assert refused.code == 1
    assert refused.err.splitlines() == [
        "sijil: error: a passphrase is needed for the desk key: "
        "run in a terminal or set SIJIL_PASSPHRASE"
    ]
    # When the passphrase is given, then the report is listed
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    listed = run_cli("desk", "reports", *seized.desk.args)
    assert listed.code == 0, listed.err
    assert TITLE in listed.out and CODENAME in listed.out


def test_another_desks_database_is_refused_in_one_line(
    seized: Seized,
    make_desk: Callable[..., DeskFixture],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a second desk, whose database is swapped for the first desk's
    other = make_desk(name="other")
    assert other.home.sqlite_file is not None
    shutil.copyfile(seized.database, other.home.sqlite_file)
    # When the second desk lists its reports with its own passphrase
    result = run_cli("desk", "reports", *other.args)
    # Then one line says the key does not open it; nothing else is printed
    assert result.code == 1
    assert result.err.splitlines() == [
        "sijil: error: the database cannot be opened with this key: "
        "it belongs to another desk, or is damaged"
    ]


def test_desk_init_creates_an_encrypted_database(
    tmp_path: Path, passphrase: str, run_cli: Callable[..., CliResult]
) -> None:
    # Given no desk yet
    home = tmp_path / "new-desk"
    # When 'sijil desk init --solo' makes one
    made = run_cli("desk", "init", "--home", str(home), "--solo")
    # Then its database is encrypted and owner-only, and reading it with the passphrase works
    assert made.code == 0, made.err
    assert file_state(home / "sijil.db") is SqliteFile.ENCRYPTED
    assert (home / "sijil.db").stat().st_mode & 0o777 == 0o600
    listed = run_cli("desk", "user", "list", "--home", str(home), "--json")
    assert listed.code == 0, listed.err


def test_every_desk_needs_the_passphrase_to_read(
    make_desk: Callable[..., DeskFixture],
    store_url: str,
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a desk on either backend, and no passphrase in the environment
    desk = make_desk(store_url)
    monkeypatch.delenv("SIJIL_PASSPHRASE")
    # When its reports are listed
    result = run_cli("desk", "reports", *desk.args)
    # Then both ask for it: PostgreSQL too holds sealed values (places, manifests)
    assert result.code == 1
    assert result.err.splitlines() == [
        "sijil: error: a passphrase is needed for the desk key: "
        "run in a terminal or set SIJIL_PASSPHRASE"
    ]
