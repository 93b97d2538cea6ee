"""The age v1 file format (age-encryption.org/v1), X25519 recipients, streaming.

Only what sijil needs: one X25519 recipient when writing; any number of stanzas
when reading, of which the X25519 ones are tried against our identity. Files
written here open with the reference ``age`` tool and vice versa.
"""

from __future__ import annotations

import base64
import hmac
import os
from hashlib import sha256
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sijil.crypto.identity import raw_public
from sijil.errors import (
    EnvelopeError,
    MalformedEnvelope,
    NotForThisRecipient,
    TamperedEnvelope,
    TruncatedEnvelope,
)

__all__ = [
    "CHUNK_SIZE",
    "INTRO",
    "TAG_SIZE",
    "AgeReader",
    "AgeWriter",
    "payload_size",
    "read_header",
]

INTRO = b"age-encryption.org/v1\n"
X25519_LABEL = b"age-encryption.org/v1/X25519"
CHUNK_SIZE = 64 * 1024  # fixed by the age STREAM construction
TAG_SIZE = 16
# A header with one recipient is ~200 bytes; refusing larger ones stops a hostile
# file from making us buffer or scan megabytes before any authentication.
MAX_HEADER_BYTES = 64 * 1024
MAX_STANZAS = 64
MAC_SIZE = 32  # HMAC-SHA-256
# A stanza argument is a non-empty string of VCHAR (%x21-7E), by the age spec.
VCHAR_MIN, VCHAR_MAX = 0x21, 0x7E


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    if b"=" in data or b"\r" in data:
        raise MalformedEnvelope("envelope header is damaged (non-canonical base64)")
    try:
        raw = base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except ValueError as exc:
        raise MalformedEnvelope("envelope header is damaged (bad base64)") from exc
    if _b64(raw) != data:
        raise MalformedEnvelope("envelope header is damaged (non-canonical base64)")
    return raw


