"""Small file-system helpers every side shares: atomic writes, copies, hashing, confinement."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sijil.errors import ConfigError, InputRefused

__all__ = [
    "atomic_copy",
    "atomic_write",
    "atomic_writer",
    "confine",
    "fsync_dir",
    "open_regular",
    "printable",
    "read_regular",
    "sha256_file",
    "shown_name",
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


def printable(text: str) -> str:
    """``text`` safe to print on any terminal and store in any database: bytes of a
    file name that are not UTF-8 (surrogate escapes) become ``\\xNN`` and control
    characters their escape, so the name stays recognisable and one line."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char).startswith("C"):
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def shown_name(path: Path | str) -> str:
    """A file's basename as :func:`printable` shows it (never the folders above it)."""
    return printable(Path(path).name or str(path))


# Flags of every input opened by open_regular: never follow a link in the last
# component, never block (opening a FIFO with no writer would hang forever), and
# never leak the descriptor into a child process.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


class _Bounded(io.RawIOBase):
    """A regular file's descriptor that refuses to read past ``limit`` bytes (a file
    that grows after it was opened is cut off, not followed)."""

    def __init__(self, fd: int, limit: int, name: str) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._limit = limit
        self._name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        room = self._limit - self._file.tell()
        view = memoryview(buffer).cast("B")
        got = self._file.readinto(view[: max(room, 0) + 1]) or 0
        if got > max(room, 0):
            raise InputRefused(f"{self._name} grew past the {self._limit}-byte limit; not read")
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def open_regular(path: Path | str, *, max_bytes: int) -> BinaryIO:
    """Open an input for reading only if it is a regular file of at most ``max_bytes``.

    A symbolic link, FIFO, device, socket or folder raises InputRefused before any
    byte is read (a FIFO cannot hang the open, a link to ``/dev/zero`` cannot be
    read at all), and no read goes past ``max_bytes``. Other failures (missing,
    unreadable) are the OSError of the open.
    """
    name = shown_name(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise InputRefused(f"{name} is a symbolic link; not read") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise InputRefused(f"{name} is {kind}, not a regular file; not read")
        if info.st_size > max_bytes:
            raise InputRefused(
                f"{name} is {info.st_size} bytes, over the {max_bytes}-byte limit; not read"
            )
        return io.BufferedReader(_Bounded(fd, max_bytes, name), COPY_CHUNK)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, *, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` (see open_regular)."""
    with open_regular(path, max_bytes=max_bytes) as handle:
        return handle.read()
