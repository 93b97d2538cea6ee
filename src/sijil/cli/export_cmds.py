"""``sijil export``: evidence packages for investigators."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase

__all__ = ["export"]


@click.group()
def export() -> None:
    """Exports of evidence with its chain of custody."""


@export.command()
@DESK_HOME
@DB
@click.option("--report", "report_ids", type=int, multiple=True, help="A report id (repeatable).")
@click.option(
    "--incident",
    "incident_code",
    default=None,
    metavar="CODE",
    help="An incident (SJ-2026-0007): its record, assessments and the reports linked to it.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The package file to write (.zip).",
)
@click.option(
    "--originals",
    is_flag=True,
    help="Include the sealed originals (recorded in the ledger); default: working copies.",
)
def package(
    home: Path,
    db_url: str | None,
    report_ids: tuple[int, ...],
    incident_code: str | None,
    out: Path,
    originals: bool,
) -> None:
    """Write a BagIt evidence package with ledger entries, proofs and the signed head."""
    from sijil.export.package import export_package
    from sijil.ledger.timestamp import TsaConfig

    if incident_code is not None and report_ids:
        raise click.UsageError("give --report ID (repeatable) or --incident CODE, not both")
    if incident_code is None and not report_ids:
        raise click.UsageError("give --report ID (repeatable) or --incident CODE")
    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store(identity) as store:
        result = export_package(
            desk_home,
            identity,
            store,
            report_ids=list(report_ids),
            incident=incident_code,
            out=out,
            originals=originals,
        )
    kind = "sealed originals" if originals else "working copies"
    what = "" if result.incident is None else f"incident {result.incident} with "
    # a path is shown quoted and escaped when it needs it (a name that is not UTF-8)
    shown, key = terminal_safe(str(out)), terminal_safe(str(home / "desk.pub"))
    click.echo(
        f"wrote {shown}: {what}{result.reports} report(s), {result.files} file(s) ({kind}), "
        f"{result.entries} ledger entries proven in a tree head of {result.tree_size}"
    )
    if result.withheld:
        click.echo(
            f"note: {result.withheld} desk text(s) naming a correspondent were withheld "
            "(the export's ledger entry lists them)",
            err=True,
        )
    if TsaConfig.load(desk_home.tsa_config) is not None and not result.timestamped:
        click.echo(
            "warning: the timestamp authority did not answer; the tree head is signed "
            "but not timestamped",
            err=True,
        )
    click.echo(f"check it with: sijil verify-package {shown} --desk-key {key}")
