"""Helpers for the captured-correspondent tests: carry an outbox to the desk, read flags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from conftest import PASSPHRASE, DeskFixture
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.desk.revocation import flags_for
from sijil.desk.users import add_user
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.store import Report


def deliver(desk: DeskFixture, folder: Path) -> list[ImportOutcome]:
    """Import every envelope in ``folder`` at the desk, as from a USB stick."""
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        return import_paths(desk.home, identity, store, [folder], channel="usb")


def carry(desk: DeskFixture, session: FieldSession, stick: Path) -> list[ImportOutcome]:
    """Export what is new in the outbox to an empty ``stick`` and import it at the desk."""
    stick.mkdir(parents=True, exist_ok=False)
    export_outbox(session, stick, only_new=True)
    return deliver(desk, stick)


def write(session: FieldSession, title: str, *, clock: Callable[[], datetime] | None = None) -> str:
    """Seal a short text report; return its envelope id."""
    draft = Draft(title=title, body="body of " + title, lang="en")
    if clock is None:
        return compose(session, draft, []).envelope_id
    return compose(session, draft, [], clock=clock).envelope_id


def flags_by_title(desk: DeskFixture) -> dict[str, str | None]:
    """Every report's title with its flag ("possibly coerced", "sent under duress" or None)."""
    with desk.home.open_store() as store, store.session() as s:
        reports = s.query(Report).all()
        flags = flags_for(s, [r.id for r in reports])
        return {r.title: (str(flags[r.id]) if r.id in flags else None) for r in reports}


def desk_users(desk: DeskFixture) -> tuple[str, str]:
    """An admin and a reviewer: the two people of a two-person decision."""
    with desk.home.open_store() as store, store.session(write=True) as s:
        add_user(s, "amal", ["admin"], by=None)
    with desk.home.open_store() as store, store.session(write=True) as s:
        add_user(s, "basil", ["reviewer"], by="amal")
    return "amal", "basil"
