"""Options several commands share, declared once (each has its environment twin)."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.desk.home import DeskHome
from sijil.faults import faults_from_environment

__all__ = ["DB", "DESK_HOME", "FIELD_HOME", "desk_at"]

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
