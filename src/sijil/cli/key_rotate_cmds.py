"""``sijil desk key rotate`` / ``announce`` and ``sijil publish key rotate``."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase

__all__ = ["register_key_rotation"]

RELAY = click.option(
    "--relay",
    default=None,
    help="Relay to leave the announcement at, for every enrolled correspondent "
    "(without it: announce later with 'sijil desk key announce').",
)
PROXY = click.option("--proxy", default=None, help="SOCKS proxy for the relay (e.g. Tor).")


def _announce(
    desk_home_root: Path, db_url: str | None, passphrase: str, relay: str, proxy: str | None
) -> None:
    from sijil.desk.key_rotation import announce_rotation

    desk_home = desk_at(desk_home_root, db_url)
    identity = desk_home.unlock(passphrase)
    store = desk_home.open_store(identity)
    try:
        done = announce_rotation(desk_home, identity, store, relay=relay, proxy=proxy)
    finally:
        store.close()
    click.echo(f"announced to {len(done.sent)} correspondent(s)")
    for name in done.skipped:
        click.echo(f"  not announced to {name}: no reply key yet, or revoked")
    for line in done.failed:
        click.echo(f"  FAILED {line} (run 'sijil desk key announce' again)", err=True)


@click.command(name="rotate")
@DESK_HOME
@DB
@RELAY
@PROXY
def desk_rotate(home: Path, db_url: str | None, relay: str | None, proxy: str | None) -> None:
    """Make a new age key and ledger signing key; the old ones are kept, locked.

    Stop 'sijil desk serve' and workers first, and start them again afterwards: a
    process that unlocked before holds the old keys.
    """
    from sijil.desk.key_rotation import rotate_desk_key

    desk_home = desk_at(home, db_url)
    passphrase = read_passphrase("the desk key")
    rotation = rotate_desk_key(desk_home, passphrase)
    if rotation.finished_earlier:
        click.echo("finished the rotation an earlier run began; no new keys were made")
    click.echo(f"old fingerprint: {rotation.old_fingerprint}")
    click.echo(f"new fingerprint: {rotation.new_fingerprint}")
    click.echo(
        f"handover recorded in ledger entry #{rotation.handover_seq}; desk.pub holds the new keys"
    )
    if relay:
        _announce(home, db_url, passphrase, relay, proxy)
    else:
        click.echo("tell correspondents: sijil desk key announce --relay URL")


@click.command(name="announce")
@DESK_HOME
@DB
@click.option("--relay", required=True, help="Relay to leave the announcement at.")
@PROXY
def desk_announce(home: Path, db_url: str | None, relay: str, proxy: str | None) -> None:
    """Seal the newest key handover to every enrolled correspondent (again)."""
    _announce(home, db_url, read_passphrase("the desk key"), relay, proxy)


@click.command(name="rotate")
@DESK_HOME
@DB
@click.option("--as", "by", envvar="SIJIL_USER", help="The desk user rotating the key.")
def publish_rotate(home: Path, db_url: str | None, by: str | None) -> None:
    """Make a new publication key, announced in the log by a post the old key signs.

    Rebuild or update the site afterwards: keys/ then holds the new key, and the old
    one under keys/retired/.
    """
    from sijil.publish.key_rotation import rotate_publication_key

    desk_home = desk_at(home, db_url)
    desk_home.require()
    rotation = rotate_publication_key(desk_home, read_passphrase("the desk key"), by=by)
    if rotation.finished_earlier:
        click.echo("finished the rotation an earlier run began; no new key was made")
    click.echo(f"old publication key: {rotation.old_key_id}")
    click.echo(f"new publication key: {rotation.new_key_id}")
    click.echo(f"announced in post {rotation.log_index}, signed by the old key")


def register_key_rotation() -> None:
    """``rotate`` and ``announce`` under ``sijil desk key``; ``rotate`` under ``publish key``."""
    from sijil.cli.desk_cmds import key as desk_key
    from sijil.cli.publish_key_cmds import key_group as publish_key

    desk_key.add_command(desk_rotate)
    desk_key.add_command(desk_announce)
    publish_key.add_command(publish_rotate)
