"""``sijil desk migrate-encrypt``: encrypt the database of a desk made before encryption."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.desk.encrypt_db import encrypt_database, plaintext_database

__all__ = ["migrate_encrypt"]


@click.command(name="migrate-encrypt")
@DESK_HOME
@DB
def migrate_encrypt(home: Path, db_url: str | None) -> None:
    """Encrypt the desk's SQLite database under a key from the desk key (SQLCipher).

    Stop every other sijil process on this desk first. The plaintext file is replaced only
    after the encrypted copy reopens with every row; its bytes are then overwritten,
    which flash storage may not honour (see docs/security.md). A desk on PostgreSQL
    is refused: keep that server on an encrypted volume.
    """
    desk_home = desk_at(home, db_url)
    plaintext_database(desk_home)  # refuse before asking for the passphrase
    identity = desk_home.unlock(read_passphrase("the desk key"))
    done = encrypt_database(desk_home, identity)
    click.echo(f"Encrypted {done.path}: {done.tables} tables, {done.rows} rows carried over.")
    click.echo("From now on every desk command that reads it asks for the passphrase.")
