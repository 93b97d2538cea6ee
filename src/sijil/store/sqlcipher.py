"""Encrypted SQLite (SQLCipher): keyed connections, telling files apart, encrypting one.

An encrypted database is keyed with 32 raw bytes (``PRAGMA key = "x'<hex>'"``), never
a passphrase: the caller derives the key itself (the desk from its unlocked identity),
so SQLCipher's own PBKDF2 would only slow every connection down. Each page is
AES-256-CBC with an HMAC-SHA512, so a wrong key or a flipped byte is caught on read;
temporary tables and sorts stay in memory (the build's ``SQLITE_TEMP_STORE=2``).
The ``sqlcipher3`` module is imported only when an encrypted file is opened.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

from sijil.errors import ConfigError, StoreError

__all__ = [
    "KEY_BYTES",
    "WRONG_KEY",
    "SqliteFile",
    "connect",
    "export_encrypted",
    "file_state",
    "row_counts",
    "sqlcipher",
]

#: SQLCipher's AES-256 key: 32 bytes, given raw.
KEY_BYTES = 32
#: The first 16 bytes of every plaintext SQLite file; an encrypted file starts with salt.
PLAIN_HEADER = b"SQLite format 3\x00"
#: What a wrong key (or a file that is no database at all) looks like to the user.
WRONG_KEY = "the database cannot be opened with this key: it belongs to another desk, or is damaged"
_IN_USE = (
    "the database is in use by another process: stop every other sijil command "
    "on this desk and try again"
)
# SQLite's result code for "file is not a database", which is all a wrong key says.
_SQLITE_NOTADB = 26


class SqliteFile(StrEnum):
    """What is on disk where a SQLite database should be."""

    ABSENT = "absent"  # no file, or an empty one: SQLite will create the database
    PLAIN = "plain"
    ENCRYPTED = "encrypted"  # or damaged: without a key the two cannot be told apart


def sqlcipher() -> ModuleType:
    """The SQLCipher DB-API module (``sqlcipher3.dbapi2``)."""
    try:
        return importlib.import_module("sqlcipher3.dbapi2")
    except ImportError as exc:
        raise ConfigError("SQLCipher is not installed (pip install sqlcipher3-binary)") from exc


def file_state(path: Path) -> SqliteFile:
    """Whether ``path`` holds nothing yet, a plaintext SQLite file, or an encrypted one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(PLAIN_HEADER))
    except FileNotFoundError:
        return SqliteFile.ABSENT
    except OSError as exc:
        raise StoreError(f"cannot read the database file: {exc.strerror}") from exc
    if not head:
        return SqliteFile.ABSENT
    return SqliteFile.PLAIN if head == PLAIN_HEADER else SqliteFile.ENCRYPTED


def _key_literal(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise ConfigError(f"a database key is {KEY_BYTES} bytes")
    return f"x'{key.hex()}'"


def apply_key(connection: Any, key: bytes) -> None:
    """Key a fresh SQLCipher connection and prove the key by reading the schema.

    Raises StoreError(WRONG_KEY) when the file does not decrypt; the connection
    is closed then.
    """
    module = sqlcipher()
    try:
        # SQLCipher logs a failed HMAC check to stderr by default; the caller says it
        # in one line instead. A process-wide setting that reads no database.
        connection.execute("PRAGMA cipher_log_level = NONE")
        connection.execute(f'PRAGMA key = "{_key_literal(key)}"')
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchall()
    except module.DatabaseError as exc:
        connection.close()
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_NOTADB:
            raise StoreError(WRONG_KEY) from exc
        raise
    except BaseException:
        connection.close()
        raise


@contextlib.contextmanager
def connect(path: Path, key: bytes | None) -> Iterator[Any]:
    """A raw SQLCipher connection to ``path`` (keyed unless ``key`` is None), in autocommit."""
    module = sqlcipher()
    try:
        connection = module.connect(str(path), isolation_level=None)
    except module.Error as exc:
        raise StoreError(f"cannot open the database file: {exc}") from exc
    if key is not None:
        apply_key(connection, key)
    try:
        yield connection
    finally:
        connection.close()


def row_counts(connection: Any) -> dict[str, int]:
    """Rows in every table (FTS5 tables and their shadow tables included)."""
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM main.sqlite_schema "
            "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    counts: dict[str, int] = {}
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'  # a name read from the schema itself
        sql = f"SELECT count(*) FROM main.{quoted}"  # noqa: S608
        counts[name] = connection.execute(sql).fetchone()[0]
    return counts


def export_encrypted(plain: Path, target: Path, key: bytes) -> dict[str, int]:
    """Write an encrypted copy of the plaintext database ``plain`` to ``target``.

    ``target`` must not exist. The copy is fsynced and checked by reopening it with
    ``key``: every table must hold as many rows as in the original, whose counts are
    returned. The original is left as it was (its write-ahead log folded in first).
    Raises StoreError when another process holds the original locked. A process that
    merely keeps it open, idle, cannot be seen: stop other users of the file first.
    """
    module = sqlcipher()
    if target.exists():
        raise StoreError(f"cannot encrypt into {target.name}: the file exists")
    try:
        with connect(plain, None) as db:
            # Leave WAL mode: the log is folded into the file and deleted, so no
            # plaintext log outlives the original.
            if db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
                raise StoreError(_IN_USE)
            db.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(target), _key_literal(key)))
            # One exclusive transaction: nobody writes between counting and copying.
            try:
                db.execute("BEGIN EXCLUSIVE")
            except module.OperationalError as exc:
                raise StoreError(_IN_USE) from exc
            counts = row_counts(db)
            user_version = db.execute("PRAGMA main.user_version").fetchone()[0]
            db.execute("SELECT sqlcipher_export('encrypted')")
            # sqlcipher_export copies schema and rows, not the header's user_version
            db.execute(f"PRAGMA encrypted.user_version = {int(user_version):d}")
            db.execute("COMMIT")
            db.execute("DETACH DATABASE encrypted")
        _fsync(target)
        with connect(target, key) as check:
            copied = row_counts(check)
            if check.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise StoreError("the encrypted copy does not pass SQLite's check")
    except module.Error as exc:
        raise StoreError(f"the database could not be encrypted: {exc}") from exc
    if copied != counts:
        raise StoreError("the encrypted copy does not hold the same rows as the original")
    return counts


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
