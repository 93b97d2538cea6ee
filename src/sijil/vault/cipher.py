"""The vault's blob encryption: AES-256-GCM in 1 MiB chunks, a STREAM construction.

Blob format: ``MAGIC || salt(16) || chunk*``; each chunk is the AES-GCM sealing
of up to 1 MiB of plaintext under a per-blob key ``HKDF-SHA256(enc_key, salt)``
with nonce ``counter(11 bytes, big-endian) || last(1 byte)``, as in age's STREAM:
chunks cannot be reordered, dropped or cut off without failing authentication.
An empty blob is one empty final chunk.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sijil.errors import BlobAltered

__all__ = [
    "CHUNK",
    "HEADER_SIZE",
    "MAGIC",
    "SEALED_CHUNK",
    "ChunkSealer",
    "VaultKey",
    "decrypt_chunk",
    "decrypt_chunks",
    "encrypt_to",
    "plaintext_size",
]

MAGIC = b"SIJIL-VAULT/1\n"
SALT_SIZE = 16
TAG_SIZE = 16
# 1 MiB: large enough that per-chunk overhead vanishes, small enough to stream.
CHUNK = 1 << 20
HEADER_SIZE = len(MAGIC) + SALT_SIZE
SEALED_CHUNK = CHUNK + TAG_SIZE


def _derive(secret: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


@dataclass(frozen=True, kw_only=True)
class VaultKey:
    """Two keys from the desk's vault secret: one encrypts, one names blobs."""

    enc_key: bytes
    name_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> VaultKey:
        return cls(
            enc_key=_derive(secret, b"sijil-vault/1 encryption"),
            name_key=_derive(secret, b"sijil-vault/1 names"),
        )

    def name_of(self, sha256_hex: str) -> str:
        """The stored name: HMAC of the content hash, so a disk does not reveal hashes."""
        return hmac.new(self.name_key, bytes.fromhex(sha256_hex), hashlib.sha256).hexdigest()

    def blob_cipher(self, salt: bytes) -> AESGCM:
        return AESGCM(_derive(self.enc_key, b"sijil-vault/1 blob", salt))


def plaintext_size(stored: int) -> int:
    """A blob's plaintext size from its stored size (every chunk but the last is full)."""
    body = stored - len(MAGIC) - SALT_SIZE
    chunks = max(1, -(-body // (CHUNK + TAG_SIZE)))
    return body - chunks * TAG_SIZE


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypt_to(
    key: VaultKey, source: BinaryIO, write: Callable[[bytes], object], hasher: hashlib._Hash
) -> int:
    """Encrypt ``source`` into ``write``, updating ``hasher`` with the plaintext; return its size.

    Two stages overlap: this thread reads and hashes chunk n+1 while a worker
    seals and writes chunk n (OpenSSL's SHA-256 and AES-GCM both run without
    the GIL on chunks this large), so storing costs about the slower of the two.
    """
    salt = os.urandom(SALT_SIZE)
    cipher = key.blob_cipher(salt)
    write(MAGIC + salt)

    def seal(counter: int, last: bool, chunk: bytes) -> None:
        write(cipher.encrypt(_nonce(counter, last), chunk, None))

    size = counter = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-seal") as worker:
        previous: Future[None] | None = None
        chunk = source.read(CHUNK)
        while True:
            following = source.read(CHUNK) if len(chunk) == CHUNK else b""
            last = not following
            hasher.update(chunk)
            size += len(chunk)
            if previous is not None:
                previous.result()  # in order, and a failed write stops the store
            previous = worker.submit(seal, counter, last, chunk)
            if last:
                previous.result()
                return size
            counter += 1
            chunk = following


def decrypt_chunks(key: VaultKey, blob: BinaryIO) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted blob; BlobAltered on any damage."""
    header = blob.read(len(MAGIC) + SALT_SIZE)
    if len(header) != len(MAGIC) + SALT_SIZE or not header.startswith(MAGIC):
        raise BlobAltered("the blob's header is damaged")
    cipher = key.blob_cipher(header[len(MAGIC) :])
    counter = 0
    sealed = blob.read(CHUNK + TAG_SIZE)
    while True:
        following = blob.read(CHUNK + TAG_SIZE) if len(sealed) == CHUNK + TAG_SIZE else b""
        last = not following
        try:
            yield cipher.decrypt(_nonce(counter, last), sealed, None)
        except InvalidTag as exc:
            raise BlobAltered("the blob fails authentication (altered or cut short)") from exc
        if last:
            return
        counter += 1
        sealed = following


class ChunkSealer:
    """Push-style twin of :func:`encrypt_to`: take plaintext as it comes, write sealed chunks.

    Holds at most one chunk plus what the last ``push`` added: a chunk is sealed
    only once a byte after it arrived (so the last one is known to be last when
    :meth:`finish` seals it). Produces exactly the blobs :func:`encrypt_to` does.
    """

    def __init__(self, key: VaultKey, write: Callable[[bytes], object]) -> None:
        salt = os.urandom(SALT_SIZE)
        self._cipher = key.blob_cipher(salt)
        self._write = write
        self._buffer = bytearray()
        self._counter = 0
        write(MAGIC + salt)

    def push(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            chunk = bytes(self._buffer[:CHUNK])
            del self._buffer[:CHUNK]
            self._write(self._cipher.encrypt(_nonce(self._counter, False), chunk, None))
            self._counter += 1

    def finish(self) -> None:
        chunk, self._buffer = bytes(self._buffer), bytearray()
        self._write(self._cipher.encrypt(_nonce(self._counter, True), chunk, None))


def decrypt_chunk(cipher: AESGCM, index: int, sealed: bytes, *, last: bool) -> bytes:
    """Chunk ``index`` of a blob (random access); BlobAltered if it fails authentication.

    ``cipher`` is the blob's (:meth:`VaultKey.blob_cipher` of its salt).
    """
    try:
        return cipher.decrypt(_nonce(index, last), sealed, None)
    except InvalidTag as exc:
        raise BlobAltered("the blob fails authentication (altered or cut short)") from exc
