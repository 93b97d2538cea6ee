"""``sijil desk incident``: incidents, their evidence, attribution and assessments.

Shells only: parse, call :mod:`sijil.desk`, print. Every command that changes
something takes ``--as NAME`` (or SIJIL_USER) and runs in one transaction with
its custody-ledger entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sijil.cli.desk_shared import ACTING, JSON, desk_session, echo_json
from sijil.cli.display import safe_text, terminal_safe
from sijil.cli.options import DB, DESK_HOME
from sijil.desk.assessments import propose_assessment
from sijil.desk.casualties import parse_count
from sijil.desk.codes import assessment_token
from sijil.desk.evidence import attribute, link_report
from sijil.desk.incident_view import incident_rows, show_incident
from sijil.desk.incidents import (
    IncidentChanges,
    create_incident,
    edit_incident,
    list_incidents,
    parse_when,
)
from sijil.desk.suggest import DEFAULT_DAYS, DEFAULT_KM, LIMIT, Suggestions, suggest
from sijil.store.models_desk import (
    Confidence,
    EvidenceRole,
    Grading,
    Harm,
    IncidentState,
    IncidentType,
    Stance,
)

__all__ = ["incident"]


def _choice(values: type[Any]) -> click.Choice[str]:
    return click.Choice([v.value for v in values])


def _when(text: str | None) -> Any:
    return None if text is None else parse_when(text)


@click.group()
def incident() -> None:
    """Incidents: one event in time and place, with its evidence and assessments."""


@incident.command(name="new")
@DESK_HOME
@DB
@ACTING
@JSON
@click.option("--title-ar", required=True, help="Arabic title.")
@click.option("--title-en", required=True, help="English title.")
@click.option("--type", "incident_type", required=True, type=_choice(IncidentType))
@click.option("--place", default=None, help="Place name, code (C5710) or id (P-12).")
@click.option("--at", default=None, metavar="LAT,LON", help="Coordinates in decimal degrees.")
@click.option("--start", required=True, help="ISO date, or date and time with offset.")
@click.option("--end", default=None, help="ISO date or time it ended.")
@click.option("--date-prec", default=1, type=click.IntRange(1, 5), help="UCDP date precision.")
@click.option("--where-prec", default=None, type=click.IntRange(1, 7), help="UCDP where precision.")
def incident_new(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    title_ar: str,
    title_en: str,
    incident_type: str,
    place: str | None,
    at: str | None,
    start: str,
    end: str | None,
    date_prec: int,
    where_prec: int | None,
) -> None:
    """Record a new incident (a draft); prints its public code."""
    if place is None and at is None:
        raise click.UsageError("give --place TEXT or --at LAT,LON")
    with desk_session(home, db_url, write=True) as session:
        made = create_incident(
            session,
            title_ar=title_ar,
            title_en=title_en,
            incident_type=incident_type,
            start=parse_when(start),
            end=_when(end),
            date_prec=date_prec,
            place=place,
            at=at,
            where_prec=where_prec,
            by=acting,
        )
        code = made.code
    if as_json:
        echo_json({"code": code})
    else:
        click.echo(code)


@incident.command(name="edit")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("code")
@click.option("--if-version", required=True, type=int, help="The version you are changing.")
@click.option("--title-ar", default=None)
@click.option("--title-en", default=None)
@click.option("--type", "incident_type", default=None, type=_choice(IncidentType))
@click.option("--place", default=None, help="Place name, code or id.")
@click.option("--at", default=None, metavar="LAT,LON")
@click.option("--start", default=None)
@click.option("--end", default=None)
@click.option("--no-end", is_flag=True, help="Remove the end time.")
@click.option("--date-prec", default=None, type=click.IntRange(1, 5))
@click.option("--where-prec", default=None, type=click.IntRange(1, 7))
@click.option("--state", default=None, type=_choice(IncidentState))
def incident_edit(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    code: str,
    if_version: int,
    title_ar: str | None,
    title_en: str | None,
    incident_type: str | None,
    place: str | None,
    at: str | None,
    start: str | None,
    end: str | None,
    no_end: bool,
    date_prec: int | None,
    where_prec: int | None,
    state: str | None,
) -> None:
    """Change an incident; a stale --if-version is refused as a conflict."""
    changes = IncidentChanges(
        title_ar=title_ar,
        title_en=title_en,
        incident_type=incident_type,
        start=_when(start),
        end=_when(end),
        clear_end=no_end,
        date_prec=date_prec,
        place=place,
        at=at,
        where_prec=where_prec,
        state=state,
    )
    with desk_session(home, db_url, write=True) as session:
        saved = edit_incident(session, code, if_version=if_version, changes=changes, by=acting)
        result = {"code": saved.code, "version": saved.version}
    if as_json:
        echo_json(result)
    else:
        click.echo(f"{result['code']} is now at version {result['version']}")


def _print_incident(view: dict[str, Any]) -> None:
    click.echo(f"{view['code']}  v{view['version']}  {view['state']}  {view['type']}")
    click.echo(f"  {terminal_safe(view['titles']['en'])}")
    click.echo(f"  {terminal_safe(view['titles']['ar'])}")
    end = f" .. {view['end']}" if view["end"] else ""
    click.echo(f"  when:  {view['start']}{end} (date precision {view['date_prec']})")
    where = []
    if view["place"]:
        where.append(
            f"{terminal_safe(view['place']['name_en'])} / "
            f"{terminal_safe(view['place']['name_ar'])} ({view['place']['id']})"
        )
    if view["coordinates"]:
        where.append(f"{view['coordinates']['lat']},{view['coordinates']['lon']}")
    click.echo(f"  where: {'; '.join(where)} (where precision {view['where_prec']})")
    current = view["current_assessment"]
    if current is None:
        click.echo("  assessment: none reviewed yet")
    else:
        mark = f" [{current['review_mark']}]" if current["review_mark"] else ""
        click.echo(
            f"  assessment {current['id']}: {current['grading']}, civilian harm {current['harm']}, "
            f"by {terminal_safe(current['author'])}, "
            f"reviewed by {terminal_safe(str(current['reviewed_by']))}{mark}"
        )
        for c in current["casualties"]:
            click.echo(f"    {c['outcome']} {c['status']} {c['group']}: {c['min']}-{c['max']}")
    for a in view["assessments"]:
        if a["status"] != "approved":
            author = terminal_safe(a["author"])
            click.echo(f"  {a['id']} by {author}: {a['grading']}, {a['status']}")
    for e in view["evidence"]:
        click.echo(f"  evidence: report #{e['report']} {e['role']} ({e['confidence']})")
    for a in view["attributions"]:
        actor, basis = terminal_safe(a["actor"]["en"]), terminal_safe(a["basis"])
        click.echo(f"  actor: {actor} {a['stance']}: {basis}")


@incident.command(name="show")
@DESK_HOME
@DB
@JSON
@click.argument("code")
def incident_show(home: Path, db_url: str | None, as_json: bool, code: str) -> None:
    """Show an incident with its evidence, attribution and assessments."""
    with desk_session(home, db_url) as session:
        view = show_incident(session, code)
    if as_json:
        echo_json(view)
    else:
        _print_incident(view)


@incident.command(name="list")
@DESK_HOME
@DB
@JSON
@click.option("--place", default=None, help="A place (a governorate takes in its places).")
@click.option("--since", default=None, help="Started on or after (ISO).")
@click.option("--until", default=None, help="Started on or before (ISO).")
@click.option("--grading", default=None, type=_choice(Grading))
@click.option("--state", default=None, type=_choice(IncidentState))
@click.option("--limit", default=None, type=click.IntRange(1))
def incident_list(
    home: Path,
    db_url: str | None,
    as_json: bool,
    place: str | None,
    since: str | None,
    until: str | None,
    grading: str | None,
    state: str | None,
    limit: int | None,
) -> None:
    """List incidents, newest first."""
    with desk_session(home, db_url) as session:
        found = list_incidents(
            session,
            place=place,
            since=_when(since),
            until=_when(until),
            grading=grading,
            state=state,
            limit=limit,
        )
        rows = incident_rows(session, found)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No incidents.")
    for r in rows:
        where = terminal_safe(r["place"]["name_en"]) if r["place"] else ""
        click.echo(
            f"{r['code']}  {r['start'][:10]}  {r['state']:<10} {r['grading'] or '-':<10} "
            f"{where:<20} {terminal_safe(r['titles']['en'])}"
        )


@incident.command(name="link")
@DESK_HOME
@DB
@ACTING
@click.argument("code")
@click.option("--report", "report_id", required=True, type=int, help="The report's number.")
@click.option("--attachment", default=None, type=int, help="One file of it, by position.")
@click.option("--role", default=EvidenceRole.CORROBORATING.value, type=_choice(EvidenceRole))
@click.option("--confidence", default=Confidence.LIKELY.value, type=_choice(Confidence))
@click.option("--note", default=None)
def incident_link(
    home: Path,
    db_url: str | None,
    acting: str | None,
    code: str,
    report_id: int,
    attachment: int | None,
    role: str,
    confidence: str,
    note: str | None,
) -> None:
    """Link a report to an incident as evidence."""
    with desk_session(home, db_url, write=True) as session:
        link_report(
            session,
            code,
            report_id=report_id,
            attachment=attachment,
            role=role,
            confidence=confidence,
            note=note,
            by=acting,
        )
    click.echo(f"report #{report_id} is {role} evidence ({confidence}) for {code.upper()}")


@incident.command(name="attribute")
@DESK_HOME
@DB
@ACTING
@click.argument("code")
@click.option("--actor", "actor_name", required=True, help="An actor's name or alias.")
@click.option("--stance", required=True, type=_choice(Stance))
@click.option("--basis", required=True, help="Why the desk says so.")
def incident_attribute(
    home: Path,
    db_url: str | None,
    acting: str | None,
    code: str,
    actor_name: str,
    stance: str,
    basis: str,
) -> None:
    """Attribute an incident to an actor: known, suspected, claiming or denying."""
    with desk_session(home, db_url, write=True) as session:
        attribute(session, code, actor=actor_name, stance=stance, basis=basis, by=acting)
    click.echo(f"{terminal_safe(actor_name)}: {stance}")


@incident.command(name="assess")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("code")
@click.option("--grading", required=True, type=_choice(Grading))
@click.option("--harm", required=True, type=_choice(Harm), help="Were civilians harmed?")
@click.option(
    "--count",
    "counts",
    multiple=True,
    metavar="OUTCOME:STATUS:GROUP=MIN-MAX",
    help="A casualty range, e.g. killed:civilian:child=2-4 (repeatable).",
)
@click.option("--summary-ar", required=True)
@click.option("--summary-en", required=True)
def incident_assess(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    code: str,
    grading: str,
    harm: str,
    counts: tuple[str, ...],
    summary_ar: str,
    summary_en: str,
) -> None:
    """Propose an assessment; prints its id (A-12). It counts once a reviewer approves it."""
    parsed = [parse_count(c) for c in counts]
    with desk_session(home, db_url, write=True) as session:
        made = propose_assessment(
            session,
            code,
            grading=grading,
            harm=harm,
            counts=parsed,
            summary_ar=summary_ar,
            summary_en=summary_en,
            by=acting,
        )
        token = assessment_token(made.id)
    if as_json:
        echo_json({"id": token})
    else:
        click.echo(token)


def _print_suggestions(found: Suggestions) -> None:
    view = found.to_dict()
    where = view["center"] and f"{view['center']['lat']},{view['center']['lon']}"
    click.echo(
        f"{view['incident']}: {view['window']['from']} to {view['window']['to']} "
        f"({view['window']['days']} days either side), within {view['km']} km of "
        f"{where or 'no coordinates'}, governorate {view['governorate'] or 'unknown'}"
    )
    current = view["current_assessment"]
    if current is not None and current["killed_civilians"] is not None:
        ours = found.ours
        click.echo(f"current assessment {current['id']}: {ours} civilians killed")
    names = {"claim": "claims", "monitor": "monitor records", "report": "reports"}
    click.echo("found " + ", ".join(f"{n} {names[k]}" for k, n in view["found"].items()))
    for s in found.items:
        km = "-" if s.km is None else f"{s.km:.1f}"
        linked = " [linked]" if s.linked else ""
        click.echo(f"{s.score:>4} {s.kind:<8} {s.id:<24} {s.first.isoformat()} {s.days:>2}d "
                   f"{km:>6} km  {terminal_safe(s.title[:60])}{linked}")  # fmt: skip
        if s.figure_text:
            click.echo(f"{'':>14}{safe_text(s.figure_text)} ({s.agreement})")
    if found.discrepancies:
        click.echo("casualty figures that differ:")
        for line in found.discrepancies:
            click.echo(f"  {safe_text(line)}")
    for note in view["notes"]:
        click.echo(f"note: {safe_text(note)}")


@incident.command(name="suggest")
@DESK_HOME
@DB
@JSON
@click.argument("code")
@click.option(
    "--days",
    default=DEFAULT_DAYS,
    show_default=True,
    type=click.IntRange(0, 90),
    help="Days either side of the incident.",
)
@click.option(
    "--km",
    default=DEFAULT_KM,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Kilometres around it.",
)
@click.option("--limit", default=LIMIT, show_default=True, type=click.IntRange(1),
              help="At most this many of each kind.")  # fmt: skip
def incident_suggest(
    home: Path, db_url: str | None, as_json: bool, code: str, days: int, km: int, limit: int
) -> None:
    """Claims, monitor records and reports near an incident in time and place, ranked,
    with casualty figures set beside its current assessment."""
    with desk_session(home, db_url) as session:
        found = suggest(session, code, days=days, km=km, limit=limit)
    if as_json:
        echo_json(found.to_dict())
    else:
        _print_suggestions(found)
