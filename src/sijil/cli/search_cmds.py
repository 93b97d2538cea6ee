"""``sijil desk search``: one search box over the desk's records, in Arabic and English.

Shell only: parse the options, call :func:`sijil.desk.search.search`, print.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from sijil.cli.desk_shared import JSON, desk_session, echo_json
from sijil.cli.display import safe_text, terminal_safe
from sijil.cli.options import DB, DESK_HOME
from sijil.desk.search import DEFAULT_LIMIT, MAX_LIMIT, SearchFilters, search
from sijil.desk.search_hits import MARK_CLOSE, MARK_OPEN
from sijil.desk.search_index import rebuild
from sijil.store import DocKind

__all__ = ["desk_search"]

_KINDS = [k.value for k in DocKind]


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("give a date as YYYY-MM-DD") from None


def _reindex(home: Path, db_url: str | None) -> None:
    def progress(kind: DocKind, total: int) -> None:
        click.echo(f"  indexed {total:,} records (now: {kind.value}s)", err=True)

    with desk_session(home, db_url, write=True) as session:
        total = rebuild(session, progress=progress)
    click.echo(f"search index rebuilt: {total:,} records")


@click.command(name="search")
@DESK_HOME
@DB
@click.argument("query", required=False)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(_KINDS),
    help="Only these kinds (repeat for several).",
)
@click.option("--since", callback=_day, help="Event (or received) date from, YYYY-MM-DD.")
@click.option("--until", callback=_day, help="Event (or received) date until, YYYY-MM-DD.")
@click.option("--place", default=None, help="Only what is in or near this place (name or P- id).")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="How many hits to show.",
)
@click.option("--reindex", is_flag=True, help="Rebuild the whole search index first.")
@JSON
def desk_search(
    home: Path,
    db_url: str | None,
    query: str | None,
    kinds: tuple[str, ...],
    since: date | None,
    until: date | None,
    place: str | None,
    limit: int,
    reindex: bool,
    as_json: bool,
) -> None:
    """Search reports, incidents, claims, sources, places and actors.

    Words match in every spelling (الرقة finds الرقه and الرَّقَّة; Raqqa finds
    Ar-Raqqah); "a phrase" in quotes matches those words in order; word* matches
    words that begin so. Matched words are shown in ⟦ ⟧.
    """
    if reindex:
        _reindex(home, db_url)
        if query is None:
            return
    if query is None or not query.strip():
        raise click.UsageError("nothing to search for: give a QUERY")
    filters = SearchFilters(
        kinds=frozenset(DocKind(k) for k in kinds) if kinds else frozenset(DocKind),
        since=since,
        until=until,
        place=place,
        limit=limit,
    )
    with desk_session(home, db_url) as session:
        hits = search(session, query, filters)
    if as_json:
        echo_json([hit.to_dict() for hit in hits])
        return
    if not hits:
        click.echo("no matches")
        return
    for hit in hits:
        click.echo(f"{hit.kind.value:<8} {hit.id:<14} {terminal_safe(hit.title)}")
        if hit.snippet:
            shown = hit.snippet.replace(MARK_OPEN, "[").replace(MARK_CLOSE, "]")
            click.echo(f"         {safe_text(shown)}")
