"""The desk backup's file format: an age file holding one tar stream.

The age layer is locked to a passphrase (an scrypt stanza, as ``age -p``) or to an
age X25519 recipient, so ``age -d FILE | tar t`` lists any backup. Inside, in
this order (README: "Backup, restore and passphrases"):

    sijil-backup.json   header: format, backup id, base id, desk fingerprint, schema
    home/...            the home's own files: desk.key, desk.pub, tsa.json, shards
    db/000001.jsonl     the database as rows, table by table (sijil.desk.backup_db)
    vault/<name>        each vault blob as stored (already encrypted at rest)
    manifest.json       rows per table, blobs in this archive, every blob of the vault

The manifest comes last, so a restore knows the archive is whole only when it
has read everything; the age STREAM already refuses a cut or altered file.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sijil.crypto import bech32
from sijil.envelope.age import AgeReader, AgeWriter
from sijil.envelope.age_passphrase import (
    DEFAULT_LOG_N,
    PassphraseAgeReader,
    PassphraseAgeWriter,
    is_passphrase_file,
)
from sijil.errors import (
    BackupError,
    KeyFileError,
    MalformedEnvelope,
    NotForThisRecipient,
    PassphraseError,
    TamperedEnvelope,
    TruncatedEnvelope,
)

__all__ = [
    "FORMAT",
    "HEADER_NAME",
    "INDEX_FORMAT",
    "MANIFEST_NAME",
    "BackupKey",
    "Member",
    "Pieces",
    "Progress",
    "TarOut",
    "open_archive",
    "parse_age_identities",
    "read_json",
]

FORMAT = "sijil-backup/1"
INDEX_FORMAT = "sijil-backup-index/1"
HEADER_NAME = "sijil-backup.json"
MANIFEST_NAME = "manifest.json"
# The header and manifest are read whole; a vault of a million blobs lists ~100 MB.
MAX_JSON_MEMBER = 256 << 20
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
ZERO_BLOCK = bytes(BLOCK)
# A GNU long name longer than this is no name sijil writes.
MAX_NAME = 4096
# Reads and writes of blob data go in pieces this large.
IO_CHUNK = 1 << 20

Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    del done, total


@dataclass(frozen=True, kw_only=True)
class BackupKey:
    """What locks or opens a backup: a passphrase, age recipients or age identities."""

    passphrase: Callable[[], str] | None = None
    recipient: X25519PublicKey | None = None
    identities: tuple[X25519PrivateKey, ...] = ()
    log_n: int = DEFAULT_LOG_N  # scrypt work for a new passphrase-locked backup

    def writer(self, out: BinaryIO) -> AgeWriter:
        if self.recipient is not None:
            return AgeWriter(out, self.recipient)
        if self.passphrase is None:
            raise BackupError("a backup needs a --recipient or a passphrase")
        return PassphraseAgeWriter(out, self.passphrase(), log_n=self.log_n)


def parse_age_identities(text: str) -> tuple[X25519PrivateKey, ...]:
    """The AGE-SECRET-KEY-1... lines of an age identity file (as age-keygen writes)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            hrp, raw = bech32.decode(line.lower())
        except ValueError as exc:
            raise KeyFileError("the identity file holds a line that is not an age key") from exc
        if hrp != "age-secret-key-" or len(raw) != 32:
            raise KeyFileError("the identity file holds a key that is not an age X25519 key")
        found.append(X25519PrivateKey.from_private_bytes(raw))
    if not found:
        raise KeyFileError("the identity file holds no age key")
    return tuple(found)


class TarOut:
    """Write a tar stream member by member into ``out`` (no tarfile buffering copies)."""

    def __init__(self, out: AgeWriter, progress: Progress, total: int) -> None:
        self._out = out
        self._written = 0
        self._progress = progress
        self._total = total
        self._done = 0

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._written += len(data)

    def _header(self, name: str, size: int, mtime: float = 0.0) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o600
        info.mtime = int(mtime)
        self._write(info.tobuf(tarfile.GNU_FORMAT))

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._write(b"\0" * (BLOCK - size % BLOCK))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self._write(data)
        self._pad(len(data))

    def add_stream(self, name: str, source: BinaryIO, size: int, mtime: float = 0.0) -> None:
        """Copy exactly ``size`` bytes of ``source`` (a file that changes size is refused)."""
        self._header(name, size, mtime)
        left = size
        while left > 0:  # bounded: each pass consumes at least one byte or raises
            chunk = source.read(min(IO_CHUNK, left))
            if not chunk:
                raise BackupError(f"{name} shrank while it was being backed up")
            self._write(chunk)
            left -= len(chunk)
            self._done += len(chunk)
            self._progress(self._done, self._total)
        self._pad(size)

    def close(self) -> None:
        self._write(b"\0" * (2 * BLOCK))
        if self._written % RECORD:
            self._write(b"\0" * (RECORD - self._written % RECORD))
        self._out.close()


