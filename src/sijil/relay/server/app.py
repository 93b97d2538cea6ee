"""The relay as an ASGI application: tus uploads, the desk's pull API, reply mailboxes.

``create_app(config)`` builds everything from one frozen config; there is no
module state. Nothing here reads the client's address or User-Agent, and the
server is run with its access log off (see ``serve.py``).

The event loop does no file work. Every spool call, every batch written to an
upload and every fsync runs in a worker thread (``_off_loop``); finishing an
upload (checking and hashing up to 2 GiB) runs in a small pool of its own, so a
few large completions cannot take every worker thread. Meanwhile the loop keeps
answering other requests. A request that works on an upload holds it
(``_holding``) until its file work is done, so two requests never touch the
same upload at once.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import ParamSpec, TypeVar

import anyio
import anyio.abc
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sijil.envelope.age import INTRO
from sijil.errors import NotFound, RelayError, RelayLimitExceeded, RelayProtocolError
from sijil.relay.protocol import tus, work
from sijil.relay.protocol.auth import (
    RELAY_TOKEN_HEADER,
    ChallengeIssuer,
    ReplayGuard,
    body_digest,
    check_desk_headers,
    token_digest,
    verify_desk_request,
)
from sijil.relay.server.config import (
    MAX_REPLIES_PER_BOX,
    MAX_REPLY_BYTES,
    WORK_AT_SHARE,
    RateLimiter,
    RelayConfig,
)
from sijil.relay.server.spool import Spool, SpoolLimits, Upload
from sijil.relay.server.writer import INSUFFICIENT_STORAGE, WRITE_BATCH, UploadWriter

__all__ = ["FINISHING_THREADS", "UPLOADS_PATH", "create_app"]

UPLOADS_PATH = "/files"
TUS_HEADERS = {"Tus-Resumable": tus.TUS_VERSION}
# How long a returning sender waits for its old, cut request to let go.
TAKEOVER_WAIT_S = 5.0
# A request taken over first takes in what already arrived for it (bytes in the
# server's and the kernel's buffers): it stops once nothing came for GRACE, and
# after DRAIN at most, so a returning sender waits a fraction of a second for
# bytes it then need not send again.
TAKEOVER_GRACE_S = 0.2
TAKEOVER_DRAIN_S = 1.0
# Blocks of a body (WRITE_BATCH each) read ahead of the disk: the link is drained
# while a block is written, and a slow disk holds at most this much in memory.
BLOCKS_AHEAD = 1
# Desk requests other than replies carry no body worth the name (lists, acks); this
# only bounds what an unauthenticated caller can make the relay hold in memory.
MAX_DESK_BODY = 64 << 10
# Uploads being finished (checked and hashed, up to 2 GiB each) at once; more wait
# their turn in the thread pool, not on the event loop. A relay is a small machine.
FINISHING_THREADS = 2
# A desk request's body is at most 64 KiB (a reply): one that takes longer than this
# to arrive is a slow-loris holding a request open, not a desk on a slow link.
DESK_BODY_TIMEOUT_S = 30.0
Handler = Callable[[Request], Awaitable[Response]]
P = ParamSpec("P")
T = TypeVar("T")


async def _off_loop(
    func: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run blocking file work in a worker thread; the event loop serves others meanwhile.

    Not abandoned on cancellation: the work always ends before the caller goes on,
    so the spool is never left half-changed by a cancelled request.
    """
    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))


@dataclass
class _Hold:
    """One request's hold on an upload: what a takeover stops, and what it waits for."""

    idle_s: float
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    released: anyio.Event = field(default_factory=anyio.Event)
    drain_until: float | None = None  # set by a takeover

    def received(self) -> None:
        """Bytes came: push the deadline back (less far once taken over)."""
        now = anyio.current_time()
        if self.drain_until is None:
            self.scope.deadline = now + self.idle_s
        else:
            self.scope.deadline = min(now + TAKEOVER_GRACE_S, self.drain_until)

    def take_over(self) -> None:
        now = anyio.current_time()
        self.drain_until = now + TAKEOVER_DRAIN_S
        self.scope.deadline = min(self.scope.deadline, now + TAKEOVER_GRACE_S)


