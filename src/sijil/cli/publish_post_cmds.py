"""``sijil publish post|correct|retract|attest|check|override|tier|deny|settings``.

Shells only: parse, call :mod:`sijil.publish`, print. Who acts is ``--as NAME``
(or SIJIL_USER); the desk passphrase (SIJIL_PASSPHRASE, or asked) unlocks the
publication key, and the vault when ``--media`` is given. Every refusal is one
line and a non-zero exit; nothing is written unless the whole command succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from sijil.cli.desk_cmds import EXIT_ATTENTION
from sijil.cli.desk_shared import ACTING, JSON, desk_session, echo_json
from sijil.cli.display import terminal_safe
from sijil.cli.options import DB, DESK_HOME, desk_at, open_desk_store
from sijil.cli.passphrase import read_passphrase
from sijil.desk.home import DeskHome
from sijil.publish.coarsen import TIERS
from sijil.store import Store
from sijil.store.models_publish_gate import DENY_CLASSES, RiskTier

if TYPE_CHECKING:
    from sijil.publish.keys import PublicationKey
    from sijil.publish.posting import Reader

__all__ = ["register_publish_posting"]

MEDIA = click.option(
    "--media",
    "media",
    multiple=True,
    metavar="SHA256",
    help="A file of the incident's evidence to show (re-encoded); repeat for more.",
)
REASON_AR = click.option("--reason-ar", default="", help="Why, in Arabic (shown on the post).")
REASON_EN = click.option("--reason-en", default="", help="Why, in English (shown on the post).")
QUEUE = click.option(
    "--queue",
    "queued",
    is_flag=True,
    help="Leave the site's update to a worker ('sijil desk worker'; a desk on PostgreSQL).",
)
_TIER_AREA = {5: "~250 km²", 6: "~36 km²", 7: "~5 km²"}


@dataclass
class _Desk:
    session: Session
    key: PublicationKey | None
    read: Reader | None

    @property
    def signer(self) -> PublicationKey:
        if self.key is None:  # a bug in this module, not bad input
            raise RuntimeError("the publication key was not loaded")
        return self.key


@contextmanager
def _publishing(
    home: Path,
    db_url: str | None,
    *,
    key: bool,
    media: bool,
    write: bool = True,
    queued: bool = False,
) -> Iterator[_Desk]:
    """One transaction, with the publication key and the vault's reader when needed.

    Without a key or media, no passphrase is asked unless the database is encrypted.
    The key is loaded before the database is opened: a desk without one writes nothing.
    With the key (a post, correction or retraction), the site built last is brought up
    to date once the transaction has committed: here, or by a worker if ``queued``
    (a desk on PostgreSQL; any other is refused before anything is written).
    """
    if not key and not media:
        with desk_session(home, db_url, write=write) as session:
            yield _Desk(session, None, None)
        return
    from sijil.publish.keys import PublicationKey

    desk_home = desk_at(home, db_url)
    desk_home.require()
    if queued:
        from sijil.jobs.queue import queue_url

        queue_url(desk_home)  # a SQLite desk is refused before the passphrase is asked
    passphrase = read_passphrase("the desk key")
    publication = PublicationKey.load(desk_home, passphrase) if key else None
    identity = desk_home.unlock(passphrase)  # sealed values on every backend
    read = None if not media or identity is None else desk_home.open_vault(identity).read_bytes
    with open_desk_store(desk_home, identity) as store:
        with store.session(write=write) as session:
            yield _Desk(session, publication, read)
        if key and write and queued:
            _queue_site_update(desk_home)
        elif key and write:
            _update_site(home, desk_home, store)


def _queue_site_update(desk_home: DeskHome) -> None:
    """Leave the update of the site built last to a worker (one waits at a time)."""
    from sijil.jobs.enqueue import enqueue_site

    new = enqueue_site(desk_home)
    click.echo("site update queued" if new else "site update already waiting (it shows this too)")


def _update_site(home: Path, desk_home: DeskHome, store: Store) -> None:
    """Write the new post's files into the site built last, then its changed pages."""
    from sijil.publish.incremental import update_site

    updated = update_site(desk_home, store)
    if updated is None:
        click.echo(
            f"no site built yet: sijil publish build --home {terminal_safe(str(home))} --out SITE"
        )
        return
    click.echo(terminal_safe(f"site updated: {updated.written} files written in {updated.site}"))


