"""The sijil CLI in a child process that starts in milliseconds: for the kill -9 trials.

``python -m sijil.cli.main`` spends about a second starting Python and importing
sijil before it touches the desk; a trial that kills it on a timer mostly kills
an interpreter still importing. Here a fork server (multiprocessing's
"forkserver": one clean, single-threaded process per test process) imports the
CLI once, and each run is a fresh process forked from it that runs the real
``sijil.cli.main.main`` with its own environment and output file. It is still a
separate process: a SIGKILL leaves exactly what a power cut would leave.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["sijil.cli.main", __name__])


def _child(argv: Sequence[str], environ: Mapping[str, str], output: str) -> None:
    os.environ.clear()
    os.environ.update(environ)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    from sijil.cli.main import main

    sys.exit(main(argv))


def start_cli(argv: Sequence[str], environ: Mapping[str, str], output: Path) -> BaseProcess:
    """Start ``sijil ARGV`` in a forked process; stdout and stderr go to ``output``."""
    process = _CONTEXT.Process(target=_child, args=(list(argv), dict(environ), str(output)))
    process.start()
    return process
