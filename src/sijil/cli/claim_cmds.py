"""``sijil desk claim|claims|monitor|source``: claims and verdicts, monitor records, sources.

Shells only: parse, call :mod:`sijil.desk`, print. Who acts is ``--as NAME``
(or SIJIL_USER). An import that skipped rows lists each by its line and exits
with status 3, like ``sijil desk import``.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from sijil.cli.desk_cmds import EXIT_ATTENTION
from sijil.cli.desk_shared import ACTING, JSON, desk_session, echo_json
from sijil.cli.display import safe_text, terminal_safe
from sijil.cli.options import DB, DESK_HOME
from sijil.desk.claim_view import claim_rows, show_claim
from sijil.desk.claims import Killed, add_claim, claim_token, link_claim, list_claims
from sijil.desk.csvrows import BadRow
from sijil.desk.fakes_import import import_fakes
from sijil.desk.monitors import GED_SOURCE, import_ged
from sijil.desk.source_view import list_sources, show_source
from sijil.desk.sources import add_source, source_token
from sijil.desk.verdicts import propose_verdict, verdict_token
from sijil.store.models_claims import STORED_KINDS as SOURCE_KINDS
from sijil.store.models_claims import SourceKind, VerdictRating

__all__ = ["register_claims"]

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _report_ids(values: tuple[str, ...]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            text = part.strip().lstrip("#")
            if not text.isdigit():
                raise click.BadParameter(
                    f"{part.strip()!r} is not a report number", param_hint="--evidence"
                )
            ids.append(int(text))
    return ids


def _finish(bad: list[BadRow], as_json: bool, result: dict[str, Any], summary: str) -> None:
    if as_json:
        echo_json(result)
    else:
        for row in bad:
            click.echo(f"skipped {safe_text(str(row))}")
        click.echo(summary)
    if bad:
        click.get_current_context().exit(EXIT_ATTENTION)


def _rate(rows: int, seconds: float) -> int:
    return round(rows / seconds) if seconds > 0 else rows


# --- claims ---------------------------------------------------------------------------


@click.group()
def claim() -> None:
    """Claims (what outlets and officials said) and the desk's verdicts on them."""


@claim.command(name="import")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("file", type=FILE)
def claim_import(
    home: Path, db_url: str | None, acting: str | None, as_json: bool, file: Path
) -> None:
    """Import FA-KES (CSV) as claims by their outlets; re-importing changes nothing.

    A row that cannot be read is skipped and named by its line, the others are
    imported, and the command exits with status 3. Broken quoting refuses the file.
    """
    data = file.read_bytes()
    started = time.perf_counter()
    with desk_session(home, db_url, write=True) as session:
        done = import_fakes(session, data, by=acting)
    seconds = time.perf_counter() - started
    rows = done.added + done.unchanged + len(done.bad)
    result = done.to_dict() | {"rows": rows, "seconds": round(seconds, 3),
                               "rows_per_second": _rate(rows, seconds)}  # fmt: skip
    summary = (
        f"claims: {done.added} added, {done.unchanged} unchanged, {len(done.bad)} skipped; "
        f"{done.outlets_added} new outlets; {rows} rows in {seconds:.2f} s "
        f"({_rate(rows, seconds)} rows/s)"
    )
    _finish(done.bad, as_json, result, summary)


@claim.command(name="list")
@DESK_HOME
@DB
@JSON
@click.option("--outlet", default=None, help="Only this source's claims (S- id or name).")
@click.option("--incident", default=None, help="Only claims linked to this incident.")
@click.option("--limit", default=None, type=click.IntRange(1), help="At most this many.")
def claim_list(
    home: Path,
    db_url: str | None,
    as_json: bool,
    outlet: str | None,
    incident: str | None,
    limit: int | None,
) -> None:
    """List claims, newest first, with their current verdicts."""
    with desk_session(home, db_url) as session:
        rows = claim_rows(
            session, list_claims(session, outlet=outlet, incident=incident, limit=limit)
        )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No claims.")
    for r in rows:
        verdict = r["verdict"]["rating"] if r["verdict"] else "-"
        killed = r["killed"]["civilians"]
        click.echo(
            f"{r['id']:<8} {r['date'] or '':<10} {terminal_safe(r['source']['name']):<14} "
            f"{verdict:<10} civilians {'?' if killed is None else killed:<5} "
            f"{terminal_safe(r['title'][:70])}"
        )


