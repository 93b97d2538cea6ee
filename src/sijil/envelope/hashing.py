"""SHA-256 on a second thread, so hashing overlaps encryption and disk I/O.

hashlib releases the GIL while it digests large buffers, so on two cores a
hash of the ciphertext (the envelope id) or of an opened attachment costs
almost nothing beside the work the main thread is already doing.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from types import TracebackType

__all__ = ["BackgroundSha256"]

# Blocks in flight between the threads. Each is at most ~1 MiB, so this bounds the
# extra memory to a few MiB however large the stream is.
QUEUE_DEPTH = 8


class BackgroundSha256:
    """Feed bytes with :meth:`update`; :meth:`hexdigest` waits for the worker to finish."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            self._hash.update(block)

    def update(self, data: bytes) -> None:
        # bytes only: a caller's reused bytearray could change before it is hashed
        self._queue.put(bytes(data) if not isinstance(data, bytes) else data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def __enter__(self) -> BackgroundSha256:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
