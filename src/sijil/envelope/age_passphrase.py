"""age v1 files locked with a passphrase: the scrypt recipient stanza (C2SP age spec).

``age -p`` writes such files and ``age -d`` opens them after asking for the
passphrase; so do :class:`PassphraseAgeWriter` and :class:`PassphraseAgeReader`,
which share the payload STREAM of :mod:`sijil.envelope.age`. The stanza is

    -> scrypt <base64(salt, 16 bytes)> <log2 of the work factor, in decimal>
    <base64(ChaCha20-Poly1305(key, nonce 0, file key))>

with ``key = scrypt(passphrase, "age-encryption.org/v1/scrypt" || salt, N, r=8, p=1)``,
and by the spec it must be the only stanza of its header.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sijil.envelope.age import INTRO, AgeReader, AgeWriter, Readable, Writable, _b64, _hkdf, _unb64
from sijil.errors import MalformedEnvelope, NotForThisRecipient, PassphraseError

__all__ = [
    "DEFAULT_LOG_N",
    "MAX_LOG_N",
    "PassphraseAgeReader",
    "PassphraseAgeWriter",
    "is_passphrase_file",
]

SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
SALT_SIZE = 16
# age's own default work factor (2**18, 256 MiB at r=8): about a second per guess.
DEFAULT_LOG_N = 18
# A file that asks for more is refused before any work: 2**20 at r=8 is 1 GiB of
# memory, the most a desk laptop should be made to spend on one header.
MAX_LOG_N = 20
MIN_LOG_N = 10
SCRYPT_R = 8
SCRYPT_MAXMEM = (1 << 31) - 1  # hashlib's cap; MAX_LOG_N at r=8 needs 1 GiB plus a little
_WORK_FACTOR = re.compile(rb"[1-9][0-9]?")


def _wrap_key(passphrase: str, salt: bytes, log_n: int) -> bytes:
    if not passphrase:
        raise PassphraseError("the passphrase is empty")
    return hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=SCRYPT_LABEL + salt,
        n=1 << log_n,
        r=SCRYPT_R,
        p=1,
        maxmem=SCRYPT_MAXMEM,
        dklen=32,
    )


class PassphraseAgeWriter(AgeWriter):
    """Encrypt a stream under a passphrase (one scrypt stanza); :meth:`close` ends it."""

    def __init__(self, out: Writable, passphrase: str, *, log_n: int = DEFAULT_LOG_N) -> None:
        if not MIN_LOG_N <= log_n <= MAX_LOG_N:
            raise ValueError(
                f"scrypt work factor 2**{log_n} is outside 2**{MIN_LOG_N}..2**{MAX_LOG_N}"
            )
        file_key = os.urandom(16)
        salt = os.urandom(SALT_SIZE)
        body = ChaCha20Poly1305(_wrap_key(passphrase, salt, log_n)).encrypt(
            b"\x00" * 12, file_key, None
        )
        stanza = b"-> scrypt " + _b64(salt) + b" " + str(log_n).encode() + b"\n" + _b64(body)
        header = INTRO + stanza + b"\n---"
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, "sha256").digest()
        nonce = os.urandom(16)
        self.header_size = len(header) + 2 + len(_b64(mac)) + len(nonce)
        out.write(header + b" " + _b64(mac) + b"\n" + nonce)
        # the payload STREAM is AgeWriter's own, keyed from this file key
        self._out = out
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._buf = bytearray()
        self._closed = False


def unwrap_scrypt(stanzas: list[tuple[list[bytes], bytes]], passphrase: str) -> bytes:
    """The file key from the header's one scrypt stanza; PassphraseError if it does not open."""
    kinds = [args[0] for args, _ in stanzas]
    if b"scrypt" not in kinds:
        raise NotForThisRecipient("the file is not locked with a passphrase (it is for a key)")
    if len(stanzas) != 1:
        raise MalformedEnvelope("a passphrase-locked file must have exactly one recipient")
    args, body = stanzas[0]
    if len(args) != 3 or len(body) != 32 or not _WORK_FACTOR.fullmatch(args[2]):
        raise MalformedEnvelope("the file's header is damaged (bad scrypt stanza)")
    salt = _unb64(args[1])
    log_n = int(args[2])
    if len(salt) != SALT_SIZE:
        raise MalformedEnvelope("the file's header is damaged (bad scrypt salt)")
    if log_n > MAX_LOG_N:
        raise MalformedEnvelope(
            f"the file asks for scrypt work 2**{log_n}, over the limit of 2**{MAX_LOG_N}"
        )
    try:
        return ChaCha20Poly1305(_wrap_key(passphrase, salt, log_n)).decrypt(
            b"\x00" * 12, body, None
        )
    except InvalidTag as exc:
        raise PassphraseError("wrong passphrase for this file (or its header was changed)") from exc


class PassphraseAgeReader(AgeReader):
    """Decrypt an age v1 stream locked with a passphrase (``age -p``)."""

    def __init__(self, src: Readable, passphrase: str) -> None:
        self._passphrase = passphrase
        # AgeReader asks self._unwrap for the file key; the key given here is never used
        super().__init__(src, X25519PrivateKey.generate())

    def _unwrap(  # type: ignore[override]
        self, stanzas: list[tuple[list[bytes], bytes]], identity: X25519PrivateKey
    ) -> bytes:
        del identity
        return unwrap_scrypt(stanzas, self._passphrase)


def is_passphrase_file(head: bytes) -> bool:
    """Whether the first bytes of an age file name a scrypt stanza (a passphrase lock)."""
    return head.startswith(INTRO + b"-> scrypt ")
