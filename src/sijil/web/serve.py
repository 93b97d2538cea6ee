"""Running the desk web app under uvicorn, with no client addresses in any log.

The relay's logging setup is reused (sijil.relay.server.serve): no access log,
uvicorn's own logger at warnings only, and a filter that blanks anything shaped
like an IP address. ``proxy_headers`` is off: X-Forwarded-For is never read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import uvicorn

from sijil.desk.custody import utcnow
from sijil.errors import ConfigError
from sijil.relay.server.serve import LOG_CONFIG
from sijil.web.app import create_app
from sijil.web.config import WebConfig

__all__ = ["running_desk_app", "serve"]

#: A desk app that needs longer than this to start is broken; waiting hides it.
START_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 30
#: A handful of editors; more open connections than this is a flood, refused with 503.
MAX_CONNECTIONS = 256


def _config(
    config: WebConfig, *, host: str, port: int, clock: Callable[[], datetime]
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config, clock=clock),
        host=host,
        port=port,
        access_log=False,
        log_config=LOG_CONFIG,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        lifespan="on",
    )


def _listen(host: str, port: int) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on port {port}: {exc.strerror}") from exc
    return sock


def serve(config: WebConfig, *, host: str, port: int) -> None:
    """Serve until interrupted (SIGINT/SIGTERM)."""
    server = uvicorn.Server(_config(config, host=host, port=port, clock=utcnow))
    server.run(sockets=[_listen(host, port)])


@contextlib.contextmanager
def running_desk_app(
    config: WebConfig, *, host: str = "127.0.0.1", clock: Callable[[], datetime] = utcnow
) -> Iterator[str]:
    """Run the app in a thread on a free loopback port; yield its base URL."""
    sock = _listen(host, 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(config, host=host, port=port, clock=clock))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:  # bounded: the deadline
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError("the desk web app did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