def _published(home: Path, body: bytes) -> None:
    from sijil.publish.preview import describe_post

    for line in describe_post(body):
        click.echo(terminal_safe(line))


# --- posting --------------------------------------------------------------------------


@click.command(name="post")
@DESK_HOME
@DB
@ACTING
@MEDIA
@QUEUE
@click.argument("target", metavar="(CODE | VERDICT_ID)")
def post_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    media: tuple[str, ...],
    queued: bool,
    target: str,
) -> None:
    """Run the safety gate on an incident (CODE) or a verdict (V-<n>) and publish it."""
    from sijil.publish.posting import post

    with _publishing(home, db_url, key=True, media=bool(media), queued=queued) as desk:
        result = post(desk.session, desk.signer, target, media=media, read=desk.read, by=acting)
    _published(home, result.body)


@click.command(name="correct")
@DESK_HOME
@DB
@ACTING
@MEDIA
@REASON_AR
@REASON_EN
@QUEUE
@click.argument("target", metavar="(CODE | VERDICT_ID)")
def correct_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    media: tuple[str, ...],
    reason_ar: str,
    reason_en: str,
    queued: bool,
    target: str,
) -> None:
    """Publish a new version of a published subject that supersedes its latest one."""
    from sijil.publish.posting import correct

    with _publishing(home, db_url, key=True, media=bool(media), queued=queued) as desk:
        result = correct(
            desk.session,
            desk.signer,
            target,
            reason_ar=reason_ar,
            reason_en=reason_en,
            media=media,
            read=desk.read,
            by=acting,
        )
    _published(home, result.body)


@click.command(name="retract")
@DESK_HOME
@DB
@ACTING
@REASON_AR
@REASON_EN
@QUEUE
@click.argument("subject", metavar="(CODE | CLAIM_ID)")
def retract_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    reason_ar: str,
    reason_en: str,
    queued: bool,
    subject: str,
) -> None:
    """Withdraw a published incident (CODE) or verdict (C-<n>): a tombstone with the reason."""
    from sijil.publish.posting import retract

    with _publishing(home, db_url, key=True, media=False, queued=queued) as desk:
        result = retract(
            desk.session, desk.signer, subject, reason_ar=reason_ar, reason_en=reason_en, by=acting
        )
    _published(home, result.body)


@click.command(name="attest")
@DESK_HOME
@DB
@ACTING
@MEDIA
@click.argument("target", metavar="(CODE | VERDICT_ID)")
def attest_cmd(
    home: Path, db_url: str | None, acting: str | None, media: tuple[str, ...], target: str
) -> None:
    """Attest that faces, voices and rooftops were checked in the subject's current draft.

    It covers exactly this content (and these --media files): any later change to
    what the post would show needs a new attestation.
    """
    from sijil.publish.posting import attest

    with _publishing(home, db_url, key=False, media=bool(media)) as desk:
        digest = attest(desk.session, target, media=media, read=desk.read, by=acting)
    click.echo(
        f"attested: faces, voices and rooftops checked in {terminal_safe(target.strip())}'s"
        f" draft {digest[:16]}"
    )


