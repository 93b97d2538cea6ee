"""The encrypted SQLite store (SQLCipher): keys, wrong keys, full-text search, raw bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sijil.errors import ConfigError, StoreError
from sijil.store import Store
from sijil.store.sqlcipher import WRONG_KEY, SqliteFile, file_state

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SECRET_TITLE = "قصف مستودع الحبوب في حي الدرعية"  # "shelling of the grain depot in al-Dir'iya"
SECRET_CODENAME = "Nightjar-7"


@pytest.fixture
def encrypted_store(tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """Factory: a migrated store on a SQLite file encrypted with ``key``."""
    opened: list[Store] = []

    def make(name: str = "sijil.db", key: bytes = KEY) -> Store:
        store = Store.open(Store.sqlite_url(tmp_path / name), key=key)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _raw_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log and index, as a thief copies them."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def test_a_new_file_is_created_encrypted_and_reopens_with_its_key(
    tmp_path: Path, encrypted_store: Callable[..., Store]
) -> None:
    # Given a store opened with a key on a file that does not exist yet
    store = encrypted_store()
    with store.session(write=True) as session:
        session.execute(text("CREATE TABLE notes (body TEXT)"))
        session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": SECRET_TITLE})
    store.close()
    # When it is opened again with the same key
    with Store.open(Store.sqlite_url(tmp_path / "sijil.db"), key=KEY) as again:
        with again.session() as session:
            body: str = session.execute(text("SELECT body FROM notes")).scalar_one()
        # Then the row is there, and the connection has the store's usual settings
        with again.engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert body == SECRET_TITLE
    assert (mode, foreign_keys) == ("wal", 1)
    assert again.encrypted
    # And the file does not start like a plaintext SQLite file
    assert file_state(tmp_path / "sijil.db") is SqliteFile.ENCRYPTED


def test_the_raw_file_and_its_log_hold_no_text_written_to_it(
    tmp_path: Path, encrypted_store: Callable[..., Store]
) -> None:
    # Given an encrypted store holding a title and a codename, still open (its WAL full)
    store = encrypted_store()
    with store.session(write=True) as session:
        session.execute(text("CREATE TABLE notes (body TEXT, who TEXT, lat REAL)"))
        session.execute(
            text("INSERT INTO notes VALUES (:b, :w, 35.9531)"),
            {"b": SECRET_TITLE, "w": SECRET_CODENAME},
        )
    assert Path(f"{tmp_path / 'sijil.db'}-wal").stat().st_size > 0
    # When the file, its log and index are read as bytes
    raw = _raw_bytes(tmp_path / "sijil.db")
    # Then neither the text nor the codename is in them
    assert SECRET_TITLE.encode() not in raw
    assert SECRET_CODENAME.encode() not in raw
    assert b"CREATE TABLE notes" not in raw


def test_a_plaintext_store_does_show_the_text(tmp_path: Path) -> None:
    # Given the same rows in a store opened without a key (the control of the test above)
    with Store.open(Store.sqlite_url(tmp_path / "plain.db")) as store:
        with store.session(write=True) as session:
            session.execute(text("CREATE TABLE notes (body TEXT)"))
            session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": SECRET_TITLE})
        # When its bytes are read, then the text is there in the clear
        assert SECRET_TITLE.encode() in _raw_bytes(tmp_path / "plain.db")
    assert file_state(tmp_path / "plain.db") is SqliteFile.PLAIN


def test_a_wrong_key_is_one_line_and_sqlcipher_prints_nothing(
    tmp_path: Path, encrypted_store: Callable[..., Store], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given an encrypted database
    encrypted_store().close()
    capfd.readouterr()
    # When it is opened with another key
    with pytest.raises(StoreError) as caught:
        Store.open(Store.sqlite_url(tmp_path / "sijil.db"), key=OTHER_KEY)
    # Then one line says so, and SQLCipher's own log stays off the terminal
    assert str(caught.value) == WRONG_KEY
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_without_a_key_the_encrypted_file_is_refused_in_one_line(
    tmp_path: Path, encrypted_store: Callable[..., Store]
) -> None:
    # Given an encrypted database
    encrypted_store().close()
    path = tmp_path / "sijil.db"
    # When the store is opened without a key, then StoreError says it needs one
    with pytest.raises(StoreError, match=r"encrypted .* needs its key"):
        Store.open(Store.sqlite_url(path))
    # And the standard sqlite3 module cannot read it at all
    raw = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            raw.execute("SELECT name FROM sqlite_master").fetchall()
    finally:
        raw.close()


def test_a_key_of_the_wrong_size_is_a_config_error(tmp_path: Path) -> None:
    # Given a key that is not 32 bytes, when used, then ConfigError
    with pytest.raises(ConfigError, match="32 bytes"):
        Store.open(Store.sqlite_url(tmp_path / "sijil.db"), key=b"short")


@pytest.mark.parametrize("tokenizer", ["trigram", "unicode61 remove_diacritics 0"])
def test_fts5_works_in_the_encrypted_database(
    encrypted_store: Callable[..., Store], tokenizer: str
) -> None:
    # Given an FTS5 table (the search index's kind) in an encrypted store
    store = encrypted_store()
    with store.session(write=True) as session:
        session.execute(text(f"CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='{tokenizer}')"))
        for body in (SECRET_TITLE, "Market shelled at dawn", "مستشفى الرقة الوطني"):
            session.execute(text("INSERT INTO docs (body) VALUES (:b)"), {"b": body})
    # When it is searched for a word of one row
    query = text("SELECT body FROM docs WHERE docs MATCH :q")
    with store.session() as session:
        found: list[str] = list(session.execute(query, {"q": "مستودع"}).scalars())
    # Then exactly that row is found
    assert found == [SECRET_TITLE]


def test_a_postgresql_store_ignores_the_key(store_url: str) -> None:
    # Given either backend, opened with a key
    with Store.open(store_url, key=KEY) as store:
        # Then it migrates and answers; only SQLite is encrypted by it
        assert store.revision() is not None
        assert store.encrypted == (store.backend == "sqlite")


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.binary(min_size=32, max_size=32), other=st.binary(min_size=32, max_size=32))
def test_any_key_reopens_its_own_file_and_no_other_key_does(
    tmp_path_factory: pytest.TempPathFactory, key: bytes, other: bytes
) -> None:
    # Given a file encrypted under any 32 bytes (quotes and zero bytes included)
    url = Store.sqlite_url(tmp_path_factory.mktemp("keys") / "k.db")
    Store.open(url, key=key, migrate=False).close()
    # When it is reopened with the same key, then it opens
    Store.open(url, key=key, migrate=False).close()
    # And with any other key, it is refused
    if other != key:
        with pytest.raises(StoreError, match="cannot be opened with this key"):
            Store.open(url, key=other, migrate=False)
