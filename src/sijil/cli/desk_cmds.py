"""``sijil desk``: the editorial desk's side."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from sijil.cli.desk_work_cmds import mark_solo
from sijil.cli.display import safe_text, source_label, terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at, open_desk_store
from sijil.cli.passphrase import read_passphrase
from sijil.crypto.identity import age_identity_string, age_recipient_string
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.desk.inputs import NEEDS_ATTENTION
from sijil.desk.intake import ImportOutcome, ImportStatus, import_paths
from sijil.desk.reports import list_reports
from sijil.envelope.invite import CODENAME_PATTERN
from sijil.fsutil import atomic_write

__all__ = [
    "EXIT_ATTENTION",
    "EXIT_STATUS_HELP",
    "QUEUE",
    "desk",
    "finish_run",
    "outcome_printer",
]

HOME = DESK_HOME

#: Exit status of a run that left something for a person to look at (import, pull, retry).
EXIT_ATTENTION = 3
EXIT_STATUS_HELP = """

\b
Exit status:
  0  everything was imported or was already here (duplicates)
  3  something needs a look: quarantined, skipped, or left waiting
     (see 'sijil desk quarantine list')
  1  the run stopped on a failure of this machine or a service (disk
     full, database unreachable): nothing was quarantined for it and the
     input was left where it was; fix it and run again
"""
RETRY_STATUS_HELP = """

\b
Exit status:
  0  every item retried was released
  3  an item stays quarantined (its new reason is shown)
  1  the run stopped on a failure of this machine or a service; the
     items stay quarantined as they were
"""
QUEUE = click.option(
    "--queue",
    is_flag=True,
    help="Keep each envelope in the vault and queue it for 'sijil desk worker' "
    "processes instead of taking it here (a desk on PostgreSQL).",
)
VERBOSE = click.option(
    "--verbose", "-v", is_flag=True, help="Also list hidden files and folders, which are ignored."
)


@click.group()
def desk() -> None:
    """The desk's side: keys, invites, intake, reports."""


@desk.command()
@HOME
@DB
@click.option("--solo", is_flag=True, help="A desk of one: authors may confirm their own work.")
def init(home: Path, db_url: str | None, solo: bool) -> None:
    """Create the desk's keys and database; writes HOME/desk.pub for correspondents."""
    desk_home = desk_at(home, db_url)
    passphrase = read_passphrase("the new desk key", new=True)
    public = desk_home.init(passphrase, DEFAULT_KDF)
    if solo:
        mark_solo(desk_home.with_key(desk_home.unlock(passphrase)))
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
@click.option(
    "--relay",
    "relays",
    multiple=True,
    help="Relay address to give the correspondent; repeat for fallbacks, tried in order.",
)
def invite(home: Path, db_url: str | None, name: str, out: Path, relays: tuple[str, ...]) -> None:
    """Enrol a correspondent: write an invite to carry to them."""
    if not CODENAME_PATTERN.fullmatch(name):
        raise click.BadParameter(
            "1-64 letters, digits, spaces, '.', '_' or '-'", param_hint="--name"
        )
    from sijil.desk.relay_token import ensure_token

    desk_home = desk_at(home, db_url)
    # the invite carries the network's relay token, kept encrypted under the desk's key
    identity = desk_home.unlock(read_passphrase("the desk key"))
    tokens, token_file = ensure_token(desk_home, identity)
    with open_desk_store(desk_home, identity) as store:
        made = desk_home.invite(store, codename=name, relays=relays, relay_token=tokens.current)
    atomic_write(out, made.to_bytes(), mode=0o600)
    click.echo(f"Invite for {name!r} written to {out}")
    click.echo("Carry it by hand. Whoever holds it can enrol as this correspondent once.")
    if token_file is not None:
        click.echo(
            f"The network's relay token was made now: install {token_file} on the relay "
            "as `sijil relay serve --token-file FILE` (it holds digests only)."
        )


def outcome_printer(*, verbose: bool, name: bool = True) -> Callable[[ImportOutcome], None]:
    """Print each outcome as it happens; ignored (hidden) files only if ``verbose``."""

    def show(outcome: ImportOutcome) -> None:
        if outcome.status is ImportStatus.IGNORED and not verbose:
            return
        who = f" from {source_label(outcome.correspondent)}" if outcome.correspondent else ""
        eid = f"{outcome.envelope_id[:16]} " if outcome.envelope_id else ""
        where = f"  [{terminal_safe(Path(outcome.source).name)}]" if name else ""
        click.echo(f"{outcome.status:<11} {eid}{safe_text(outcome.detail)}{who}{where}")

    return show


