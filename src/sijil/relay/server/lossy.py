"""A bad link on loopback: a TCP proxy that throttles and cuts connections.

For tests and ``bench/relay_lossy.py`` only: it listens on 127.0.0.1 and forwards
to a loopback address, slows the sender-to-server direction to ``rate`` bytes/s,
and closes both sides after every ``cut_every`` forwarded bytes (a fixed number,
or a random one between two bounds). It counts what the sender put on the wire.
It stops by itself after ``deadline_s`` and refuses non-loopback targets.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from sijil.errors import ConfigError

__all__ = ["LinkStats", "LossyLink"]

# Small reads: a cut wastes at most this much already taken from the sender.
READ_SIZE = 4096


@dataclass
class LinkStats:
    from_sender: int = 0  # bytes read from senders (what they put on the wire)
    forwarded: int = 0  # bytes delivered to the server
    cuts: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class LossyLink:
    """``with LossyLink(target_port=..., ...) as link: link.port``; see the module doc."""

    def __init__(
        self,
        *,
        target_port: int,
        target_host: str = "127.0.0.1",
        rate: float | None = None,
        cut_every: tuple[int, int] | None = None,
        max_cuts: int | None = None,
        deadline_s: float = 3600.0,
        seed: int = 0,
    ) -> None:
        if not ipaddress.ip_address(target_host).is_loopback:
            raise ConfigError("the lossy link only forwards to loopback addresses")
        self.target = (target_host, target_port)
        self.rate = rate
        self.cut_every = cut_every
        self.max_cuts = max_cuts
        self.stats = LinkStats()
        self._rng = random.Random(seed)  # noqa: S311 - a test link, not secrets
        self._next_cut = self._draw()
        self._since_cut = 0
        self._deadline = time.monotonic() + deadline_s
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()

    def _draw(self) -> int | None:
        if self.cut_every is None:
            return None
        low, high = self.cut_every
        return self._rng.randint(low, high)

    def _alive(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while self._alive():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(0.2)
                self._open.add(sock)
            with self.stats.lock:
                self.stats.connections += 1
            self._spawn(self._pump, client, upstream, True)
            self._spawn(self._pump, upstream, client, False)

    def _cut(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            self._open.discard(sock)

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        started, sent = time.monotonic(), 0
        while self._alive():
            try:
                data = src.recv(READ_SIZE)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if upstream:
                with self.stats.lock:
                    self.stats.from_sender += len(data)
                if self.rate:
                    sent += len(data)
                    ahead = sent / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        self._stop.wait(ahead)  # the throttle itself
                with self.stats.lock:
                    cut = self._count(len(data))
                if cut is not None:
                    with contextlib.suppress(OSError):
                        dst.sendall(data[:cut])
                    self._cut(src, dst)
                    return
            try:
                dst.sendall(data)
            except OSError:
                break
        self._cut(src, dst)

    def _count(self, size: int) -> int | None:
        """Account ``size`` forwarded bytes; return how many to pass before a cut, or None."""
        if self._next_cut is None or (
            self.max_cuts is not None and self.stats.cuts >= self.max_cuts
        ):
            self.stats.forwarded += size
            return None
        room = self._next_cut - self._since_cut
        if size < room:
            self._since_cut += size
            self.stats.forwarded += size
            return None
        self.stats.forwarded += room
        self.stats.cuts += 1
        self._since_cut = 0
        self._next_cut = self._draw()
        return room

    def __enter__(self) -> Self:
        self._spawn(self._accept_loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._listener.close()
        self._cut(*list(self._open))
        for thread in self._threads:
            thread.join(timeout=5)
