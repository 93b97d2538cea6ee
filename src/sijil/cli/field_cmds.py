"""``sijil field``: the correspondent's side."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from sijil.cli.display import safe_text, terminal_safe
from sijil.cli.options import FIELD_HOME
from sijil.cli.passphrase import read_passphrase
from sijil.cli.scrub_cmds import show_findings
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.envelope import shards as shard_codec
from sijil.envelope.invite import Invite
from sijil.envelope.manifest import MAX_MANIFEST_BYTES, Location
from sijil.envelope.sealing import Draft
from sijil.errors import ConfigError, ShardError
from sijil.field.compose import compose, export_outbox
from sijil.field.duress import rekey, set_duress
from sijil.field.home import FieldHome, wipe

__all__ = ["DURESS_PASSPHRASE_ENV", "field"]

HOME = FIELD_HOME
# the duress passphrase for scripts; otherwise it is asked for (never a flag)
DURESS_PASSPHRASE_ENV = "SIJIL_DURESS_PASSPHRASE"  # noqa: S105 - a name, not a secret


def _duress_passphrase() -> str:
    return read_passphrase("duress (a second passphrase)", new=True, env=DURESS_PASSPHRASE_ENV)


@click.group()
def field() -> None:
    """The correspondent's side: compose, seal, export, wipe."""


@field.command()
@HOME
@click.option(
    "--invite",
    "invite_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The invite file the desk gave you.",
)
@click.option(
    "--duress",
    is_flag=True,
    help=f"Also choose a duress passphrase (or set {DURESS_PASSPHRASE_ENV}): it unlocks "
    "as usual, wipes what is unsent and warns the desk in every later report.",
)
def init(home: Path, invite_path: Path, duress: bool) -> None:
    """Create your keys from the desk's invite."""
    invite = Invite.from_bytes(invite_path.read_bytes())
    passphrase = read_passphrase("your new correspondent key", new=True)
    second = None
    if duress or os.environ.get(DURESS_PASSPHRASE_ENV) is not None:
        second = _duress_passphrase()
    identity = FieldHome(home).init(invite, passphrase, DEFAULT_KDF, duress=second)
    click.echo(f"Ready. You are {invite.codename!r} to the desk.")
    if second is not None:
        click.echo("Duress passphrase set. Never write it down beside the real one.")
    click.echo(f"Your key fingerprint:  {identity.public.fingerprint}")
    click.echo(f"Desk key fingerprint:  {invite.desk.fingerprint}")
    click.echo("Compare both aloud with the desk. Then destroy the invite file.")


@field.command()
@HOME
@click.option(
    "--title",
    default=None,
    help="A short title. Omit it to be asked: typed answers stay out of shell history.",
)
@click.option(
    "--text",
    "body",
    default="",
    help="What happened; '-' reads it from standard input (keeps it out of shell history).",
)
@click.option("--lang", type=click.Choice(["ar", "en"]), default="ar", help="Language of the text.")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A photo or file to attach (repeat for more).",
)
@click.option(
    "--location",
    default=None,
    metavar="LAT,LON",
    help="Where it happened, in decimal degrees (travels only inside the envelope).",
)
@click.option(
    "--precision",
    default=1000,
    type=click.IntRange(1, 1_000_000),
    help="How precise --location is, in metres.",
)
@click.option(
    "--keep-metadata",
    is_flag=True,
    help="Seal files that cannot be cleaned, unchanged. They may identify you.",
)
@click.option(
    "--verification",
    is_flag=True,
    help="Send each file's capture time and GPS position to the desk, inside the "
    "sealed report only (the files are still cleaned).",
)
def new(
    home: Path,
    title: str,
    body: str,
    lang: str,
    files: tuple[Path, ...],
    location: str | None,
    precision: int,
    keep_metadata: bool,
    verification: bool,
) -> None:
    """Compose a report, clean its files, sign and seal it into the outbox."""
    if body == "-":
        body = sys.stdin.read(MAX_MANIFEST_BYTES + 1)
    if title is None:
        if not sys.stdin.isatty():
            raise ConfigError("give --title, or run in a terminal to be asked for it")
        title = click.prompt("Title")
    show_findings(files, verification=verification)
    where = None
    if location:
        lat, _, lon = location.partition(",")
        where = Location(lat=lat.strip(), lon=lon.strip(), precision_m=precision)
    session = FieldHome(home).unlock(read_passphrase("your correspondent key"))
    draft = Draft(title=title, body=body, lang=lang, location=where)
    result = compose(
        session, draft, list(files), keep_metadata=keep_metadata, verification=verification
    )
    for item in result.files:
        if item.kept_metadata:
            names = f"{terminal_safe(item.source_name)} -> {terminal_safe(item.name)}"
            click.echo(f"  {names}: NOT CLEANED (--keep-metadata)")
        else:
            names = f"{terminal_safe(item.source_name)} -> {terminal_safe(item.name)}"
            gone = safe_text("; ".join(item.removed)) or "no identifying metadata found"
            click.echo(f"  {names}: removed {gone}")
    click.echo(f"sealed {result.envelope_id} ({result.size} bytes)")