def _nonce(counter: int, *, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def payload_size(plaintext_size: int) -> int:
    """Size of the STREAM payload (after header and nonce) for ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return plaintext_size + chunks * TAG_SIZE


class AgeWriter:
    """Encrypt a stream to one X25519 recipient; call :meth:`close` to write the last chunk."""

    def __init__(self, out: Writable, recipient: X25519PublicKey) -> None:
        self._out = out
        file_key = os.urandom(16)
        ephemeral = X25519PrivateKey.generate()
        share = raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(recipient)
        wrap_key = _hkdf(shared, share + raw_public(recipient), X25519_LABEL)
        body = ChaCha20Poly1305(wrap_key).encrypt(b"\x00" * 12, file_key, None)
        header = INTRO + b"-> X25519 " + _b64(share) + b"\n" + _b64(body) + b"\n---"
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, "sha256").digest()
        nonce = os.urandom(16)
        self.header_size = len(header) + 2 + len(_b64(mac)) + len(nonce)
        out.write(header + b" " + _b64(mac) + b"\n" + nonce)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._buf = bytearray()
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed AgeWriter")
        self._buf += data
        # A full chunk goes out only once a byte after it exists: the last chunk
        # must carry the "last" flag, and it may be full.
        if len(self._buf) > CHUNK_SIZE:
            view = memoryview(self._buf)
            offset = 0
            sealed = []
            while len(self._buf) - offset > CHUNK_SIZE:
                sealed.append(self._seal(view[offset : offset + CHUNK_SIZE], last=False))
                offset += CHUNK_SIZE
            view.release()
            del self._buf[:offset]
            # one write per call, not per 64 KiB chunk: fewer syscalls and hash updates
            self._out.write(b"".join(sealed))
        return len(data)

    def _seal(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._counter, last=last), chunk, None)
        self._counter += 1
        return sealed

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        self._out.write(self._seal(chunk, last=last))

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
            self._closed = True


def read_header(src: Readable) -> tuple[list[tuple[list[bytes], bytes]], bytes, bytes]:
    """Return (stanzas, header bytes covered by the MAC, mac)."""
    data = bytearray()

    def line() -> bytes:
        out = bytearray()
        while True:
            byte = src.read(1)
            if not byte:
                raise TruncatedEnvelope("the envelope ends inside its header")
            data.extend(byte)
            if len(data) > MAX_HEADER_BYTES:
                raise MalformedEnvelope("envelope header is too large")
            if byte == b"\n":
                return bytes(out)
            out.extend(byte)

    intro = src.read(len(INTRO))
    if intro != INTRO:
        if len(intro) < len(INTRO) and INTRO.startswith(intro):
            raise TruncatedEnvelope("the envelope ends inside its header")
        raise MalformedEnvelope("not a sijil envelope (no age v1 header)")
    data.extend(intro)
    stanzas: list[tuple[list[bytes], bytes]] = []
    current = line()
    while current.startswith(b"-> "):
        if len(stanzas) >= MAX_STANZAS:
            raise MalformedEnvelope("envelope header has too many recipient stanzas")
        args = _stanza_arguments(current[3:])
        body = bytearray()
        while True:
            body_line = line()
            if len(body_line) > 64:
                raise MalformedEnvelope("envelope header is damaged (long stanza line)")
            body += body_line
            if len(body_line) < 64:
                break
        stanzas.append((args, _unb64(bytes(body))))
        current = line()
    if not current.startswith(b"--- ") or not stanzas:
        raise MalformedEnvelope("envelope header is damaged (no MAC line)")
    covered = bytes(data[: len(data) - len(current) - 1]) + b"---"
    mac = _unb64(current[4:])
    if len(mac) != MAC_SIZE:
        raise MalformedEnvelope("envelope header is damaged (bad MAC length)")
    return stanzas, covered, mac


def _stanza_arguments(line: bytes) -> list[bytes]:
    """A stanza's arguments: each a non-empty run of printable ASCII (age's VCHAR)."""
    args = line.split(b" ")
    for arg in args:
        if not arg or any(byte < VCHAR_MIN or byte > VCHAR_MAX for byte in arg):
            raise MalformedEnvelope("envelope header is damaged (bad stanza argument)")
    return args


class AgeReader:
    """Decrypt an age v1 stream with an X25519 identity, chunk by authenticated chunk."""

    def __init__(self, src: Readable, identity: X25519PrivateKey) -> None:
        self._src = src
        stanzas, covered, mac = read_header(src)
        file_key = self._unwrap(stanzas, identity)
        expected = hmac.new(_hkdf(file_key, b"", b"header"), covered, "sha256").digest()
        if not hmac.compare_digest(expected, mac):
            raise TamperedEnvelope("the envelope header was changed (MAC does not verify)")
        nonce = _read_full(src, 16)
        if len(nonce) < 16:
            raise TruncatedEnvelope("the envelope ends before its payload")
        self.header_size = len(covered) + 2 + len(_b64(mac)) + 16
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        # an error found after a chunk was released (data after the last chunk)
        self._failure: EnvelopeError | None = None
        self._plain = b""
        self._pos = 0
        self._done = False

    @staticmethod
    def _unwrap(stanzas: list[tuple[list[bytes], bytes]], identity: X25519PrivateKey) -> bytes:
        ours = raw_public(identity.public_key())
        for args, body in stanzas:
            if args[0] != b"X25519":
                continue
            if len(args) != 2 or len(body) != 32:
                raise MalformedEnvelope("envelope header is damaged (bad X25519 stanza)")
            share = _unb64(args[1])
            if len(share) != 32:
                raise MalformedEnvelope("envelope header is damaged (bad X25519 share)")
            try:
                shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError as exc:
                # an all-zero shared secret: the spec says to reject the file outright
                raise MalformedEnvelope(
                    "envelope header is damaged (X25519 share is a low-order point)"
                ) from exc
            wrap_key = _hkdf(shared, share + ours, X25519_LABEL)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(b"\x00" * 12, body, None)
            except InvalidTag:
                continue
        raise NotForThisRecipient(
            "the envelope is not sealed to this desk's key (or its header was damaged)"
        )

    def _advance(self) -> None:
        """Decrypt the next chunk, as age's reference reader does.

        A short chunk is the last one; a full chunk is tried as an inner chunk,
        then as the last. Each chunk is released once it authenticates, so a
        stream that is cut short or carries data after its last chunk fails on
        the read after the last good chunk, never silently.
        """
        if self._failure is not None:
            raise self._failure
        chunk = _read_full(self._src, CHUNK_SIZE + TAG_SIZE)
        if not chunk:
            if self._counter:
                raise TruncatedEnvelope("the envelope was cut short")
            raise TruncatedEnvelope("the envelope ends before its payload")
        full = len(chunk) == CHUNK_SIZE + TAG_SIZE
        if len(chunk) == TAG_SIZE and self._counter > 0:
            raise TamperedEnvelope("the envelope is damaged (an empty chunk)")
        last = not full
        plain = self._open(chunk, last=last)
        if plain is None and full:
            last = True
            plain = self._open(chunk, last=True)
        if plain is None:
            raise TamperedEnvelope("the envelope is damaged or was changed (authentication failed)")
        self._counter += 1
        self._plain, self._pos = plain, 0
        if last:
            if self._src.read(1):
                self._failure = TamperedEnvelope("the envelope carries data after its last chunk")
            else:
                self._done = True

    def _open(self, chunk: bytes, *, last: bool) -> bytes | None:
        try:
            return self._aead.decrypt(_nonce(self._counter, last=last), chunk, None)
        except InvalidTag:
            return None

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` plaintext bytes (all remaining for -1); b"" at the end."""
        parts: list[bytes] = []
        want = size if size >= 0 else -1
        while want != 0:
            if self._pos >= len(self._plain):
                if self._done:
                    break
                self._advance()
                continue
            end = len(self._plain) if want < 0 else min(len(self._plain), self._pos + want)
            parts.append(self._plain[self._pos : end])
            if want > 0:
                want -= end - self._pos
            self._pos = end
        return b"".join(parts)

    def read_exact(self, size: int) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise TruncatedEnvelope("the envelope's contents end early")
        return data

    def at_end(self) -> bool:
        while self._pos >= len(self._plain) and not self._done:
            self._advance()
        return self._pos >= len(self._plain) and self._done


def _read_full(src: Readable, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of ``src`` (pipes return short reads)."""
    parts: list[bytes] = []
    got = 0
    while got < size:  # bounded: every pass adds at least one byte or stops
        part = src.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def digest_stream(src: Readable, block: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 hex and size of everything ``src`` yields."""
    h = sha256()
    total = 0
    while chunk := src.read(block):
        h.update(chunk)
        total += len(chunk)
    return h.hexdigest(), total