class Sender(StrEnum):
    """Whose request it is, as far as the relay can tell; each has a budget of its own."""

    ANONYMOUS = "anonymous"
    ENROLLED = "enrolled"  # carries the network's relay token (any correspondent)
    DESK = "desk"  # signed by the desk's key


@dataclass
class _State:
    config: RelayConfig
    spool: Spool
    rates: dict[Sender, RateLimiter]
    challenges: ChallengeIssuer
    desk_guard: ReplayGuard
    # proof-of-work stamps already used (each is good once)
    stamps: ReplayGuard
    clock: Callable[[], float]
    # the threads that finish uploads (hash, check, file): see FINISHING_THREADS
    finishing: anyio.CapacityLimiter
    transfers: int = 0
    anonymous_transfers: int = 0
    # upload id -> the request working on it now
    busy: dict[str, _Hold] = field(default_factory=dict)

    def sender(self, request: Request) -> Sender:
        token = request.headers.get(RELAY_TOKEN_HEADER.lower())
        if not token:
            return Sender.ANONYMOUS
        digest = token_digest(token)
        if digest not in self.config.relay_tokens:
            return Sender.ANONYMOUS
        # a rotated-out token is honoured until its grace period ends
        until = self.config.relay_token_until.get(digest)
        return Sender.ENROLLED if until is None or self.clock() < until else Sender.ANONYMOUS

    def take(self, sender: Sender) -> None:
        self.rates[sender].take(now=self.clock())

    async def work_bits(self, sender: Sender) -> int:
        """The proof of work this sender must show to make an upload now (0: none)."""
        if sender is not Sender.ANONYMOUS or not self.config.work_bits:
            return 0
        config = self.config
        pressure = config.max_unfinished_uploads * config.anonymous_share * WORK_AT_SHARE
        count = await _off_loop(self.spool.unfinished_count)
        return config.work_bits if count >= pressure else 0

    async def finish(self, upload: Upload) -> None:
        """Check, hash and file a whole upload, in the finishing threads."""
        work = partial(self.spool.complete, upload, now=self.clock())
        await anyio.to_thread.run_sync(work, limiter=self.finishing)

    async def reject(self, upload: Upload, reason: str) -> None:
        """Keep a refused upload aside by its hash, in the finishing threads."""
        work = partial(self.spool.reject_upload, upload, reason)
        await anyio.to_thread.run_sync(work, limiter=self.finishing)


def _error(exc: RelayError | NotFound, *, tus_route: bool, work_bits: int) -> Response:
    headers = dict(TUS_HEADERS) if tus_route else {}
    if isinstance(exc, NotFound):
        return PlainTextResponse(f"{exc}\n", status_code=404, headers=headers)
    if exc.status == 412:
        headers["Tus-Version"] = tus.TUS_VERSION
    if exc.status in (429, 503):
        headers["Retry-After"] = "1"
    if exc.status == work.WORK_REQUIRED:
        headers[work.WORK_BITS_HEADER] = str(work_bits)
    return PlainTextResponse(f"{exc}\n", status_code=exc.status, headers=headers)


def _guarded(state: _State, handler: Handler, *, tus_route: bool, desk: bool = False) -> Handler:
    """Errors to one-line answers; the request budget of its sender taken first (a desk
    request takes the desk's once its signature verified, see ``_desk_routes``)."""

    async def run(request: Request) -> Response:
        try:
            if not desk:
                state.take(state.sender(request))
            return await handler(request)
        except (RelayError, NotFound) as exc:
            return _error(exc, tus_route=tus_route, work_bits=state.config.work_bits)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            full = RelayLimitExceeded("the relay's disk is full", status=INSUFFICIENT_STORAGE)
            return _error(full, tus_route=tus_route, work_bits=state.config.work_bits)

    return run


def _upload_headers(upload: Upload, offset: int) -> dict[str, str]:
    return {
        **TUS_HEADERS,
        "Upload-Offset": str(offset),
        "Upload-Expires": tus.http_date(upload.expires),
        "Cache-Control": "no-store",
    }