def _print_claim(view: dict[str, Any]) -> None:
    click.echo(
        f"{view['id']}  {terminal_safe(view['source']['name'])} ({view['source']['id']})  "
        f"{view['date'] or ''}"
    )
    click.echo(f"  {terminal_safe(view['title'])}")
    if view["external"]:
        ext = view["external"]
        click.echo(
            f"  from {terminal_safe(ext['dataset'])}: {terminal_safe(ext['ref'])} "
            f"(claim {ext['part']} of it)"
        )
    place = view["place"]["name_en"] if view["place"] else view["place_text"] or "?"
    actor = view["actor"]["en"] if view["actor"] else view["actor_text"] or "?"
    cause = terminal_safe(view["cause"] or "?")
    click.echo(f"  where: {terminal_safe(place)}   who: {terminal_safe(actor)}   cause: {cause}")
    killed = ", ".join(f"{k} {'?' if v is None else v}" for k, v in view["killed"].items())
    click.echo(f"  killed: {killed}")
    for code in view["incidents"]:
        click.echo(f"  about incident {code}")
    for v in view["verdicts"]:
        mark = f" [{v['review_mark']}]" if v["review_mark"] else ""
        current = (
            " (current)"
            if view["current_verdict"] and v["id"] == view["current_verdict"]["id"]
            else ""
        )
        click.echo(
            f"  verdict {v['id']}: {v['rating']}, {v['status']}{current}, "
            f"by {terminal_safe(v['author'])}{mark}"
        )


@claim.command(name="show")
@DESK_HOME
@DB
@JSON
@click.argument("claim_id", metavar="ID")
def claim_show(home: Path, db_url: str | None, as_json: bool, claim_id: str) -> None:
    """Show a claim (C-40) with its incidents and verdicts."""
    with desk_session(home, db_url) as session:
        view = show_claim(session, claim_id)
    if as_json:
        echo_json(view)
    else:
        _print_claim(view)


@claim.command(name="add")
@DESK_HOME
@DB
@ACTING
@JSON
@click.option("--source", "source", required=True, help="Who claims it: an S- id or a name.")
@click.option("--title", required=True, help="The claim in a line.")
@click.option("--text", "body", default="", help="The words, in full.")
@click.option("--lang", default="en", help="Language of the claim (ar, en, ...).")
@click.option("--date", "claim_date", default=None, help="Date of what it reports (ISO).")
@click.option("--place", default=None, help="Where, as a place name, code or P- id.")
@click.option("--actor", default=None, help="Who did it, in the claim's words.")
@click.option("--cause", default=None, help="Cause of death, in the claim's words.")
@click.option("--civilians", type=click.IntRange(0), default=None, help="Civilians killed.")
@click.option("--children", type=click.IntRange(0), default=None, help="Children killed.")
@click.option("--women", type=click.IntRange(0), default=None, help="Women killed.")
@click.option("--noncivilians", type=click.IntRange(0), default=None, help="Non-civilians killed.")
def claim_add(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    source: str,
    title: str,
    body: str,
    lang: str,
    claim_date: str | None,
    place: str | None,
    actor: str | None,
    cause: str | None,
    civilians: int | None,
    children: int | None,
    women: int | None,
    noncivilians: int | None,
) -> None:
    """Record a claim by an outlet or official; prints its id (C-40)."""
    try:
        when = None if claim_date is None else date.fromisoformat(claim_date)
    except ValueError:
        raise click.BadParameter(
            f"{claim_date!r} is not an ISO date", param_hint="--date"
        ) from None
    killed = Killed(civilians=civilians, children=children, women=women, noncivilians=noncivilians)
    with desk_session(home, db_url, write=True) as session:
        made = add_claim(session, source=source, title=title, body=body, lang=lang,
                         claim_date=when, place=place, actor=actor, cause=cause,
                         killed=killed, by=acting)  # fmt: skip
        token = claim_token(made.id)
    if as_json:
        echo_json({"id": token})
    else:
        click.echo(token)


@claim.command(name="link")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("claim_id", metavar="ID")
@click.option("--incident", required=True, help="The incident the claim is about (its code).")
def claim_link(
    home: Path, db_url: str | None, acting: str | None, as_json: bool, claim_id: str, incident: str
) -> None:
    """Say that a claim is about an incident."""
    with desk_session(home, db_url, write=True) as session:
        link = link_claim(session, claim_id, incident=incident, by=acting)
        result = {"claim": claim_token(link.claim_id), "incident": incident.upper()}
    if as_json:
        echo_json(result)
    else:
        click.echo(f"{result['claim']} is about {result['incident']}")


@claim.command(name="rate")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("claim_id", metavar="ID")
@click.option("--rating", required=True, type=click.Choice([r.value for r in VerdictRating]))
@click.option("--summary-en", required=True, help="Why, in English.")
@click.option("--summary-ar", required=True, help="Why, in Arabic.")
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    metavar="REPORT_ID",
    help="A report that shows it (repeatable, or comma-separated).",
)
def claim_rate(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    claim_id: str,
    rating: str,
    summary_en: str,
    summary_ar: str,
    evidence: tuple[str, ...],
) -> None:
    """Propose a verdict on a claim; prints its id (V-3). It counts once a reviewer approves it."""
    reports = _report_ids(evidence)
    with desk_session(home, db_url, write=True) as session:
        made = propose_verdict(session, claim_id, rating=rating, summary_ar=summary_ar,
                               summary_en=summary_en, evidence=reports, by=acting)  # fmt: skip
        token = verdict_token(made.id)
    if as_json:
        echo_json({"id": token})
    else:
        click.echo(token)


