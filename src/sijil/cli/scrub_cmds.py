"""``sijil scrub``: clean files, or show what identifying metadata they carry."""

from __future__ import annotations

import errno
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from sijil import scrub as scrubber
from sijil.cli.display import safe_text, terminal_safe
from sijil.errors import ConfigError, ScrubError, SijilError
from sijil.fsutil import confine, fsync_dir

__all__ = ["clashing_names", "clean_one", "run_batch", "scrub", "show_findings"]

# Threads for a batch: two keep both cores of an old laptop busy while one
# thread waits on ffmpeg; more only add memory (files cleaned in memory).
DEFAULT_JOBS = 2
MAX_JOBS = 16


@click.command()
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the cleaned copies (same file names). Required unless --inspect.",
)
@click.option(
    "--inspect",
    "inspect_only",
    is_flag=True,
    help="Only list the identifying metadata each file carries; write nothing.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, MAX_JOBS),
    default=DEFAULT_JOBS,
    help="Files cleaned at once (videos wait on ffmpeg, so this helps even on one core).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace files of the same name already in --out (never the originals).",
)
def scrub(
    files: tuple[Path, ...], out_dir: Path | None, inspect_only: bool, jobs: int, overwrite: bool
) -> None:
    """Remove identifying metadata from FILES losslessly (pixels and samples unchanged).

    Every file is checked by its bytes, not its name. A file that cannot be
    cleaned is named with the reason and no output is left for it; the others
    are still cleaned, and the command then fails. Nothing in --out is
    replaced without --overwrite, and two FILES with the same name are both
    refused (one would replace the other).
    """
    if not inspect_only and out_dir is None:
        raise click.UsageError("give --out DIR for the cleaned copies, or --inspect")
    if out_dir is not None and not inspect_only:
        try:
            out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot make the --out folder: {exc.strerror or 'error'}") from exc
    clashing = clashing_names(files) if not inspect_only else set()
    failed = 0
    batch = run_batch(files, out_dir, inspect_only=inspect_only, jobs=jobs, overwrite=overwrite)
    for path, outcome in batch:
        if isinstance(outcome, SijilError):
            failed += 1
            # Two inputs share this name: only the path as typed tells them apart.
            label = str(path) if _key(path) in clashing else path.name
            click.echo(f"{terminal_safe(label)}: NOT CLEANED: {safe_text(str(outcome))}", err=True)
        else:
            click.echo("\n".join(safe_text(line) for line in outcome))
    if failed:
        verb = "read" if inspect_only else "cleaned"
        raise ScrubError(f"{failed} of {len(files)} file(s) could not be {verb}")


def clashing_names(files: Sequence[Path]) -> set[str]:
    """Names (case-folded) that more than one input has: their copies would collide in --out.

    Case-folded because a USB stick's FAT or a Mac's disk treats ``A.jpg`` and
    ``a.jpg`` as one file.
    """
    counts = Counter(_key(path) for path in files)
    return {name for name, count in counts.items() if count > 1}


def _key(path: Path) -> str:
    return path.name.casefold()


def run_batch(
    files: Sequence[Path],
    out_dir: Path | None,
    *,
    inspect_only: bool,
    jobs: int,
    overwrite: bool = False,
) -> Iterator[tuple[Path, list[str] | SijilError]]:
    """Clean (or inspect) ``files`` on ``jobs`` threads; yield results in input order.

    Each file fails on its own (a typed error as its outcome), the others go
    on. Threads suffice: the Python cleaners are short, and the video and Ogg
    cleaners spend their time waiting on ffmpeg, a separate process.
    """
    clashing = set() if inspect_only or out_dir is None else clashing_names(files)

    def one(path: Path) -> list[str] | SijilError:
        try:
            if inspect_only or out_dir is None:
                return _inspect(path)
            if _key(path) in clashing:
                # Refuse all of them: which one would win is no basis for a record.
                raise ConfigError(
                    "another file given has the same name; clean them into separate --out folders"
                )
            return clean_one(path, out_dir, overwrite=overwrite)
        except SijilError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from zip(files, pool.map(one, files), strict=True)


def _inspect(path: Path) -> list[str]:
    report = scrubber.survey(path)
    findings = report.removed
    lines = [f"{path.name}: no identifying metadata found"]
    if findings:
        lines = [f"{path.name}: {len(findings)} identifying item(s)"]
        lines += [f"  - {finding.text}" for finding in findings]
    return lines + [f"  stays: {finding.text}" for finding in report.remaining]


def clean_one(path: Path, out_dir: Path, *, overwrite: bool = False) -> list[str]:
    """Write the cleaned copy of ``path`` into ``out_dir``; lines to show.

    Raises ConfigError when the copy would land outside ``out_dir`` (a
    symlink), on the original, or on an existing file without ``overwrite``.
    """
    target = confine(out_dir, path.name)
    if target.exists() and target.samefile(path):
        raise ConfigError("--out would overwrite the original; choose another folder")
    # lexists: a symlink in --out, even a dangling one, is something already there.
    if not overwrite and os.path.lexists(out_dir / path.name):
        raise ConfigError(_EXISTS)
    report = _write_copy(path, target, overwrite=overwrite)
    gone = "; ".join(f.text for f in report.removed) or "nothing identifying found"
    lines = [f"{path.name}: removed {gone}"]
    if report.kept:
        lines.append(f"  kept: {'; '.join(report.kept)}")
    if report.remaining:
        lines.append(f"  stays: {'; '.join(f.text for f in report.remaining)}")
    lines.append(f"  -> {target} ({report.bytes_out} bytes)")
    return lines


_EXISTS = "a file of this name is already in --out; not replaced (--overwrite replaces it)"


def _write_copy(path: Path, target: Path, *, overwrite: bool) -> scrubber.ScrubReport:
    """Clean ``path`` into a temporary file beside ``target``, then publish it.

    A failure leaves no file behind. Without ``overwrite`` the copy is
    published with a hard link, which fails rather than replace a file that
    appeared meanwhile (another run into the same folder).
    """
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write into --out: {exc.strerror or 'error'}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            report = scrubber.scrub(path, handle)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, target, overwrite=overwrite)
        fsync_dir(target.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write into --out: {exc.strerror or 'error'}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        tmp.replace(target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError as exc:
        raise ConfigError(_EXISTS) from exc
    except OSError as exc:
        # FAT and some network file systems have no hard links: check, then rename.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):
            raise ConfigError(_EXISTS) from exc
        tmp.replace(target)


def show_findings(files: tuple[Path, ...], *, verification: bool) -> None:
    """Tell the correspondent, before sealing, what each file would have given away."""
    for path in files:
        try:
            report = scrubber.survey(path)
        except ScrubError as exc:
            click.echo(f"  {terminal_safe(path.name)}: cannot be cleaned: {safe_text(str(exc))}")
            continue
        if not report.removed:
            click.echo(f"  {terminal_safe(path.name)}: no identifying metadata found")
        else:
            click.echo(f"  {terminal_safe(path.name)} carries (removed before sealing):")
            for finding in report.removed:
                click.echo(f"    - {safe_text(finding.text)}")
        if report.remaining:
            click.echo(
                f"  {terminal_safe(path.name)} keeps "
                "(inside the audio/video, cannot be removed losslessly):"
            )
            for finding in report.remaining:
                click.echo(f"    - {safe_text(finding.text)}")
    if verification:
        click.echo(
            "  verification: capture time and position go to the desk inside the sealed report only"
        )
