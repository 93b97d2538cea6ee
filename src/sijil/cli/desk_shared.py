"""What the desk-work commands share: who acts, JSON output, one transaction per command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from sijil.cli.options import desk_at, open_desk_store

__all__ = ["ACTING", "JSON", "desk_session", "echo_json"]

ACTING = click.option(
    "--as",
    "acting",
    default=None,
    envvar="SIJIL_USER",
    show_envvar=True,
    help="The desk user doing this (see 'sijil desk user list').",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@contextmanager
def desk_session(home: Path, db_url: str | None, *, write: bool = False) -> Iterator[Session]:
    """One transaction on the desk's database: committed if the command succeeds."""
    with open_desk_store(desk_at(home, db_url)) as store, store.session(write=write) as session:
        yield session


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1))