# --- monitor records ------------------------------------------------------------------


@click.group()
def monitor() -> None:
    """Monitors' event records (UCDP GED), kept for cross-checking."""


@monitor.command(name="import-ged")
@DESK_HOME
@DB
@ACTING
@JSON
@click.option("--name", default=GED_SOURCE, help="The monitor source the records belong to.")
@click.argument("file", type=FILE)
def monitor_import_ged(
    home: Path, db_url: str | None, acting: str | None, as_json: bool, name: str, file: Path
) -> None:
    """Import UCDP GED events (CSV, gzip or plain) as a monitor's records.

    A file missing columns is refused; a row that cannot be read is skipped and
    named by its line (exit status 3); re-importing changes nothing.
    """
    started = time.perf_counter()

    def progress(rows: int) -> None:
        elapsed = time.perf_counter() - started
        click.echo(f"  {rows} rows read ({_rate(rows, elapsed)} rows/s)", err=True)

    with file.open("rb") as stream, desk_session(home, db_url, write=True) as session:
        done = import_ged(session, stream, by=acting, name=name, progress=progress)
    seconds = time.perf_counter() - started
    result = done.to_dict() | {
        "seconds": round(seconds, 3),
        "rows_per_second": _rate(done.rows, seconds),
    }
    summary = (
        f"{name} ({done.source}): {done.added} added, {done.unchanged} unchanged, "
        f"{len(done.bad)} skipped; {done.rows} rows in {seconds:.2f} s "
        f"({_rate(done.rows, seconds)} rows/s)"
    )
    _finish(done.bad, as_json, result, summary)


# --- sources --------------------------------------------------------------------------


@click.group()
def source() -> None:
    """Sources (correspondents, outlets, officials, monitors) and their track records."""


def _track_text(track: dict[str, int]) -> str:
    return (
        f"items {track['items']}, corroborated {track['corroborated']}, "
        f"contradicted {track['contradicted']}, "
        f"claims false/misleading {track['claims_false_or_misleading']}"
    )


@source.command(name="list")
@DESK_HOME
@DB
@JSON
@click.option("--kind", default=None, type=click.Choice([k.value for k in SourceKind]))
def source_list(home: Path, db_url: str | None, as_json: bool, kind: str | None) -> None:
    """List sources with their track records (derived from the desk's work)."""
    with desk_session(home, db_url) as session:
        rows = list_sources(session, kind=kind)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No sources yet.")
    for r in rows:
        click.echo(
            f"{r['id']:<16} {r['kind']:<13} {terminal_safe(r['name'][:24]):<24} "
            f"{_track_text(r['track_record'])}"
        )


@source.command(name="show")
@DESK_HOME
@DB
@JSON
@click.argument("source_id", metavar="ID")
def source_show(home: Path, db_url: str | None, as_json: bool, source_id: str) -> None:
    """Show a source (S-3, a name or a codename) and what its track record rests on."""
    with desk_session(home, db_url) as session:
        view = show_source(session, source_id)
    if as_json:
        echo_json(view)
        return
    click.echo(
        f"{view['id']}  {view['kind']}  {terminal_safe(view['name'])}"
        + (f" / {terminal_safe(view['name_ar'])}" if view["name_ar"] else "")
    )
    track = view["track_record"]
    click.echo(f"  {_track_text(track)}")
    click.echo(
        f"  reports {track['reports']}, claims {track['claims']}, records {track['records']}"
    )
    for e in view.get("evidence", []):
        click.echo(f"  report #{e['report']}: {e['role']} for {e['incident']}")
    for c in view.get("rated_claims", []):
        click.echo(f"  {c['claim']}: {c['rating']} ({c['verdict']})")


@source.command(name="add")
@DESK_HOME
@DB
@ACTING
@JSON
@click.option("--kind", required=True, type=click.Choice([k.value for k in SOURCE_KINDS]))
@click.option("--name", required=True, help="The source's name (unique within its kind).")
@click.option("--name-ar", default=None, help="Its Arabic name.")
def source_add(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    kind: str,
    name: str,
    name_ar: str | None,
) -> None:
    """Record an outlet, official or monitor; prints its id (S-3)."""
    with desk_session(home, db_url, write=True) as session:
        made = add_source(session, kind, name, name_ar=name_ar, by=acting)
        token = source_token(made.id)
    if as_json:
        echo_json({"id": token})
    else:
        click.echo(token)


def register_claims(desk: click.Group) -> None:
    """Add ``claim`` (also as ``claims``), ``monitor`` and ``source`` to ``sijil desk``."""
    desk.add_command(claim)
    desk.add_command(claim, name="claims")
    desk.add_command(monitor)
    desk.add_command(source)