@click.command(name="check")
@DESK_HOME
@DB
@JSON
@MEDIA
@click.argument("target", metavar="(CODE | VERDICT_ID)")
def check_cmd(
    home: Path, db_url: str | None, as_json: bool, media: tuple[str, ...], target: str
) -> None:
    """Dry run: what a post would publish now and which gate checks fail. Writes nothing.

    Exits with status 3 when the gate would refuse it.
    """
    from sijil.desk.custody import utcnow
    from sijil.publish.document import languages
    from sijil.publish.preview import describe_when, describe_where, preview

    with _publishing(home, db_url, key=False, media=bool(media), write=False) as desk:
        seen = preview(desk.session, target, media=media, read=desk.read, now=utcnow())
    made, found = seen.made, seen.made.found
    content = made.content
    failing = [
        {"check": str(f.check), "reason": f.reason, "overridden": f.check in seen.overridden}
        for f in seen.failures
    ]
    if as_json:
        echo_json(
            {
                "kind": found.kind,
                "subject": found.subject,
                "action": seen.action,
                "version": seen.version,
                "blocked": seen.blocked,
                "tier": None if made.tier is None else str(made.tier),
                "content_sha256": made.content_sha256,
                "languages": languages(content),
                "where": content.get("where"),
                "when": content.get("when"),
                "failures": failing,
                "passes": seen.passes,
            }
        )
    else:
        action = seen.blocked or f"would be a {seen.action}, version {seen.version}"
        click.echo(f"{found.kind} {found.subject}: {terminal_safe(action)}")
        tier = "" if made.tier is None else f"tier {made.tier}; "
        click.echo(f"{tier}draft {made.content_sha256[:16]}")
        if "where" in content:
            click.echo(terminal_safe(f"where: {describe_where(content['where'])}"))
            click.echo(f"when: {describe_when(content['when'])}")
        langs = languages(content)
        click.echo("languages: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())))
        for f in failing:
            mark = " (overridden by two people)" if f["overridden"] else ""
            click.echo(terminal_safe(f"fails {f['check']}: {f['reason']}{mark}"))
        click.echo(
            "the safety gate would pass it"
            if seen.passes
            else f"the safety gate would refuse it: {len(seen.failing)} check(s) fail"
            + ("" if seen.blocked is None else ", and it cannot be posted")
        )
    if not seen.passes:
        click.get_current_context().exit(EXIT_ATTENTION)


@click.command(name="override")
@DESK_HOME
@DB
@ACTING
@MEDIA
@click.option("--reason", required=True, help="Why publishing despite the check is safe.")
@click.argument("check", metavar="CHECK")
@click.argument("target", metavar="(CODE | VERDICT_ID)")
def override_cmd(
    home: Path,
    db_url: str | None,
    acting: str | None,
    media: tuple[str, ...],
    reason: str,
    check: str,
    target: str,
) -> None:
    """Approve posting TARGET's current draft despite CHECK; a second person makes it count.

    CHECK is one of delay, languages, leak, attestation. Not on a solo desk.
    """
    from sijil.publish.posting import override

    with _publishing(home, db_url, key=False, media=bool(media)) as desk:
        found, people = override(
            desk.session, target, check, reason=reason, media=media, read=desk.read, by=acting
        )
    name = check.strip().lower()
    if people >= 2:
        click.echo(
            f"{people} people approved overriding {name} for {found.subject}: it is in effect"
            " for this draft"
        )
    else:
        click.echo(
            f"1 person approved overriding {name} for {found.subject}: it takes effect when"
            " another person approves"
        )


# --- tiers, deny list, settings ---------------------------------------------------------


@click.group(name="tier")
def tier_group() -> None:
    """An incident's risk tier: how long a post waits and how coarse its place and date are."""


def _tier_rule(tier: RiskTier) -> str:
    rule = TIERS[tier]
    place = (
        "governorate centroid"
        if rule.h3_resolution is None
        else f"H3 res {rule.h3_resolution} ({_TIER_AREA.get(rule.h3_resolution, '?')})"
    )
    return f"delay ×{rule.delay_factor}, place {place}, date to the {rule.date_prec.name.lower()}"


@tier_group.command(name="set")
@DESK_HOME
@DB
@ACTING
@click.argument("code")
@click.argument("tier", type=click.Choice([str(t) for t in RiskTier]))
def tier_set(home: Path, db_url: str | None, acting: str | None, code: str, tier: str) -> None:
    """Set incident CODE's risk tier."""
    from sijil.publish.gate_records import set_tier

    with desk_session(home, db_url, write=True) as session:
        chosen = set_tier(session, code, tier, by=acting)
    click.echo(f"{terminal_safe(code.strip().upper())} is {chosen} tier: {_tier_rule(chosen)}")


@click.group(name="deny")
def deny_group() -> None:
    """The deny list: names, numbers and handles that must never be published."""


@deny_group.command(name="add")
@DESK_HOME
@DB
@ACTING
@click.option(
    "--class",
    "term_class",
    required=True,
    type=click.Choice([str(c) for c in DENY_CLASSES]),
    help="What the term is.",
)
@click.argument("term")
def deny_add(
    home: Path, db_url: str | None, acting: str | None, term_class: str, term: str
) -> None:
    """Add TERM to the deny list (the ledger records only its digest)."""
    from sijil.publish.gate_records import add_deny_term

    with desk_session(home, db_url, write=True) as session:
        row = add_deny_term(session, term, term_class, by=acting)
        term_id = row.id
    click.echo(f"added deny-list term {term_id} ({term_class})")


@deny_group.command(name="list")
@DESK_HOME
@DB
@JSON
def deny_list(home: Path, db_url: str | None, as_json: bool) -> None:
    """List the deny list's terms (desk eyes only)."""
    from sijil.publish.gate_records import deny_terms

    with desk_session(home, db_url) as session:
        rows: list[dict[str, str | int]] = [
            {"id": d.id, "class": d.term_class, "term": d.term, "added_at": d.added_at.isoformat()}
            for d in deny_terms(session)
        ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("The deny list is empty.")
    for r in rows:
        click.echo(f"{r['id']:<5} {r['class']:<8} {terminal_safe(str(r['term']))}")


@deny_group.command(name="remove")
@DESK_HOME
@DB
@ACTING
@click.argument("term_id", metavar="ID", type=click.IntRange(1))
def deny_remove(home: Path, db_url: str | None, acting: str | None, term_id: int) -> None:
    """Take term ID (see 'deny list') off the deny list."""
    from sijil.publish.gate_records import remove_deny_term

    with desk_session(home, db_url, write=True) as session:
        remove_deny_term(session, term_id, by=acting)
    click.echo(f"removed deny-list term {term_id}")


@click.group(name="settings")
def settings_group() -> None:
    """The desk's publishing settings: delay, jitter and the default risk tier."""


@settings_group.command(name="show")
@DESK_HOME
@DB
@JSON
def settings_show(home: Path, db_url: str | None, as_json: bool) -> None:
    """Show every publishing setting, its default and what it does."""
    from sijil.publish.gate_records import setting_values

    with desk_session(home, db_url) as session:
        rows = setting_values(session)
    if as_json:
        echo_json(
            [{"name": n, "value": v, "default": s.default, "help": s.help} for n, v, s in rows]
        )
        return
    for name, value, setting in rows:
        click.echo(f"{name} = {value}  (default {setting.default}): {setting.help}")


@settings_group.command(name="set")
@DESK_HOME
@DB
@ACTING
@click.argument("name")
@click.argument("value")
def settings_set(home: Path, db_url: str | None, acting: str | None, name: str, value: str) -> None:
    """Change publishing setting NAME (admins; see 'settings show')."""
    from sijil.publish.gate_records import set_setting, setting_values

    with desk_session(home, db_url, write=True) as session:
        set_setting(session, name, value, by=acting)
        now = dict((n, v) for n, v, _ in setting_values(session))
    click.echo(f"{name} = {now[name]}")


def register_publish_posting(publish: click.Group) -> None:
    for command in (post_cmd, correct_cmd, retract_cmd, attest_cmd, check_cmd, override_cmd):
        publish.add_command(command)
    for group in (tier_group, deny_group, settings_group):
        publish.add_command(group)
