"""``sijil desk backup``: the whole desk in one encrypted archive, or what is new since one.

A backup holds the home's key files, the database dumped as rows (so a SQLite
desk restores onto PostgreSQL and back) and the vault's blobs exactly as stored:
they are encrypted at rest already, and the archive encrypts them once more.
The format is in :mod:`sijil.desk.backup_archive`; restoring is
:mod:`sijil.desk.restore`.

Incremental: given the previous backup (``since``), the new archive holds the
database and key files again but only the blobs the previous chain lacks. It
learns which those are from the small index written beside every backup
(``FILE.index``: backup ids and the vault's keyed blob names, nothing that
reads as content), so the previous archive need not be decrypted.

Consistency: the database is read in one snapshot first, and blobs are copied
after; intake stores a blob before its row commits, so every blob the dumped
rows name is in the vault by then.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sijil.crypto.identity import DeskIdentity
from sijil.desk.backup_archive import (
    FORMAT,
    HEADER_NAME,
    INDEX_FORMAT,
    MANIFEST_NAME,
    BackupKey,
    Progress,
    TarOut,
    desk_tag,
    no_progress,
)
from sijil.desk.backup_db import dump_parts, dumped_tables
from sijil.desk.home import DeskHome
from sijil.errors import BackupError, ConfigError
from sijil.fsutil import atomic_write, atomic_writer
from sijil.store import utcnow
from sijil.store.migrate import current_revision

__all__ = ["BackupResult", "index_path", "read_index", "write_backup"]

INDEX_SUFFIX = ".index"
# What a backup never copies from the home: the database (dumped as rows instead),
# the vault (copied blob by blob), temporary files and SQLite's side files.
_DB_FILES = ("sijil.db", "sijil.db-wal", "sijil.db-shm", "sijil.db-journal")
_SKIP_DIRS = ("vault", ".tmp")


@dataclass(frozen=True, kw_only=True)
class BackupResult:
    backup_id: str
    base_id: str | None
    blobs: int
    blob_bytes: int
    rows: int
    archive_bytes: int
    seconds: float


def index_path(archive: Path) -> Path:
    return archive.with_name(archive.name + INDEX_SUFFIX)


def read_index(archive: Path) -> dict[str, Any]:
    """The index beside a previous backup: its id and every blob name its chain holds."""
    path = index_path(archive)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise BackupError(
            f"no index beside {archive.name} ({path.name}): it is needed for an incremental"
        ) from exc
    except ValueError as exc:
        raise BackupError(f"the backup index {path.name} is damaged") from exc
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        raise BackupError(f"{path.name} is not a sijil backup index")
    if not isinstance(doc.get("blobs"), list) or not isinstance(doc.get("chain"), list):
        raise BackupError(f"the backup index {path.name} is damaged")
    return doc


def _home_files(home: DeskHome) -> list[tuple[str, Path]]:
    """The home's own files, as (name inside the archive, path), in a stable order."""
    found: list[tuple[str, Path]] = []
    for path in sorted(home.root.rglob("*")):
        rel = path.relative_to(home.root)
        if rel.parts[0] in _SKIP_DIRS or path.name in _DB_FILES or path.name.startswith(".tmp-"):
            continue
        if path.is_file() and not path.is_symlink():
            found.append(("home/" + rel.as_posix(), path))
    return found


def write_backup(
    home: DeskHome,
    identity: DeskIdentity,
    target: Path,
    key: BackupKey,
    *,
    since: Path | None = None,
    progress: Progress = no_progress,
) -> BackupResult:
    """Write a backup of ``home`` to ``target`` atomically, then its index beside it."""
    started = time.monotonic()
    home.require()
    if target.absolute().is_relative_to(home.root.absolute()):
        raise ConfigError("write the backup outside the desk's home folder")
    if since is not None and since.absolute() == target.absolute():
        raise ConfigError("an incremental backup cannot replace the backup it follows")
    vault = home.open_vault(identity)
    tag = desk_tag(vault.key.name_key)
    previous = read_index(since) if since is not None else None
    if previous is not None and previous.get("desk") != tag:
        raise BackupError(f"{since.name if since else ''} is a backup of another desk")
    known = set(previous["blobs"]) if previous is not None else set()
    chain = [*(previous["chain"] if previous else []), secrets.token_hex(16)]
    backup_id = chain[-1]
    all_names = sorted(vault.stored_names())
    fresh = [name for name in all_names if name not in known]
    sizes = {name: vault.blobs.size(name) for name in fresh}
    files = _home_files(home)
    total = sum(sizes.values()) + sum(path.stat().st_size for _, path in files)
    header = {
        "format": FORMAT,
        "backup_id": backup_id,
        "base_id": chain[-2] if len(chain) > 1 else None,
        "chain": chain,
        "desk_fingerprint": home.public().fingerprint,
        "created": utcnow().isoformat(),
    }
    tables: dict[str, int] = {}
    with atomic_writer(target) as raw, home.open_store(identity) as store:
        counted = _Counted(raw)
        tar = TarOut(key.writer(counted), progress, total)  # type: ignore[arg-type]
        with store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                header["schema"] = current_revision(conn)
                tar.add_bytes(HEADER_NAME, _json(header))
                for name, path in files:
                    with path.open("rb") as handle:
                        tar.add_stream(name, handle, path.stat().st_size, path.stat().st_mtime)
                ordered, _ = dumped_tables(conn)
                for number, part in enumerate(dump_parts(conn, ordered), start=1):
                    tar.add_bytes(f"db/{number:06d}.jsonl", part.data)
                    tables[part.table] = tables.get(part.table, 0) + part.rows
        for name in fresh:
            with vault.blobs.open(name) as blob:
                tar.add_stream(f"vault/{name}", blob, sizes[name])
        manifest = {
            "format": FORMAT,
            "backup_id": backup_id,
            "tables": tables,
            "blobs": [[name, sizes[name]] for name in fresh],
            "vault": all_names,
            "home": [name for name, _ in files],
        }
        tar.add_bytes(MANIFEST_NAME, _json(manifest))
        tar.close()
    index = {
        "format": INDEX_FORMAT,
        "backup_id": backup_id,
        "chain": chain,
        "desk": tag,
        "blobs": sorted(known | set(all_names)),
    }
    atomic_write(index_path(target), _json(index))
    return BackupResult(
        backup_id=backup_id,
        base_id=header["base_id"],
        blobs=len(fresh),
        blob_bytes=sum(sizes.values()),
        rows=sum(tables.values()),
        archive_bytes=counted.size,
        seconds=time.monotonic() - started,
    )


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=None, separators=(",", ":")).encode()


class _Counted:
    """A writable that counts what passes through it."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.size += len(data)
        return len(data)
