"""``sijil scrub``: clean files, or show what identifying metadata they carry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from sijil import scrub as scrubber
from sijil.errors import ConfigError, ScrubError
from sijil.fsutil import atomic_writer, confine

__all__ = ["clean_one", "run_batch", "scrub", "show_findings"]

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
def scrub(files: tuple[Path, ...], out_dir: Path | None, inspect_only: bool, jobs: int) -> None:
    """Remove identifying metadata from FILES losslessly (pixels and samples unchanged).

    Every file is checked by its bytes, not its name. A file that cannot be
    cleaned is named with the reason and no output is left for it; the others
    are still cleaned, and the command then fails.
    """
    if not inspect_only and out_dir is None:
        raise click.UsageError("give --out DIR for the cleaned copies, or --inspect")
    if out_dir is not None and not inspect_only:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    failed = 0
    for path, outcome in run_batch(files, out_dir, inspect_only=inspect_only, jobs=jobs):
        if isinstance(outcome, ScrubError):
            failed += 1
            click.echo(f"{path.name}: NOT CLEANED: {outcome}", err=True)
        else:
            click.echo("\n".join(outcome))
    if failed:
        verb = "read" if inspect_only else "cleaned"
        raise ScrubError(f"{failed} of {len(files)} file(s) could not be {verb}")


def run_batch(
    files: Sequence[Path], out_dir: Path | None, *, inspect_only: bool, jobs: int
) -> Iterator[tuple[Path, list[str] | ScrubError]]:
    """Clean (or inspect) ``files`` on ``jobs`` threads; yield results in input order.

    Threads suffice: the Python cleaners are short, and the video and Ogg
    cleaners spend their time waiting on ffmpeg, a separate process.
    """

    def one(path: Path) -> list[str] | ScrubError:
        try:
            if inspect_only or out_dir is None:
                return _inspect(path)
            return clean_one(path, out_dir)
        except ScrubError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from zip(files, pool.map(one, files), strict=True)


def _inspect(path: Path) -> list[str]:
    findings = scrubber.inspect(path)
    if not findings:
        return [f"{path.name}: no identifying metadata found"]
    return [f"{path.name}: {len(findings)} identifying item(s)"] + [
        f"  - {finding.text}" for finding in findings
    ]


def clean_one(path: Path, out_dir: Path) -> list[str]:
    """Write the cleaned copy of ``path`` into ``out_dir`` atomically; lines to show."""
    target = confine(out_dir, path.name)
    if target.exists() and target.samefile(path):
        raise ConfigError(f"{path.name}: --out would overwrite the original; choose another folder")
    # atomic_writer leaves no file behind when scrub() raises.
    with atomic_writer(target) as handle:
        report = scrubber.scrub(path, handle)
    gone = "; ".join(f.text for f in report.removed) or "nothing identifying found"
    lines = [f"{path.name}: removed {gone}"]
    if report.kept:
        lines.append(f"  kept: {'; '.join(report.kept)}")
    lines.append(f"  -> {target} ({report.bytes_out} bytes)")
    return lines


def show_findings(files: tuple[Path, ...], *, verification: bool) -> None:
    """Tell the correspondent, before sealing, what each file would have given away."""
    for path in files:
        try:
            findings = scrubber.inspect(path)
        except ScrubError as exc:
            click.echo(f"  {path.name}: cannot be cleaned: {exc}")
            continue
        if not findings:
            click.echo(f"  {path.name}: no identifying metadata found")
            continue
        click.echo(f"  {path.name} carries (removed before sealing):")
        for finding in findings:
            click.echo(f"    - {finding.text}")
    if verification:
        click.echo(
            "  verification: capture time and position go to the desk inside the sealed report only"
        )
