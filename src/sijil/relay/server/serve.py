"""Running the relay under uvicorn with nothing about clients in its logs.

uvicorn's access log (which prints each client's address) is off, its own
logger speaks only warnings, and a filter blanks anything shaped like an IP
address in whatever it still prints. The app never reads addresses or
User-Agents; ``proxy_headers`` is off so X-Forwarded-For is not even parsed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from sijil.errors import ConfigError
from sijil.relay.server.app import create_app
from sijil.relay.server.config import RelayConfig
from sijil.relay.server.connections import guarded_protocol

__all__ = ["LOG_CONFIG", "ScrubAddresses", "running_relay", "serve", "uvicorn_config"]

# A server that takes 10 s to start is broken; waiting longer hides that.
START_TIMEOUT_S = 10.0
# Idle keep-alive connections are closed after this; Tor circuits are slow to open,
# so not too short either.
KEEP_ALIVE_S = 30
_ADDRESS = re.compile(
    r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\[?\b(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}\b\]?"
)


class ScrubAddresses(logging.Filter):
    """Blank IPv4/IPv6 addresses in any record that reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = _ADDRESS.sub("[address]", message)
        record.args = None
        return True


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": ScrubAddresses}},
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub"],
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def uvicorn_config(
    config: RelayConfig, *, host: str, port: int, clock: Callable[[], float] = time.time
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
        # no limit_concurrency: it counts half-open connections too, so a flood of them
        # made every request fail with 503; the protocol times out slow headers and
        # evicts idle connections at its cap instead (connections.py)
        http=guarded_protocol(
            header_timeout_s=config.header_timeout_s, max_connections=config.max_connections
        ),
        lifespan="on",
    )


def serve(config: RelayConfig, *, host: str, port: int) -> None:
    """Serve until interrupted (SIGINT/SIGTERM)."""
    server = uvicorn.Server(uvicorn_config(config, host=host, port=port))
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on port {port}: {exc.strerror}") from exc
    server.run(sockets=[sock])


@contextlib.contextmanager
def running_relay(
    config: RelayConfig, *, host: str = "127.0.0.1", clock: Callable[[], float] = time.time
) -> Iterator[str]:
    """Run a relay in a thread on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(config, host=host, port=port, clock=clock))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError("the relay did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()
