"""A stranger floods the relay; does a correspondent still get through? (loopback only)

Runs ``sijil relay serve`` as a process on 127.0.0.1 and, for each attack, measures
what a correspondent sees meanwhile (an upload made, and ended, every 0.1 s at most;
proving work first when the relay asks, as ``sijil field send`` does): how many were
made, and how slowly.

    never-fed   the stranger makes uploads and never feeds them (the spool's limits)
    requests    one stranger sends requests as fast as it can (the rate limit)
    half-open   the stranger opens many connections and sends half a request line

Each attack lasts ``--seconds`` (every loop is bounded by it, or by a count). With
``--token`` the correspondent carries the network's relay token (a relay that does
not know tokens ignores it). Prints one line per attack, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sijil.crypto.identity import DeskIdentity
from sijil.relay.protocol import work

HOST = "127.0.0.1"
TUS = {"Tus-Resumable": "1.0.0"}
# The correspondent's pace: one request each this often, as a phone resuming uploads.
PACE_S = 0.1
# Half-open connections the stranger holds (the probe held 520).
HALF_OPEN = 1000
# Uploads the stranger tries to make and never feed (the probe made 256), each
# declaring 2 GiB (the most a relay takes by default).
NEVER_FED = 400
START_TIMEOUT_S = 15.0
TOKEN = "bench-network-token-0123456789abcdef"  # noqa: S105 - a throwaway bench token


@dataclass
class Seen:
    """What the correspondent saw."""

    codes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        served = sum(1 for c in self.codes if c < 400)
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        worst = max(self.latencies) * 1000 if self.latencies else float("nan")
        refused = sorted({c for c in self.codes if c >= 400})
        return (
            f"correspondent served {served}/{len(self.codes)}"
            f" (refused: {refused or 'none'}), latency p50 {p50:.0f} ms, max {worst:.0f} ms"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def relay(spool: Path, desk_pub: Path, extra: list[str]) -> Iterator[str]:
    port = free_port()
    tokens = spool.parent / "tokens"
    tokens.write_text(TOKEN + "\n")
    cmd = [
        sys.executable,
        "-m",
        "sijil.cli.main",
        "relay",
        "serve",
        "--spool",
        str(spool),
        "--desk-key",
        str(desk_pub),
        "--port",
        str(port),
        *extra,
    ]
    env = {**os.environ, "SIJIL_RELAY_TOKEN_FILE": str(tokens)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.options(f"{url}/files", timeout=1)
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the relay did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=START_TIMEOUT_S)


def correspondent(url: str, seconds: float, token: bool, seen: Seen) -> None:
    headers = {**TUS, "Upload-Length": "1000"}
    if token:
        headers["Sijil-Relay-Token"] = TOKEN
    end = time.monotonic() + seconds
    with httpx.Client(timeout=10) as http:
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                made = http.post(f"{url}/files", headers=headers)
                if made.status_code == work.WORK_REQUIRED:  # as sijil field send does
                    bits = int(made.headers[work.WORK_BITS_HEADER])
                    stamp = {work.WORK_HEADER: work.solve(bits, now=time.time())}
                    made = http.post(f"{url}/files", headers={**headers, **stamp})
                code = made.status_code
                if code == 201:  # end it, so the correspondent's own uploads do not pile up
                    http.delete(f"{url}{made.headers['location']}", headers=headers)
            except httpx.HTTPError:
                code = 599  # no answer at all
            seen.codes.append(code)
            seen.latencies.append(time.monotonic() - start)
            time.sleep(max(0.0, PACE_S - (time.monotonic() - start)))


def flood_requests(url: str, seconds: float, stop: threading.Event, sent: list[int]) -> None:
    end = time.monotonic() + seconds
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < end and not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                http.options(f"{url}/files")
            sent[0] += 1


def never_fed(url: str, seconds: float, stop: threading.Event, sent: list[int]) -> None:
    end = time.monotonic() + seconds
    with httpx.Client(timeout=5) as http:
        for _ in range(NEVER_FED):
            if time.monotonic() > end or stop.is_set():
                break
            with contextlib.suppress(httpx.HTTPError):
                http.post(f"{url}/files", headers={**TUS, "Upload-Length": str(2 << 30)})
            sent[0] += 1


def half_open(url: str, seconds: float, stop: threading.Event, sent: list[int]) -> None:
    port = int(url.rsplit(":", 1)[1])
    socks: list[socket.socket] = []
    try:
        for _ in range(HALF_OPEN):
            if stop.is_set():
                break
            with contextlib.suppress(OSError):
                sock = socket.create_connection((HOST, port), timeout=2)
                sock.sendall(b"POST /files HTTP/1.1\r\nHost: relay\r\n")
                socks.append(sock)
                sent[0] += 1
        stop.wait(seconds)
    finally:
        for sock in socks:
            sock.close()


ATTACKS = {"never-fed": never_fed, "requests": flood_requests, "half-open": half_open}


def run(attack: str, url: str, seconds: float, token: bool) -> str:
    stop = threading.Event()
    sent = [0]
    seen = Seen()
    # two request flooders (each a keep-alive connection), one for the other attacks
    strangers = [
        threading.Thread(target=ATTACKS[attack], args=(url, seconds, stop, sent))
        for _ in range(2 if attack == "requests" else 1)
    ]
    for stranger in strangers:
        stranger.start()
    time.sleep(min(2.0, seconds / 4))  # the attack is under way before the correspondent
    started = time.monotonic()
    correspondent(url, seconds, token, seen)
    stop.set()
    for stranger in strangers:
        stranger.join(timeout=seconds + 30)
    rate = sent[0] / max(0.001, time.monotonic() - started + min(2.0, seconds / 4))
    return f"{attack:<10} stranger {sent[0]} ({rate:.0f}/s); {seen.line()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token", action="store_true", help="the correspondent has the token")
    parser.add_argument("--attack", choices=sorted(ATTACKS), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sijil-flood-") as tmp:
        desk_pub = Path(tmp) / "desk.pub"
        desk_pub.write_bytes(DeskIdentity.generate().public.to_bytes())
        for attack in args.attack or list(ATTACKS):
            spool = Path(tmp) / attack
            with relay(spool, desk_pub, []) as url:
                print(run(attack, url, args.seconds, args.token), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
