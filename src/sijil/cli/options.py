"""Options several commands share, declared once (each has its environment twin)."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.passphrase import read_passphrase
from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.faults import faults_from_environment
from sijil.store import Store

__all__ = ["DB", "DESK_HOME", "FIELD_HOME", "desk_at", "open_desk_store"]

DESK_HOME = click.option(
    "--home",
    required=True,
    envvar="SIJIL_DESK_HOME",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The desk's home folder.",
)
FIELD_HOME = click.option(
    "--home",
    required=True,
    envvar="SIJIL_FIELD_HOME",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The correspondent's home folder.",
)
DB = click.option(
    "--db",
    "db_url",
    default=None,
    envvar="SIJIL_DB_URL",
    show_envvar=True,
    help="Database URL (default: SQLite in the home). Keep passwords out of it: "
    "use PostgreSQL peer/trust auth or a .pgpass file.",
)


def desk_at(home: Path, db_url: str | None = None) -> DeskHome:
    """The desk home a command works on; crash trials set SIJIL_TEST_CRASH_AT (sijil.faults)."""
    return DeskHome(root=home, db_url=db_url, faults=faults_from_environment())


def open_desk_store(desk_home: DeskHome, identity: DeskIdentity | None = None) -> Store:
    """The desk's database, unlocked: asks for the passphrase if not unlocked yet.

    Every command that reads the desk needs it (a prompt, or SIJIL_PASSPHRASE): the
    SQLite file is encrypted whole, and on every backend exact places, manifests,
    replies and fingerprints are sealed (sijil.store.sealed).
    """
    desk_home.require()
    if identity is None and desk_home.db_key is None:
        identity = desk_home.unlock(read_passphrase("the desk key"))
    return desk_home.open_store(identity)