@field.command()
@HOME
def outbox(home: Path) -> None:
    """List the sealed reports waiting in the outbox."""
    session = FieldHome(home).unlock(read_passphrase("your correspondent key"))
    entries = session.load_index()
    if not entries:
        click.echo("The outbox is empty.")
    for entry in entries:
        channels = ",".join(sorted({e["channel"] for e in entry.get("exported", [])})) or "-"
        click.echo(
            f"{entry['id'][:16]}  {entry['created_at']}  {entry['files']} file(s)  "
            f"exported:{channels}  {terminal_safe(entry['title'])}"
        )


@field.command()
@HOME
@click.option(
    "--to",
    "dest",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write (e.g. a USB stick).",
)
@click.option("--text", is_flag=True, help="Write text shards to paste into a messenger.")
@click.option(
    "--shard-size",
    default=shard_codec.DEFAULT_SHARD_BYTES,
    type=click.IntRange(64),
    help="Bytes of envelope per text shard.",
)
@click.option(
    "--redundancy",
    default=0.5,
    type=click.FloatRange(0, 4),
    help="Spare shards, as a fraction of the needed ones.",
)
@click.option("--new-only", is_flag=True, help="Skip envelopes already exported this way.")
def export(
    home: Path, dest: Path, text: bool, shard_size: int, redundancy: float, new_only: bool
) -> None:
    """Copy outbox envelopes to a folder, as files or as text shards."""
    session = FieldHome(home).unlock(read_passphrase("your correspondent key"))
    results = export_outbox(
        session, dest, text=text, shard_bytes=shard_size, redundancy=redundancy, only_new=new_only
    )
    skipped = [r for r in results if r.skipped]
    for result in results:
        if result.skipped:
            skipped_why = safe_text(result.skipped)
            click.echo(f"{result.envelope_id[:16]}: NOT exported: {skipped_why}", err=True)
            continue
        what = f"{len(result.paths)} text shards" if text else "1 file"
        click.echo(f"{result.envelope_id[:16]}: {what} in {dest}")
    click.echo(f"exported {len(results) - len(skipped)} envelope(s)")
    if skipped:
        raise ShardError(f"{len(skipped)} envelope(s) too large for text; send them by USB")


@field.command(name="wipe")
@HOME
@click.option("--now", is_flag=True, help="Do not ask for confirmation.")
def wipe_cmd(home: Path, now: bool) -> None:
    """Panic: destroy your keys and outbox at once."""
    if not now:
        click.confirm("Destroy your keys and every unsent report?", abort=True)
    started = time.monotonic()
    removed = wipe(FieldHome(home))
    click.echo(f"wiped {removed} file(s) in {time.monotonic() - started:.2f}s")


@field.group()
def duress() -> None:
    """A second passphrase to give under coercion."""


@duress.command(name="set")
@HOME
def duress_set(home: Path) -> None:
    """Choose (or change) the duress passphrase.

    Unlocking with it looks like a normal unlock, but wipes every unsent report
    and marks every report sealed afterwards, inside the encryption only, so the
    desk knows you were forced. Learn what it does: see docs/security.md.
    """
    passphrase = read_passphrase("your correspondent key")
    set_duress(FieldHome(home), passphrase, _duress_passphrase(), DEFAULT_KDF)
    click.echo("Duress passphrase set.")


@field.command(name="rekey")
@HOME
def rekey_cmd(home: Path) -> None:
    """Move to a new pseudonym key, announced to the desk in a report signed by the old one."""
    moved = rekey(FieldHome(home), read_passphrase("your correspondent key"), DEFAULT_KDF)
    click.echo(f"sealed key change {moved.envelope_id} into the outbox: send it as usual")
    click.echo(f"Old key fingerprint:   {moved.old_fingerprint}")
    click.echo(f"New key fingerprint:   {moved.new_fingerprint}")
    click.echo("Set your duress passphrase again ('sijil field duress set').")
