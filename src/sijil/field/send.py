"""Send the outbox through a relay with tus, resuming wherever the link dropped.

Each outbox entry keeps, in the encrypted index, ``relay.url`` (the upload's
path at the relay) and ``relay.offset`` (the last offset the relay reported).
After a cut, a crash of this process or a restart of the device, the next run
asks the relay for the true offset (HEAD) and sends only the rest. An envelope
is marked sent only when the relay confirms it checked and filed it (the
``Sijil-Stored`` header): a whole offset alone is not delivery, because the relay
can die or fill its disk between the last byte and filing. The upload's metadata
carries the envelope id, which the relay checks against the SHA-256 of
everything it received.

An invite may name several relays (an onion and a mirror, say): they are tried
in order. A relay that does not answer at all is passed over at once for the
next; one that stops answering mid-run is given up after the usual patience
(:data:`MAX_STALLED`) and the rest of the outbox goes to the next. The last relay
is always tried with full patience. ``--relay`` names one and only that one.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sijil.errors import ConfigError, RelayError, RelayUnreachable
from sijil.field.home import FieldSession
from sijil.field.inbox import adopted_relay_token
from sijil.relay.protocol import work
from sijil.relay.protocol.client import RelayClient
from sijil.relay.protocol.tus import STORED_HEADER, STORED_YES

if TYPE_CHECKING:
    import httpx

__all__ = ["SendResult", "SendStatus", "relay_addresses", "send_outbox"]

TUS = {"Tus-Resumable": "1.0.0"}
UPLOADS = "files"
# Enough for a night of a link that drops every few minutes; then the run ends
# and the next one resumes from the relay's offset anyway.
MAX_ATTEMPTS = 200
# Back off quickly at first (a cut link often comes straight back), then slowly.
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 30.0
# Tries in a row that move no byte before this run gives up (about a minute
# with the backoff above); any progress starts the count again.
MAX_STALLED = 9
READ_BLOCK = 256 << 10
# Statuses after which trying again soon may work; 409 (offset moved on) is cured
# by asking the relay for the offset again.
RETRY_STATUSES = (408, 409, 423, 429, 503)


class SendStatus(StrEnum):
    """How sending one envelope ended; the values are what is printed."""

    SENT = "sent"  # the relay checked and filed it
    FAILED = "failed"  # not delivered (yet): the next run resumes it


@dataclass(frozen=True, kw_only=True)
class SendResult:
    envelope_id: str
    status: SendStatus
    detail: str
    resumed_from: int = 0
    # not sent because the relay stopped answering (another relay may take it)
    unreachable: bool = False


Progress = Callable[[str], None]


def _blocks(path: Path, offset: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(offset)
        while block := handle.read(READ_BLOCK):
            yield block


def _reason(exc: RelayError) -> str:
    """The relay's one-line reason for a refusal, without the status prefix."""
    return str(exc).split("): ", 1)[-1]


def _offset(headers: Mapping[str, str], *, required: bool = True) -> int:
    """The relay's Upload-Offset (-1 when absent and not ``required``); a malformed one
    is the relay's fault (502)."""
    value = headers.get("upload-offset")
    if value is None and not required:
        return -1
    # ASCII digits only: a header is Latin-1, and int() refuses "²" that isdigit() takes
    if value is None or not (value.isascii() and value.isdigit()):
        raise RelayError("the relay gave no upload offset", status=502)
    return int(value)


def _stored(headers: Mapping[str, str]) -> bool:
    return headers.get(STORED_HEADER, "").strip().lower() == STORED_YES


