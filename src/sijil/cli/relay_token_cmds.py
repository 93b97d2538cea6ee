"""``sijil desk relay-token rotate|send``: the network's relay token (sijil.desk.relay_token)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.cli.relay_client_cmds import PROXY

if TYPE_CHECKING:
    from sijil.desk.relay_token import Rotation

__all__ = ["echo_rotation", "register_relay_token", "rotate_relay_token"]


def echo_rotation(done: Rotation) -> None:
    """Say what a rotation or a send did, and what the relay's operator must do."""
    from sijil.desk.relay_token import RELAY_TOKEN_GRACE_S

    for codename in done.sent:
        click.echo(f"new relay token sent to {terminal_safe(codename)} (sealed reply)")
    for codename in done.revoked:
        click.echo(f"not sent to {terminal_safe(codename)}: their key is revoked")
    for codename, why in done.failed:
        click.echo(f"NOT sent to {terminal_safe(codename)}: {terminal_safe(why)}")
    if done.failed:
        click.echo("Send it again later: sijil desk relay-token send --relay URL")
    days = RELAY_TOKEN_GRACE_S // 86400
    click.echo(
        f"Install {done.token_file} on the relay as its --token-file and restart it: it "
        f"accepts the new token, and the previous one for {days} more days (digests only)."
    )


def rotate_relay_token(
    home: Path, db_url: str | None, relay: str, proxy: str | None, *, passphrase: str
) -> None:
    from sijil.desk.relay_token import rotate

    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(passphrase)
    with desk_home.open_store(identity) as store:
        done = rotate(desk_home, identity, store, relay=relay, proxy=proxy)
    echo_rotation(done)


@click.group(name="relay-token")
def relay_token() -> None:
    """The network's relay token: handed out in invites, rotated after a seizure."""


@relay_token.command(name="rotate")
@DESK_HOME
@DB
@click.option("--relay", required=True, help="The relay to leave the sealed replies at.")
@PROXY
def rotate_cmd(home: Path, db_url: str | None, relay: str, proxy: str | None) -> None:
    """Make a new relay token and send it to every enrolled, non-revoked correspondent."""
    rotate_relay_token(home, db_url, relay, proxy, passphrase=read_passphrase("the desk key"))


@relay_token.command(name="send")
@DESK_HOME
@DB
@click.option("--relay", required=True, help="The relay to leave the sealed replies at.")
@PROXY
def send_cmd(home: Path, db_url: str | None, relay: str, proxy: str | None) -> None:
    """Send the current relay token again (to correspondents a rotation could not reach)."""
    from sijil.desk.relay_token import send_token

    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store(identity) as store:
        done = send_token(desk_home, identity, store, relay=relay, proxy=proxy)
    echo_rotation(done)


def register_relay_token(desk: click.Group) -> None:
    desk.add_command(relay_token)
