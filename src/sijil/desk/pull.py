"""Pull envelopes from a relay: list, download, import, acknowledge.

Every request is signed with the desk's Ed25519 key (see ``sijil.relay.protocol.auth``).
An envelope is acknowledged, and so deleted at the relay, only once intake has
kept it: imported, already known, or quarantined with its reason. A download
whose bytes do not hash to the envelope id, or that runs past the size the relay
listed for it, is neither imported nor acknowledged; the next pull tries again
(status ``waiting``). So is an envelope intake skipped (too large to quarantine).

The relay lists envelopes in id order, so one envelope that always fails would sit
at the head of every listing: no single envelope may stop a pull. One the relay
will not hand over (gone meanwhile, a 404 or 5xx for that file alone) waits at the
relay and the pull goes on. One whose import stopped intake
(:class:`~sijil.errors.IntakeAborted`: disk full, database down) waits too, and
the pull tries the next: when that one imports, the machine is fine and the
failure was the envelope's own; when it stops intake as well, or no envelope
follows, the failure is the machine's and the pull stops with that error, the
relay keeping the rest. A refusal of the desk itself (a bad signature, the
relay's limits) or an unreachable relay stops the pull from that relay at once.

A desk may pull from several relays (:func:`pull_relays`), one after the other:
a relay that cannot be reached or refuses the desk does not stop the others,
and is named at the end; a failure of the desk's own machine stops them all.

``take`` decides what becomes of a verified download: inline intake by
default, or (``desk pull --queue``) keeping it in the vault for a worker
(:mod:`sijil.jobs`), reported ``queued``, which counts as kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.intake import ImportOutcome, ImportStatus, Progress, import_paths
from sijil.errors import (
    IntakeAborted,
    RelayAuthError,
    RelayError,
    RelayLimitExceeded,
    RelayUnreachable,
)
from sijil.relay.protocol.auth import sign_request
from sijil.relay.protocol.client import LONGER_THAN_LISTED, RelayClient
from sijil.relay.protocol.tus import DEFAULT_MAX_ENVELOPE_BYTES
from sijil.store import Store

__all__ = ["MAX_RELAYS", "Taker", "pull_envelopes", "pull_relays"]

# What intake did with an envelope that lets the relay delete its copy.
_KEPT = frozenset(
    {ImportStatus.IMPORTED, ImportStatus.DUPLICATE, ImportStatus.QUARANTINED, ImportStatus.QUEUED}
)
# A desk pulls from a few relays (an onion and a mirror, one per network), not hundreds.
MAX_RELAYS = 16

#: What becomes of one verified download: ``take(path, progress)``, one outcome each.
Taker = Callable[[Path, Progress | None], list[ImportOutcome]]

# One pull takes at most this many; the rest wait for the next pull.
MAX_PER_PULL = 1000
_ID = re.compile(r"[0-9a-f]{64}")
# What a relay accepts by default; a listing above it is a relay gone wrong, and a
# download is never let grow past what was listed (a relay must not fill the desk).
MAX_PULL_BYTES = DEFAULT_MAX_ENVELOPE_BYTES
# Bytes one pull downloads at most; the rest wait at the relay for the next pull. The
# relay cannot tell junk behind a valid-looking age header from an envelope (it has
# no key), so a stranger's junk is delivered: this bounds what it costs the desk's
# disk and time per run (a few long videos; a desk laptop's spare room).
MAX_PULL_TOTAL_BYTES = 8 << 30
# A relay that is busy (429, 503) or a link that drops is tried again, backing off
# from RETRY_FIRST_S to RETRY_MAX_S, RETRIES times at most (about two minutes in all):
# a flood at the relay delays a pull, it does not end it at the first refusal.
RETRIES = 6
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
_BUSY = (429, 503)
T = TypeVar("T")


def _retrying(call: Callable[[], T], sleep: Callable[[float], None], *, cuts: bool = True) -> T:
    """``call()``, tried again with backoff while the relay is busy (or, with ``cuts``,
    the link drops). A relay that cannot be reached at all for its listing is not
    waited for: the pull stops at once with that, and runs again later."""
    wait = RETRY_FIRST_S
    for _attempt in range(RETRIES):
        try:
            return call()
        except RelayError as exc:
            cut = isinstance(exc, RelayUnreachable)
            if (cut and not cuts) or (not cut and exc.status not in _BUSY):
                raise
        sleep(wait)
        wait = min(RETRY_MAX_S, wait * 2)
    return call()  # the last try's refusal is the answer


def _refused_for_this_envelope(exc: RelayError) -> bool:
    """The relay would not hand over this one envelope; the others may still come."""
    if isinstance(exc, RelayAuthError | RelayLimitExceeded | RelayUnreachable):
        return False  # about the desk or the relay as a whole
    return exc.status == LONGER_THAN_LISTED or exc.status in (404, 410) or exc.status >= 500


def pull_envelopes(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    relay: str,
    proxy: str | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
    max_envelope_bytes: int = MAX_PULL_BYTES,
    take: Taker | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_total_bytes: int = MAX_PULL_TOTAL_BYTES,
) -> list[ImportOutcome]:
    """Import every envelope waiting at ``relay``; return one outcome per envelope."""
    outcomes: list[ImportOutcome] = []
    budget = max_total_bytes

    def inline(target: Path, shown: Progress | None) -> list[ImportOutcome]:
        return import_paths(home, identity, store, [target], channel="relay", progress=shown)

    take = take or inline
    home.staging.mkdir(parents=True, exist_ok=True)
    with RelayClient(relay, proxy=proxy) as client:

        def signed(method: str, url: str) -> dict[str, str]:
            path = client.path_of(client.url(url))
            return sign_request(identity.sign, method=method, path=path, body=b"", now=clock())

        # each try is signed anew: a nonce the relay saw before a cut would be a replay
        def download(url: str, target: Path, size: int) -> str:
            return client.download(url, target, headers=signed("GET", url), max_bytes=size)

        def acknowledge(url: str) -> None:
            client.request("DELETE", url, headers=signed("DELETE", url), ok=(204, 404))

        listing = _retrying(
            lambda: client.request(
                "GET", "v1/desk/envelopes", headers=signed("GET", "v1/desk/envelopes"), ok=(200,)
            ),
            sleep,
            cuts=False,
        )
        try:
            listed = [(str(item["id"]), int(item["size"])) for item in listing.json()["envelopes"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise RelayError("the relay's envelope list does not parse", status=502) from exc
        # an import that stopped intake, until a later import shows the machine is fine:
        # a failing disk or database stops every envelope, a poisoned one only itself
        unexplained: IntakeAborted | None = None

        def waiting(envelope_id: str, problem: str) -> None:
            outcome = ImportOutcome(
                source=f"{envelope_id}.age",
                status=ImportStatus.WAITING,
                detail=f"{problem}; it stays at the relay for next time",
                envelope_id=envelope_id,
            )
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)

        for envelope_id, size in listed[:MAX_PER_PULL]:
            if not _ID.fullmatch(envelope_id):
                continue
            url = f"v1/desk/envelopes/{envelope_id}"
            target = home.staging / f"{envelope_id}.age"
            try:
                if not 0 < size <= max_envelope_bytes:
                    waiting(envelope_id, "the relay lists it at an impossible size; not downloaded")
                    continue
                if size > budget:
                    waiting(envelope_id, "this pull has taken its byte budget; not downloaded")
                    continue
                budget -= size
                try:
                    digest = _retrying(partial(download, url, target, size), sleep)
                except RelayError as exc:
                    if not _refused_for_this_envelope(exc):
                        raise
                    waiting(envelope_id, str(exc))
                    continue
                if digest != envelope_id:
                    waiting(envelope_id, "the download was damaged")
                    continue
                try:
                    taken = take(target, progress)
                except IntakeAborted as exc:
                    if unexplained is not None:
                        raise  # two in a row: the machine, not the envelopes
                    unexplained = exc
                    waiting(envelope_id, str(exc))
                    continue
                unexplained = None
                outcomes += taken
                if taken and all(outcome.status in _KEPT for outcome in taken):
                    _retrying(partial(acknowledge, url), sleep)
            finally:
                target.unlink(missing_ok=True)
        if unexplained is not None:
            raise unexplained  # nothing after it imported: the machine may be failing
    return outcomes


def pull_relays(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    relays: Sequence[str],
    proxy: str | None = None,
    progress: Progress | None = None,
    take: Taker | None = None,
) -> list[ImportOutcome]:
    """Pull from each of ``relays`` in turn; return every outcome.

    A relay that is unreachable or refuses the desk is skipped and the others
    are pulled; then the first such failure is raised (as a RelayError naming
    how many relays failed). A failure of this machine (IntakeAborted) stops all.
    """
    if not relays:
        raise RelayError("give at least one relay address", status=400)
    if len(relays) > MAX_RELAYS:
        raise RelayError(f"at most {MAX_RELAYS} relays in one pull", status=400)
    outcomes: list[ImportOutcome] = []
    failed: list[tuple[int, RelayError]] = []
    for number, relay in enumerate(dict.fromkeys(relays), start=1):
        try:
            outcomes += pull_envelopes(
                home, identity, store, relay=relay, proxy=proxy, progress=progress, take=take
            )
        except RelayError as exc:
            failed.append((number, exc))
    if failed:
        number, first = failed[0]
        if len(relays) == 1:
            raise first
        raise type(first)(
            f"{len(failed)} of {len(relays)} relays could not be pulled (relay {number}: {first})",
            status=first.status,
        ) from first
    return outcomes