def _tus_routes(state: _State) -> list[Route]:
    config, spool = state.config, state.spool
    # uploads receiving at once that senders without the token may take
    anonymous_transfers = max(1, int(config.max_concurrent_uploads * config.anonymous_share))

    async def options(request: Request) -> Response:
        bits = await state.work_bits(state.sender(request))
        return Response(
            status_code=204,
            headers={
                **TUS_HEADERS,
                work.WORK_BITS_HEADER: str(bits),
                "Tus-Version": tus.TUS_VERSION,
                "Tus-Extension": tus.EXTENSIONS,
                "Tus-Max-Size": str(config.max_envelope_bytes),
                "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
            },
        )

    async def create(request: Request) -> Response:
        creation = tus.parse_creation(request.headers, max_size=config.max_envelope_bytes)
        if creation.length == 0:
            raise RelayProtocolError("an empty upload cannot be an envelope")
        sender = state.sender(request)
        bits = await state.work_bits(sender)
        if bits:
            stamp = work.check_stamp(
                request.headers.get(work.WORK_HEADER.lower()), bits=bits, now=state.clock()
            )
            state.stamps.use(stamp, now=state.clock())
        upload = await _off_loop(
            spool.create,
            length=creation.length,
            claimed_id=creation.claimed_id,
            now=state.clock(),
            busy=frozenset(state.busy),
            enrolled=sender is Sender.ENROLLED,
        )
        headers = _upload_headers(upload, 0)
        headers["Location"] = f"{UPLOADS_PATH}/{upload.id}"
        return Response(status_code=201, headers=headers)

    async def head(request: Request) -> Response:
        tus.require_version(request.headers)
        upload_id = request.path_params["upload"]
        async with _holding(state, upload_id):
            upload = await _off_loop(spool.get, upload_id, now=state.clock())
            offset = await _off_loop(spool.offset, upload)
            filed = await _off_loop(spool.is_filed, upload)
            if offset == upload.length and not filed:
                # whole but never filed (a crash or a full disk after the last byte):
                # file it now; a refusal (422, 460) reaches the sender as the answer
                await state.finish(upload)
                upload = await _off_loop(spool.get, upload_id, now=state.clock())
                filed = await _off_loop(spool.is_filed, upload)
        headers = _upload_headers(upload, offset)
        headers["Upload-Length"] = str(upload.length)
        if filed:
            headers[tus.STORED_HEADER] = tus.STORED_YES
        return Response(status_code=200, headers=headers)

    async def delete(request: Request) -> Response:
        tus.require_version(request.headers)
        upload_id = request.path_params["upload"]
        async with _holding(state, upload_id):
            await _off_loop(spool.get, upload_id, now=state.clock())
            await _off_loop(spool.terminate, upload_id)
        return Response(status_code=204, headers=TUS_HEADERS)

    async def patch(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        # nothing is awaited before the body is being read (see _receive): the upload
        # is looked up, and the request checked against it, once it is held
        anonymous = state.sender(request) is Sender.ANONYMOUS
        async with _holding(state, upload_id) as hold:
            if state.transfers >= config.max_concurrent_uploads or (
                anonymous and state.anonymous_transfers >= anonymous_transfers
            ):
                raise RelayLimitExceeded("too many uploads in progress; retry later", status=429)
            state.transfers += 1
            state.anonymous_transfers += anonymous
            try:
                hold.received()  # the body's idle timeout runs from here
                upload, offset = await _receive(state, request, upload_id, hold)
                if offset < upload.length:
                    upload = await _off_loop(spool.touch, upload, now=state.clock())
                    return Response(status_code=204, headers=_upload_headers(upload, offset))
                # the last byte: check, hash and file it, still holding the upload
                await state.finish(upload)
                filed = await _off_loop(spool.get, upload_id, now=state.clock())
            finally:
                state.transfers -= 1
                state.anonymous_transfers -= anonymous
        headers = _upload_headers(filed, offset)
        headers[tus.STORED_HEADER] = tus.STORED_YES
        return Response(status_code=204, headers=headers)

    files = f"{UPLOADS_PATH}/{{upload}}"
    return [
        Route(UPLOADS_PATH, _guarded(state, options, tus_route=True), methods=["OPTIONS"]),
        Route(UPLOADS_PATH, _guarded(state, create, tus_route=True), methods=["POST"]),
        Route(files, _guarded(state, head, tus_route=True), methods=["HEAD"]),
        Route(files, _guarded(state, patch, tus_route=True), methods=["PATCH"]),
        Route(files, _guarded(state, delete, tus_route=True), methods=["DELETE"]),
    ]


async def _take_over(state: _State, upload_id: str) -> None:
    """Stop an earlier request still receiving this upload, keeping what it received.

    A sender whose link was cut comes back before the relay has noticed the old
    connection is dead (without a FIN it may never notice). Refusing it (423)
    would make it send its body for nothing; instead the old request takes in
    what had already arrived for it, is ended, its bytes made durable, and the
    new one sees the true offset (as tusd does). An upload being finished
    (hashed and filed) is waited for, not cut.
    """
    held = state.busy.get(upload_id)
    if held is None:
        return
    held.take_over()
    with anyio.move_on_after(TAKEOVER_WAIT_S):
        await held.released.wait()
    if upload_id in state.busy:
        raise RelayProtocolError("this upload is receiving data; retry", status=423)


@asynccontextmanager
async def _holding(state: _State, upload_id: str) -> AsyncIterator[_Hold]:
    """Be the only request working on ``upload_id`` (taking it over) until the block ends.

    Nothing is awaited between the takeover and the claim, so two requests that
    both waited for the same holder cannot both proceed: the second gets 423.
    """
    await _take_over(state, upload_id)
    hold = _Hold(idle_s=state.config.idle_timeout_s)
    state.busy[upload_id] = hold
    try:
        yield hold
    finally:
        del state.busy[upload_id]
        hold.released.set()


def _start_patch(
    spool: Spool, upload_id: str, headers: Mapping[str, str], *, now: float
) -> tuple[Upload, tus.Patch, UploadWriter]:
    """The upload as it is now, this PATCH checked against it, and its writer. Blocks.

    Read again once the upload is held: the request taken over may have finished it.
    Activity pushes expiry back from the start, not only when the body ends.
    """
    upload = spool.get(upload_id, now=now)
    if upload.finished:
        raise RelayProtocolError("this upload is already complete", status=409)
    parsed = tus.parse_patch(headers, current=spool.offset(upload), length=upload.length)
    upload = spool.touch(upload, now=now)
    return upload, parsed, spool.writer(upload, start=parsed.offset, checksum=parsed.checksum)


async def _receive(
    state: _State, request: Request, upload_id: str, hold: _Hold
) -> tuple[Upload, int]:
    """Stream the body into the spool; keep what arrived if the sender is cut or stalls.

    Two tasks. This one reads the body as fast as it comes and gathers it into
    blocks of ``WRITE_BATCH``; the disk task checks the PATCH against the upload
    and then hashes (for a checksum) and writes each block in a worker thread,
    in order, one at a time. Reading runs at most ``BLOCKS_AHEAD`` blocks ahead
    of the disk, so the loop never waits for the disk unless the disk is slower
    than the link, and when the link is cut the server holds next to nothing
    unread (what it still held is lost to ASGI, and sent again). A refused PATCH
    has at most that read-ahead read. Returns the upload (expiry pushed back) and
    the offset reached.

    A block is a list of the chunks as the server gave them (the loop copies
    nothing). It is always in exactly one place: ``block`` (being read),
    ``pending`` (read, waiting for the disk) or the writer (it moves under the
    condition's lock, with nothing awaited), so whatever stops the two tasks,
    every byte read can still be written, in order.
    """
    block: list[bytes] = []
    block_size = 0
    pending: deque[list[bytes]] = deque()
    turn = anyio.Condition()  # a block was handed on, taken, or the body ended
    body_ended = cut = False
    started: tuple[Upload, tus.Patch, UploadWriter] | None = None
    failure: Exception | None = None

    async def write_blocks(group: anyio.abc.TaskGroup) -> None:
        nonlocal started, failure
        try:
            started = await _off_loop(
                _start_patch, state.spool, upload_id, request.headers, now=state.clock()
            )
            writer = started[2]
            while True:  # one turn per block; ends with the body
                async with turn:
                    while not pending and not body_ended:
                        await turn.wait()
                    if not pending:
                        return
                    for chunk in pending.popleft():
                        writer.write(chunk)  # limits checked here; no I/O
                    turn.notify_all()
                await _off_loop(writer.flush)
                hold.received()
        except Exception as exc:  # noqa: BLE001 - raised again by _receive, outside the group
            failure = exc
            group.cancel_scope.cancel()

    async def hand_on(*, last: bool = False) -> None:
        nonlocal block, block_size, body_ended
        async with turn:
            while len(pending) >= BLOCKS_AHEAD:
                await turn.wait()
            if block:
                pending.append(block)
                block, block_size = [], 0
            body_ended = last
            turn.notify_all()

    try:
        # one cancel scope whose deadline each chunk pushes back (a timeout per
        # chunk would cost a scope per 64 KiB); a takeover brings it forward
        with hold.scope:
            async with anyio.create_task_group() as group:
                group.start_soon(write_blocks, group)
                try:
                    async for chunk in request.stream():
                        hold.received()
                        if chunk:
                            block.append(chunk)
                            block_size += len(chunk)
                        if block_size >= WRITE_BATCH:
                            await hand_on()
                except ClientDisconnect:
                    cut = True
                await hand_on(last=True)
    except BaseException:
        if started is not None:
            await _abort_shielded(started[2])
        raise
    if failure is not None:
        if started is not None:
            await _off_loop(started[2].abort)
        raise failure
    if started is None:  # stopped before the check could even start: check now
        started = await _off_loop(
            _start_patch, state.spool, upload_id, request.headers, now=state.clock()
        )
    upload, parsed, writer = started
    # what was read but not yet written (a stall, a takeover) is kept too
    with contextlib.suppress(RelayError):
        for left in [*pending, block]:
            for chunk in left:
                writer.write(chunk)
    if hold.scope.cancelled_caught:
        await _off_loop(writer.abort)
        raise RelayProtocolError(
            "the body stalled or was taken over; what came is kept", status=408
        )
    if cut:
        await _off_loop(writer.abort)
        raise RelayProtocolError("the connection was cut; what arrived was kept")
    if parsed.body_length is not None and writer.offset != parsed.offset + parsed.body_length:
        await _off_loop(writer.abort)
        raise RelayProtocolError("the body is shorter than Content-Length")
    offset = await _off_loop(writer.commit)
    if parsed.offset < len(INTRO) and not await _off_loop(state.spool.starts_like_envelope, upload):
        # garbage is refused at its first bytes, not after megabytes of it
        await state.reject(upload, "not a sijil envelope (no age v1 header)")
        raise RelayProtocolError("not a sijil envelope (no age v1 header)", status=422)
    return upload, offset


async def _abort_shielded(writer: UploadWriter) -> None:
    # also when the request itself is being cancelled (shutdown): the part file
    # must end at a consistent offset and the descriptor be closed
    with anyio.CancelScope(shield=True):
        await _off_loop(writer.abort)


async def _bounded_body(request: Request, *, limit: int) -> bytes:
    """The body, read no further than ``limit`` bytes: chunked bodies have no declared size."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RelayLimitExceeded(f"a request body is limited to {limit} bytes", status=413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise RelayLimitExceeded(f"a request body is limited to {limit} bytes", status=413)
    except ClientDisconnect as exc:
        raise RelayProtocolError("the connection was cut") from exc
    return bytes(body)


def _desk_routes(state: _State) -> list[Route]:
    spool = state.spool

    async def verified(request: Request, *, limit: int = MAX_DESK_BODY) -> bytes:
        """The body of a request the desk signed. The desk's request budget is taken
        only once it verified, so a flood of forged desk requests spends a stranger's
        budget (and is refused), never the desk's."""
        try:
            # whatever can be checked without the body is checked before reading any of it
            check_desk_headers(request.headers, now=state.clock(), guard=state.desk_guard)
            with anyio.fail_after(DESK_BODY_TIMEOUT_S):
                body = await _bounded_body(request, limit=limit)
            verify_desk_request(
                request.headers,
                key=state.config.desk_key,
                method=request.method,
                path=request.url.path,
                digest=body_digest(body),
                now=state.clock(),
                guard=state.desk_guard,
            )
        except TimeoutError:
            state.take(state.sender(request))
            raise RelayProtocolError("the request body came too slowly", status=408) from None
        except RelayError:
            state.take(state.sender(request))
            raise
        state.take(Sender.DESK)
        return body

    async def listing(request: Request) -> Response:
        await verified(request)
        items = [
            {"id": eid, "size": size, "received": int(mtime)}
            for eid, size, mtime in await _off_loop(spool.list_envelopes)
        ]
        return JSONResponse({"envelopes": items})

    async def fetch(request: Request) -> Response:
        await verified(request)
        path = await _off_loop(spool.envelope_path, request.path_params["envelope"])
        # FileResponse reads the file in worker threads itself
        return FileResponse(path, media_type="application/octet-stream")

    async def acknowledge(request: Request) -> Response:
        await verified(request)
        await _off_loop(spool.delete_envelope, request.path_params["envelope"])
        return Response(status_code=204)

    async def leave_reply(request: Request) -> Response:
        body = await verified(request, limit=MAX_REPLY_BYTES)
        box = request.path_params["box"]
        reply_id = await _off_loop(spool.put_reply, box, body, max_replies=MAX_REPLIES_PER_BOX)
        return JSONResponse({"id": reply_id}, status_code=201)

    async def challenge(_request: Request) -> Response:
        issuer = state.challenges
        return JSONResponse(
            {"relay_key": issuer.public, "challenge": issuer.issue(now=state.clock())}
        )

    def prove(request: Request) -> str:
        box = str(request.path_params["box"])
        state.challenges.check(
            request.headers,
            box=box,
            method=request.method,
            path=request.url.path,
            now=state.clock(),
        )
        return box

    async def mailbox(request: Request) -> Response:
        replies = await _off_loop(spool.list_replies, prove(request))
        items = [{"id": rid, "data": base64.b64encode(data).decode()} for rid, data in replies]
        return JSONResponse({"replies": items})

    async def delete_reply(request: Request) -> Response:
        box, reply_id = prove(request), request.path_params["reply"]
        if not await _off_loop(spool.delete_reply, box, reply_id):
            raise NotFound("no such reply")
        return Response(status_code=204)

    def route(path: str, handler: Handler, method: str, *, desk: bool = False) -> Route:
        guarded = _guarded(state, handler, tus_route=False, desk=desk)
        return Route(path, guarded, methods=[method])

    return [
        route("/v1/desk/envelopes", listing, "GET", desk=True),
        route("/v1/desk/envelopes/{envelope}", fetch, "GET", desk=True),
        route("/v1/desk/envelopes/{envelope}", acknowledge, "DELETE", desk=True),
        route("/v1/desk/mailboxes/{box}", leave_reply, "POST", desk=True),
        route("/v1/mailbox/challenge", challenge, "GET"),
        route("/v1/mailbox/{box}", mailbox, "GET"),
        route("/v1/mailbox/{box}/{reply}", delete_reply, "DELETE"),
    ]


def create_app(config: RelayConfig, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The relay application for ``config``; ``clock`` is injectable for expiry tests."""
    spool = Spool(
        root=config.spool,
        limits=SpoolLimits(
            max_unfinished=config.max_unfinished_uploads,
            quota_bytes=config.spool_quota_bytes,
            expiry_s=config.expiry_s,
            unfed_expiry_s=config.unfed_expiry_s,
            max_unfinished_bytes=config.max_unfinished_bytes,
            rejected_keep_s=config.rejected_keep_s,
            max_rejected_bytes=config.max_rejected_bytes,
            anonymous_share=config.anonymous_share,
        ),
        now=clock(),
    )
    state = _State(
        config=config,
        spool=spool,
        rates={
            sender: RateLimiter(rate=config.rate_per_s, burst=config.rate_burst, now=clock())
            for sender in Sender
        },
        challenges=ChallengeIssuer(),
        desk_guard=ReplayGuard(),
        stamps=ReplayGuard(window_s=work.STAMP_WINDOW_S),
        clock=clock,
        finishing=anyio.CapacityLimiter(FINISHING_THREADS),
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweep() -> None:
            while True:  # ends when the server cancels the task group at shutdown
                await _off_loop(spool.expire, clock(), busy=frozenset(state.busy))
                await anyio.sleep(min(60.0, config.expiry_s / 4, config.unfed_expiry_s / 4))

        async with anyio.create_task_group() as group:
            group.start_soon(sweep)
            yield
            group.cancel_scope.cancel()

    app = Starlette(routes=[*_tus_routes(state), *_desk_routes(state)], lifespan=lifespan)
    app.state.relay = state
    return app
