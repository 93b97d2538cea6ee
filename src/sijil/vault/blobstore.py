"""Where vault blobs live: one small interface, and a folder behind it.

A blob store knows nothing of keys or content: it keeps opaque bytes under
opaque names. Writes go through :meth:`BlobStore.begin`, whose pending blob is
named only when committed (the name depends on the content, known at the end),
unless the caller knows it up front and says so (``begin(name)``), which lets an
object store upload straight to that name. :mod:`sijil.vault.s3` implements the
same five methods over an S3-compatible object store; :mod:`sijil.vault.location`
picks one from a vault URL.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from sijil.errors import VaultError
from sijil.fsutil import fsync_dir

__all__ = ["BlobStore", "FolderBlobStore", "PendingBlob", "check_name"]

_NAME = re.compile(r"[0-9a-f]{64}")


def check_name(name: str) -> str:
    """``name`` if it is a blob name (64 lowercase hex digits), else VaultError."""
    if not _NAME.fullmatch(name):
        raise VaultError("a vault blob name must be 64 lowercase hex digits")
    return name


class PendingBlob(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self, name: str) -> bool:
        """Make the blob durable under ``name``; False if that name already existed."""
        ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    def begin(self, name: str | None = None) -> PendingBlob:
        """A pending blob; ``name``, when given, is the only name it may be committed under."""
        ...

    def exists(self, name: str) -> bool: ...
    def open(self, name: str) -> BinaryIO: ...
    def size(self, name: str) -> int: ...
    def names(self) -> Iterator[str]: ...


class _FolderPending:
    def __init__(self, store: FolderBlobStore) -> None:
        self._store = store
        store.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".blob-", dir=store.tmp)
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=0)

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self, name: str) -> bool:
        target = self._store.path(name)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if target.exists():
                # content-addressed: what is there is the same content; keep it
                self._path.unlink()
                return False
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                # a new fan-out folder is itself a directory entry that must survive a crash
                fsync_dir(target.parent.parent)
            self._path.replace(target)
            fsync_dir(target.parent)
            return True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class FolderBlobStore:
    """Blobs as files ``ROOT/ab/<name>``; temp files in ``ROOT/.tmp`` on the same disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / ".tmp"

    def path(self, name: str) -> Path:
        return self.root / name[:2] / check_name(name)

    def begin(self, name: str | None = None) -> PendingBlob:
        # a rename is atomic whatever the name: knowing it early gains nothing here
        return _FolderPending(self)

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def open(self, name: str) -> BinaryIO:
        try:
            return self.path(name).open("rb")
        except FileNotFoundError as exc:
            raise VaultError(f"vault blob {name[:12]}… is missing") from exc

    def size(self, name: str) -> int:
        return self.path(name).stat().st_size

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) == 2 and sub.is_dir():
                for item in sorted(sub.iterdir()):
                    if _NAME.fullmatch(item.name) and item.name.startswith(sub.name):
                        yield item.name
