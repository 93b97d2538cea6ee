"""Writing one PATCH body into an upload's part file: batched, quota-bound, crash-safe.

Bytes go to the part file in order, so its size is always a consistent offset.
A body with a checksum is all-or-nothing: its start offset is recorded in a
``.pending`` file first (see ``Spool.recover``) and the file is cut back to it
if the checksum fails or the body is cut short.

Two kinds of method: :meth:`UploadWriter.write` only checks and buffers (cheap,
called on the event loop for every chunk); :meth:`~UploadWriter.flush`,
:meth:`~UploadWriter.commit` and :meth:`~UploadWriter.abort` hash, write and
fsync (they block, and the relay runs them in a worker thread).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sijil.errors import RelayLimitExceeded, RelayProtocolError
from sijil.fsutil import atomic_write
from sijil.relay.protocol.tus import CHECKSUM_MISMATCH, Checksum

__all__ = ["INSUFFICIENT_STORAGE", "WRITE_BATCH", "UploadWriter"]

# Writes are batched: fewer hand-offs to a worker thread for throughput, and a cut
# loses nothing because the batch is written when the body ends for any reason.
WRITE_BATCH = 1 << 20
INSUFFICIENT_STORAGE = 507


class UploadWriter:
    """Appends one PATCH body; :meth:`commit` makes it durable, :meth:`abort` keeps or drops it.

    Not thread-safe: one request drives it, one call at a time (awaiting each).
    """

    def __init__(
        self,
        *,
        part: Path,
        pending: Path,
        length: int,
        room: int | None,
        start: int,
        checksum: Checksum | None,
    ) -> None:
        self._part = part
        self._pending = pending
        self._length = length
        self._room = room  # bytes the spool may still take; None: no quota
        self._start = start
        self._checksum = checksum
        self._hash = checksum.new() if checksum else None
        # the chunks of the batch not yet written: kept as given, never copied
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._written = start
        if checksum is not None:
            atomic_write(self._pending, str(start).encode("ascii"))
        self._fd = os.open(self._part, os.O_WRONLY)
        os.lseek(self._fd, start, os.SEEK_SET)

    @property
    def offset(self) -> int:
        return self._written + self._buffered

    def write(self, data: bytes) -> bool:
        """Check and keep ``data`` (no I/O, no copy); True when a batch is ready to :meth:`flush`.

        ``data`` is kept as given until written: it must not change meanwhile.
        """
        if self.offset + len(data) > self._length:
            raise RelayProtocolError("the body runs past Upload-Length", status=413)
        if self._room is not None:
            if len(data) > self._room:
                raise RelayLimitExceeded("the relay's spool is full", status=INSUFFICIENT_STORAGE)
            self._room -= len(data)
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
        return self._buffered >= WRITE_BATCH

    def flush(self) -> None:
        """Hash (for a checksum) and write the buffered bytes. Blocks."""
        self._flush()

    def _flush(self) -> None:
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        try:
            for chunk in chunks:
                if self._hash is not None:
                    self._hash.update(chunk)
                view = memoryview(chunk)
                while view:
                    written = os.write(self._fd, view)
                    self._written += written
                    view = view[written:]
        except OSError as exc:
            # the file ends where the last write ended: no torn tail
            os.ftruncate(self._fd, self._written)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RelayLimitExceeded(
                    "the relay's disk is full", status=INSUFFICIENT_STORAGE
                ) from exc
            raise

    def _finish(self, *, keep: bool) -> int:
        if self._fd < 0:
            return self._written
        try:
            if keep:
                self._flush()
            else:
                os.ftruncate(self._fd, self._start)
                self._written = self._start
                self._chunks, self._buffered = [], 0
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1
            self._pending.unlink(missing_ok=True)
        return self._written

    def commit(self) -> int:
        """The body ended: verify its checksum if any, make it durable, return the offset.

        Blocks (hashing and fsync).
        """
        if self._checksum is not None and self._fd >= 0:
            try:
                self._flush()  # the checksum covers every byte, so all of them are hashed first
            except BaseException:
                self._finish(keep=False)
                raise
            if self._hash is None or self._hash.digest() != self._checksum.digest:
                self._finish(keep=False)
                raise RelayProtocolError(
                    "Upload-Checksum does not match the body", status=CHECKSUM_MISMATCH
                )
        return self._finish(keep=True)

    def abort(self) -> int:
        """The body was cut or refused: keep what arrived, unless it needed a checksum. Blocks."""
        return self._finish(keep=self._checksum is None)
