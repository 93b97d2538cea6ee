"""The intake error boundary: is a failure the input's fault, or the machine's?

The rule (docs/security.md, README "Exit statuses"): an error caused by an item's
own content quarantines that item and the batch goes on; a failure of the machine
or of a service aborts the run with one line and leaves the input where it was.

The machine's or a service's fault (:func:`machine_failure` is True):

- ``OSError`` of any kind (ENOSPC, EIO, EACCES, a file vanished): disk, stick or
  permissions, never what an envelope says; ``MemoryError`` likewise;
- the database unreachable or failing: SQLAlchemy's ``OperationalError``,
  ``InterfaceError`` and the like, a DB-API ``OperationalError`` from a raw cursor,
  and any :class:`StoreError` translated from one of them;
- the vault (a folder or an object store) failing to store or read a blob.

Everything else an item provokes is its content's fault: a malformed envelope, a
bad shard, a value the database refuses (``IntegrityError``, ``DataError``, a value
a column type cannot bind), or an unexpected error while opening hostile bytes.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from sqlalchemy import exc as sa_exc

from sijil.errors import AlreadyRegistered, IntakeAborted, StoreError, VaultError

__all__ = ["aborted", "input_name", "machine_failure"]

# PEP 249 names: every driver's exceptions carry them (sqlite3, psycopg, ...).
_REFUSED = frozenset({"IntegrityError", "DataError"})
_DBAPI = frozenset({"DatabaseError", "InterfaceError"})
_LINE = 200
_NAME = 255


def input_name(source: str) -> str:
    """An input's file name as safe to store and print: the basename only (a full path
    can name the operator or the stick's label), undecodable bytes and control
    characters replaced, at most 255 characters."""
    name = Path(source).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("\ufffd" if unicodedata.category(c).startswith("C") else c for c in name)[:_NAME]


def _refused(cause: BaseException | None) -> bool:
    """The database said no to a value: the item's content, not an outage."""
    if isinstance(cause, sa_exc.IntegrityError | sa_exc.DataError):
        return True
    if isinstance(cause, sa_exc.StatementError) and not isinstance(cause, sa_exc.DBAPIError):
        return True  # a value a column type refused before the driver saw it
    names = {kind.__name__ for kind in type(cause).__mro__}
    return bool(names & _REFUSED) and bool(names & _DBAPI)


def machine_failure(exc: BaseException) -> bool:
    """True when ``exc`` is a failure of the machine or a service, not of the input."""
    if isinstance(exc, OSError | MemoryError | VaultError):
        return True
    if isinstance(exc, AlreadyRegistered):
        return False
    if isinstance(exc, StoreError):
        return not _refused(exc.__cause__)
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return not _refused(exc)
    names = {kind.__name__ for kind in type(exc).__mro__}
    return bool(names & _DBAPI) and not _refused(exc)


def _what(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        # strerror only: exc.filename would be a full path (the operator's, the stick's)
        return os.strerror(exc.errno) if exc.errno else type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, StoreError | VaultError):
        return str(exc)  # already one line without secrets (sijil.store.translate)
    return f"the database failed ({type(exc).__name__})"


def aborted(exc: BaseException, name: str | None) -> IntakeAborted:
    """The one-line error that stops a run; ``name`` is the input's basename, if any."""
    what = " ".join(_what(exc).split())[:_LINE]
    if name:
        return IntakeAborted(
            f"import stopped while taking {input_name(name)}: {what}. Not the input's "
            "fault: nothing was quarantined for it and it was left where it was; "
            "import again once this is fixed"
        )
    return IntakeAborted(
        f"import stopped: {what}. Nothing was quarantined and the input was left where "
        "it was; import again once this is fixed"
    )
