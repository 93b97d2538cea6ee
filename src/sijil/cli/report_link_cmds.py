"""``sijil desk report-link``: how two reports relate, and the machine's suggestions.

Shells only: parse, call :mod:`sijil.desk.evidence`, print. A near-duplicate photo
or video match found at intake is listed as a suggestion until an editor confirms
or rejects it; every decision is a custody-ledger entry.
"""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.desk_shared import ACTING, JSON, desk_session, echo_json
from sijil.cli.display import safe_text
from sijil.cli.options import DB, DESK_HOME
from sijil.desk.evidence import link_reports, media_suggestions
from sijil.store.models_desk import LinkOrigin, LinkState, ReportLinkKind

__all__ = ["register_report_links"]


@click.group(name="report-link")
def report_link() -> None:
    """Links between reports: duplicates, near-duplicates, the same event, a series."""


@report_link.command(name="suggestions")
@DESK_HOME
@DB
@JSON
@click.option("--report", "report_ids", multiple=True, type=int, help="Only about this report.")
def suggestions(home: Path, db_url: str | None, as_json: bool, report_ids: tuple[int, ...]) -> None:
    """Near-duplicate media between reports, not yet confirmed or rejected by a person."""
    with desk_session(home, db_url) as session:
        found = media_suggestions(session, list(report_ids) or None)
    if as_json:
        echo_json([item.to_dict() for item in found])
        return
    if not found:
        click.echo("no suggestions waiting")
    for item in found:
        click.echo(f"#{item.report_id} ~ #{item.other_id}  {item.kind}  {safe_text(item.basis)}")


@report_link.command(name="set")
@DESK_HOME
@DB
@ACTING
@click.argument("report", type=int)
@click.argument("other", type=int)
@click.option(
    "--kind", required=True, type=click.Choice([k.value for k in ReportLinkKind]), help="How."
)
@click.option(
    "--reject", is_flag=True, help="Say the reports are NOT linked this way (e.g. a false match)."
)
@click.option("--machine", is_flag=True, help="Decide on a machine suggestion (origin: machine).")
@click.option("--note", default=None)
def set_link(
    home: Path,
    db_url: str | None,
    acting: str | None,
    report: int,
    other: int,
    kind: str,
    reject: bool,
    machine: bool,
    note: str | None,
) -> None:
    """Record that report REPORT and report OTHER are linked (or, with --reject, not)."""
    state = LinkState.REJECTED if reject else LinkState.CONFIRMED
    origin = LinkOrigin.MACHINE if machine else LinkOrigin.HUMAN
    with desk_session(home, db_url, write=True) as session:
        link_reports(
            session, report, other, kind=kind, origin=origin, state=state, note=note, by=acting
        )
    click.echo(f"reports #{min(report, other)} and #{max(report, other)}: {kind}, {state}")


def register_report_links(desk: click.Group) -> None:
    desk.add_command(report_link)
