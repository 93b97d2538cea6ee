"""Helpers the relay tests share: an in-process relay, gated bodies, relay processes.

Most relay tests run the real Starlette app from ``create_app(config)`` in this
process, through :class:`AsgiTransport`: an ``httpx.BaseTransport`` that hands each
request to the app on an event loop of its own. No socket, no port, no patching:
``RelayClient`` (and so ``send_outbox`` and ``fetch_inbox``) take the transport as
httpx clients do. Tests that need a real socket (the stock tus client, kill -9,
proxies, a server's own timeouts, the CLI) use ``make_relay`` or
:func:`relay_process` instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.types import ASGIApp, Message

from sijil.envelope.sealing import Draft
from sijil.field.compose import compose
from sijil.field.home import FieldSession
from sijil.relay.server.app import create_app
from sijil.relay.server.config import RelayConfig

# Every wait in these helpers is bounded by this; a test that hits it has failed.
WAIT_S = 20.0
# Request bodies reach the app in pieces of at most this size, as from a server.
BODY_PIECE = 64 << 10
# A relay address no resolver knows: a request that missed the transport fails at once.
LOCAL_URL = "http://relay.invalid"
T = TypeVar("T")


def compose_random(session: FieldSession, tmp: Path, name: str, size: int) -> str:
    """Seal a report carrying ``size`` random bytes (sent as-is); return its envelope id."""
    photo = tmp / f"{name}.bin"
    photo.write_bytes(os.urandom(size))
    made = compose(
        session, Draft(title=f"report {name}", body="text", lang="en"), [photo], keep_metadata=True
    )
    return made.envelope_id


# --- the in-process transport ------------------------------------------------------------


class LinkCut(Exception):
    """Raised by a request body to cut the link: the app sees a disconnect, the client an error."""


def _pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), BODY_PIECE):
        yield data[start : start + BODY_PIECE]


class _Body(httpx.SyncByteStream):
    """A response body streamed from the app's ``http.response.body`` messages."""

    def __init__(self, pull: Callable[[], bytes | None], close: Callable[[], None]) -> None:
        self._pull = pull
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._pull()) is not None:
            yield chunk

    def close(self) -> None:
        self._close()


