"""``sijil desk backup`` and ``sijil desk restore``."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import BACKUP_PASSPHRASE_ENV, read_passphrase
from sijil.crypto.identity import parse_age_recipient

__all__ = ["register_backup"]

MIB = 1 << 20
# Progress lines: one per tenth of a backup, one per this many MiB of a restore.
PROGRESS_STEPS = 10
RESTORE_PROGRESS_MIB = 256
QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")


class _Progress:
    def __init__(self, verb: str, *, quiet: bool) -> None:
        self._verb = verb
        self._quiet = quiet
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self._quiet:
            return
        if total > 0:
            step = done * PROGRESS_STEPS // total
            if step > self._shown:
                self._shown = step
                percent = step * 100 // PROGRESS_STEPS
                click.echo(
                    f"{self._verb}: {percent}% ({done // MIB} of {total // MIB} MiB)", err=True
                )
        elif done // (RESTORE_PROGRESS_MIB * MIB) > self._shown:
            self._shown = done // (RESTORE_PROGRESS_MIB * MIB)
            click.echo(f"{self._verb}: {done // MIB} MiB of vault blobs", err=True)


@click.command(name="backup")
@DESK_HOME
@DB
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (an index FILE.index is written beside it).",
)
@click.option(
    "--recipient",
    default=None,
    help="Encrypt to this age recipient (age1...) instead of a passphrase "
    f"(asked, or {BACKUP_PASSPHRASE_ENV}).",
)
@click.option(
    "--since",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An earlier backup of this desk: hold only the vault blobs its chain lacks.",
)
@QUIET
def backup(
    home: Path,
    db_url: str | None,
    target: Path,
    recipient: str | None,
    since: Path | None,
    quiet: bool,
) -> None:
    """Write the desk (keys, database, vault) to one encrypted archive."""
    from sijil.desk.backup import index_path, write_backup
    from sijil.desk.backup_archive import BackupKey

    desk_home = desk_at(home, db_url)
    desk_home.require()
    identity = desk_home.unlock(read_passphrase("the desk key"))
    if recipient is not None:
        key = BackupKey(recipient=parse_age_recipient(recipient))
    else:
        secret = read_passphrase("the backup", new=True, env=BACKUP_PASSPHRASE_ENV)
        key = BackupKey(passphrase=lambda: secret)
    result = write_backup(
        desk_home, identity, target, key, since=since, progress=_Progress("backup", quiet=quiet)
    )
    kind = "incremental backup" if result.base_id else "full backup"
    click.echo(
        f"{kind} {result.backup_id} written to {target}: {result.blobs} vault blob(s) "
        f"({result.blob_bytes / MIB:.1f} MiB), {result.rows} rows, "
        f"{result.archive_bytes / MIB:.1f} MiB in {result.seconds:.1f} s; "
        f"index {index_path(target).name}"
    )


@click.command(name="restore")
@click.option(
    "--from",
    "sources",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A backup file; repeat for a chain: the full backup first, then each incremental.",
)
@DESK_HOME
@DB
@click.option(
    "--identity",
    "identity_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An age identity file, for backups written to a --recipient.",
)
@QUIET
def restore(
    sources: tuple[Path, ...],
    home: Path,
    db_url: str | None,
    identity_file: Path | None,
    quiet: bool,
) -> None:
    """Rebuild a desk in a new home (and database) from its backups."""
    from sijil.desk.backup_archive import BackupKey, parse_age_identities
    from sijil.desk.restore import restore_desk

    secrets: dict[str, str] = {}

    def backup_passphrase() -> str:
        if "backup" not in secrets:
            secrets["backup"] = read_passphrase("the backup", env=BACKUP_PASSPHRASE_ENV)
        return secrets["backup"]

    identities = parse_age_identities(identity_file.read_text()) if identity_file else ()
    key = BackupKey(passphrase=backup_passphrase, identities=identities)
    result = restore_desk(
        list(sources),
        home,
        key,
        desk_passphrase=lambda: read_passphrase("the desk key"),
        db_url=db_url,
        progress=_Progress("restore", quiet=quiet),
    )
    click.echo(
        f"restored desk {result.home.public().fingerprint} into {home} from "
        f"{result.backups} backup(s): {result.blobs} vault blob(s), {result.rows} rows "
        f"in {result.seconds:.1f} s; check it with 'sijil verify --home {home}'"
    )


def register_backup(desk: click.Group) -> None:
    desk.add_command(backup)
    desk.add_command(restore)
