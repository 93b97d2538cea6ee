"""kill -9 of `sijil desk key rotate` at every step: the desk works with the old keys or
the new ones, never neither, and the next unlock finishes a half-done rotation.

Each trial runs the real CLI in a process of its own (tests/cli_process.py) that
SIGKILLs itself at a named crash point (SIJIL_TEST_CRASH_AT, sijil.faults): before
the key file is replaced, after it, inside the ledger transaction (before its head,
before its commit), after the commit, after desk.pub, after the last write. Then,
before anything repairs it, the key file must still hold the old keys (current or
retired); after the next unlock the desk is wholly old (killed before the key file
changed) or wholly new, with exactly that many handovers; envelopes sealed to the
old key and to desk.pub's key both import; the audit passes; and rotating again works.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli_process import start_cli
from conftest import PASSPHRASE, DeskFixture, seal_reports
from sijil.crypto.identity import DeskIdentity, DeskPublic
from sijil.desk.audit import audit_desk
from sijil.desk.intake import import_paths
from sijil.desk.key_rotation import rotate_desk_key
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.ledger.entries import EntryKind
from sijil.store import LedgerEntry

# (crash point, whether the rotation has taken effect once the desk is unlocked again)
POINTS = [
    ("rotate.before_key", False),
    ("rotate.key_written", True),
    ("rotate.before_head", True),
    ("head.before_commit", True),
    ("rotate.before_commit", True),
    ("rotate.ledger_committed", True),
    ("rotate.pub_written", True),
    ("rotate.done", True),
]
RUN_TIMEOUT_S = 120


def _env(crash_at: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJIL_")}
    env["SIJIL_PASSPHRASE"] = PASSPHRASE
    env["SIJIL_TEST_CRASH_AT"] = crash_at
    return env


def _killed(desk: DeskFixture, argv: list[str], point: str, output: Path) -> None:
    process = start_cli([*argv, *desk.args], _env(f"{point}:1"), output)
    process.join(RUN_TIMEOUT_S)
    assert process.exitcode == -signal.SIGKILL, output.read_text()


def _handovers(desk: DeskFixture) -> int:
    with desk.home.open_store() as store, store.session() as session:
        stmt = select(func.count()).select_from(LedgerEntry).filter_by(kind=EntryKind.KEY_ROTATED)
        return int(session.scalar(stmt) or 0)


def _check_works(
    desk: DeskFixture,
    old: DeskPublic,
    rotated: bool,
    newcomer: Callable[[str], FieldSession],
    raven_inbox: Path,
    tmp_path: Path,
) -> None:
    """After the next unlock: wholly old or wholly new; both keys' envelopes import."""
    identity = desk.home.unlock(PASSPHRASE)  # finishes a half-done rotation
    on_disk = DeskIdentity.unlock(desk.home.key_file.read_bytes(), PASSPHRASE)
    assert not on_disk.rotating
    assert desk.home.public().fingerprint == identity.public.fingerprint
    assert (identity.public.fingerprint != old.fingerprint) is rotated
    assert _handovers(desk) == int(rotated)
    # a correspondent invited now seals to desk.pub's key; Raven still to the old one
    owl = newcomer("Owl")
    assert owl.desk.fingerprint == identity.public.fingerprint
    seal_reports(owl, tmp_path / "photos", 1, tag="owl")
    export_outbox(owl, raven_inbox)
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, identity, store, [raven_inbox], channel="usb")
        assert sorted(o.status for o in outcomes) == ["imported"] * 3, outcomes
        audit = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
    assert audit.problems == []


@pytest.mark.slow
@pytest.mark.parametrize(("point", "rotated"), POINTS, ids=[p for p, _ in POINTS])
def test_kill_9_during_rotation_leaves_a_working_desk(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    point: str,
    rotated: bool,
) -> None:
    # Given a desk with imported reports, and two more sealed to its current key
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", 2, tag="a")
    export_outbox(raven, tmp_path / "first")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        import_paths(desk.home, identity, store, [tmp_path / "first"], channel="usb")
    seal_reports(raven, tmp_path / "photos", 2, tag="bb")
    raven_inbox = tmp_path / "inbox"
    export_outbox(raven, raven_inbox, only_new=True)
    old = desk.home.public()
    # When the rotation is killed at the point
    _killed(desk, ["desk", "key", "rotate"], point, tmp_path / "run.out")
    # Then the key file still holds the old keys, current or retired: never neither
    on_disk = DeskIdentity.unlock(desk.home.key_file.read_bytes(), PASSPHRASE)
    held = [on_disk.public.fingerprint, *(r.public.fingerprint for r in on_disk.retired)]
    assert old.fingerprint in held
    assert desk.home.public().fingerprint in held
    # And once unlocked the desk is wholly old or wholly new, and works
    _check_works(
        desk, old, rotated, lambda name: make_correspondent(desk, name), raven_inbox, tmp_path
    )
    # And rotating again completes
    again = rotate_desk_key(desk.home, PASSPHRASE)
    assert again.handover_seq >= 0
    assert _handovers(desk) == int(rotated) + 1


@pytest.mark.slow
def test_kill_9_while_finishing_an_interrupted_rotation(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> None:
    # Given a rotation killed right after its key file was written
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", 2, tag="a")
    raven_inbox = tmp_path / "inbox"
    export_outbox(raven, raven_inbox)
    old = desk.home.public()
    _killed(desk, ["desk", "key", "rotate"], "rotate.key_written", tmp_path / "one.out")
    # When the command that finishes it (any unlock) is killed too, after the ledger commit
    _killed(desk, ["verify"], "rotate.ledger_committed", tmp_path / "two.out")
    # (and running the rotation again only finishes it: no second rotation)
    assert rotate_desk_key(desk.home, PASSPHRASE).finished_earlier
    # Then the next unlock finishes the first rotation, with one handover and no second
    # rotation; envelopes sealed to the old key and the new one import
    _check_works(
        desk, old, True, lambda name: make_correspondent(desk, name), raven_inbox, tmp_path
    )
