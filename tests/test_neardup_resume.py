"""An import killed between registering a report and fingerprinting its photos.

The report is safe (registered, its attachments in the vault) but has no media
fingerprints, so its near-duplicates would never be found. Taking the same
envelopes again, as a retried job or a second ``sijil desk import`` does, must
fingerprint exactly what is missing: each photo once, and the pair matched.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from cli_process import start_cli
from conftest import DeskFixture
from jobs_helpers import cli_env, registered, seal_set
from sijil.field.home import FieldSession
from sijil.store import Attachment, MediaPrintRow

RUN_TIMEOUT_S = 60


def _import(desk: DeskFixture, folder: Path, output: Path, crash_at: str | None) -> int | None:
    env = cli_env()
    if crash_at:
        env["SIJIL_TEST_CRASH_AT"] = crash_at
    argv = ["desk", "import", "--channel", "usb", *desk.args, str(folder)]
    process = start_cli(argv, env, output)
    process.join(RUN_TIMEOUT_S)
    return process.exitcode


def _prints_per_attachment(desk: DeskFixture) -> list[int]:
    with desk.home.open_store() as store, store.session() as session:
        counts = session.execute(
            select(Attachment.id, func.count(MediaPrintRow.id))
            .outerjoin(MediaPrintRow, MediaPrintRow.attachment_id == Attachment.id)
            .group_by(Attachment.id)
            .order_by(Attachment.id)
        ).all()
    return [int(n) for _a, n in counts]


def test_a_second_take_fingerprints_what_a_killed_import_left_unprinted(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> None:
    # Given two correspondents' near-duplicate photos on a stick
    desk = make_desk(store_url)
    people = [make_correspondent(desk, "Raven"), make_correspondent(desk, "Owl")]
    made = seal_set(people, tmp_path, pairs=1, sizes=[], tampered=0, tag="resume")
    # When the import is killed after registering the first report, before its prints
    code = _import(desk, made.folder, tmp_path / "first.out", "intake.fingerprint:1")
    assert code == -signal.SIGKILL, (tmp_path / "first.out").read_text()
    assert len(registered(desk).reported) == 1
    assert _prints_per_attachment(desk) == [0]
    # and the stick is imported again
    code = _import(desk, made.folder, tmp_path / "second.out", None)
    assert code == 0, (tmp_path / "second.out").read_text()
    # Then both reports are registered, each photo printed once, and the pair matched
    found = registered(desk)
    assert sorted(found.reported) == sorted(made.valid)
    assert _prints_per_attachment(desk) == [1, 1]
    a, b = made.pairs[0]
    assert frozenset((found.attachment_of[a], found.attachment_of[b])) in found.matches
    # and a third take changes nothing
    assert _import(desk, made.folder, tmp_path / "third.out", None) == 0
    assert _prints_per_attachment(desk) == [1, 1]
    assert registered(desk).matches == found.matches
