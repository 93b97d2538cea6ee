"""Fault injection as a hook passed in: crash points and injected machine failures.

Code that must survive a crash at a known instant (the vault before it commits a
blob, the ledger before it commits a tree head, intake before it commits a
registration) calls the ``FaultHook`` it was handed with the point's name. In
production the hook is ``no_faults`` and costs one call. Tests hand in their own
hook (raise ``OSError(ENOSPC)`` at a point, say); the kill -9 trials run the real
CLI, which builds its hook from ``SIJIL_TEST_CRASH_AT=<point>:<n>``: the n-th time
the process passes ``<point>`` it sends itself SIGKILL, which no handler, ``finally``
or atexit can intercept, so the disk holds exactly what a power cut would leave.

There is no module state: each hook object counts its own passes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping

__all__ = ["CRASH_ENV", "CrashAt", "FaultHook", "faults_from_environment", "no_faults"]

CRASH_ENV = "SIJIL_TEST_CRASH_AT"

FaultHook = Callable[[str], None]
"""Called with a point's name each time the code passes that point."""


def no_faults(point: str) -> None:
    """The production hook: passing a point does nothing."""


class CrashAt:
    """SIGKILL this process the ``nth`` time it passes ``point``."""

    def __init__(self, point: str, nth: int = 1) -> None:
        self.point = point
        self.nth = max(1, nth)
        self.passes = 0

    def __call__(self, point: str) -> None:
        if point != self.point:
            return
        self.passes += 1
        if self.passes >= self.nth:
            os.kill(os.getpid(), signal.SIGKILL)


def faults_from_environment(environ: Mapping[str, str] = os.environ) -> FaultHook:
    """``CrashAt`` if ``SIJIL_TEST_CRASH_AT`` is set, else ``no_faults``."""
    spec = environ.get(CRASH_ENV)
    if not spec:
        return no_faults
    point, _, nth = spec.partition(":")
    return CrashAt(point, int(nth) if nth.isdigit() else 1)
