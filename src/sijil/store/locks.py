"""Named locks held across transactions, shared by every process on one database.

Some work must see everything committed before it and commit before the next
one looks: matching a new photo against the near-duplicate index, then adding
it. Two workers doing that at once would each miss the other's photo. A row lock
lasts one transaction; this lasts as long as the ``with`` block, across several.

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) on a connection
  of its own. A process killed while holding it loses its connection, and the
  server releases the lock: no lock outlives its holder.
- SQLite: an exclusive ``flock`` on a file beside the database (the same
  guarantee: the kernel drops it with the process).
- An in-memory database belongs to one process: nothing to lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from sijil.store.database import Store, sqlite_file
from sijil.store.translate import store_error

__all__ = ["exclusive", "lock_key"]


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(f"sijil.lock:{name}".encode()).digest()[:8], signed=True)


@contextmanager
def exclusive(store: Store, name: str) -> Iterator[None]:
    """Hold the lock called ``name`` for the block; wait for it if another holds it."""
    url = store.engine.url
    if url.get_backend_name() == "postgresql":
        with _advisory(store, lock_key(name)):
            yield
        return
    path = sqlite_file(url)
    if path is None:
        yield
        return
    fd = os.open(f"{path}.lock-{name}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def _advisory(store: Store, key: int) -> Iterator[None]:
    try:
        conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except sa_exc.SQLAlchemyError as exc:
        raise store_error(exc, store.engine.url) from exc
    try:
        try:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except sa_exc.SQLAlchemyError as exc:
            raise store_error(exc, store.engine.url) from exc
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except sa_exc.SQLAlchemyError:
                conn.invalidate()  # a connection that is gone released the lock with it
    finally:
        conn.close()
