"""``sijil publish build`` and ``sijil publish snapshot``: the static site and its signed zip."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at, open_desk_store
from sijil.cli.passphrase import read_passphrase

__all__ = ["register_publish_site"]


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


@click.command(name="build")
@DESK_HOME
@DB
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The site folder: missing, empty, or a previous build (replaced whole).",
)
@click.option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Page templates to use instead of the built-in ones (Jinja2, autoescaped).",
)
@click.option(
    "--queue",
    "queued",
    is_flag=True,
    help="Leave the build to a worker ('sijil desk worker'; a desk on PostgreSQL).",
)
def build(home: Path, db_url: str | None, out: Path, templates: Path | None, queued: bool) -> None:
    """Build the public site (pages, feeds, data, log) into a new folder and swap it in."""
    from sijil.publish.site import build_site

    desk_home = desk_at(home, db_url)
    if queued:
        from sijil.jobs.enqueue import enqueue_site

        desk_home.require()
        new = enqueue_site(desk_home, out=out, templates=templates)
        where = terminal_safe(str(out.absolute()))
        click.echo(f"site build queued: {where}" if new else "a site build is already waiting")
        return
    started = time.monotonic()
    show = sys.stderr.isatty()

    def progress(stage: str, done: int, _total: int) -> None:
        if show:
            click.echo(f"\r{done:,} {stage} written", nl=False, err=True)

    with open_desk_store(desk_home) as store:
        result = build_site(desk_home, store, out, templates=templates, progress=progress)
    if show:
        click.echo("", err=True)
    click.echo(
        f"built {terminal_safe(str(result.out))}: {result.log_size} post(s), "
        f"{result.files:,} files, {_kib(result.bytes)}, largest page {_kib(result.largest_page)}, "
        f"in {time.monotonic() - started:.1f} s"
    )


@click.command(name="snapshot")
@DESK_HOME
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The zip to write; its signature goes beside it as FILE.minisig.",
)
@click.option(
    "--site",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The built site (default: where this desk last built it).",
)
def snapshot(home: Path, out: Path, site: Path | None) -> None:
    """Zip the built site (deterministically) and sign the zip with the publication key."""
    from sijil.publish.keys import PublicationKey
    from sijil.publish.site import require_site
    from sijil.publish.snapshot import write_snapshot

    desk_home = desk_at(home)
    desk_home.require()
    folder = site if site is not None else require_site(desk_home)
    key = PublicationKey.load(desk_home, read_passphrase("the desk key"))
    result = write_snapshot(folder, key, out)
    click.echo(
        f"wrote {terminal_safe(str(result.out))} ({result.files:,} files, {_kib(result.bytes)}, "
        f"log size {result.log_size}) and {terminal_safe(result.signature.name)}"
    )


def register_publish_site(group: click.Group) -> None:
    group.add_command(build)
    group.add_command(snapshot)
