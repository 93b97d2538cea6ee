"""``sijil desk vault``: where the evidence vault lives, and moving it to an object store."""

from __future__ import annotations

import time
from pathlib import Path

import click

from sijil.cli.options import DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.desk.vault_config import load_vault_url
from sijil.desk.vault_migrate import migrate_vault
from sijil.errors import AuditFailed
from sijil.vault.location import describe_url

__all__ = ["register_vault"]

MIB = 1 << 20
# a progress line at most this often (seconds): readable, and cheap on a slow terminal
PROGRESS_EVERY = 2.0


@click.group("vault")
def vault_group() -> None:
    """The evidence vault: where it lives (a folder, or an S3-compatible object store)."""


@vault_group.command("where")
@DESK_HOME
def where(home: Path) -> None:
    """Say where the desk's vault is (never the endpoint's address)."""
    desk_home = desk_at(home)
    desk_home.require()
    url = load_vault_url(desk_home.vault_config)
    click.echo(f"folder {desk_home.vault}" if url is None else describe_url(url))


@vault_group.command("migrate")
@DESK_HOME
@click.option(
    "--to",
    "url",
    required=True,
    help="s3://BUCKET/PREFIX?endpoint=URL (region=, profile= optional). Credentials come "
    "from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file, never the URL.",
)
def migrate(home: Path, url: str) -> None:
    """Copy the vault to an object store, verify every blob there, then switch to it.

    The folder is kept as it was. Pause imports meanwhile. A run that stops can be
    run again: blobs already copied are verified, not copied twice.
    """
    desk_home = desk_at(home)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    last = [0.0]

    def progress(done: int, total: int, copied: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            click.echo(f"  {done}/{total} blobs, {copied / MIB:.1f} MiB copied", err=True)

    where = describe_url(url)
    click.echo(f"Copying the vault to {where} ...", err=True)
    report = migrate_vault(desk_home, identity, url, progress=progress)
    for line in report.damaged_at_source:
        click.echo(f"warning: {line}", err=True)
    for line in report.problems:
        click.echo(f"problem: {line}", err=True)
    counts = f"{report.copied} copied, {report.present} already there, {report.verified} verified"
    if not report.switched:
        raise AuditFailed(
            f"{len(report.problems)} blob(s) did not verify at {where} ({counts}); "
            "the desk still uses its folder vault"
        )
    click.echo(f"Vault moved to {where}: {counts}.")
    click.echo(
        f"{desk_home.vault_config} now points there; the folder {desk_home.vault} is kept: "
        "delete it once the object store's backups are in place."
    )


def register_vault(desk: click.Group) -> None:
    desk.add_command(vault_group)
