"""Helpers for the work-queue tests: a scaled desk, a set of envelopes, worker processes.

A *scaled desk* is a desk on a fresh PostgreSQL schema whose vault is a fresh
prefix on the real SeaweedFS server (tests/s3_server.py). Workers are the real
``sijil desk worker`` command in processes of their own, forked from a server
that imported sijil once (tests/cli_process.py), so each starts in milliseconds
and a SIGKILL leaves what a power cut would. Every wait is a poll of a condition
with a deadline; none is a sleep standing in for one.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from sqlalchemy import func, select

from cli_process import start_cli
from conftest import PASSPHRASE, DeskFixture
from neardup_set import generated
from relay_helpers import compose_random
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.jobs.queue import job_counts
from sijil.store import Attachment, LedgerEntry, MediaMatch, QuarantineItem, Report

# Every wait in these tests is bounded by this; a test that reaches it has failed.
DRAIN_DEADLINE_S = 120.0
POLL_S = 0.2
# A worker silent this long counts as dead: short, so a killed worker's job comes
# back within seconds; its heartbeat every third of it keeps live ones apart. Not
# shorter: a pruned worker's row is deleted, and a live worker whose beats were late
# on a loaded 2-core machine (3 s was seen) would be pruned and never seen again.
STALLED_AFTER_S = 8.0


@dataclass
class EnvelopeSet:
    """Sealed envelopes in ``folder``: which are valid, which tampered, which pairs match."""

    folder: Path
    valid: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    # (envelope id, envelope id) whose photos are near-duplicates of each other
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _jpeg(seed: int, quality: int) -> bytes:
    out = io.BytesIO()
    generated(seed, (320, 240)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def seal_set(
    people: list[FieldSession],
    tmp: Path,
    *,
    pairs: int,
    sizes: list[int],
    tampered: int,
    tag: str,
) -> EnvelopeSet:
    """Seal near-duplicate photo pairs (one of each pair per person), random files of
    ``sizes`` bytes, and ``tampered`` envelopes with a byte flipped; export them all."""
    work = tmp / f"sealing-{tag}"
    work.mkdir()
    made = EnvelopeSet(folder=tmp / f"set-{tag}")
    seed = random.Random(tag).randrange(1 << 20)
    for i in range(pairs):
        ids = []
        for quality, person in zip((92, 70), people[:2], strict=True):
            photo = work / f"p{i}-{quality}.jpg"
            photo.write_bytes(_jpeg(seed + i, quality))
            draft = Draft(title=f"{tag} photo {i}", body="صورة", lang="ar")
            ids.append(compose(person, draft, [photo]).envelope_id)
        made.pairs.append((ids[0], ids[1]))
        made.valid += ids
    for i, size in enumerate(sizes):
        made.valid.append(compose_random(people[i % len(people)], work, f"{tag}-r{i}", size))
    bad = [compose_random(people[0], work, f"{tag}-t{i}", 2048) for i in range(tampered)]
    for person in people:
        export_outbox(person, made.folder)
    for envelope_id in bad:
        path = made.folder / f"{envelope_id}.age"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x55  # a flipped byte inside the payload
        path.unlink()
        tampered_id = _sha256(bytes(data))
        (made.folder / f"{tampered_id}.age").write_bytes(bytes(data))
        made.tampered.append(tampered_id)
    # the outbox keeps every envelope: later exports would carry these again
    for person in people:
        for envelope in person.home.outbox.glob("*.age"):
            envelope.unlink()
    return made


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def cli_env() -> dict[str, str]:
    """This process's environment (the AWS test key included), sijil's own settings left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJIL_")}
    env["SIJIL_PASSPHRASE"] = PASSPHRASE
    return env


