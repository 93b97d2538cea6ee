"""Quarantine retry: take kept inputs through intake again, after a fix or a false alarm.

Each item's bytes come out of the vault (verified against their address) into
this run's staging folder and go through the same path as any import. An item
that is now imported, a duplicate, or shards that now wait in the pool is
*released*: its row says so and an ``input.released`` ledger entry records it
(its blob stays in the vault). One that fails again stays quarantined, under its
new reason. A duplicate never becomes a second report: registration checks the
envelope and the signed manifest, as for any import.

A machine failure stops the retry like an import (IntakeAborted): the item is
left quarantined, as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.inputs import ImportOutcome, ImportStatus, Progress
from sijil.desk.intake import Intake, open_intake
from sijil.desk.quarantine import adopt_legacy, release
from sijil.errors import NotFound
from sijil.store import QuarantineItem, Store
from sijil.store.models import QuarantineState

__all__ = ["RetryResult", "retry_quarantined"]


@dataclass(frozen=True, kw_only=True)
class RetryResult:
    """What one retry made of one quarantined item."""

    item: int
    source: str
    released: bool
    # what intake said about it this time (several for a text of shards)
    outcomes: tuple[ImportOutcome, ...]
    detail: str


def _chosen(store: Store, ids: Sequence[int] | None) -> list[QuarantineItem]:
    query = select(QuarantineItem).order_by(QuarantineItem.id)
    if ids is None:
        query = query.where(QuarantineItem.state == QuarantineState.QUARANTINED.value)
    else:
        query = query.where(QuarantineItem.id.in_(list(ids)))
    with store.session() as session:
        items = list(session.scalars(query))
    if ids is not None:
        missing = sorted(set(ids) - {item.id for item in items})
        if missing:
            raise NotFound(f"no quarantine item #{missing[0]} (see 'sijil desk quarantine list')")
        done = [item.id for item in items if item.state != QuarantineState.QUARANTINED]
        if done:
            raise NotFound(f"quarantine item #{done[0]} was released already")
    return items


def retry_quarantined(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    ids: Sequence[int] | None = None,
    *,
    progress: Progress | None = None,
) -> list[RetryResult]:
    """Retry the items ``ids`` (every quarantined item if None); one result per item."""
    items = _chosen(store, ids)
    results: list[RetryResult] = []
    seen: list[ImportOutcome] = []

    def emit(outcome: ImportOutcome) -> None:
        seen.append(outcome)
        if progress is not None:
            progress(outcome)

    with open_intake(home, identity, store, channel="file", emit=emit) as intake:
        for item in items:
            seen.clear()
            results.append(_retry_one(intake, item, seen))
    return results


def _retry_one(intake: Intake, item: QuarantineItem, seen: list[ImportOutcome]) -> RetryResult:
    source = item.source_name
    intake.current = source
    problem = adopt_legacy(intake.store, intake.vault, intake.home.root, item)
    if problem is None and not intake.vault.has(item.sha256):
        problem = "its stored file is missing from the vault ('sijil verify' names it)"
    if problem is not None:
        return RetryResult(item=item.id, source=source, released=False, outcomes=(), detail=problem)
    copy = intake.staging / f"retry-{item.id}"
    intake.vault.copy_to(item.sha256, copy)  # verified: BlobAltered stops the run
    intake.retrying = item.id
    try:
        touched = intake.take(copy, source=source, channel=item.channel or "file")
        intake.finish(touched)
    finally:
        intake.retrying = None
        copy.unlink(missing_ok=True)
    outcomes = tuple(seen)
    stuck = [o for o in outcomes if o.status in (ImportStatus.QUARANTINED, ImportStatus.SKIPPED)]
    if stuck or not outcomes:
        detail = stuck[0].detail if stuck else "intake said nothing about it"
        return RetryResult(
            item=item.id, source=source, released=False, outcomes=outcomes, detail=detail
        )
    taken = next((o for o in outcomes if o.status is ImportStatus.IMPORTED), outcomes[0])
    release(intake.store, item.id, outcome=taken.status.value, report=taken.report_id)
    return RetryResult(
        item=item.id, source=source, released=True, outcomes=outcomes, detail=taken.detail
    )
