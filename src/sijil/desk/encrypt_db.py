"""Encrypt the database of a desk made before encryption (``sijil desk migrate-encrypt``).

The plaintext ``sijil.db`` is copied, encrypted under the desk's database key
(sijil.desk.home.database_key), into a hidden file beside it; the copy is fsynced,
reopened with the key and its row counts compared with the original's; only then
is it renamed over the original. A crash before the rename leaves the plaintext
desk as it was (the unfinished copy is removed by the next run); after it, the
encrypted one. The plaintext bytes are then overwritten through a handle kept
open across the rename, and the file unlinked: on SSDs and copy-on-write file
systems an overwrite may not reach the old blocks, which is why docs/security.md
still asks for full-disk encryption.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome, database_key
from sijil.errors import ConfigError
from sijil.fsutil import fsync_dir
from sijil.store.sqlcipher import SqliteFile, export_encrypted, file_state

__all__ = ["EncryptedDatabase", "encrypt_database", "plaintext_database"]

# SQLite's side files of a database: a write-ahead log, its index, a rollback journal.
_SIDE_FILES = ("-wal", "-shm", "-journal")
# Overwrite in pieces of this size: large enough to be fast, small enough for memory.
_WIPE_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class EncryptedDatabase:
    """What ``encrypt_database`` did: the file, and the rows it carried over."""

    path: Path
    tables: int
    rows: int


def _unfinished(path: Path) -> Path:
    return path.with_name(f".{path.name}.encrypting")


def _remove(path: Path) -> None:
    for name in (path, *(Path(f"{path}{side}") for side in _SIDE_FILES)):
        name.unlink(missing_ok=True)


def _overwrite(handle: BinaryIO) -> None:
    """Overwrite a file's bytes with zeros, through an open handle, and sync."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    zeros = bytes(_WIPE_CHUNK)
    for start in range(0, size, _WIPE_CHUNK):
        handle.write(zeros[: min(_WIPE_CHUNK, size - start)])
    handle.flush()
    os.fsync(handle.fileno())


def _wipe(path: Path) -> None:
    """Overwrite and unlink a leftover plaintext file (best effort, see the module)."""
    try:
        with path.open("r+b") as handle:
            _overwrite(handle)
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)


def plaintext_database(home: DeskHome) -> Path:
    """The desk's plaintext SQLite file; ConfigError if there is none to encrypt.

    Refuses a desk on PostgreSQL, a missing database and one already encrypted.
    """
    home.require()
    path = home.sqlite_file
    if path is None:
        raise ConfigError(
            "this desk's database is PostgreSQL: sijil seals its places, manifests, replies "
            "and fingerprints there when the desk opens with its key, and leaves the rest "
            "in the clear (keep PostgreSQL on an encrypted volume; see docs/security.md)"
        )
    state = file_state(path)
    if state is SqliteFile.ABSENT:
        raise ConfigError(f"no database at {path}")
    if state is SqliteFile.ENCRYPTED:
        raise ConfigError("the desk's database is already encrypted")
    return path


def encrypt_database(home: DeskHome, identity: DeskIdentity) -> EncryptedDatabase:
    """Replace the desk's plaintext SQLite database by an encrypted copy, atomically.

    Refusals as ``plaintext_database``; StoreError if the copy does not match the
    original or another process holds it.
    """
    path = plaintext_database(home)
    target = _unfinished(path)
    _remove(target)  # an earlier run that crashed before its rename
    try:
        counts = export_encrypted(path, target, database_key(identity))
        target.chmod(0o600)  # owner-only, whatever the plaintext file had
        with path.open("r+b") as original:
            target.replace(path)
            fsync_dir(path.parent)
            _overwrite(original)
    except BaseException:
        _remove(target)
        raise
    # the original's journal or log, if SQLite left one; the new file has none yet
    for side in _SIDE_FILES:
        _wipe(Path(f"{path}{side}"))
    return EncryptedDatabase(path=path, tables=len(counts), rows=sum(counts.values()))
