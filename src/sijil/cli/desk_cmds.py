"""``sijil desk``: the editorial desk's side."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.crypto.identity import age_identity_string, age_recipient_string
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.desk.reports import list_reports
from sijil.envelope.invite import CODENAME_PATTERN
from sijil.fsutil import atomic_write

__all__ = ["desk"]

HOME = DESK_HOME


@click.group()
def desk() -> None:
    """The desk's side: keys, invites, intake, reports."""


@desk.command()
@HOME
@DB
def init(home: Path, db_url: str | None) -> None:
    """Create the desk's keys and database; writes HOME/desk.pub for correspondents."""
    desk_home = desk_at(home, db_url)
    public = desk_home.init(read_passphrase("the new desk key", new=True), DEFAULT_KDF)
    click.echo(f"Desk ready in {home}")
    click.echo(f"Public keys: {desk_home.public_file}")
    click.echo(f"Fingerprint: {public.fingerprint}")


@desk.command()
@HOME
@DB
@click.option("--name", required=True, help="The correspondent's codename (never a real name).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the invite file.",
)
@click.option("--relay", default=None, help="Relay address to give the correspondent.")
def invite(home: Path, db_url: str | None, name: str, out: Path, relay: str | None) -> None:
    """Enrol a correspondent: write an invite to carry to them."""
    if not CODENAME_PATTERN.fullmatch(name):
        raise click.BadParameter(
            "1-64 letters, digits, spaces, '.', '_' or '-'", param_hint="--name"
        )
    desk_home = desk_at(home, db_url)
    desk_home.require()
    with desk_home.open_store() as store:
        made = desk_home.invite(store, codename=name, relay=relay)
    atomic_write(out, made.to_bytes(), mode=0o600)
    click.echo(f"Invite for {name!r} written to {out}")
    click.echo("Carry it by hand. Whoever holds it can enrol as this correspondent once.")


def _print_outcome(outcome: ImportOutcome) -> None:
    who = f" from {outcome.correspondent}" if outcome.correspondent else ""
    eid = f"{outcome.envelope_id[:16]} " if outcome.envelope_id else ""
    click.echo(f"{outcome.status:<11} {eid}{outcome.detail}{who}  [{Path(outcome.source).name}]")


@desk.command(name="import")
@HOME
@DB
@click.option(
    "--channel",
    type=click.Choice(["usb", "file"]),
    default="file",
    help="How the files arrived (shards are always 'text').",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def import_cmd(home: Path, db_url: str | None, channel: str, paths: tuple[Path, ...]) -> None:
    """Import envelopes and text shards from files or folders."""
    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store() as store:
        outcomes = import_paths(
            desk_home, identity, store, list(paths), channel=channel, progress=_print_outcome
        )
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing found"
    click.echo(f"done: {summary}")


@desk.command()
@HOME
@DB
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reports(home: Path, db_url: str | None, as_json: bool) -> None:
    """List received reports, newest first."""
    desk_home = desk_at(home, db_url)
    desk_home.require()
    with desk_home.open_store() as store:
        rows = list_reports(store)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("No reports yet.")
    for row in rows:
        mark = "" if row.enrolled else " (unenrolled)"
        click.echo(
            f"#{row.id:<4} {row.received_at:%Y-%m-%d %H:%M}  {row.lang}  "
            f"{row.correspondent}{mark}  {len(row.attachments)} file(s)  {row.title}"
        )
        for m in row.matches:
            how = f"distance {m['distance']}"
            if m["transform"] not in (None, "original"):
                how += f", {m['transform']}"
            click.echo(
                f"      ! {m['attachment']}: {m['direction']} in #{m['other_report_id']} "
                f"({m['other_attachment']}), {m['kind']} {how}"
            )


@desk.group()
def key() -> None:
    """The desk's keys."""


@key.command(name="export-age")
@HOME
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the age identity file.",
)
def export_age(home: Path, out: Path) -> None:
    """Write the desk's age identity so the standard age tool can open envelopes."""
    desk_home = desk_at(home)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    click.echo(
        "WARNING: this file holds the desk's secret key unencrypted. Anyone who gets it "
        "can open every envelope. Keep it offline and destroy it after use.",
        err=True,
    )
    text = (
        f"# sijil desk age identity, exported for audit\n"
        f"# public key: {age_recipient_string(identity.age.public_key())}\n"
        f"{age_identity_string(identity.age)}\n"
    )
    atomic_write(out, text.encode("ascii"), mode=0o600)
    click.echo(f"age identity written to {out}")
