"""RFC 3161 trusted timestamps of signed tree heads (optional).

The request is built here (a few fixed DER bytes: SHA-256 imprint of the head's
exact bytes, a nonce, certReq) and POSTed to the configured authority as
``application/timestamp-query``. The whole response (``.tsr``) is stored beside
the head. Verification is offline: ``openssl ts -verify`` checks the imprint,
the authority's signature and its certificate chain up to the configured root.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sijil.errors import ConfigError, TimestampError
from sijil.fsutil import atomic_write

__all__ = [
    "OPENSSL_TIMEOUT_S",
    "TsaConfig",
    "build_request",
    "request_timestamp",
    "response_status",
    "verify_token",
]

_SHA256_ALG = bytes.fromhex("300d06096086480165030402010500")
# A timestamp reply is a few KB; more is not a timestamp.
MAX_RESPONSE = 64 << 10
# An authority that has not answered in this long is down; the head stays
# signed and can be stamped again later.
TIMEOUT_S = 20
# ``openssl ts -verify`` takes milliseconds; one still running after this is stuck
OPENSSL_TIMEOUT_S = 30.0


@dataclass(frozen=True, kw_only=True)
class TsaConfig:
    url: str
    ca_pem: bytes

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError("the timestamp authority URL must be http:// or https://")
        if b"-----BEGIN CERTIFICATE-----" not in self.ca_pem:
            raise ConfigError("the timestamp authority's root must be a PEM certificate")

    def save(self, path: Path) -> None:
        doc = {"url": self.url, "ca_pem": self.ca_pem.decode("ascii")}
        atomic_write(path, json.dumps(doc, indent=1).encode())

    @classmethod
    def load(cls, path: Path) -> TsaConfig | None:
        if not path.is_file():
            return None
        try:
            doc: Any = json.loads(path.read_bytes())
            return cls(url=str(doc["url"]), ca_pem=str(doc["ca_pem"]).encode("ascii"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path.name} is damaged") from exc


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def build_request(data: bytes, nonce: bytes | None = None) -> bytes:
    """A DER TimeStampReq for SHA-256(data), asking for the signer's certificate."""
    nonce = nonce or os.urandom(8)
    nonce = b"\x00" + nonce if nonce[0] & 0x80 else nonce  # INTEGER stays positive
    imprint = _der(0x30, _SHA256_ALG + _der(0x04, hashlib.sha256(data).digest()))
    body = _der(0x02, b"\x01") + imprint + _der(0x02, nonce) + _der(0x01, b"\xff")
    return _der(0x30, body)


def _read(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise TimestampError("the timestamp reply is cut short")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise TimestampError("the timestamp reply is not DER")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise TimestampError("the timestamp reply is cut short")
    return tag, pos, pos + length


def response_status(reply: bytes) -> int:
    """PKIStatus of a TimeStampResp: 0 granted, 1 granted with mods, >= 2 refused."""
    tag, start, _ = _read(reply, 0)
    if tag != 0x30:
        raise TimestampError("the timestamp reply is not a TimeStampResp")
    tag, start, _ = _read(reply, start)
    if tag != 0x30:
        raise TimestampError("the timestamp reply has no status")
    tag, start, end = _read(reply, start)
    if tag != 0x02:
        raise TimestampError("the timestamp reply has no status")
    return int.from_bytes(reply[start:end], "big")


def request_timestamp(config: TsaConfig, data: bytes, *, timeout: float = TIMEOUT_S) -> bytes:
    """Ask the authority to timestamp ``data``; return its reply (DER TimeStampResp).

    Any failure to get a usable reply (no answer in ``timeout`` seconds, a broken
    HTTP exchange, a refusal, a token that does not verify) is a TimestampError.
    """
    request = urllib.request.Request(  # noqa: S310 - scheme checked in TsaConfig
        config.url,
        data=build_request(data),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            reply = bytes(answer.read(MAX_RESPONSE + 1))
    except (OSError, http.client.HTTPException) as exc:
        # URLError, timeouts and refused connections are OSErrors; a reply that is not
        # HTTP at all (BadStatusLine, IncompleteRead) is an HTTPException
        raise TimestampError("the timestamp authority did not answer") from exc
    if len(reply) > MAX_RESPONSE:
        raise TimestampError("the timestamp authority's reply is too large")
    if response_status(reply) > 1:
        raise TimestampError("the timestamp authority refused the request")
    verify_token(reply, data, config.ca_pem)
    return reply


def verify_token(
    reply: bytes, data: bytes, ca_pem: bytes, *, timeout: float = OPENSSL_TIMEOUT_S
) -> None:
    """Check offline that ``reply`` timestamps exactly ``data`` under ``ca_pem``'s authority.

    TimestampError if it does not, and also if ``openssl`` cannot be run or has not
    finished within ``timeout`` seconds: the token is then not verified.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TimestampError("openssl is needed to verify RFC 3161 timestamps")
    with tempfile.TemporaryDirectory(prefix="sijil-ts-") as tmp:
        folder = Path(tmp)
        (folder / "reply.tsr").write_bytes(reply)
        (folder / "ca.pem").write_bytes(ca_pem)
        try:
            result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [
                    openssl,
                    "ts",
                    "-verify",
                    "-digest",
                    hashlib.sha256(data).hexdigest(),
                    "-in",
                    str(folder / "reply.tsr"),
                    "-CAfile",
                    str(folder / "ca.pem"),
                ],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TimestampError(
                f"openssl did not finish verifying the timestamp within {timeout:g} s"
            ) from exc
        except (OSError, subprocess.SubprocessError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise TimestampError(
                f"openssl could not be run to verify the timestamp ({why})"
            ) from exc
    if result.returncode != 0 or b"Verification: OK" not in result.stdout:
        raise TimestampError("the timestamp does not verify for this tree head")