def _translate(path: Path, exc: Exception) -> BackupError | PassphraseError:
    name = path.name
    if isinstance(exc, PassphraseError):
        return PassphraseError(f"wrong passphrase for backup {name}")
    if isinstance(exc, TruncatedEnvelope):
        return BackupError(f"backup {name} is cut short (truncated): it cannot be restored")
    if isinstance(exc, TamperedEnvelope):
        return BackupError(
            f"backup {name} is damaged, cut short or changed (authentication failed)"
        )
    if isinstance(exc, NotForThisRecipient):
        return BackupError(f"backup {name} is not encrypted to the given age identity")
    if isinstance(exc, MalformedEnvelope):
        return BackupError(f"{name} is not a sijil backup (or its header is damaged)")
    return BackupError(f"backup {name} is damaged ({type(exc).__name__})")


@dataclass(frozen=True)
class Member:
    """One file of the archive: its name and size (its data follows as bytes pieces)."""

    name: str
    size: int


Pieces = Iterator[Member | bytes]


@contextlib.contextmanager
def open_archive(path: Path, key: BackupKey) -> Iterator[Pieces]:
    """Yield the members of backup ``path``: each Member, then its data in pieces.

    Every failure of the age layer or the tar layer becomes one BackupError
    (or PassphraseError) that names the file. When the caller is done, the rest
    of the file is read too, so that its last chunk is authenticated.
    """
    with path.open("rb") as raw:
        try:
            head = raw.read(64)
            raw.seek(0)
            reader: AgeReader
            if is_passphrase_file(head):
                if key.passphrase is None:
                    raise BackupError(f"backup {path.name} is locked with a passphrase")
                reader = PassphraseAgeReader(raw, key.passphrase())
            else:
                if not key.identities:
                    raise BackupError(
                        f"backup {path.name} is encrypted to an age key: give --identity"
                    )
                reader = _open_with_identities(raw, key.identities)
        except (PassphraseError, NotForThisRecipient) as exc:
            raise _translate(path, exc) from exc
        except (TruncatedEnvelope, TamperedEnvelope, MalformedEnvelope) as exc:
            raise _translate(path, exc) from exc
        try:
            yield _members(reader)
            while reader.read(IO_CHUNK):  # bounded by the file's length
                pass
        except (TruncatedEnvelope, TamperedEnvelope, MalformedEnvelope) as exc:
            raise _translate(path, exc) from exc


def _open_with_identities(raw: BinaryIO, identities: tuple[X25519PrivateKey, ...]) -> AgeReader:
    for identity in identities[:-1]:
        raw.seek(0)
        with contextlib.suppress(NotForThisRecipient):
            return AgeReader(raw, identity)
    raw.seek(0)
    return AgeReader(raw, identities[-1])


def _read_exact(reader: AgeReader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise BackupError("the backup ends inside its archive (truncated)")
    return data


def _members(reader: AgeReader) -> Pieces:
    """The tar stream's files, as :class:`TarOut` writes them (GNU long names allowed)."""
    long_name: str | None = None
    while True:  # bounded by the archive's length: each pass reads at least one block
        block = _read_exact(reader, BLOCK)
        if block == ZERO_BLOCK:
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.TarError as exc:
            raise BackupError("the backup is damaged (its archive does not parse)") from exc
        padded = info.size + (-info.size % BLOCK)
        if info.type == tarfile.GNUTYPE_LONGNAME and info.size <= MAX_NAME:
            long_name = _read_exact(reader, padded)[: info.size].rstrip(b"\0").decode()
            continue
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise BackupError("the backup holds something that is not a file")
        yield Member(long_name or info.name, info.size)
        long_name = None
        left = info.size
        while left > 0:  # bounded by the member's size: a short read raises
            chunk = _read_exact(reader, min(IO_CHUNK, left))
            left -= len(chunk)
            yield chunk
        _read_exact(reader, padded - info.size)


def read_json(pieces: Pieces, info: Member) -> Any:
    """The JSON document that is the data of member ``info`` (the next pieces)."""
    if info.size > MAX_JSON_MEMBER:
        raise BackupError(f"the backup's {info.name} is too large")
    data = b"".join(_take(pieces, info.size))
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BackupError(f"the backup's {info.name} is damaged") from exc


def _take(pieces: Pieces, size: int) -> Iterator[bytes]:
    got = 0
    while got < size:  # bounded by the member's size
        piece = next(pieces)
        if not isinstance(piece, bytes):
            raise BackupError("the backup's archive is out of order")
        got += len(piece)
        yield piece


def take(pieces: Pieces, size: int) -> Iterator[bytes]:
    """The next ``size`` bytes of member data, in pieces."""
    return _take(pieces, size)


def desk_tag(name_key: bytes) -> str:
    """Names the desk in a backup index without revealing its fingerprint."""
    return hmac.new(name_key, b"sijil-backup/1 index", "sha256").hexdigest()[:32]
