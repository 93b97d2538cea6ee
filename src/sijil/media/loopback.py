"""Hand a seekable stream to ffmpeg without a file: a one-use HTTP server on loopback.

ffmpeg and ffprobe read a video by path, and many containers (an MP4 whose index
comes last, as phones write them) must be read out of order, so a pipe will not
do. The desk keeps attachments only encrypted in its vault, and a decrypted copy
on disk is what it must never have; so the plaintext is served, decrypted as it
is asked for, to ffmpeg's own HTTP reader, which seeks with ``Range`` requests.

The server listens on 127.0.0.1 only, on a port the system picks, answers only
one random 192-bit path, logs nothing, and stops when the ``with`` block ends.
Each request opens its own stream, so ffmpeg's parallel reads do not interfere.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Final

__all__ = ["Opener", "serve_stream"]

Opener = Callable[[], BinaryIO]
"""Opens a new seekable reader of the same bytes each time it is called."""

BLOCK: Final = 256 << 10
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def _size(opener: Opener) -> int:
    with opener() as stream:
        return stream.seek(0, 2)


def _handler(path: str, opener: Opener, size: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            """Nothing is logged (no addresses, no paths)."""

        def do_GET(self) -> None:
            if self.path != path:
                self.send_error(404)
                return
            start, end = 0, size - 1
            wanted = _RANGE.fullmatch(self.headers.get("Range", "").strip())
            if wanted is not None:
                start = int(wanted.group(1))
                end = min(int(wanted.group(2) or size - 1), size - 1)
                if start >= size and size > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.end_headers()
                    return
            length = max(0, end - start + 1)
            self.send_response(200 if wanted is None else 206)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            if wanted is not None:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            try:
                with opener() as stream:
                    stream.seek(start)
                    while length > 0:
                        block = stream.read(min(BLOCK, length))
                        if not block:
                            break
                        self.wfile.write(block)
                        length -= len(block)
            except (BrokenPipeError, ConnectionResetError):
                return  # ffmpeg seeks by dropping the connection: expected

    return Handler


@contextmanager
def serve_stream(opener: Opener) -> Iterator[str]:
    """A loopback URL ffmpeg can read (and seek) the stream's bytes from, while inside."""
    path = "/" + secrets.token_hex(24)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(path, opener, _size(opener)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="media-loopback", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
