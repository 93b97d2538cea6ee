"""Connections a stranger cannot hoard: a header timeout and a cap that evicts the idle.

uvicorn has no timeout for a request's headers, and its ``limit_concurrency`` counts
every open connection, so 520 connections that sent half a request line made every
legitimate request fail with 503 until they went away. This HTTP protocol (uvicorn's
own, httptools, with three hooks) changes that:

* **Header timeout.** A connection must finish a request's headers within
  ``HEADER_TIMEOUT_S`` of opening (or of its first byte after a keep-alive wait), or
  it is closed. Bodies have their own limits in the app (a PATCH's idle timeout, a
  deadline for the small bodies of desk requests).
* **Connection cap that evicts.** At ``MAX_CONNECTIONS`` open connections, a new
  one does not get refused: the connection that has been waiting longest *without
  a request being served* (idle keep-alive or half-open) is closed to make room.
  Only when every connection is serving a request is the newcomer closed. A flood
  of half-open connections therefore pushes out itself, not the correspondents.

Requests are not refused here by number: the app reserves capacity for senders with
the relay token (``app.py``), which a connection-level count cannot tell apart.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sijil.relay.server.config import HEADER_TIMEOUT_S, MAX_CONNECTIONS

__all__ = ["HEADER_TIMEOUT_S", "MAX_CONNECTIONS", "GuardedHttpProtocol", "guarded_protocol"]


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and an evicting connection cap."""

    header_timeout_s = HEADER_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0  # when this connection last began waiting for a request
        self._serving = False  # a request's headers are complete and its answer not yet sent

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting_since = self.loop.time()
        self._arm_header_timer()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the first byte after a keep-alive wait
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        self._serving = True
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._serving = False
        self._waiting_since = self.loop.time()
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self._serving and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        """Close the longest-waiting connection that serves no request, else this one."""
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedHttpProtocol)
            and c is not self
            and not c._serving
            and not c.transport.is_closing()
        ]
        victim = min(idle, key=lambda c: c._waiting_since, default=self)
        victim.transport.close()
        # closed connections leave the set only when the loop reports them lost
        self.connections.discard(victim)


def guarded_protocol(*, header_timeout_s: float, max_connections: int) -> type[GuardedHttpProtocol]:
    """The protocol class with these limits (uvicorn makes one instance per connection)."""
    return type(
        "RelayHttpProtocol",
        (GuardedHttpProtocol,),
        {"header_timeout_s": header_timeout_s, "max_connections": max_connections},
    )
