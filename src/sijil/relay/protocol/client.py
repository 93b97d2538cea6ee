"""The HTTP side every relay client shares: one httpx client, errors translated once.

Used by ``sijil field send``/``inbox`` and ``sijil desk pull``/``reply``. A proxy
such as Tor's ``socks5h://127.0.0.1:9050`` resolves names at the proxy, so an
onion address never touches local DNS. An ``.onion`` relay without a proxy is
refused before any socket is opened: a direct attempt would ask local DNS for
the name, telling the network which relay this device uses.

Like ``httpx.Client``, the client takes a ``transport``: what carries its
requests instead of the network (the tests pass one that runs the relay's ASGI
app in the same process, so they need no socket).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from sijil.errors import (
    ConfigError,
    RelayAuthError,
    RelayError,
    RelayLimitExceeded,
    RelayProtocolError,
    RelayUnreachable,
)
from sijil.fsutil import atomic_writer
from sijil.relay.protocol.auth import RELAY_TOKEN_HEADER

__all__ = [
    "LONGER_THAN_LISTED",
    "RelayClient",
    "is_onion",
    "relay_error",
    "visible_address_warning",
]

# Tor circuits take seconds to build and phones sleep; a minute of silence is a cut.
TIMEOUT = httpx.Timeout(60.0, connect=60.0)
# Our own User-Agent, the same for everyone: httpx's default names its version.
USER_AGENT = "sijil"
MAX_ERROR_TEXT = 200
DOWNLOAD_BLOCK = 1 << 20
# The status a download past its cap is refused with (the relay misbehaved: 502).
LONGER_THAN_LISTED = 502


def is_onion(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    return host.endswith(".onion")


def visible_address_warning(base_url: str, proxy: str | None) -> str | None:
    """The one-line warning for a direct connection to a clearnet relay, if one is due."""
    if proxy is not None or is_onion(base_url):
        return None
    return (
        "sijil: warning: no --proxy: the relay (and the network on the way) "
        "sees this device's IP address"
    )


def relay_error(response: httpx.Response) -> RelayError:
    """The typed error for a refusal, with the relay's one-line reason."""
    status = response.status_code
    try:
        text = response.text.strip().splitlines()[0][:MAX_ERROR_TEXT] if response.text else ""
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        text = ""
    message = f"the relay refused ({status}): {text or response.reason_phrase}"
    if status in (401, 403):
        return RelayAuthError(message, status=status)
    if status in (413, 429, 503, 507):
        return RelayLimitExceeded(message, status=status)
    if 400 <= status < 500 or status == 460:
        return RelayProtocolError(message, status=status)
    return RelayError(message, status=status)


class RelayClient:
    """A connection to one relay, through a SOCKS or HTTP proxy, or over a given transport.

    ``transport`` (an ``httpx.BaseTransport``) carries the requests instead of
    the network; with it there is nothing for a proxy to do, so both at once are
    refused. ``relay_token`` (from the invite) is sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        proxy: str | None = None,
        transport: httpx.BaseTransport | None = None,
        relay_token: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("the relay address must be an http:// or https:// URL")
        if proxy is not None and urlsplit(proxy).scheme not in (
            "socks5",
            "socks5h",
            "http",
            "https",
        ):
            raise ConfigError("the proxy must be a socks5h://, socks5:// or http:// URL")
        if proxy is not None and transport is not None:
            raise ConfigError("give the relay client a proxy or a transport, not both")
        if proxy is None and is_onion(base_url):
            raise ConfigError(
                "an .onion relay needs Tor: give --proxy socks5h://127.0.0.1:9050 "
                "(or set SIJIL_PROXY)"
            )
        self.base_url = base_url.rstrip("/") + "/"
        try:
            self._http = httpx.Client(
                proxy=proxy,
                transport=transport,
                timeout=TIMEOUT,
                # the network's relay token, when the invite carried one: every
                # enrolled device sends the same, so it names the network, not the device
                headers={
                    "User-Agent": USER_AGENT,
                    **({RELAY_TOKEN_HEADER: relay_token} if relay_token else {}),
                },
                follow_redirects=False,
            )
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"cannot use this proxy: {exc}") from exc

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def path_of(self, url: str) -> str:
        return urlsplit(url).path

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> httpx.Response:
        """Send one request; a refusal raises its typed error, a cut RelayUnreachable."""
        try:
            response = self._http.request(
                method, self.url(url), headers=dict(headers or {}), content=content
            )
        except httpx.HTTPError as exc:
            # the URL can be an onion address worth keeping off screens: name the kind only
            raise RelayUnreachable(
                f"the relay could not be reached or the link was cut ({type(exc).__name__})",
                status=0,
            ) from exc
        if response.status_code not in ok:
            raise relay_error(response)
        return response

    def download(
        self, url: str, target: Path, *, headers: Mapping[str, str], max_bytes: int
    ) -> str:
        """Stream a body of at most ``max_bytes`` into ``target`` (atomically); return its SHA-256.

        A longer body is refused as soon as it passes the cap, and nothing is written.
        """
        digest = hashlib.sha256()
        received = 0
        try:
            with (
                self._http.stream("GET", self.url(url), headers=dict(headers)) as response,
            ):
                if response.status_code != 200:
                    response.read()
                    raise relay_error(response)
                declared = response.headers.get("content-length", "")
                if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
                    raise RelayProtocolError(
                        "the relay sent more than it listed; not imported",
                        status=LONGER_THAN_LISTED,
                    )
                with atomic_writer(target) as out:
                    for block in response.iter_bytes(DOWNLOAD_BLOCK):
                        received += len(block)
                        if received > max_bytes:
                            raise RelayProtocolError(
                                "the relay sent more than it listed; not imported",
                                status=LONGER_THAN_LISTED,
                            )
                        digest.update(block)
                        out.write(block)
        except httpx.HTTPError as exc:
            raise RelayUnreachable(
                f"the relay could not be reached or the link was cut ({type(exc).__name__})",
                status=0,
            ) from exc
        return digest.hexdigest()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
