"""The relay's settings (one frozen object, built once at start) and its rate limiter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sijil.crypto.identity import DeskPublic
from sijil.errors import ConfigError, RelayLimitExceeded
from sijil.relay.protocol.auth import token_digest
from sijil.relay.protocol.tus import DEFAULT_MAX_ENVELOPE_BYTES
from sijil.relay.protocol.work import MAX_BITS, WORK_BITS

__all__ = [
    "DEFAULT_EXPIRY_S",
    "DEFAULT_MAX_ENVELOPE_BYTES",
    "DEFAULT_MAX_UNFINISHED_BYTES",
    "DEFAULT_REJECTED_KEEP_S",
    "DEFAULT_SPOOL_QUOTA_BYTES",
    "DEFAULT_UNFED_EXPIRY_S",
    "HEADER_TIMEOUT_S",
    "MAX_CONNECTIONS",
    "MAX_REJECTED_BYTES",
    "WORK_AT_SHARE",
    "RateLimiter",
    "RelayConfig",
    "load_relay_token_file",
    "load_relay_tokens",
]

# Two days: long enough for a correspondent who loses the link for a night.
DEFAULT_EXPIRY_S = 2 * 24 * 3600
# Phones behind Tor send few uploads at once; more in flight is load, not users.
DEFAULT_MAX_CONCURRENT = 32
# Bounds the spool's unfinished part files (each up to the envelope limit).
DEFAULT_MAX_UNFINISHED = 256
# An upload that received no byte this long after it was made is dropped: a sender
# PATCHes right after POST, and 256 never-fed uploads closed the channel for 48 h.
DEFAULT_UNFED_EXPIRY_S = 10 * 60
# The bytes unfinished uploads declared (Upload-Length) are reserved when they are
# made; the sum may not pass this. Counting uploads alone let a few 2 GiB
# declarations claim the spool, or 256 tiny ones lock out every large one.
DEFAULT_MAX_UNFINISHED_BYTES = 8 << 30
# The spool's default cap: a relay is a small server whose disk also holds its logs
# and Tor's state; a full disk would stop those too. --quota-mb changes it.
DEFAULT_SPOOL_QUOTA_BYTES = 16 << 30
# Refused uploads (rejected/) are kept for the operator this long, then deleted, and
# never more than MAX_REJECTED_BYTES of them (oldest go first): they are not
# envelopes, so nothing the desk could lose, and a stranger must not fill the disk.
DEFAULT_REJECTED_KEEP_S = 7 * 24 * 3600
MAX_REJECTED_BYTES = 1 << 30
# Requests per second over all clients, with a burst; a relay is small.
DEFAULT_RATE = 50.0
DEFAULT_BURST = 200
# A body that sends nothing for this long is a slow-loris; what came is kept.
DEFAULT_IDLE_TIMEOUT_S = 60.0
# A request's headers come in one or two packets, even through Tor (the stream is
# open before the client writes); nginx's default client_header_timeout is 60 s,
# the deployment guide advises 20 s. Slow-loris connections are cut after this.
HEADER_TIMEOUT_S = 20.0
# Open connections at most; each costs a file descriptor and a little memory. Below
# the usual 1024 descriptors a process may hold, with room for spool files and Tor.
MAX_CONNECTIONS = 768
# Of each limit (uploads receiving at once, unfinished uploads and their bytes),
# senders without the network's relay token may take this share; the rest is kept
# for correspondents, so a flood without the token cannot take it. Each kind of
# sender also has a request budget (rate, burst) of its own.
ANONYMOUS_SHARE = 0.75
# Strangers must show proof of work (protocol/work.py) to make an upload once the
# unfinished uploads fill this part of their share: free while the relay is quiet,
# costly for a flooder.
WORK_AT_SHARE = 0.5
# A relay token is a shared secret handed out in invites; shorter is guessable.
MIN_TOKEN_CHARS = 32
# a token given by its digest in the token file (what the desk writes)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Replies are a few lines of text; a sealed reply larger than this is not one.
MAX_REPLY_BYTES = 64 << 10
MAX_REPLIES_PER_BOX = 200


@dataclass(frozen=True, kw_only=True)
class RelayConfig:
    spool: Path
    desk_key: Ed25519PublicKey
    max_envelope_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES
    max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT
    max_unfinished_uploads: int = DEFAULT_MAX_UNFINISHED
    expiry_s: float = DEFAULT_EXPIRY_S
    rate_per_s: float = DEFAULT_RATE
    rate_burst: int = DEFAULT_BURST
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    unfed_expiry_s: float = DEFAULT_UNFED_EXPIRY_S
    max_unfinished_bytes: int = DEFAULT_MAX_UNFINISHED_BYTES
    rejected_keep_s: float = DEFAULT_REJECTED_KEEP_S
    max_rejected_bytes: int = MAX_REJECTED_BYTES
    header_timeout_s: float = HEADER_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    # SHA-256 (hex) of each relay token accepted (load_relay_tokens); none: every
    # sender is anonymous and may use every limit whole
    relay_tokens: frozenset[str] = frozenset()
    # digest -> unix time after which that token is refused (a rotated-out token's
    # grace period, ``until=`` in the token file); a token not here never expires
    relay_token_until: Mapping[str, float] = field(default_factory=dict)
    # proof of work asked of strangers under pressure (protocol/work.py); 0: never
    work_bits: int = WORK_BITS

    @property
    def anonymous_share(self) -> float:
        return ANONYMOUS_SHARE if self.relay_tokens else 1.0

    # None: the disk is the limit; a number caps the spool below it (a full disk
    # would also stop the machine's logs and Tor)
    spool_quota_bytes: int | None = DEFAULT_SPOOL_QUOTA_BYTES

    def __post_init__(self) -> None:
        for name in (
            "max_envelope_bytes",
            "max_concurrent_uploads",
            "max_unfinished_uploads",
            "max_unfinished_bytes",
            "max_rejected_bytes",
            "max_connections",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if not 0 <= self.work_bits <= MAX_BITS:
            raise ConfigError(f"proof-of-work bits must be 0 (never asked) to {MAX_BITS}")
        timings = (
            self.expiry_s,
            self.unfed_expiry_s,
            self.rejected_keep_s,
            self.idle_timeout_s,
            self.header_timeout_s,
        )
        if min(timings) <= 0 or self.rate_per_s <= 0:
            raise ConfigError("expiry, rate and idle timeout must be positive")

    @classmethod
    def from_desk_file(cls, path: Path, *, spool: Path, **settings: object) -> RelayConfig:
        """Read the desk's public-key file (desk.pub); only its signing key is used."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the desk key file {path.name}") from exc
        desk = DeskPublic.from_bytes(data)
        return cls(spool=spool, desk_key=desk.sign, **settings)  # type: ignore[arg-type]


