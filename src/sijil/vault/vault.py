"""The evidence vault: content-addressed, encrypted at rest, under keyed names.

A blob's address is the SHA-256 of its plaintext; it is stored encrypted
(:mod:`sijil.vault.cipher`) under ``HMAC(name_key, address)``, so someone holding
the disk cannot test whether a known video is there. Writes are atomic and
idempotent: the same content stored twice is one blob. Every read is checked:
each chunk authenticates and the whole plaintext hashes back to its address.

The database row of a blob (:class:`sijil.store.VaultBlob`) says what it is
(original, attachment, derived) and what it came from; :func:`record_blob` adds
it in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from sijil.errors import BlobAltered, VaultError
from sijil.faults import FaultHook, no_faults
from sijil.fsutil import atomic_writer
from sijil.store import BLOB_KINDS, VaultBlob
from sijil.vault.blobstore import BlobStore, FolderBlobStore, PendingBlob
from sijil.vault.cipher import (
    CHUNK,
    HEADER_SIZE,
    MAGIC,
    SEALED_CHUNK,
    ChunkSealer,
    VaultKey,
    decrypt_chunk,
    decrypt_chunks,
    encrypt_to,
    plaintext_size,
)

__all__ = ["BlobRef", "BlobWriter", "Vault", "record_blob"]


@dataclass(frozen=True, kw_only=True)
class BlobRef:
    sha256: str
    size: int


class Vault:
    """Store and read blobs by content address; no database access here."""

    def __init__(self, *, blobs: BlobStore, key: VaultKey, faults: FaultHook = no_faults) -> None:
        self.blobs = blobs
        self.key = key
        self.faults = faults

    @classmethod
    def folder(cls, root: Path, secret: bytes, *, faults: FaultHook = no_faults) -> Vault:
        return cls(blobs=FolderBlobStore(root), key=VaultKey.from_secret(secret), faults=faults)

    def name_of(self, sha256: str) -> str:
        return self.key.name_of(sha256)

    def has(self, sha256: str) -> bool:
        return self.blobs.exists(self.name_of(sha256))

    def put_stream(self, source: BinaryIO, *, expected_sha256: str | None = None) -> BlobRef:
        """Encrypt and store ``source``; a blob already there is kept as it is."""
        if expected_sha256 is not None and self.has(expected_sha256):
            stored = self.blobs.size(self.name_of(expected_sha256))
            return BlobRef(sha256=expected_sha256, size=plaintext_size(stored))
        hasher = hashlib.sha256()
        # a known address names the blob up front (an object store uploads straight there)
        pending = self.blobs.begin(
            None if expected_sha256 is None else self.name_of(expected_sha256)
        )
        try:
            size = encrypt_to(self.key, source, pending.write, hasher)
        except BaseException:
            pending.abort()
            raise
        sha = hasher.hexdigest()
        if expected_sha256 is not None and sha != expected_sha256:
            pending.abort()
            raise VaultError("the file changed while it was being stored")
        self.faults("vault.before_commit")
        pending.commit(self.name_of(sha))
        return BlobRef(sha256=sha, size=size)

    def writer(self, *, expected_sha256: str | None = None) -> BlobWriter:
        """A blob written chunk by chunk as its plaintext arrives (see :class:`BlobWriter`)."""
        return BlobWriter(self, expected_sha256)

    def open_plain(self, sha256: str) -> BinaryIO:
        """A seekable reader of the blob's plaintext, decrypting one chunk at a time.

        For decoders that seek (images, video containers): nothing is written
        anywhere and memory stays at a chunk or two. Every chunk it returns has
        authenticated (in place: chunks cannot be moved, dropped or cut off); the
        whole-content hash is not checked here, :meth:`chunks` does that.
        """
        return io.BufferedReader(_PlainReader(self, sha256), buffer_size=CHUNK)

    def put_file(self, path: Path, *, expected_sha256: str | None = None) -> BlobRef:
        with Path(path).open("rb") as handle:
            return self.put_stream(handle, expected_sha256=expected_sha256)

    def put_bytes(self, data: bytes) -> BlobRef:
        return self.put_stream(io.BytesIO(data))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """Yield the plaintext; raise BlobAltered (after the last chunk at worst)."""
        name = self.name_of(sha256)
        hasher = hashlib.sha256()
        # hashing chunk n in a worker overlaps decrypting chunk n+1 (both GIL-free)
        with (
            self.blobs.open(name) as blob,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-hash") as worker,
        ):
            hashing: Future[None] | None = None
            for chunk in decrypt_chunks(self.key, blob):
                if hashing is not None:
                    hashing.result()
                hashing = worker.submit(hasher.update, chunk)
                yield chunk
            if hashing is not None:
                hashing.result()
        if hasher.hexdigest() != sha256:
            raise BlobAltered("the blob's content does not hash to its address")

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.chunks(sha256))

    def copy_to(self, sha256: str, target: Path) -> None:
        """Write the verified plaintext to ``target`` atomically (never a damaged copy)."""
        with atomic_writer(target) as out:
            for chunk in self.chunks(sha256):
                out.write(chunk)

    def check(self, sha256: str) -> str | None:
        """None if the blob is present and intact, else what is wrong, in words."""
        if not self.has(sha256):
            return "missing from the vault"
        try:
            for _ in self.chunks(sha256):
                pass
        except BlobAltered as exc:
            return f"altered: {exc}"
        except OSError as exc:
            return f"unreadable: {os.strerror(exc.errno or 0)}"
        return None

    def stored_names(self) -> set[str]:
        return set(self.blobs.names())


class BlobWriter:
    """A blob written as its plaintext comes (``write``), then ``commit`` or ``abort``.

    The plaintext is hashed and encrypted on the way; only ciphertext reaches the
    blob store (a pending blob: ``vault/.tmp`` or an unfinished multipart upload,
    never visible as a blob), so nothing in the clear is ever written. Memory stays
    at one chunk (and an object store's one buffered part). With ``expected_sha256``
    the commit refuses other content; a blob already there is not written again
    (the bytes are only hashed).
    """

    def __init__(self, vault: Vault, expected_sha256: str | None) -> None:
        self._vault = vault
        self._expected = expected_sha256
        self._hasher = hashlib.sha256()
        self.size = 0
        self._pending: PendingBlob | None = None
        self._sealer: ChunkSealer | None = None
        if expected_sha256 is None or not vault.has(expected_sha256):
            name = None if expected_sha256 is None else vault.name_of(expected_sha256)
            self._pending = vault.blobs.begin(name)
            try:
                self._sealer = ChunkSealer(vault.key, self._pending.write)
            except BaseException:
                self.abort()
                raise

    def write(self, data: bytes, /) -> int:
        self._hasher.update(data)
        self.size += len(data)
        if self._sealer is not None:
            try:
                self._sealer.push(data)
            except BaseException:
                self.abort()
                raise
        return len(data)

    def commit(self) -> BlobRef:
        sha = self._hasher.hexdigest()
        pending, sealer = self._pending, self._sealer
        self._pending = self._sealer = None
        if self._expected is not None and sha != self._expected:
            if pending is not None:
                pending.abort()
            raise VaultError("the content does not match the hash it was announced with")
        if pending is None or sealer is None:
            return BlobRef(sha256=sha, size=self.size)
        try:
            sealer.finish()
            self._vault.faults("vault.before_commit")
        except BaseException:
            pending.abort()
            raise
        pending.commit(self._vault.name_of(sha))
        return BlobRef(sha256=sha, size=self.size)

    def abort(self) -> None:
        """Drop what was written (idempotent; after a commit it does nothing)."""
        pending, self._pending, self._sealer = self._pending, None, None
        if pending is not None:
            pending.abort()


class _PlainReader(io.RawIOBase):
    """Random access to a blob's plaintext: one chunk decrypted (and kept) at a time."""

    def __init__(self, vault: Vault, sha256: str) -> None:
        super().__init__()
        self._blobs = vault.blobs
        self._name = vault.name_of(sha256)
        self._key = vault.key
        stored = self._blobs.size(self._name)
        self._size = plaintext_size(stored)
        self._count = max(1, -(-(stored - HEADER_SIZE) // SEALED_CHUNK))
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None
        self._handle = self._blobs.open(self._name)
        self._at = 0  # the chunk the handle is positioned at
        self._cipher = self._key.blob_cipher(self._header())

    def _header(self) -> bytes:
        header = self._handle.read(HEADER_SIZE)
        if len(header) != HEADER_SIZE or not header.startswith(MAGIC):
            raise BlobAltered("the blob's header is damaged")
        return header[len(MAGIC) :]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        index = self._pos // CHUNK
        chunk = self._chunk(index)
        start = self._pos - index * CHUNK
        count = min(len(buffer), len(chunk) - start)
        memoryview(buffer)[:count] = chunk[start : start + count]
        self._pos += count
        return count

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        self._position(index)
        sealed = self._handle.read(SEALED_CHUNK)
        self._at = index + 1
        plain = decrypt_chunk(self._cipher, index, sealed, last=index == self._count - 1)
        self._cached = (index, plain)
        return plain

    def _position(self, index: int) -> None:
        if index == self._at:
            return
        if self._handle.seekable():
            self._handle.seek(HEADER_SIZE + index * SEALED_CHUNK)
        else:  # an object store's stream: forward by reading, backward from the start
            if index < self._at:
                self._handle.close()
                self._handle = self._blobs.open(self._name)
                self._header()
                self._at = 0
            for _ in range(index - self._at):
                self._handle.read(SEALED_CHUNK)
        self._at = index

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


def record_blob(
    session: Session,
    ref: BlobRef,
    *,
    kind: str,
    parent: str | None = None,
    role: str | None = None,
) -> VaultBlob:
    """Add the blob's row in the caller's transaction (first record wins)."""
    if kind not in BLOB_KINDS:
        raise ValueError(f"unknown blob kind {kind!r}")
    row = session.get(VaultBlob, ref.sha256)
    if row is None:
        row = VaultBlob(
            sha256=ref.sha256, kind=kind, size=ref.size, parent_sha256=parent, role=role
        )
        session.add(row)
    return row
