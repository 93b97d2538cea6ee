"""What an intake job does: take one envelope kept in the vault, or backfill media fingerprints.

(Thumbnails: :mod:`sijil.jobs.thumbs`; the public site: :mod:`sijil.jobs.site`.)

A job runs the same intake as ``sijil desk import`` (:class:`sijil.desk.intake.Intake`),
on the sealed envelope copied back out of the vault into this worker's own
staging folder (the vault checks it against its address on the way). So a job
ends as an inline import does: imported, duplicate, or quarantined with its
reason; and a failure of the machine or a service raises
:class:`~sijil.errors.IntakeAborted`, which the queue retries later
(:data:`sijil.jobs.worker.RETRY`).

Running a job twice is harmless: registration takes the ledger's lock and checks
the envelope id, so the second run reports a duplicate. That is what makes a
worker killed mid-job safe to retry.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from sijil.crypto.identity import DeskIdentity
from sijil.desk.boundary import aborted, input_name, machine_failure
from sijil.desk.home import DeskHome
from sijil.desk.inputs import ImportOutcome, Progress, own_staging
from sijil.desk.intake import Intake, issue_head_if_due
from sijil.desk.neardup.backfill import Backfilled, backfill
from sijil.errors import IntakeAborted
from sijil.store import Store
from sijil.vault import Vault

__all__ = ["WorkerDesk", "run_backfill", "take_envelope"]


@dataclass
class WorkerDesk:
    """What one worker process opens once and every job uses: the desk, unlocked."""

    home: DeskHome
    identity: DeskIdentity
    store: Store
    vault: Vault
    emit: Progress
    # a job's one-line report that is not an intake outcome (a site update)
    note: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


def take_envelope(
    desk: WorkerDesk, *, envelope_id: str, channel: str, source: str
) -> list[ImportOutcome]:
    """Take the envelope ``envelope_id`` (kept in the vault) through intake."""
    outcomes: list[ImportOutcome] = []

    def emit(outcome: ImportOutcome) -> None:
        outcomes.append(outcome)
        desk.emit(outcome)

    name = input_name(source) or f"{envelope_id}.age"
    try:
        staging = own_staging(desk.home.staging)
        try:
            intake = Intake(
                home=desk.home,
                identity=desk.identity,
                store=desk.store,
                channel=channel,
                emit=emit,
                vault=desk.vault,
                staging=staging,
                current=name,
            )
            # outcomes and a quarantined input carry the arrival name (``source``)
            target = staging / f"{envelope_id}.age"
            desk.vault.copy_to(envelope_id, target)
            touched = intake.take(target, source=name, channel=channel)
            intake.finish(touched)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        issue_head_if_due(desk.home, desk.identity, desk.store)
    except IntakeAborted:
        raise
    except Exception as exc:
        if machine_failure(exc):
            raise aborted(exc, name) from exc
        raise
    return outcomes


def run_backfill(desk: WorkerDesk) -> list[Backfilled]:
    """Fingerprint and match every attachment that has no fingerprint yet (oldest first)."""
    try:
        return backfill(desk.store, desk.home.root, open_blob=desk.vault.open_plain)
    except Exception as exc:
        if machine_failure(exc):
            raise aborted(exc, None) from exc
        raise