def load_relay_tokens(path: Path) -> frozenset[str]:
    """The digests of the tokens in ``path`` (see :func:`load_relay_token_file`)."""
    return frozenset(load_relay_token_file(path))


def load_relay_token_file(path: Path) -> dict[str, float | None]:
    """Each accepted token's digest, and when it stops being accepted (None: never).

    One token a line, ``#`` comments. A line is the token itself, or (as ``sijil desk
    relay-token rotate`` writes it, so the file holds no secret) ``sha256:<digest>``;
    either may end in `` until=<unix time>``: a rotated-out token, kept for a grace
    period while the new one reaches every device.
    """
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the relay token file {path.name}") from exc
    accepted: dict[str, float | None] = {}
    for line in lines:
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        until: float | None = None
        if len(words) == 2 and words[1].startswith("until=") and words[1][6:].isdigit():
            until = float(words[1][6:])
        elif len(words) != 1:
            raise ConfigError(f"a line of {path.name} is neither a token nor 'TOKEN until=TIME'")
        token = words[0]
        if _DIGEST.fullmatch(token):
            digest = token[len("sha256:") :]
        elif len(token) >= MIN_TOKEN_CHARS:
            digest = token_digest(token)
        else:
            raise ConfigError(f"each relay token must be at least {MIN_TOKEN_CHARS} characters")
        accepted[digest] = until
    if not accepted:
        raise ConfigError(f"each relay token must be at least {MIN_TOKEN_CHARS} characters")
    return accepted


class RateLimiter:
    """A global token bucket: no per-client state, because clients are not identified."""

    def __init__(self, *, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def take(self, *, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            wait = max(1, int((1 - self._tokens) / self._rate) + 1)
            raise RelayLimitExceeded(f"too many requests; retry in {wait}s", status=429)
        self._tokens -= 1
