"""``sijil desk correspondent revoke|clear``: a captured correspondent's key, and what it marks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from sijil.cli.desk_shared import ACTING, desk_session
from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME
from sijil.cli.passphrase import read_passphrase
from sijil.cli.relay_client_cmds import PROXY
from sijil.cli.relay_token_cmds import rotate_relay_token
from sijil.desk.revocation import clear_for_publication, revoke
from sijil.errors import DeskError

__all__ = ["register_correspondents"]


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeskError("give --since as an ISO 8601 time, e.g. 2016-11-22T03:00Z") from None
    if when.tzinfo is None:
        raise DeskError("give --since with its zone, e.g. 2016-11-22T03:00Z or +03:00")
    return when


@click.group()
def correspondent() -> None:
    """Correspondents: revoke a captured one's key; clear a flagged report for publishing."""


@correspondent.command(name="revoke")
@DESK_HOME
@DB
@ACTING
@click.argument("name")
@click.option("--since", required=True, help="From when the key may be in other hands (ISO 8601).")
@click.option("--reason", required=True, help="Why, for the next editor (kept at the desk only).")
@click.option(
    "--rotate-relay-token",
    "rotate_token",
    is_flag=True,
    help="Also make a new relay token and send it to every other correspondent (--relay).",
)
@click.option("--relay", default=None, help="The relay for --rotate-relay-token's replies.")
@PROXY
def revoke_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    name: str,
    since: str,
    reason: str,
    rotate_token: bool,
    relay: str | None,
    proxy: str | None,
) -> None:
    """Mark everything NAME's key signed or sent from --since on as possibly coerced."""
    if rotate_token and not relay:
        raise click.UsageError("--rotate-relay-token needs --relay (where to leave the replies)")
    when = _when(since)
    with desk_session(home, db_url, write=True) as session:
        revocation, marked = revoke(session, name, since=when, reason=reason, by=acting)
        number = revocation.id
    click.echo(f"revoked {terminal_safe(name)}'s key from {when.isoformat()} (revocation {number})")
    click.echo(f"{marked} report(s) marked possibly coerced; replies to this mailbox stop")
    click.echo("Their envelopes are still received and kept, and marked as they arrive.")
    if rotate_token and relay:
        rotate_relay_token(home, db_url, relay, proxy, passphrase=read_passphrase("the desk key"))
    else:
        click.echo(
            "Their device holds the network's relay token: rotate it "
            "(sijil desk relay-token rotate --relay URL, or --rotate-relay-token here)."
        )


@correspondent.command(name="clear")
@DESK_HOME
@DB
@ACTING
@click.argument("report", type=int)
def clear_cmd(home: Path, db_url: str | None, acting: str | None, report: int) -> None:
    """Your half of the two-person decision to publish from a flagged report anyway."""
    with desk_session(home, db_url, write=True) as session:
        flag = clear_for_publication(session, report, by=acting)
        done = flag.cleared_second_by is not None
    if done:
        click.echo(f"report {report} is cleared for publishing by two people")
    else:
        click.echo(f"report {report}: first decision recorded; a second person must decide too")


def register_correspondents(desk: click.Group) -> None:
    desk.add_command(correspondent)
