"""The public site as a job of the work queue, on PostgreSQL.

``sijil publish post|correct|retract --queue`` commit the post and leave the site's
update to a worker; ``sijil publish build --queue`` leaves a whole build to one. One
update and one build wait at a time (a waiting update shows every post made before it
runs), an update with nothing new writes nothing, and a SQLite desk refuses ``--queue``
in one line before writing anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import CliResult, DeskFixture, _postgres_schema_url, desk_with_evidence
from publish_helpers import PublishDesk, publish_desk
from sijil.crypto.kdf import KdfParams
from sijil.field.home import FieldSession
from sijil.jobs.enqueue import enqueue_site
from sijil.jobs.queue import job_counts
from sijil.store import Publication, Store


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (the queue needs PostgreSQL; skipped without it)."""
    yield from _postgres_schema_url()


def _publish_desk(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    url: str | None,
    fast_kdf: KdfParams,
    tmp_path: Path,
) -> PublishDesk:
    url = url or Store.sqlite_url(tmp_path / "sijil.db")
    evidence = desk_with_evidence(make_desk, make_correspondent, url, tmp_path)
    return publish_desk(evidence, fast_kdf)


@pytest.fixture
def queued_desk(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    pg_url: str,
    fast_kdf: KdfParams,
    tmp_path: Path,
) -> PublishDesk:
    """A desk on PostgreSQL ready to publish (a reviewed incident and verdict, a key)."""
    return _publish_desk(make_desk, make_correspondent, pg_url, fast_kdf, tmp_path)


def _args(desk: PublishDesk) -> list[str]:
    return desk.work.evidence.desk.args


def _files(site: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the site with its modification time and bytes."""
    return {
        str(p.relative_to(site)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


def _work(run_cli: Callable[..., CliResult], desk: PublishDesk) -> str:
    """One worker in this process until the queue is empty; its output."""
    worked = run_cli("desk", "worker", "--until-idle", *_args(desk))
    assert worked.code == 0, worked.err
    assert "Traceback" not in worked.out + worked.err
    assert job_counts(_url(desk)) == {}
    return worked.out


def _url(desk: PublishDesk) -> str:
    url = desk.work.evidence.desk.home.db_url
    assert url
    return url


def test_posts_with_queue_leave_the_site_update_to_a_worker_and_a_rerun_writes_nothing(
    queued_desk: PublishDesk, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    desk = queued_desk
    args = [*_args(desk), "--as", "badr"]
    site = tmp_path / "site"
    assert run_cli("publish", "build", *_args(desk), "--out", str(site)).code == 0
    # Given two posts made with --queue, the second while the first's update waits
    assert run_cli("publish", "attest", *args, desk.code).code == 0
    first = run_cli("publish", "post", "--queue", *args, desk.code)
    assert first.code == 0, first.err
    assert "site update queued" in first.out and "site updated" not in first.out
    assert run_cli("publish", "attest", *args, desk.verdict).code == 0
    second = run_cli("publish", "post", "--queue", *args, desk.verdict)
    assert second.code == 0, second.err
    assert "site update already waiting" in second.out
    assert job_counts(_url(desk)) == {"todo": 1}  # one update waits, not two
    assert not (site / "posts" / "0.json").exists()
    # When a worker runs
    out = _work(run_cli, desk)
    # Then the one update showed both posts, signed, as the log holds them
    assert "site updated: " in out
    with desk.tx() as s:
        assert s.scalar(select(func.count()).select_from(Publication)) == 2
        for index in (0, 1):
            post = s.get(Publication, index)
            assert post is not None
            assert (site / "posts" / f"{index}.json").read_bytes() == post.body
    assert json.loads((site / ".sijil-site").read_text())["log_size"] == 2
    assert run_cli("publish", "verify", str(site)).code == 0
    # When another update is queued and run with nothing new published
    before = _files(site)
    assert enqueue_site(desk.work.evidence.desk.home)
    again = _work(run_cli, desk)
    # Then it writes nothing: not a file, not a modification time
    assert "site updated: 0 files written" in again
    assert _files(site) == before
    # And a correction and a retraction queue theirs the same way
    reason = ["--reason-ar", "تصحيح", "--reason-en", "a typo"]
    corrected = run_cli("publish", "correct", "--queue", *args, *reason, desk.verdict)
    assert corrected.code == 0 and "site update queued" in corrected.out, corrected.err
    retracted = run_cli("publish", "retract", "--queue", *args, *reason, desk.claim)
    assert retracted.code == 0 and "site update already waiting" in retracted.out
    _work(run_cli, desk)
    with desk.tx() as s:
        tomb = s.get(Publication, 3)
        assert tomb is not None
    assert (site / "posts" / "3.json").read_bytes() == tomb.body
    assert run_cli("publish", "verify", str(site)).code == 0


def test_build_with_queue_leaves_a_whole_build_to_a_worker(
    queued_desk: PublishDesk, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    desk = queued_desk
    args = [*_args(desk), "--as", "badr"]
    assert run_cli("publish", "attest", *args, desk.code).code == 0
    assert run_cli("publish", "post", *args, desk.code).code == 0  # inline: no site yet
    # Given a build queued twice before any worker runs
    site = tmp_path / "public"
    queued = run_cli("publish", "build", "--queue", *_args(desk), "--out", str(site))
    assert queued.code == 0, queued.err
    assert queued.out.startswith("site build queued: ")
    twice = run_cli("publish", "build", "--queue", *_args(desk), "--out", str(site))
    assert twice.code == 0 and "a site build is already waiting" in twice.out
    assert not site.exists()
    # When a worker runs: one build, into the folder named
    out = _work(run_cli, desk)
    assert out.count("site built: ") == 1
    # Then the site is there, whole, and later updates go to it
    assert json.loads((site / ".sijil-site").read_text())["log_size"] == 1
    assert run_cli("publish", "verify", str(site)).code == 0
    assert run_cli("publish", "attest", *args, desk.verdict).code == 0
    assert run_cli("publish", "post", "--queue", *args, desk.verdict).code == 0
    assert "site updated: " in _work(run_cli, desk)
    assert (site / "posts" / "1.json").exists()


def test_a_sqlite_desk_refuses_queued_site_work_in_one_line_and_writes_nothing(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    fast_kdf: KdfParams,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    desk = _publish_desk(make_desk, make_correspondent, None, fast_kdf, tmp_path)
    args = [*_args(desk), "--as", "badr"]
    assert run_cli("publish", "attest", *args, desk.code).code == 0
    for argv in (
        ["publish", "post", "--queue", *args, desk.code],
        ["publish", "build", "--queue", *_args(desk), "--out", str(tmp_path / "site")],
    ):
        result = run_cli(*argv)
        assert result.code == 1, argv
        assert result.err.count("\n") == 1 and "needs a desk on PostgreSQL" in result.err
    with desk.tx() as s:
        assert s.scalar(select(func.count()).select_from(Publication)) == 0
    assert not (tmp_path / "site").exists()
