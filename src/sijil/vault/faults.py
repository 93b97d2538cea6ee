"""Crash points for the kill -9 trials: a real SIGKILL of the running process.

Only active when ``SIJIL_TEST_CRASH_AT=<point>:<n>`` is set: the n-th time the
process passes ``<point>`` it sends itself SIGKILL, which no handler, ``finally``
or atexit can intercept; the on-disk state is then exactly what a power cut or
``kill -9`` at that instant would leave. Unset, a crash point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "crash_point"]

CRASH_ENV = "SIJIL_TEST_CRASH_AT"
_seen: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
