"""``sijil desk restore``: rebuild a desk from a full backup and its incrementals.

The chain is read in order (the full backup first); each archive's header must
name the one before it and the same desk. Blobs come from every archive; the
key files and the database from the last, which describes the desk as it was
then. The new home is built in a hidden ``NAME.partial-XXXX`` beside it and
renamed into place only when everything checked out: a damaged, truncated or
foreign backup, a wrong passphrase or a missing link leaves no NEWDIR behind. On
PostgreSQL the target schema must be empty; a failed restore drops the tables
it created there. The vault is restored into the home's folder, whatever held it
before: a desk whose vault was in an object store (``vault.json``) moves it back
there with ``sijil desk vault migrate``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, delete, insert, inspect
from sqlalchemy.engine import Connection

from sijil.crypto.identity import DeskIdentity
from sijil.desk.backup_archive import (
    FORMAT,
    HEADER_NAME,
    MANIFEST_NAME,
    BackupKey,
    Member,
    Pieces,
    Progress,
    no_progress,
    open_archive,
    read_json,
    take,
)
from sijil.desk.backup_db import DERIVED_TABLES, DbLoader
from sijil.desk.home import DeskHome
from sijil.desk.search_index import STALE_SETTING
from sijil.desk.vault_config import VAULT_CONFIG
from sijil.errors import BackupError, ConfigError
from sijil.fsutil import confine, fsync_dir
from sijil.store import DeskSetting, Store, utcnow
from sijil.vault import FolderBlobStore

__all__ = ["RestoreResult", "restore_desk"]


@dataclass(frozen=True, kw_only=True)
class RestoreResult:
    home: DeskHome
    backups: int
    blobs: int
    rows: int
    seconds: float


@dataclass
class _State:
    """What the chain has shown so far."""

    key: BackupKey
    desk_passphrase: Callable[[], str]
    partial: Path
    db_url: str | None
    progress: Progress
    previous: dict[str, Any] | None = None
    blobs_seen: set[str] = field(default_factory=set)
    migrated: bool = False  # a database was created (to drop if the restore fails)
    identity: DeskIdentity | None = None
    rows: int = 0
    done: int = 0


def _refuse_existing(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} exists and is not empty; restore into a new folder")


def _refuse_nonempty_db(url: str) -> None:
    with (
        Store.open(url, migrate=False) as store,
        store.engine.connect() as conn,
    ):
        if inspect(conn).get_table_names():
            raise ConfigError("the target database is not empty; restore into an empty one")


def _drop_all(url: str) -> None:
    with Store.open(url, migrate=False) as store, store.engine.begin() as conn:
        metadata = MetaData()
        metadata.reflect(conn)
        metadata.drop_all(conn)


def restore_desk(
    archives: list[Path],
    target: Path,
    key: BackupKey,
    *,
    desk_passphrase: Callable[[], str],
    db_url: str | None = None,
    progress: Progress = no_progress,
    after_load: Callable[[Store], None] | None = None,
) -> RestoreResult:
    """Restore the chain ``archives`` (full first) into the new home ``target``.

    ``after_load`` runs on the restored store before it is put in place: the hook
    for derived indexes that a dump leaves out and the rows alone do not rebuild.
    """
    if not archives:
        raise ConfigError("name at least one backup to restore from")
    started = time.monotonic()
    target = target.absolute()
    _refuse_existing(target)
    if db_url is not None:
        _refuse_nonempty_db(db_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    partial.mkdir(mode=0o700)
    state = _State(
        key=key, desk_passphrase=desk_passphrase, partial=partial, db_url=db_url, progress=progress
    )
    try:
        for number, archive in enumerate(archives):
            last = number == len(archives) - 1
            with open_archive(archive, key) as pieces:
                _read_archive(state, archive, pieces, first=number == 0, last=last)
        missing = set((state.previous or {}).get("vault", [])) - state.blobs_seen
        if missing:
            raise BackupError(
                f"the chain lacks {len(missing)} vault blob(s): "
                "give every backup since the full one, in order"
            )
        if after_load is not None:
            home = DeskHome(root=partial, db_url=db_url)
            with home.open_store(state.identity) as store:
                after_load(store)
        # one sync for every file written (a fsync per blob costs more than the copy)
        os.sync()
        if target.exists():
            target.rmdir()
        partial.rename(target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if state.migrated and db_url is not None:
            with contextlib.suppress(Exception):
                _drop_all(db_url)
        raise
    return RestoreResult(
        home=DeskHome(root=target, db_url=db_url),
        backups=len(archives),
        blobs=len(state.blobs_seen),
        rows=state.rows,
        seconds=time.monotonic() - started,
    )


def _check_header(state: _State, archive: Path, header: Any, *, first: bool) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{archive.name} is not a sijil backup this version can read")
    if first and header.get("base_id") is not None:
        raise BackupError(f"{archive.name} is an incremental backup: give its full backup first")
    if state.previous is not None:
        if header.get("desk_fingerprint") != state.previous["desk_fingerprint"]:
            raise BackupError(f"{archive.name} is a backup of another desk")
        if header.get("base_id") != state.previous["backup_id"]:
            raise BackupError(f"{archive.name} does not follow the backup before it in the chain")


def _read_archive(state: _State, archive: Path, pieces: Pieces, *, first: bool, last: bool) -> None:
    """Read one archive of the chain: its blobs, and from the last its files and rows."""
    info = next(pieces, None)
    if not isinstance(info, Member) or info.name != HEADER_NAME:
        raise BackupError(f"{archive.name} is not a sijil backup (no header)")
    header = read_json(pieces, info)
    _check_header(state, archive, header, first=first)
    received: dict[str, int] = {}
    loader: DbLoader | None = None
    with contextlib.ExitStack() as stack:
        for info in pieces:
            if not isinstance(info, Member):
                raise BackupError(f"{archive.name} is damaged (its archive is out of order)")
            name = info.name
            if name == MANIFEST_NAME:
                manifest = read_json(pieces, info)
                break
            if name.startswith("vault/"):
                _restore_blob(
                    state.partial / "vault", name.removeprefix("vault/"), pieces, info.size
                )
                received[name.removeprefix("vault/")] = info.size
                state.done += info.size
                state.progress(state.done, 0)
            elif name.startswith("db/") and last:
                if loader is None:
                    loader = stack.enter_context(_loading(state, header))
                loader.load(b"".join(take(pieces, info.size)))
            elif name.startswith("home/") and last and name != f"home/{VAULT_CONFIG}":
                _restore_file(state.partial, name.removeprefix("home/"), pieces, info.size)
            elif name.startswith(("db/", "home/")):
                for _ in take(pieces, info.size):
                    pass
            else:
                raise BackupError(f"{archive.name} holds an unexpected file")
        else:
            raise BackupError(f"backup {archive.name} has no manifest: it is incomplete")
        _check_manifest(archive, manifest, header, received, loader, last=last)
        if loader is not None:
            state.rows = sum(loader.finish().values())
    if last and loader is None:
        raise BackupError(f"backup {archive.name} holds no database")
    state.blobs_seen |= set(received)
    state.previous = {**header, "vault": manifest.get("vault", [])}


@contextlib.contextmanager
def _loading(state: _State, header: dict[str, Any]) -> Iterator[DbLoader]:
    """A fresh database migrated by the desk's own store, loaded in one transaction."""
    home = DeskHome(root=state.partial, db_url=state.db_url)
    # the key files came first in the archive; the desk's key opens its database
    state.identity = home.unlock(state.desk_passphrase())
    state.migrated = True
    with home.open_store(state.identity) as store:
        revision = store.revision()
        if header.get("schema") != revision:
            raise BackupError(
                f"the backup's database schema ({header.get('schema')}) is not this sijil's "
                f"({revision}); restore it with the sijil version that made it"
            )
        with store.engine.connect() as conn, conn.begin():
            yield DbLoader(conn)
            _mark_derived_stale(conn)