class AsgiTransport(httpx.BaseTransport):
    """A sync httpx transport that runs an ASGI app in this process: the real app, no socket.

    ``with asgi_transport(app) as transport:`` runs the app's lifespan on an event
    loop in a thread of its own; each request is a task there, so requests from
    several threads are served at once, as by a server. The request body is taken
    from httpx's stream as the app asks for it, in pieces of at most 64 KiB; a
    body that raises :class:`LinkCut` is a cut link (the app gets a disconnect,
    the client ``httpx.ReadError`` once the app is done). The response streams
    back. An exception inside the app still answers 500, as a server would, and
    is kept in :attr:`errors` for the test to check.

    ``close()`` (and leaving a client's ``with`` block) does nothing, because
    every client handed this transport closes it when it is done; the app stops
    when the ``asgi_transport`` block ends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.errors: list[BaseException] = []
        self._stack = contextlib.ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._stop: anyio.Event | None = None
        self._lifespan: Future[None] | None = None

    def start(self) -> None:
        """Start the event loop and the app's lifespan (its startup has run on return)."""
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._lifespan, self._stop = self._portal.start_task(self._run_lifespan)

    def stop(self) -> None:
        """Run the app's shutdown and stop the event loop."""
        portal, stop, lifespan = self._portal, self._stop, self._lifespan
        try:
            if portal is not None and stop is not None and lifespan is not None:
                portal.call(stop.set)
                lifespan.result(timeout=WAIT_S)
        finally:
            self._portal = None
            self._stack.close()

    def close(self) -> None:
        """Nothing: the app lives until :meth:`stop` (see the class doc)."""

    async def _run_lifespan(self, *, task_status: TaskStatus[anyio.Event]) -> None:
        stop = anyio.Event()
        asked: list[str] = []

        async def receive() -> Message:
            if not asked:
                asked.append("startup")
                return {"type": "lifespan.startup"}
            await stop.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                task_status.started(stop)
            elif message["type"].endswith(".failed"):
                raise RuntimeError(f"the app's lifespan failed: {message.get('message', '')}")

        await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    def _wait(self, future: Future[T], what: str) -> T:
        try:
            return future.result(timeout=WAIT_S)
        except FutureTimeout:
            future.cancel()
            raise httpx.ReadTimeout(f"the app gave no {what} within {WAIT_S:.0f}s") from None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        portal = self._portal
        if portal is None:
            raise RuntimeError("use the transport inside its with block")
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "client": None,
            "server": (url.host, url.port or 80),
            "state": {},
        }
        stream = request.stream
        assert isinstance(stream, httpx.SyncByteStream), "a sync client's request"
        # bytes already in memory are handed on at once; any other body is pulled
        # in a worker thread, so a body that waits (a slow sender) blocks only itself
        inline = isinstance(stream, httpx.ByteStream)
        source = (piece for chunk in stream for piece in _pieces(chunk))
        cut = threading.Event()

        def next_piece() -> bytes | None:
            try:
                return next(source)
            except StopIteration:
                return None
            except LinkCut:
                cut.set()
                return None

        async def run_app(
            *, task_status: TaskStatus[tuple[MemoryObjectReceiveStream[Message], anyio.CancelScope]]
        ) -> None:
            sent, answers = anyio.create_memory_object_stream[Message](4)
            finished = anyio.Event()
            stop = anyio.CancelScope()
            body_done = False

            async def receive() -> Message:
                nonlocal body_done
                if not body_done:
                    if inline:
                        piece = next_piece()
                    else:
                        piece = await anyio.to_thread.run_sync(next_piece, abandon_on_cancel=True)
                    if piece is not None:
                        return {"type": "http.request", "body": piece, "more_body": True}
                    body_done = True
                    if not cut.is_set():
                        return {"type": "http.request", "body": b"", "more_body": False}
                if cut.is_set():
                    return {"type": "http.disconnect"}
                await finished.wait()  # as a server does: a disconnect once the response is out
                return {"type": "http.disconnect"}

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    finished.set()
                await sent.send(dict(message))

            task_status.started((answers, stop))
            async with sent:
                with stop:
                    try:
                        await self.app(scope, receive, send)
                    except Exception as exc:  # noqa: BLE001 - kept for the test; the client got 500
                        self.errors.append(exc)
                        if not finished.is_set():
                            with contextlib.suppress(anyio.BrokenResourceError):
                                await sent.send({"type": "app.failed"})

        app_task, (answers, stop) = portal.start_task(run_app)

        def next_message() -> Message | None:
            try:
                message: Message = self._wait(portal.start_task_soon(answers.receive), "answer")
            except anyio.EndOfStream:
                return None
            return message

        def settle(*, stop_app: bool = False) -> None:
            # the app's work ends before the caller goes on (as when a server has
            # noticed a cut): what follows sees the relay in its settled state
            if stop_app and not app_task.done():
                portal.call(stop.cancel)  # the client stopped reading: the app is cut off
            try:
                app_task.result(timeout=WAIT_S)
            except FutureTimeout:
                self.errors.append(TimeoutError(f"the app did not end within {WAIT_S:.0f}s"))
            except BaseException:  # noqa: BLE001, S110 - an app error is in self.errors already
                pass
            portal.call(answers.close)

        start = next_message()
        if cut.is_set() or start is None or start["type"] != "http.response.start":
            for _ in range(1_000_000):  # drain what the app still says, then end it
                if start is None or next_message() is None:
                    break
            settle()
            if cut.is_set():
                raise httpx.ReadError("the link was cut")
            if start is not None and start["type"] == "app.failed":
                return httpx.Response(500, request=request, content=b"Internal Server Error")
            raise httpx.RemoteProtocolError("the app sent no response")

        complete = False

        def pull() -> bytes | None:
            nonlocal complete
            if complete:
                return None
            message = next_message()
            if message is None or message["type"] != "http.response.body":
                complete = True
                return None
            complete = not message.get("more_body", False)
            return bytes(message.get("body", b""))

        def close() -> None:
            settle(stop_app=not complete)  # a client that stops reading cuts the app off

        return httpx.Response(
            start["status"],
            headers=[(key, value) for key, value in start.get("headers", [])],
            stream=_Body(pull, close),
            request=request,
        )


