"""``sijil desk passphrase change`` and ``sijil field passphrase change``."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.options import DESK_HOME, FIELD_HOME, desk_at
from sijil.cli.passphrase import NEW_PASSPHRASE_ENV, read_passphrase
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.field.home import FieldHome

__all__ = ["register_passphrase"]


@click.group(name="passphrase")
def desk_passphrase() -> None:
    """The passphrase that locks the desk key."""


@desk_passphrase.command(name="change")
@DESK_HOME
def desk_change(home: Path) -> None:
    """Lock the desk key under a new passphrase (SIJIL_NEW_PASSPHRASE, or asked twice).

    The publication key (sijil publish key init), locked under the same passphrase,
    is re-locked with it, first: cut short in between, the same command finishes it.
    """
    from sijil.desk.passphrase import change_desk_passphrase
    from sijil.errors import PassphraseError
    from sijil.publish.keys import PublicationKey

    desk_home = desk_at(home)
    desk_home.require()
    old = read_passphrase("the desk key")
    new = read_passphrase("the desk key (new)", new=True, env=NEW_PASSPHRASE_ENV)
    desk_home.unlock(old)  # a wrong passphrase changes nothing, not even the publication key
    if new == old:
        raise PassphraseError("the new passphrase is the old one; nothing was changed")
    publication = PublicationKey.relock(desk_home, old, new, DEFAULT_KDF)
    change_desk_passphrase(desk_home, old, new, DEFAULT_KDF)
    also = " and the publication key are" if publication else " is"
    click.echo(f"the desk key{also} locked under the new passphrase; the old one opens nothing")


@click.group(name="passphrase")
def field_passphrase() -> None:
    """The passphrase that locks this correspondent's keys."""


@field_passphrase.command(name="change")
@FIELD_HOME
def field_change(home: Path) -> None:
    """Lock the keys under a new passphrase (SIJIL_NEW_PASSPHRASE, or asked twice)."""
    from sijil.field.passphrase import change_field_passphrase

    field_home = FieldHome(home)
    field_home.require()
    old = read_passphrase("your keys")
    new = read_passphrase("your keys (new)", new=True, env=NEW_PASSPHRASE_ENV)
    change_field_passphrase(field_home, old, new, DEFAULT_KDF)
    click.echo("your keys are locked under the new passphrase; the old one opens nothing")


def register_passphrase(desk: click.Group, field: click.Group) -> None:
    desk.add_command(desk_passphrase)
    field.add_command(field_passphrase)