def finish_run(outcomes: Sequence[ImportOutcome], *, verbose: bool, empty: str) -> None:
    """Print the summary line; exit with EXIT_ATTENTION when a person should look."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    if counts.get(ImportStatus.IGNORED) and not verbose:
        parts = [
            p + " (hidden; --verbose lists them)" if p.endswith(" ignored") else p for p in parts
        ]
    click.echo(f"done: {', '.join(parts) or empty}")
    if any(outcome.status in NEEDS_ATTENTION for outcome in outcomes):
        click.get_current_context().exit(EXIT_ATTENTION)


@desk.command(
    name="import",
    help="Import envelopes and text shards from files or folders.\n\n"
    "An input whose own content is at fault (a damaged envelope, a bad shard) is "
    "quarantined, encrypted in the vault, and the rest go on: see 'sijil desk "
    "quarantine'. Hidden files in folders (.Trashes, .DS_Store, ._*) are ignored."
    + EXIT_STATUS_HELP,
)
@HOME
@DB
@click.option(
    "--channel",
    type=click.Choice(["usb", "file"]),
    default="file",
    help="How the files arrived (shards are always 'text').",
)
@VERBOSE
@QUEUE
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def import_cmd(
    home: Path,
    db_url: str | None,
    channel: str,
    verbose: bool,
    queue: bool,
    paths: tuple[Path, ...],
) -> None:
    desk_home = desk_at(home, db_url)
    if queue:
        from sijil.jobs.queue import queue_url

        queue_url(desk_home)  # a SQLite desk refuses before the passphrase is asked
    identity = desk_home.unlock(read_passphrase("the desk key"))
    take = import_paths
    if queue:
        from sijil.jobs.enqueue import enqueue_paths as take
    with desk_home.open_store(identity) as store:
        outcomes = take(
            desk_home,
            identity,
            store,
            list(paths),
            channel=channel,
            progress=outcome_printer(verbose=verbose),
        )
    finish_run(outcomes, verbose=verbose, empty="nothing found")


@desk.command()
@HOME
@DB
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reports(home: Path, db_url: str | None, as_json: bool) -> None:
    """List received reports, newest first."""
    desk_home = desk_at(home, db_url)
    with open_desk_store(desk_home) as store:
        rows = list_reports(store)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("No reports yet.")
    for row in rows:
        who = source_label(row.correspondent, enrolled=row.enrolled)
        flag = f"  [{row.flag.upper()}]" if row.flag else ""
        click.echo(
            f"#{row.id:<4} {row.received_at:%Y-%m-%d %H:%M}  {row.lang}  "
            f"{who}  {len(row.attachments)} file(s)  {terminal_safe(row.title)}{flag}"
        )
        for m in row.matches:
            how = f"distance {m.distance}"
            if m.transform not in (None, "original"):
                how += f", {m.transform}"
            click.echo(
                f"      ! {terminal_safe(m.attachment)}: {m.direction} in #{m.other_report_id} "
                f"({terminal_safe(m.other_attachment)}), {m.kind} {how}"
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
    for retired in identity.retired:  # envelopes sealed before a key rotation
        text += (
            f"# retired key: {age_recipient_string(retired.age.public_key())}\n"
            f"{age_identity_string(retired.age)}\n"
        )
    atomic_write(out, text.encode("ascii"), mode=0o600)
    click.echo(f"age identity written to {out}")


@desk.group()
def quarantine() -> None:
    """Inputs intake could not take, kept encrypted in the vault with their reason."""


@quarantine.command(name="list")
@HOME
@DB
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Include items a retry released.")
def quarantine_list(home: Path, db_url: str | None, as_json: bool, show_all: bool) -> None:
    """List quarantined inputs, oldest first: id, arrival, channel, size, name, reason."""
    from sijil.desk.quarantine import list_quarantine

    desk_home = desk_at(home, db_url)
    with open_desk_store(desk_home) as store:
        rows = list_quarantine(store, desk_home.root, released=show_all)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("Nothing in quarantine.")
    for row in rows:
        size = "?" if row.size is None else f"{row.size}"
        state = "" if row.state == "quarantined" else f" [{row.state}]"
        kept = " (clear file of an older desk: a retry moves it into the vault)" * (
            row.kept == "folder"
        )
        click.echo(
            f"#{row.id:<4} {row.received_at:%Y-%m-%d %H:%M}  {row.channel or '-':<5} "
            f"{size:>10} B  {terminal_safe(row.source)}{state}: "
            f"{safe_text(row.reason)}{kept}"
        )


@quarantine.command(
    name="retry",
    help="Take quarantined inputs through intake again (after a fix, or a false alarm).\n\n"
    "Give one ID (from 'sijil desk quarantine list') or --all. An item that is now taken "
    "is released, and the custody ledger records it; one that fails again stays "
    "quarantined with its new reason." + RETRY_STATUS_HELP,
)
@HOME
@DB
@click.argument("item_id", required=False, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every quarantined item.")
def quarantine_retry(home: Path, db_url: str | None, item_id: int | None, retry_all: bool) -> None:
    from sijil.desk.retry import retry_quarantined

    if (item_id is None) == (not retry_all):
        raise click.UsageError("give one item id, or --all")
    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store(identity) as store:
        results = retry_quarantined(
            desk_home,
            identity,
            store,
            None if retry_all else [item_id or 0],
            progress=outcome_printer(verbose=False, name=False),
        )
    for result in results:
        how = "released" if result.released else "still quarantined"
        source, detail = terminal_safe(result.source), safe_text(result.detail)
        click.echo(f"#{result.item} {source}: {how}: {detail}")
    released = sum(result.released for result in results)
    kept = len(results) - released
    click.echo(
        f"done: {released} released, {kept} still quarantined" if results else "nothing to retry"
    )
    if kept:
        click.get_current_context().exit(EXIT_ATTENTION)