class _Sender:
    def __init__(
        self,
        *,
        session: FieldSession,
        client: RelayClient,
        index: list[dict[str, Any]],
        sleep: Callable[[float], None],
        say: Progress,
    ) -> None:
        self.session = session
        self.client = client
        self.index = index
        self.sleep = sleep
        self.say = say

    def save(self) -> None:
        self.session.save_index(self.index)

    def create(self, envelope_id: str, size: int) -> str:
        encoded = base64.b64encode(envelope_id.encode()).decode()
        headers = {**TUS, "Upload-Length": str(size), "Upload-Metadata": f"envelope {encoded}"}
        try:
            response = self.client.request("POST", UPLOADS, headers=headers, content=b"", ok=(201,))
        except RelayError as exc:
            if exc.status != work.WORK_REQUIRED:
                raise
            # a busy relay asks strangers (no relay token) for proof of work: do it once
            headers[work.WORK_HEADER] = self.prove_work()
            response = self.client.request("POST", UPLOADS, headers=headers, content=b"", ok=(201,))
        location = response.headers.get("location")
        if not location:
            raise RelayError("the relay made an upload but gave no address for it", status=502)
        # the path only: the same upload can be resumed through another address of
        # the relay (an onion today, a mirror tomorrow) or another proxy
        return self.client.path_of(self.client.url(location))

    def prove_work(self) -> str:
        answer = self.client.request("OPTIONS", UPLOADS, headers=TUS, ok=(200, 204))
        raw = answer.headers.get(work.WORK_BITS_HEADER, "")
        bits = int(raw) if raw.isascii() and raw.isdigit() else work.WORK_BITS
        self.say(f"  the relay is busy; proving {bits} bits of work before sending")
        return work.solve(bits, now=time.time())

    def offset(self, url: str) -> tuple[int, bool] | None:
        """The relay's offset for an upload and whether it is filed; None if unknown."""
        try:
            response = self.client.request("HEAD", url, headers=TUS, ok=(200,))
        except RelayError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return _offset(response.headers), _stored(response.headers)

    def send_one(self, entry: dict[str, Any]) -> SendResult:
        envelope_id = str(entry["id"])
        path = self.session.envelope_path(envelope_id)
        if not path.is_file():
            return SendResult(
                envelope_id=envelope_id, status=SendStatus.FAILED, detail="envelope missing"
            )
        size = path.stat().st_size
        state: dict[str, Any] = entry.setdefault("relay", {})
        resumed_from = 0
        backoff = BACKOFF_FIRST_S
        stalled, best = 0, -1
        # why the last try failed: a refusal is said as what it was, not as a lost link
        refused: RelayError | None = None
        for _attempt in range(MAX_ATTEMPTS):
            if stalled >= MAX_STALLED:
                break
            try:
                stored = False
                if not state.get("url"):
                    state.update(url=self.create(envelope_id, size), offset=0)
                    self.save()
                    offset: int | None = 0
                else:
                    known = self.offset(str(state["url"]))
                    if known is None:  # expired or lost at the relay: start again
                        state.clear()
                        self.save()
                        continue
                    offset, stored = known
                    resumed_from = resumed_from or offset
                if offset != state.get("offset"):
                    state["offset"] = offset
                    self.save()
                if offset is not None and offset > best:
                    best, stalled, backoff = offset, 0, BACKOFF_FIRST_S
                if offset is not None and offset < size:
                    headers = {
                        **TUS,
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(size - offset),
                        "Upload-Offset": str(offset),
                    }
                    response = self.client.request(
                        "PATCH", str(state["url"]), headers=headers, content=_blocks(path, offset)
                    )
                    offset = _offset(response.headers, required=False)
                    stored = _stored(response.headers)
                if offset == size and stored:
                    return self.mark_sent(entry, resumed_from)
                # whole but not confirmed filed: the next HEAD makes the relay file it
            except RelayUnreachable:
                refused = None
                self.say(f"  {envelope_id[:12]}: link cut; resuming in {backoff:.1f}s")
            except RelayError as exc:
                refused = exc
                if exc.status == 460:  # the relay's copy is not what we sealed
                    state.clear()
                    self.save()
                    continue
                if exc.status not in RETRY_STATUSES:
                    return SendResult(
                        envelope_id=envelope_id, status=SendStatus.FAILED, detail=str(exc)
                    )
                self.say(f"  {envelope_id[:12]}: {exc}; trying again in {backoff:.1f}s")
            stalled += 1
            self.sleep(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)
        detail = "the relay could not be reached for long; run again to resume"
        if refused is not None:
            detail = (
                f"the relay kept refusing ({refused.status}: {_reason(refused)}); "
                "run again later to resume"
            )
        return SendResult(
            envelope_id=envelope_id,
            status=SendStatus.FAILED,
            detail=detail,
            unreachable=refused is None,
        )

    def mark_sent(self, entry: dict[str, Any], resumed_from: int) -> SendResult:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        entry["relay"] = {"sent_at": now}
        entry.setdefault("exported", []).append({"channel": "relay", "at": now})
        self.save()
        detail = f"resumed at byte {resumed_from}" if resumed_from else "sent whole"
        return SendResult(
            envelope_id=str(entry["id"]),
            status=SendStatus.SENT,
            detail=detail,
            resumed_from=resumed_from,
        )


def relay_addresses(session: FieldSession, relay: str | None = None) -> list[str]:
    """The relays to try, in order: ``relay`` alone if given, else the invite's."""
    if relay:
        return [relay]
    listed = str(session.settings.get("relays") or "").split()
    first = str(session.settings.get("relay") or "")
    return listed or ([first] if first else [])


def _answers(client: RelayClient) -> bool:
    """True if the relay answers at all (any HTTP status); False if it cannot be reached."""
    try:
        client.request("OPTIONS", UPLOADS, headers=TUS, ok=(200, 204))
    except RelayUnreachable:
        return False
    except RelayError:
        return True  # it answered, if only to refuse: sending will say what is wrong
    return True


def send_outbox(
    session: FieldSession,
    *,
    relay: str | None = None,
    proxy: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[SendResult]:
    """Upload every envelope not yet sent, through the first relay that takes it.

    Returns one result per envelope tried (its last try). ``transport`` carries
    the requests instead of the network (see ``RelayClient``).
    """
    addresses = relay_addresses(session, relay)
    if not addresses:
        raise ConfigError("no relay address: give --relay (the invite named none)")
    say = progress or (lambda _line: None)
    # the network's: the newest a desk reply brought (a rotation), else the invite's
    token = adopted_relay_token(session) or session.settings.get("relay_token") or None
    index = session.load_index()
    results: dict[str, SendResult] = {}
    for number, address in enumerate(addresses, start=1):
        pending = [e for e in index if not e.get("relay", {}).get("sent_at")]
        if not pending:
            break
        last = number == len(addresses)
        with RelayClient(address, proxy=proxy, transport=transport, relay_token=token) as client:
            if not last and not _answers(client):
                say(f"relay {number} of {len(addresses)} cannot be reached; trying the next")
                continue
            sender = _Sender(session=session, client=client, index=index, sleep=sleep, say=say)
            for entry in pending:
                result = sender.send_one(entry)
                results[result.envelope_id] = result
                say(f"{result.status:<7}{result.envelope_id[:16]}  {result.detail}")
                if result.unreachable and not last:
                    say(f"relay {number} of {len(addresses)} stopped answering; trying the next")
                    break
    return [results[str(e["id"])] for e in index if str(e["id"]) in results]
