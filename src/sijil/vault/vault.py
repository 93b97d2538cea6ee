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
from sijil.vault.blobstore import BlobStore, FolderBlobStore
from sijil.vault.cipher import VaultKey, decrypt_chunks, encrypt_to, plaintext_size

__all__ = ["BlobRef", "Vault", "record_blob"]


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
