"""``sijil scrub``: clean files, or show what identifying metadata they carry."""

from __future__ import annotations

from pathlib import Path

import click

from sijil import scrub as scrubber
from sijil.errors import ConfigError, ScrubError
from sijil.fsutil import atomic_writer, confine

__all__ = ["scrub", "show_findings"]


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
def scrub(files: tuple[Path, ...], out_dir: Path | None, inspect_only: bool) -> None:
    """Remove identifying metadata from FILES losslessly (pixels and samples unchanged).

    Every file is checked by its bytes, not its name. A file that cannot be
    cleaned is named with the reason and no output is left for it; the others
    are still cleaned, and the command then fails.
    """
    if not inspect_only and out_dir is None:
        raise click.UsageError("give --out DIR for the cleaned copies, or --inspect")
    failed = 0
    for path in files:
        try:
            if inspect_only:
                _inspect(path)
            else:
                assert out_dir is not None  # noqa: S101 - checked above; narrows the type
                _clean(path, out_dir)
        except ScrubError as exc:
            failed += 1
            click.echo(f"{path.name}: NOT CLEANED: {exc}", err=True)
    if failed:
        verb = "read" if inspect_only else "cleaned"
        raise ScrubError(f"{failed} of {len(files)} file(s) could not be {verb}")


def _inspect(path: Path) -> None:
    findings = scrubber.inspect(path)
    if not findings:
        click.echo(f"{path.name}: no identifying metadata found")
        return
    click.echo(f"{path.name}: {len(findings)} identifying item(s)")
    for finding in findings:
        click.echo(f"  - {finding.text}")


def _clean(path: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = confine(out_dir, path.name)
    if target.exists() and target.samefile(path):
        raise ConfigError(f"{path.name}: --out would overwrite the original; choose another folder")
    # atomic_writer leaves no file behind when scrub() raises.
    with atomic_writer(target) as handle:
        report = scrubber.scrub(path, handle)
    gone = "; ".join(f.text for f in report.removed) or "nothing identifying found"
    click.echo(f"{path.name}: removed {gone}")
    if report.kept:
        click.echo(f"  kept: {'; '.join(report.kept)}")
    click.echo(f"  -> {target} ({report.bytes_out} bytes)")


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
