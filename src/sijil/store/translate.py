"""Turn SQLAlchemy and driver errors into one-line StoreErrors.

A raw database error carries the URL's host, the failed statement and its
parameters (a codename, a key, a report's text). None of that may reach a log
or a terminal, so the message is rebuilt from the driver's first line only,
scrubbed of the URL's secrets, of addresses and of the statement's values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from sijil.errors import StoreError

__all__ = ["store_error"]

# libpq prefixes connection failures with the host and resolved address.
_LIBPQ_PREFIX = re.compile(
    r'^(?:connection failed:\s*)?(?:connection to server (?:at|on socket) "[^"]*"'
    r"(?: \([^)]*\))?(?:, port \d+)? failed:\s*)?",
)
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_REDACTED = "…"
# Shorter values are too likely to be ordinary words of the message itself.
_MIN_REDACT_LEN = 3


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _param_values(params: Any) -> Iterable[str]:
    """Every string-like value bound to a statement, however it was batched."""
    if params is None:
        return
    if isinstance(params, Mapping):
        for value in params.values():
            yield from _param_values(value)
    elif isinstance(params, list | tuple):
        for value in params:
            yield from _param_values(value)
    elif isinstance(params, bytes | bytearray | memoryview):
        yield bytes(params).decode("utf-8", "replace")
    elif not isinstance(params, bool | int | float):
        yield str(params)


def _secrets_of(url: str | URL | None) -> list[str]:
    if url is None:
        return []
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        return []
    return [s for s in (parsed.password, parsed.host) if s]


def _scrub(text: str, secrets: Iterable[str]) -> str:
    # longest first, so a value that contains another is removed whole
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, _REDACTED)
    return _IPV4.sub(_REDACTED, text)


def store_error(exc: BaseException, url: str | URL | None = None) -> StoreError:
    """A StoreError describing ``exc`` in one line that leaks nothing.

    ``url`` is the database URL in use, if known; its password and host are
    removed from the message. Use as ``raise store_error(exc, url) from exc``.
    """
    secrets = _secrets_of(url)
    if isinstance(exc, sa_exc.StatementError) and isinstance(exc.orig, StoreError):
        # ours, raised inside a column type (a sealed value without the key): one line
        return exc.orig
    if isinstance(exc, sa_exc.DBAPIError):
        detail = _LIBPQ_PREFIX.sub("", _first_line(str(exc.orig)))
        secrets += [v for v in _param_values(exc.params) if len(v) >= _MIN_REDACT_LEN]
        if isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError):
            lead = "the database refused the change"
        elif exc.statement is None:
            # SQLAlchemy wraps failures to connect with no statement
            lead = "cannot connect to the database"
        elif exc.connection_invalidated:
            lead = "the database connection was lost"
        else:
            lead = "the database failed"
    elif isinstance(exc, sa_exc.StatementError):
        # raised before the driver ran, e.g. a value a column type refused;
        # the statement's parameters are again left out
        lead = "a value could not be stored"
        detail = _first_line(str(exc.orig))
    elif isinstance(exc, sa_exc.ArgumentError):
        # its text can quote the whole URL, password included
        lead = "the database URL is not valid"
        detail = ""
    else:
        lead = "database error"
        detail = f"{type(exc).__name__}: {_first_line(str(exc))}"
    detail = _scrub(detail, secrets).strip()
    return StoreError(f"{lead}: {detail}" if detail else lead)
