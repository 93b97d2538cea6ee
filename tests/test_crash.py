"""kill -9 of `sijil desk import` at random points; two importers at once on PostgreSQL.

Each trial runs the real CLI (``sijil.cli.main.main``) in a process of its own and
kills it with a real SIGKILL: either the process sends it to itself at a named
crash point (SIJIL_TEST_CRASH_AT, see sijil.faults) or the test sends it after a
random delay. The process is forked from a server that imported sijil once
(tests/cli_process.py), so it starts in milliseconds and a timer kill lands in the
import's own work, not in Python starting up. After each kill the desk must audit
clean, every envelope must be registered fully or not at all, and importing again
must complete without duplicating anything. The two concurrent importers are
started with ``python -m sijil.cli.main``, as a desk would run them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli_process import start_cli
from conftest import PASSPHRASE, DeskFixture, seal_reports
from sijil.desk.audit import audit_desk
from sijil.desk.intake import import_paths
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.store import Envelope, LedgerEntry, Report, VaultBlob

TRIALS_PER_BACKEND = 26
ENVELOPES_PER_TRIAL = 2
# (crash point, how many times it is surely passed in one trial's import): every
# envelope stores at least its original in the vault and registers once.
POINTS = [
    ("vault.before_commit", ENVELOPES_PER_TRIAL),
    ("register.before_commit", ENVELOPES_PER_TRIAL),
]
# A signed head is due only on a fresh desk (then hourly): the first trial kills there.
FIRST_POINT = ("head.before_commit", 1)
# A trial's import (2-4 envelopes, a forked process) takes a few tenths of a second:
# timer kills fall anywhere in it, or just after it finished.
KILL_DELAY_S = (0.02, 0.5)
RUN_TIMEOUT_S = 60


def _cli(desk: DeskFixture, *args: str) -> list[str]:
    return [sys.executable, "-m", "sijil.cli.main", *args, *desk.args]


def _env(crash_at: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJIL_")}
    env["SIJIL_PASSPHRASE"] = PASSPHRASE
    if crash_at:
        env["SIJIL_TEST_CRASH_AT"] = crash_at
    return env


def _kill_run(desk: DeskFixture, folder: Path, rng: random.Random, trial: int, output: Path) -> str:
    """One import, killed somewhere; returns how."""
    argv = ["desk", "import", "--channel", "usb", *desk.args, str(folder)]
    if trial % 2 == 0:
        point, most = FIRST_POINT if trial == 0 else POINTS[(trial // 2) % len(POINTS)]
        nth = rng.randint(1, most)
        process = start_cli(argv, _env(f"{point}:{nth}"), output)
        process.join(RUN_TIMEOUT_S)
        # a point passed fewer than nth times lets the import finish: also a valid trial
        assert process.exitcode in (0, -signal.SIGKILL), output.read_text()
        return f"{point}:{nth} -> {process.exitcode}"
    process = start_cli(argv, _env(None), output)
    delay = rng.uniform(*KILL_DELAY_S)
    process.join(delay)
    if process.exitcode is None:
        process.kill()
    process.join(RUN_TIMEOUT_S)
    assert process.exitcode in (0, -signal.SIGKILL), output.read_text()
    return f"timer {delay:.2f}s -> {process.exitcode}"


def _assert_all_or_nothing(desk: DeskFixture, batch: list[str], how: str) -> None:
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        audit = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
        assert audit.problems == [], how
        with store.session() as session:
            for envelope_id in batch:
                envelope = session.get(Envelope, envelope_id)
                if envelope is None:
                    assert (
                        session.scalar(
                            select(func.count())
                            .select_from(LedgerEntry)
                            .filter_by(subject=envelope_id)
                        )
                        == 0
                    ), how
                    continue
                assert envelope.report is not None, how
                for item in envelope.report.attachments:
                    assert session.get(VaultBlob, item.sha256) is not None, how


@pytest.mark.slow
@pytest.mark.parametrize("backend_seed", [1])
def test_kill_9_at_random_points_loses_and_duplicates_nothing(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    backend_seed: int,
) -> None:
    rng = random.Random(f"{store_url.split(':')[0]}-{backend_seed}")
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", TRIALS_PER_BACKEND * ENVELOPES_PER_TRIAL)
    exports = export_outbox(raven, tmp_path / "all")
    ids = [e.envelope_id for e in exports]
    identity = desk.home.unlock(PASSPHRASE)
    killed = 0
    for trial in range(TRIALS_PER_BACKEND):
        # Given a stick holding this trial's envelopes and some already imported
        batch = ids[trial * ENVELOPES_PER_TRIAL : (trial + 1) * ENVELOPES_PER_TRIAL]
        folder = tmp_path / f"stick-{trial}"
        folder.mkdir()
        for envelope_id in batch + ids[: min(trial, 2) * ENVELOPES_PER_TRIAL][:2]:
            (folder / f"{envelope_id}.age").write_bytes(
                (tmp_path / "all" / f"{envelope_id}.age").read_bytes()
            )
        # When the import is killed
        how = _kill_run(desk, folder, rng, trial, tmp_path / f"run-{trial}.out")
        was_killed = how.endswith(f"-> {-signal.SIGKILL}")
        killed += was_killed
        # a named crash point is always reached: the kill there must really happen
        assert was_killed or how.startswith("timer"), how
        # Then each envelope is all there or not there, and the desk audits clean
        _assert_all_or_nothing(desk, batch, how)
        # and importing again completes without duplicates
        with desk.home.open_store() as store:
            outcomes = import_paths(desk.home, identity, store, [folder], channel="usb")
            assert {o.status for o in outcomes} <= {"imported", "duplicate"}, how
            with store.session() as session:
                reports = session.scalar(select(func.count()).select_from(Report))
                assert reports == (trial + 1) * ENVELOPES_PER_TRIAL, how
        _assert_all_or_nothing(desk, batch, how)
    # every crash-point trial was killed (asserted above); timer kills come on top,
    # as many as the machine's speed allows
    assert killed >= (TRIALS_PER_BACKEND + 1) // 2


def test_two_importers_of_the_same_folder_register_each_envelope_once(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("two desk processes share a database on PostgreSQL")
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", 12)
    export_outbox(raven, tmp_path / "inbox")
    command = [*_cli(desk, "desk", "import"), str(tmp_path / "inbox")]
    # When two desk processes import the same folder at the same moment
    runs = [
        subprocess.Popen(
            command, env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=RUN_TIMEOUT_S) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # Then each envelope is imported by exactly one of them
    imported = [
        line.split()[1]
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("imported")
    ]
    assert len(imported) == len(set(imported)) == 12
    with desk.home.open_store() as store, store.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 12
        entries = session.scalar(select(func.count()).select_from(LedgerEntry))
        assert entries == 12 * 3
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        audit = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
    assert audit.problems == []
