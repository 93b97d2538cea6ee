"""A private scratch folder for the cleaners that need real files (ffmpeg).

Created with ``tempfile.mkdtemp`` in the system temp folder (``TMPDIR``,
normally /tmp): outside the correspondent's home, readable by this user only
(mode 0700), and removed with everything in it when the cleaner finishes,
whether it succeeded or not. Nothing in it is named after the input.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sijil.errors import CorruptMedia, ScrubError, UnsupportedFormat

__all__ = ["private_workdir", "run_tool"]

# Lines of a tool's error output kept in a message: enough to say why.
_ERROR_LINES = 2


@contextmanager
def private_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sijil-scrub-"))
    try:
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_tool(
    args: Sequence[str], *, timeout: float, workdir: Path, what: str, hide: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run an external tool by name; translate every failure to a ScrubError.

    ``what`` names the file for messages ("this video"). The tool's error
    output is shortened and stripped of the scratch folder's path and of
    ``hide`` (the input's own path, which may name the correspondent's home).
    """
    exe = shutil.which(args[0])
    if exe is None:
        raise UnsupportedFormat(f"cannot clean {what}: {args[0]} is not installed")
    try:
        done = subprocess.run(  # noqa: S603 - fixed tool, arguments are our own paths
            [exe, *args[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
        )
    except subprocess.TimeoutExpired as exc:
        raise ScrubError(f"cleaning {what} took longer than {timeout:.0f} s; gave up") from exc
    except OSError as exc:
        raise ScrubError(f"cannot run {args[0]}: {exc.strerror or 'error'}") from exc
    if done.returncode != 0:
        text = done.stderr.decode("utf-8", "replace").replace(str(workdir) + "/", "")
        if hide is not None:
            text = text.replace(str(hide), "input")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = "; ".join(lines[-_ERROR_LINES:])[:200] or f"exit status {done.returncode}"
        raise CorruptMedia(f"{args[0]} cannot read {what}: {reason}")
    return done
