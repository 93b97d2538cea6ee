"""The public site as a job: brought up to date after a post, or built whole.

``sijil publish post|correct|retract --queue`` leave the update of the site built
last to a worker (:func:`sijil.publish.incremental.update_site`), and ``sijil publish
build --queue`` a full build (:func:`sijil.publish.site.build_site`). The update is
idempotent: it shows the log entries published since the site's marker, so a run
with nothing new writes nothing, and one waiting update covers every post made
while it waits (the queueing lock keeps one waiting; see :mod:`sijil.jobs.queue`).

The site is a folder (``publish-site.json`` in the desk home names it): the worker
that takes the job writes there, so site jobs need workers on the machine holding
it (or a shared folder).
"""

from __future__ import annotations

from pathlib import Path

from sijil.desk.boundary import machine_failure
from sijil.errors import IntakeAborted
from sijil.jobs.work import WorkerDesk
from sijil.publish.incremental import update_site
from sijil.publish.site import build_site

__all__ = ["run_site"]


def run_site(desk: WorkerDesk, *, out: str, templates: str) -> str:
    """Update the site in place (``out`` empty) or build it whole into ``out``; one line."""
    try:
        if not out:
            updated = update_site(desk.home, desk.store)
            if updated is None:
                return "site: none built yet, nothing to update (sijil publish build)"
            return f"site updated: {updated.written} files written in {updated.site}"
        built = build_site(
            desk.home, desk.store, Path(out), templates=Path(templates) if templates else None
        )
        return f"site built: {built.out}: {built.log_size} post(s), {built.files} files"
    except Exception as exc:
        if machine_failure(exc):  # retried later (sijil.jobs.worker.MachineRetry)
            raise IntakeAborted(
                f"the site job stopped ({type(exc).__name__}): the machine or a service"
                " failed; it will be tried again"
            ) from exc
        raise
