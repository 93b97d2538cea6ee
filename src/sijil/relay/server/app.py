"""The relay as an ASGI application: tus uploads, the desk's pull API, reply mailboxes.

``create_app(config)`` builds everything from one frozen config; there is no
module state. Nothing here reads the client's address or User-Agent, and the
server is run with its access log off (see ``server.py``).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sijil.envelope.age import INTRO
from sijil.errors import NotFound, RelayError, RelayLimitExceeded, RelayProtocolError
from sijil.relay.protocol import tus
from sijil.relay.protocol.auth import (
    ChallengeIssuer,
    ReplayGuard,
    body_digest,
    check_desk_headers,
    verify_desk_request,
)
from sijil.relay.server.config import MAX_REPLIES_PER_BOX, MAX_REPLY_BYTES, RateLimiter, RelayConfig
from sijil.relay.server.spool import Spool, SpoolLimits, Upload
from sijil.relay.server.writer import INSUFFICIENT_STORAGE

__all__ = ["UPLOADS_PATH", "create_app"]

UPLOADS_PATH = "/files"
TUS_HEADERS = {"Tus-Resumable": tus.TUS_VERSION}
# How long a returning sender waits for its old, cut request to let go.
TAKEOVER_WAIT_S = 5.0
# Desk requests other than replies carry no body worth the name (lists, acks); this
# only bounds what an unauthenticated caller can make the relay hold in memory.
MAX_DESK_BODY = 64 << 10
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class _State:
    config: RelayConfig
    spool: Spool
    rate: RateLimiter
    challenges: ChallengeIssuer
    desk_guard: ReplayGuard
    clock: Callable[[], float]
    transfers: int = 0
    # upload id -> the receiving request's cancel scope and its "released" event
    busy: dict[str, tuple[anyio.CancelScope, anyio.Event]] = field(default_factory=dict)


def _error(exc: RelayError | NotFound, *, tus_route: bool) -> Response:
    headers = dict(TUS_HEADERS) if tus_route else {}
    if isinstance(exc, NotFound):
        return PlainTextResponse(f"{exc}\n", status_code=404, headers=headers)
    if exc.status == 412:
        headers["Tus-Version"] = tus.TUS_VERSION
    if exc.status in (429, 503):
        headers["Retry-After"] = "1"
    return PlainTextResponse(f"{exc}\n", status_code=exc.status, headers=headers)


def _guarded(state: _State, handler: Handler, *, tus_route: bool) -> Handler:
    async def run(request: Request) -> Response:
        try:
            state.rate.take(now=state.clock())
            return await handler(request)
        except (RelayError, NotFound) as exc:
            return _error(exc, tus_route=tus_route)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            full = RelayLimitExceeded("the relay's disk is full", status=INSUFFICIENT_STORAGE)
            return _error(full, tus_route=tus_route)

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

    async def options(_request: Request) -> Response:
        return Response(
            status_code=204,
            headers={
                **TUS_HEADERS,
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
        upload = spool.create(
            length=creation.length,
            claimed_id=creation.claimed_id,
            now=state.clock(),
            busy=state.busy.keys(),
        )
        headers = _upload_headers(upload, 0)
        headers["Location"] = f"{UPLOADS_PATH}/{upload.id}"
        return Response(status_code=201, headers=headers)

    async def head(request: Request) -> Response:
        tus.require_version(request.headers)
        await _take_over(state, request.path_params["upload"])
        upload = spool.get(request.path_params["upload"], now=state.clock())
        offset = spool.offset(upload)
        if offset == upload.length and not spool.is_filed(upload):
            # whole but never filed (a crash or a full disk after the last byte):
            # file it now; a refusal (422, 460) reaches the sender as the answer
            spool.complete(upload, now=state.clock())
            upload = spool.get(upload.id, now=state.clock())
        headers = _upload_headers(upload, offset)
        headers["Upload-Length"] = str(upload.length)
        if spool.is_filed(upload):
            headers[tus.STORED_HEADER] = "yes"
        return Response(status_code=200, headers=headers)

    async def delete(request: Request) -> Response:
        tus.require_version(request.headers)
        upload_id = request.path_params["upload"]
        await _take_over(state, upload_id)
        spool.get(upload_id, now=state.clock())
        spool.terminate(upload_id)
        return Response(status_code=204, headers=TUS_HEADERS)

    async def patch(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        upload = spool.get(upload_id, now=state.clock())
        if upload.finished:
            raise RelayProtocolError("this upload is already complete", status=409)
        await _take_over(state, upload_id)
        if state.transfers >= config.max_concurrent_uploads:
            raise RelayLimitExceeded("too many uploads in progress; retry later", status=429)
        current = spool.offset(upload)
        parsed = tus.parse_patch(request.headers, current=current, length=upload.length)
        # activity pushes expiry back from the start, not only when the body ends
        upload = spool.touch(upload, now=state.clock())
        scope = anyio.CancelScope(deadline=anyio.current_time() + config.idle_timeout_s)
        released = anyio.Event()
        state.busy[upload_id] = (scope, released)
        state.transfers += 1
        try:
            offset = await _receive(state, request, upload, parsed, scope)
        finally:
            del state.busy[upload_id]
            state.transfers -= 1
            released.set()
        if offset < upload.length:
            upload = spool.touch(upload, now=state.clock())
            return Response(status_code=204, headers=_upload_headers(upload, offset))
        spool.complete(upload, now=state.clock())
        headers = _upload_headers(spool.get(upload_id, now=state.clock()), offset)
        headers[tus.STORED_HEADER] = "yes"
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
    would make it send its body for nothing; instead the old request is ended,
    its bytes made durable, and the new one sees the true offset (as tusd does).
    """
    held = state.busy.get(upload_id)
    if held is None:
        return
    scope, released = held
    scope.cancel()
    with anyio.move_on_after(TAKEOVER_WAIT_S):
        await released.wait()
    if upload_id in state.busy:
        raise RelayProtocolError("this upload is receiving data; retry", status=423)


