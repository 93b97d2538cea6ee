"""``sijil desk serve`` (the desk web app) and ``sijil desk user enrol`` (its sign-in codes)."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.desk_shared import ACTING, desk_session
from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.cli.relay_client_cmds import PROXY
from sijil.desk.accounts import ENROL_TTL, issue_enrolment
from sijil.desk.key_ceremony import DEFAULT_RP_ID, RelyingParty
from sijil.web.config import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["register_web"]


@click.command(name="serve")
@DESK_HOME
@DB
@click.option("--host", default=DEFAULT_HOST, help="Address to listen on (loopback by default).")
@click.option("--port", default=DEFAULT_PORT, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark cookies Secure: set when the app is reached over HTTPS (behind a proxy).",
)
@click.option("--relay", default=None, help="The relay that replies to correspondents go to.")
@PROXY
@click.option(
    "--rp-id",
    default=DEFAULT_RP_ID,
    show_default=True,
    help="The domain security keys are bound to: the name browsers reach the desk by (not an IP).",
)
@click.option(
    "--rp-origin",
    default=None,
    help="The one origin security keys may sign for (default: any on --rp-id).",
)
def serve(
    home: Path,
    db_url: str | None,
    host: str,
    port: int,
    secure_cookies: bool,
    relay: str | None,
    proxy: str | None,
    rp_id: str,
    rp_origin: str | None,
) -> None:
    """Serve the desk web app. The passphrase comes from SIJIL_PASSPHRASE or a prompt.

    The unlocked desk key opens the database, the vault (photo previews) and seals replies.
    """
    from sijil.web.config import WebConfig
    from sijil.web.serve import serve as run

    RelyingParty(rp_id, rp_origin)  # an IP address is refused before the passphrase is asked
    desk_home = desk_at(home, db_url)
    desk_home.require()
    identity = desk_home.unlock(read_passphrase("the desk key"))
    desk_home = desk_home.with_key(identity)  # sealed values on every backend
    config = WebConfig(
        home=desk_home,
        secure_cookies=secure_cookies,
        identity=identity,
        relay=relay,
        relay_proxy=proxy,
        rp_id=rp_id,
        rp_origin=rp_origin,
    )
    click.echo(f"sijil desk: serving on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run(config, host=host, port=port)


@click.command(name="enrol")
@DESK_HOME
@DB
@ACTING
@click.argument("name")
def user_enrol(home: Path, db_url: str | None, acting: str | None, name: str) -> None:
    """Print a one-time web enrolment code for NAME (an admin gives it in person).

    Any earlier web password, authenticator, recovery codes and sessions of NAME end.
    """
    with desk_session(home, db_url, write=True) as session:
        code = issue_enrolment(session, name, by=acting)
    days = ENROL_TTL.days
    click.echo(f"enrolment code for {terminal_safe(name)} (valid {days} days, once): {code}")


def register_web(desk: click.Group) -> None:
    desk.add_command(serve)
    user = desk.commands.get("user")
    if isinstance(user, click.Group):
        user.add_command(user_enrol)
