"""sijil.relay.server: the relay service (ASGI); holds no key that opens anything.

config    the frozen settings and the rate limiter
spool     uploads and finished envelopes on disk, keyed by envelope id
writer    appending a PATCH body to an upload
app       ``create_app(config)``: tus routes, the desk pull API, mailboxes
serve     uvicorn around the app, with address-scrubbing logs
connections  uvicorn's HTTP protocol with a header timeout and an evicting connection cap
lossy     a lossy TCP link for trials and benchmarks
"""

from sijil.relay.server.app import UPLOADS_PATH, create_app
from sijil.relay.server.config import RelayConfig

__all__ = ["UPLOADS_PATH", "RelayConfig", "create_app"]