def _unread_body(request: Request) -> bytes:
    """Body bytes the server had read off the socket but not handed on before the cut.

    uvicorn answers a disconnect without passing on what it still buffers (up to
    64 KiB); on a link cut every megabyte that is bytes the sender must send again.
    Both its HTTP implementations keep that buffer as ``body`` on the receive
    callable's owner; anything else yields nothing, which is merely less thrifty.
    """
    owner = getattr(request.receive, "__self__", None)
    pending = getattr(owner, "body", b"")
    return bytes(pending) if isinstance(pending, bytes | bytearray) else b""


async def _receive(
    state: _State, request: Request, upload: Upload, parsed: tus.Patch, scope: anyio.CancelScope
) -> int:
    """Stream the body into the spool; keep what arrived if the sender is cut or stalls."""
    writer = state.spool.writer(upload, start=parsed.offset, checksum=parsed.checksum)
    idle = state.config.idle_timeout_s
    try:
        # one cancel scope whose deadline each chunk pushes back (a timeout per
        # chunk would cost a scope per 64 KiB); a takeover cancels it too
        with scope:
            async for chunk in request.stream():
                scope.deadline = anyio.current_time() + idle
                if chunk:
                    writer.write(chunk)
    except ClientDisconnect as exc:
        with contextlib.suppress(RelayError):
            writer.write(_unread_body(request))
        writer.abort()
        raise RelayProtocolError("the connection was cut; what arrived was kept") from exc
    except BaseException:
        writer.abort()
        raise
    if scope.cancelled_caught:
        with contextlib.suppress(RelayError):
            writer.write(_unread_body(request))
        writer.abort()
        raise RelayProtocolError(
            "the body stalled or was taken over; what came is kept", status=408
        )
    if parsed.body_length is not None and writer.offset != parsed.offset + parsed.body_length:
        writer.abort()
        raise RelayProtocolError("the body is shorter than Content-Length")
    offset = writer.commit()
    if parsed.offset < len(INTRO) and not state.spool.starts_like_envelope(upload):
        # garbage is refused at its first bytes, not after megabytes of it
        state.spool.reject_upload(upload, "not a sijil envelope (no age v1 header)")
        raise RelayProtocolError("not a sijil envelope (no age v1 header)", status=422)
    return offset


async def _bounded_body(request: Request, *, limit: int) -> bytes:
    """The body, read no further than ``limit`` bytes: chunked bodies have no declared size."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
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
        # whatever can be checked without the body is checked before reading any of it
        check_desk_headers(request.headers, now=state.clock(), guard=state.desk_guard)
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
        return body

    async def listing(request: Request) -> Response:
        await verified(request)
        items = [
            {"id": eid, "size": size, "received": int(mtime)}
            for eid, size, mtime in spool.list_envelopes()
        ]
        return JSONResponse({"envelopes": items})

    async def fetch(request: Request) -> Response:
        await verified(request)
        path = spool.envelope_path(request.path_params["envelope"])
        return FileResponse(path, media_type="application/octet-stream")

    async def acknowledge(request: Request) -> Response:
        await verified(request)
        spool.delete_envelope(request.path_params["envelope"])
        return Response(status_code=204)

    async def leave_reply(request: Request) -> Response:
        body = await verified(request, limit=MAX_REPLY_BYTES)
        box = request.path_params["box"]
        if len(spool.list_replies(box)) >= MAX_REPLIES_PER_BOX:
            raise RelayLimitExceeded("this mailbox is full", status=429)
        return JSONResponse({"id": spool.put_reply(box, body)}, status_code=201)

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
        replies = spool.list_replies(prove(request))
        items = [{"id": rid, "data": base64.b64encode(data).decode()} for rid, data in replies]
        return JSONResponse({"replies": items})

    async def delete_reply(request: Request) -> Response:
        if not spool.delete_reply(prove(request), request.path_params["reply"]):
            raise NotFound("no such reply")
        return Response(status_code=204)

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _guarded(state, handler, tus_route=False), methods=[method])

    return [
        route("/v1/desk/envelopes", listing, "GET"),
        route("/v1/desk/envelopes/{envelope}", fetch, "GET"),
        route("/v1/desk/envelopes/{envelope}", acknowledge, "DELETE"),
        route("/v1/desk/mailboxes/{box}", leave_reply, "POST"),
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
        ),
        now=clock(),
    )
    state = _State(
        config=config,
        spool=spool,
        rate=RateLimiter(rate=config.rate_per_s, burst=config.rate_burst, now=clock()),
        challenges=ChallengeIssuer(),
        desk_guard=ReplayGuard(),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweep() -> None:
            while True:  # ends when the server cancels the task group at shutdown
                spool.expire(clock(), busy=state.busy.keys())
                await anyio.sleep(min(60.0, config.expiry_s / 4))

        async with anyio.create_task_group() as group:
            group.start_soon(sweep)
            yield
            group.cancel_scope.cancel()

    app = Starlette(routes=[*_tus_routes(state), *_desk_routes(state)], lifespan=lifespan)
    app.state.relay = state
    return app