@contextlib.contextmanager
def asgi_transport(app: ASGIApp) -> Iterator[AsgiTransport]:
    """The app running in this process for the block, reached through the transport."""
    transport = AsgiTransport(app)
    transport.start()
    try:
        yield transport
    finally:
        transport.stop()


# --- relays in this process -----------------------------------------------------------------


@dataclass
class LocalRelay:
    """A relay app running in this process; ``http`` and ``transport`` reach it."""

    url: str
    spool: Path
    transport: AsgiTransport
    http: httpx.Client

    def check(self) -> None:
        """Fail if the app raised inside any request (it answered 500 to it)."""
        assert self.transport.errors == [], self.transport.errors


@contextlib.contextmanager
def local_relays(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    """Factory of in-process relays (one app each, its own spool), stopped at the end."""
    made: list[LocalRelay] = []
    with contextlib.ExitStack() as stack:

        def make(
            desk_key: Ed25519PublicKey,
            *,
            name: str = "relay",
            clock: Callable[[], float] = time.time,
            **settings: Any,
        ) -> LocalRelay:
            spool = tmp_path / name
            config = RelayConfig(spool=spool, desk_key=desk_key, **settings)
            transport = stack.enter_context(asgi_transport(create_app(config, clock=clock)))
            http = stack.enter_context(httpx.Client(base_url=LOCAL_URL, transport=transport))
            relay = LocalRelay(url=LOCAL_URL, spool=spool, transport=transport, http=http)
            made.append(relay)
            return relay

        yield make
    for relay in made:
        relay.check()


class HeldBody:
    """A request body that sends ``head``, then waits until released (or cut).

    ``waiting`` is set once the app has taken ``head`` and asked for more: the
    relay is receiving this body now. ``release()`` sends ``rest`` and ends it;
    ``cut()`` ends it as a cut link. Unreleased, it gives up after WAIT_S (cut).
    """

    def __init__(self, head: bytes, rest: bytes = b"") -> None:
        self.head = head
        self.rest = rest
        self.waiting = threading.Event()
        self._go = threading.Event()
        self._cut = False
        self.taken = 0  # bytes the app has taken from this body

    def __iter__(self) -> Iterator[bytes]:
        self.taken += len(self.head)
        yield self.head
        self.waiting.set()
        if not self._go.wait(WAIT_S) or self._cut:
            raise LinkCut
        if self.rest:
            self.taken += len(self.rest)
            yield self.rest

    def release(self) -> None:
        self._go.set()

    def cut(self) -> None:
        self._cut = True
        self._go.set()


@contextlib.contextmanager
def in_thread(work: Callable[[], T]) -> Iterator[Future[T]]:
    """Run ``work`` in another thread for the block; its result is waited for (bounded)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        try:
            yield future
        finally:
            with contextlib.suppress(BaseException):
                future.result(timeout=WAIT_S)


# --- relays in a process of their own (kill -9 trials) --------------------------------------

POLLS = 2000  # bounded polling: 2000 x 10 ms


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` every 10 ms, at most POLLS times (for other processes' progress)."""
    pause = threading.Event()
    for _ in range(POLLS):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# ``sijil relay serve`` itself (the same click command and options), started without
# the CLI's other command groups: a relay start costs half a second less. The
# operator's full ``sijil`` entry point is what test_relay_protocol's log test runs.
RELAY_SERVE = (
    "import sys; from sijil.cli.relay_cmds import relay; "
    "relay.main(sys.argv[1:], prog_name='sijil relay', auto_envvar_prefix='SIJIL_RELAY')"
)


@contextlib.contextmanager
def relay_process(spool: Path, desk_pub: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``sijil relay serve`` in a process of its own on a free port; killed at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RELAY_SERVE,
            "serve",
            "--spool",
            str(spool),
            "--desk-key",
            str(desk_pub),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "the relay exited"
        try:
            httpx.options(f"{url}/files", timeout=1)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(up, "the relay to start")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
