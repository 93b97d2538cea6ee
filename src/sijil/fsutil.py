"""Small file-system helpers every side shares: atomic writes, copies, hashing, confinement."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sijil.errors import ConfigError

__all__ = [
    "atomic_copy",
    "atomic_write",
    "atomic_writer",
    "confine",
    "fsync_dir",
    "sha256_file",
]

# Large enough that per-call overhead vanishes, small enough to stay in cache.
COPY_CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable: the directory entry must reach the disk too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a file that replaces ``path`` only when the block ends without error.

    A crash or an exception leaves either the old file or no file, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_writer(path, mode=mode) as handle:
        handle.write(data)


def atomic_copy(src: Path, target: Path, *, mode: int = 0o600) -> None:
    """Copy ``src`` to ``target`` atomically: the target is whole or absent after a crash."""
    with atomic_writer(target, mode=mode) as out, Path(src).open("rb") as handle:
        shutil.copyfileobj(handle, out, COPY_CHUNK)


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's content, read in chunks (the one copy in sijil)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def confine(base: Path, candidate: Path | str) -> Path:
    """Resolve ``candidate`` under ``base`` and refuse anything that escapes it."""
    root = Path(os.path.realpath(base))
    target = Path(os.path.realpath(root / candidate))
    if os.path.commonpath([root, target]) != str(root):
        raise ConfigError(f"path escapes its folder: {Path(candidate).name!r}")
    return target
