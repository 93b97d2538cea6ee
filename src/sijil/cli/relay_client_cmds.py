"""Relay commands of the two sides: ``field send``/``inbox``, ``desk pull``/``reply``.

Added to the ``field`` and ``desk`` groups by ``cli/main.py``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from sijil.cli.desk_cmds import EXIT_STATUS_HELP, QUEUE, finish_run, outcome_printer
from sijil.cli.display import safe_text
from sijil.cli.options import DB, DESK_HOME, FIELD_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.desk.inputs import ImportOutcome, Progress
from sijil.errors import ConfigError, RelayError
from sijil.field.home import FieldHome

__all__ = ["inbox", "pull", "reply", "send"]

PROXY = click.option(
    "--proxy",
    default=None,
    envvar="SIJIL_PROXY",
    show_envvar=True,
    help="Proxy to reach the relay through, e.g. Tor: socks5h://127.0.0.1:9050 "
    "(required for an .onion relay).",
)
# Enough for any reply the relay accepts (its sealed form is capped at 64 KiB).
MAX_TEXT_CHARS = 64 << 10


def _warn_if_direct(relay: str | None, proxy: str | None) -> None:
    """Say once, on stderr, when this run will show the device's address to the relay."""
    from sijil.relay.protocol.client import visible_address_warning

    if relay:
        warning = visible_address_warning(relay, proxy)
        if warning:
            click.echo(warning, err=True)


def _reply_text(text: str | None) -> str:
    """``--text -`` reads stdin, no ``--text`` prompts on a terminal: no reply in history."""
    stdin = sys.stdin
    if text == "-":
        return stdin.read(MAX_TEXT_CHARS + 1).rstrip("\n")
    if text is not None:
        return text
    if not stdin.isatty():
        raise ConfigError("give the reply with --text - (read from stdin) or run in a terminal")
    return str(click.prompt("Reply (one line)", type=str))


FIELD_RELAY = click.option(
    "--relay", default=None, help="Relay address (default: the one in your invite)."
)


@click.command()
@FIELD_HOME
@FIELD_RELAY
@PROXY
def send(home: Path, relay: str | None, proxy: str | None) -> None:
    """Upload the outbox through the relay, resuming where the link dropped."""
    from sijil.field.send import send_outbox

    session = FieldHome(home).unlock(read_passphrase("your correspondent key"))
    _warn_if_direct(relay or session.settings.get("relay"), proxy)
    results = send_outbox(session, relay=relay, proxy=proxy, progress=click.echo)
    sent = sum(1 for r in results if r.status == "sent")
    failed = len(results) - sent
    click.echo(f"done: {sent} sent, {failed} not sent" if results else "nothing to send")
    if failed:
        raise RelayError(f"{failed} envelope(s) not sent; run 'sijil field send' again to resume")


@click.command()
@FIELD_HOME
@FIELD_RELAY
@PROXY
def inbox(home: Path, relay: str | None, proxy: str | None) -> None:
    """Fetch and read the desk's replies."""
    from sijil.field.inbox import fetch_inbox

    session = FieldHome(home).unlock(read_passphrase("your correspondent key"))
    _warn_if_direct(relay or session.settings.get("relay"), proxy)
    items = fetch_inbox(session, relay=relay, proxy=proxy)
    if not items:
        click.echo("No replies.")
    for item in items:
        mark = "new " if item.new else "    "
        if item.problem:
            click.echo(f"{mark}{item.received_at}  NOT FROM YOUR DESK: {safe_text(item.problem)}")
        else:
            click.echo(f"{mark}{item.created_at}  {safe_text(item.text, lines=True)}")


@click.command(
    help="Download new envelopes from the relay, import them, and let the relay delete "
    "them.\n\nThe relay deletes an envelope only once the desk kept it (imported, a "
    "duplicate, or quarantined); one left waiting stays at the relay for the next pull."
    + EXIT_STATUS_HELP
)
@DESK_HOME
@DB
@click.option(
    "--relay",
    "relays",
    required=True,
    multiple=True,
    help="A relay's address; repeat it to pull from several, in turn.",
)
@PROXY
@QUEUE
def pull(
    home: Path, db_url: str | None, relays: tuple[str, ...], proxy: str | None, queue: bool
) -> None:
    from sijil.desk.pull import pull_relays

    desk_home = desk_at(home, db_url)
    if queue:
        from sijil.jobs.queue import queue_url

        queue_url(desk_home)  # a SQLite desk refuses before the passphrase is asked
    identity = desk_home.unlock(read_passphrase("the desk key"))
    shown = outcome_printer(verbose=False, name=False)
    with desk_home.open_store(identity) as store, contextlib.ExitStack() as stack:
        take = None
        if queue:
            from sijil.jobs.enqueue import Enqueuer

            enqueuer = stack.enter_context(Enqueuer(desk_home, identity, store))

            def take(target: Path, progress: Progress | None) -> list[ImportOutcome]:
                outcome = enqueuer.keep(target, source=target.name, channel="relay")
                if progress is not None:
                    progress(outcome)
                return [outcome]

        outcomes = pull_relays(
            desk_home, identity, store, relays=relays, proxy=proxy, progress=shown, take=take
        )
    finish_run(outcomes, verbose=False, empty="nothing waiting at the relay")


@click.command()
@DESK_HOME
@DB
@click.option("--relay", required=True, help="The relay's address.")
@click.option("--to", "codename", required=True, help="The correspondent's codename.")
@click.option(
    "--text",
    default=None,
    help="The reply (sealed to their key). '-' reads it from stdin; without --text you are "
    "asked on the terminal. Both keep it out of the shell's history.",
)
@PROXY
def reply(
    home: Path, db_url: str | None, relay: str, codename: str, text: str | None, proxy: str | None
) -> None:
    """Seal a reply to a correspondent and leave it in their relay mailbox."""
    from sijil.desk.reply import send_reply

    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    text = _reply_text(text)
    with desk_home.open_store(identity) as store:
        sent = send_reply(identity, store, relay=relay, codename=codename, text=text, proxy=proxy)
    click.echo(f"reply for {sent.codename!r} left at the relay ({sent.size} bytes, sealed)")
