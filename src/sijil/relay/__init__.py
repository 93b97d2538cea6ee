"""sijil.relay: the small exposed server that takes envelopes and holds no key.

tus 1.0 uploads into a spool keyed by envelope id, a pull API for the desk
(Ed25519-signed requests), and reply mailboxes named by a hash of the
correspondent's reply key. ``create_app(config)`` builds the ASGI application.
"""

from sijil.relay.app import UPLOADS_PATH, create_app
from sijil.relay.config import RelayConfig

__all__ = ["UPLOADS_PATH", "RelayConfig", "create_app"]
