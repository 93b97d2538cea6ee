"""``sijil desk user|place|places|actor|review``: who works at the desk, and what it knows.

Shells only: parse, call :mod:`sijil.desk`, print. Who acts is ``--as NAME``
(or SIJIL_USER); the desk functions check that person's roles.
"""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.desk_shared import ACTING, JSON, desk_session, echo_json
from sijil.cli.display import terminal_safe
from sijil.cli.incident_cmds import incident
from sijil.cli.options import DB, DESK_HOME
from sijil.desk.accounts import ENROL_TTL, issue_enrolment
from sijil.desk.actors import actor_dict, add_actor, list_actors
from sijil.desk.home import DeskHome
from sijil.desk.places import find_places, import_gazetteer
from sijil.desk.users import add_user, list_users, set_solo
from sijil.desk.verdicts import review_item
from sijil.store.models_desk import Role

__all__ = ["mark_solo", "register_desk_work"]


def mark_solo(desk_home: DeskHome) -> None:
    """Mark a new desk as a desk of one (``sijil desk init --solo``)."""
    with desk_home.open_store() as store, store.session(write=True) as session:
        set_solo(session, True)
    click.echo("A desk of one: authors may confirm their own assessments, which are then")
    click.echo("marked as not independently reviewed.")


# --- users ----------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Desk users and their roles."""


@user.command(name="add")
@DESK_HOME
@DB
@ACTING
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="A role (repeat for several).",
)
def user_add(
    home: Path, db_url: str | None, acting: str | None, name: str, roles: tuple[str, ...]
) -> None:
    """Add a desk user (the first must be an admin; later ones are added by an admin)."""
    with desk_session(home, db_url, write=True) as session:
        info = add_user(session, name, roles, by=acting)
        code = issue_enrolment(session, info.name, by=acting)
    click.echo(f"{terminal_safe(info.name)}: {', '.join(info.roles)}")
    click.echo(f"web enrolment code (once, valid {ENROL_TTL.days} days; give it in person): {code}")


@user.command(name="list")
@DESK_HOME
@DB
@JSON
def user_list(home: Path, db_url: str | None, as_json: bool) -> None:
    """List desk users and their roles."""
    with desk_session(home, db_url) as session:
        users = list_users(session)
    if as_json:
        echo_json([u.to_dict() for u in users])
        return
    if not users:
        click.echo("No desk users yet.")
    for info in users:
        click.echo(f"{terminal_safe(info.name):<20} {', '.join(info.roles)}")


# --- places ---------------------------------------------------------------------------


@click.group()
def place() -> None:
    """The gazetteer: import places, find one by name."""


@place.command(name="import")
@DESK_HOME
@DB
@ACTING
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def place_import(home: Path, db_url: str | None, acting: str | None, file: Path) -> None:
    """Import a gazetteer (the Syrian Archive's locations.json) and the governorates."""
    data = file.read_bytes()
    with desk_session(home, db_url, write=True) as session:
        counts = import_gazetteer(session, data, by=acting)
    click.echo(
        f"places: {counts.added} added, {counts.updated} updated, {counts.unchanged} unchanged"
    )


@place.command(name="find")
@DESK_HOME
@DB
@JSON
@click.option("--limit", default=10, type=click.IntRange(1, 100), help="At most this many.")
@click.argument("text")
def place_find(home: Path, db_url: str | None, as_json: bool, limit: int, text: str) -> None:
    """Places matching TEXT (Arabic or English, any spelling), best first."""
    with desk_session(home, db_url) as session:
        found = [c.to_dict() for c in find_places(session, text, limit=limit)]
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(f"No place matches {terminal_safe(text)}.")
    for c in found:
        where = f"  ({terminal_safe(c['admin_en'])})" if c["admin_en"] else ""
        click.echo(
            f"{c['id']:<8} {terminal_safe(c['code'] or ''):<10} {c['kind']:<11} "
            f"{terminal_safe(c['name_en'])} / {terminal_safe(c['name_ar'])}{where}  [{c['score']}]"
        )


# --- actors ---------------------------------------------------------------------------


@click.group()
def actor() -> None:
    """Belligerents and armed groups."""


@actor.command(name="add")
@DESK_HOME
@DB
@ACTING
@click.option("--name-en", required=True, help="English name.")
@click.option("--name-ar", required=True, help="Arabic name.")
@click.option("--alias", "aliases", multiple=True, help="Another name (repeatable).")
def actor_add(
    home: Path,
    db_url: str | None,
    acting: str | None,
    name_en: str,
    name_ar: str,
    aliases: tuple[str, ...],
) -> None:
    """Record an actor with its names."""
    with desk_session(home, db_url, write=True) as session:
        made = add_actor(session, name_en=name_en, name_ar=name_ar, aliases=aliases, by=acting)
        click.echo(f"actor {terminal_safe(made.name_en)} / {terminal_safe(made.name_ar)}")


@actor.command(name="list")
@DESK_HOME
@DB
@JSON
def actor_list(home: Path, db_url: str | None, as_json: bool) -> None:
    """List actors with their aliases."""
    with desk_session(home, db_url) as session:
        actors = [actor_dict(a) for a in list_actors(session)]
    if as_json:
        echo_json(actors)
        return
    if not actors:
        click.echo("No actors yet.")
    for a in actors:
        also = ", ".join(terminal_safe(alias) for alias in a["aliases"])
        aliases = f"  (also: {also})" if a["aliases"] else ""
        click.echo(f"{terminal_safe(a['name_en'])} / {terminal_safe(a['name_ar'])}{aliases}")


# --- review ---------------------------------------------------------------------------


@click.command(name="review")
@DESK_HOME
@DB
@ACTING
@JSON
@click.argument("item_id", metavar="ID")
@click.option("--approve", "decision", flag_value="approve", help="Approve: it becomes current.")
@click.option(
    "--request-changes", "decision", flag_value="changes", help="Send it back with a comment."
)
@click.option("--comment", required=True, help="What the reviewer checked, or what must change.")
def review_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    as_json: bool,
    item_id: str,
    decision: str | None,
    comment: str,
) -> None:
    """Review an assessment (A-12) or a verdict (V-3): approve it, or request changes."""
    if decision is None:
        raise click.UsageError("give --approve or --request-changes")
    with desk_session(home, db_url, write=True) as session:
        done = review_item(
            session, item_id, approve=decision == "approve", comment=comment, by=acting
        )
    if as_json:
        echo_json(done.to_dict())
        return
    mark = "" if done.independent else " (not independently reviewed)"
    click.echo(f"{done.id}: {done.decision}{mark}")


def register_desk_work(desk: click.Group) -> None:
    """Add these commands, and ``incident``, to the ``sijil desk`` group."""
    desk.add_command(user)
    desk.add_command(place)
    desk.add_command(place, name="places")
    desk.add_command(actor)
    desk.add_command(review_cmd)
    desk.add_command(incident)