def _mark_derived_stale(conn: Connection) -> None:
    """The search index was not restored: the desk rebuilds it on the next search."""
    if not DERIVED_TABLES & set(inspect(conn).get_table_names()):
        return
    conn.execute(delete(DeskSetting).where(DeskSetting.name == STALE_SETTING))
    conn.execute(insert(DeskSetting).values(name=STALE_SETTING, value="stale", updated_at=utcnow()))


def _check_manifest(
    archive: Path,
    manifest: Any,
    header: dict[str, Any],
    received: dict[str, int],
    loader: DbLoader | None,
    *,
    last: bool,
) -> None:
    if not isinstance(manifest, dict) or manifest.get("backup_id") != header.get("backup_id"):
        raise BackupError(f"backup {archive.name} is damaged (its manifest does not match)")
    listed = {str(name): int(size) for name, size in manifest.get("blobs", [])}
    if listed != received:
        raise BackupError(f"backup {archive.name} is damaged (its blobs differ from its manifest)")
    if last and loader is not None and loader.counts != manifest.get("tables"):
        raise BackupError(f"backup {archive.name} is damaged (row counts differ)")


def _write_new(path: Path, pieces: Pieces, size: int, mode: int = 0o600) -> None:
    """Write a file that must not exist yet; made durable by the one sync before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        for chunk in take(pieces, size):
            out.write(chunk)


def _restore_blob(vault: Path, name: str, pieces: Pieces, size: int) -> None:
    path = FolderBlobStore(vault).path(name)  # refuses a name that is not 64 hex digits
    if path.exists():  # the same blob in two archives of a chain: content-addressed, keep one
        for _ in take(pieces, size):
            pass
        return
    _write_new(path, pieces, size)


def _restore_file(root: Path, rel: str, pieces: Pieces, size: int) -> None:
    if not rel or rel.startswith("/") or ".." in Path(rel).parts:
        raise BackupError("the backup holds a file whose name escapes its folder")
    _write_new(confine(root, rel), pieces, size, 0o644 if rel == "desk.pub" else 0o600)