@dataclass
class Workers:
    """``sijil desk worker`` processes on one desk; stopped (SIGTERM, then SIGKILL) at the end."""

    desk: DeskFixture
    logs: Path
    running: list[BaseProcess] = field(default_factory=list)

    def start(self, *, crash_at: str | None = None, concurrency: int = 1) -> BaseProcess:
        env = cli_env()
        if crash_at:
            env["SIJIL_TEST_CRASH_AT"] = crash_at
        argv = ["desk", "worker", *self.desk.args, "--stalled-after", str(STALLED_AFTER_S)]
        argv += ["--concurrency", str(concurrency)]
        output = self.logs / f"worker-{len(self.running)}.out"
        process = start_cli(argv, env, output)
        self.running.append(process)
        return process

    def output(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("worker-*.out")))

    def stop(self) -> list[int | None]:
        """SIGTERM every live worker and wait: each finishes its job and exits 0."""
        for process in self.running:
            if process.exitcode is None and process.pid:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.running:
            process.join(DRAIN_DEADLINE_S)
            if process.exitcode is None:
                process.kill()
                process.join(DRAIN_DEADLINE_S)
        codes = [p.exitcode for p in self.running]
        self.running = []
        return codes


def make_workers(desk: DeskFixture, logs: Path) -> Iterator[Workers]:
    logs.mkdir(exist_ok=True)
    workers = Workers(desk=desk, logs=logs)
    try:
        yield workers
    finally:
        workers.stop()


def wait_for(
    condition: Callable[[], bool], what: str, deadline_s: float = DRAIN_DEADLINE_S
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL_S)  # polling a condition, bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}")


def drained(desk: DeskFixture) -> bool:
    """True once no intake job is waiting or running."""
    assert desk.home.db_url
    counts = job_counts(desk.home.db_url)
    return not counts.get("todo") and not counts.get("doing")


def scaled_home(desk: DeskFixture, vault_url: str) -> DeskFixture:
    """Point ``desk``'s vault at the object store (a new desk may write vault.json itself)."""
    desk.home.vault_config.write_text(json.dumps({"url": vault_url}))
    return desk


@dataclass(frozen=True)
class Registered:
    reported: list[str]  # envelope ids with a report (the column is unique)
    quarantined: set[str]  # SHA-256 of each quarantined input
    # envelope ids whose arrival the ledger records more than once
    logged_twice: list[str]
    # attachment id pairs recorded as near-duplicates (either direction)
    matches: set[frozenset[int]]
    attachment_of: dict[str, int]  # envelope id: its first attachment's id


def registered(desk: DeskFixture) -> Registered:
    with desk.home.open_store() as store, store.session() as session:
        reported = [str(e) for e in session.scalars(select(Report.envelope_id))]
        quarantined = {str(s) for s in session.scalars(select(QuarantineItem.sha256))}
        twice = [
            str(s)
            for s in session.scalars(
                select(LedgerEntry.subject)
                .where(LedgerEntry.kind == "envelope.received")
                .group_by(LedgerEntry.subject)
                .having(func.count() > 1)
            )
        ]
        matches = {
            frozenset((int(a), int(b)))
            for a, b in session.execute(select(MediaMatch.attachment_id, MediaMatch.other_id))
        }
        firsts = session.execute(
            select(Report.envelope_id, Attachment.id)
            .join(Attachment, Attachment.report_id == Report.id)
            .where(Attachment.position == 0)
        )
        attachment_of = {str(e): int(a) for e, a in firsts}
    return Registered(
        reported=reported,
        quarantined=quarantined,
        logged_twice=twice,
        matches=matches,
        attachment_of=attachment_of,
    )


def assert_outcome(desk: DeskFixture, made: EnvelopeSet) -> Registered:
    """Each valid envelope registered once, each tampered one quarantined, pairs matched."""
    found = registered(desk)
    assert sorted(found.reported) == sorted(set(made.valid))
    assert found.logged_twice == []
    assert set(made.tampered) <= found.quarantined
    for a, b in made.pairs:
        pair = frozenset((found.attachment_of[a], found.attachment_of[b]))
        assert pair in found.matches, f"the near-duplicates {a[:8]} and {b[:8]} were not matched"
    return found
