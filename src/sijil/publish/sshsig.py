"""OpenSSH SSHSIG signatures (PROTOCOL.sshsig), written and checked by hand.

What is signed is not the message but a blob naming its purpose:

    "SSHSIG" || string(namespace) || string(reserved = "") ||
    string(hash algorithm) || string(H(message))

so a signature made for ``sijil-post`` can never pass as a git commit or a
login. The armored file holds

    "SSHSIG" || uint32(1) || string(public key) || string(namespace) ||
    string(reserved) || string(hash algorithm) || string(signature)

with the signature itself ``string("ssh-ed25519") || string(64 bytes)``,
base64 wrapped at 70 columns between BEGIN/END lines, as ssh-keygen writes it.
Interop with ``ssh-keygen -Y sign`` and ``-Y verify`` is proven in the tests.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sijil.errors import PublicationError
from sijil.publish.keys import PublicationKey

__all__ = ["NAMESPACE", "SshSignature", "parse", "sign", "verify"]

NAMESPACE = "sijil-post"
MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALGORITHM = "sha512"
KEY_TYPE = b"ssh-ed25519"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
# ssh-keygen's line width for the armor (sshsig.c, SSHSIG_WRAP... via sshbuf_dtob64)
WRAP = 70
# An Ed25519 SSHSIG is about 300 bytes; anything far larger is not one of ours.
MAX_ARMORED = 8192
_HASHES = {"sha512": hashlib.sha512, "sha256": hashlib.sha256}


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


class _Reader:
    """SSH wire-format reader that fails with one line, never an IndexError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise PublicationError("the SSH signature ends early")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def uint32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def string(self) -> bytes:
        return self.take(self.uint32())

    def done(self) -> None:
        if self.pos != len(self.data):
            raise PublicationError("the SSH signature has trailing bytes")


@dataclass(frozen=True, kw_only=True)
class SshSignature:
    public_key: bytes  # raw 32-byte Ed25519 key
    namespace: str
    hash_algorithm: str
    signature: bytes


def signed_data(namespace: str, hash_algorithm: str, message: bytes) -> bytes:
    digest = _HASHES[hash_algorithm](message).digest()
    return (
        MAGIC
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(digest)
    )


def sign(key: PublicationKey, message: bytes, *, namespace: str = NAMESPACE) -> str:
    """An armored SSHSIG of ``message`` in ``namespace`` (SHA-512, as ssh-keygen does)."""
    signature = key.sign(signed_data(namespace, HASH_ALGORITHM, message))
    blob = (
        MAGIC
        + VERSION.to_bytes(4, "big")
        + _string(key.public.ssh_blob())
        + _string(namespace.encode())
        + _string(b"")
        + _string(HASH_ALGORITHM.encode())
        + _string(_string(KEY_TYPE) + _string(signature))
    )
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + WRAP] for i in range(0, len(text), WRAP)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def parse(armored: str) -> SshSignature:
    if len(armored) > MAX_ARMORED:
        raise PublicationError("the SSH signature file is too large to be one")
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise PublicationError("not an armored SSH signature")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise PublicationError("the SSH signature is not base64") from exc
    reader = _Reader(blob)
    if reader.take(len(MAGIC)) != MAGIC or reader.uint32() != VERSION:
        raise PublicationError("not an SSHSIG signature of version 1")
    key = _Reader(reader.string())
    namespace = reader.string()
    reader.string()  # reserved
    hash_algorithm = reader.string().decode("ascii", "replace")
    sig = _Reader(reader.string())
    reader.done()
    if key.string() != KEY_TYPE or sig.string() != KEY_TYPE:
        raise PublicationError("the SSH signature is not an Ed25519 signature")
    raw_key, raw_sig = key.string(), sig.string()
    key.done()
    sig.done()
    if len(raw_key) != 32 or len(raw_sig) != 64:
        raise PublicationError("the SSH signature's key or signature has the wrong length")
    if hash_algorithm not in _HASHES:
        raise PublicationError("the SSH signature uses an unknown hash algorithm")
    return SshSignature(
        public_key=raw_key,
        namespace=namespace.decode("utf-8", "replace"),
        hash_algorithm=hash_algorithm,
        signature=raw_sig,
    )


def verify(public_key: bytes, message: bytes, armored: str, *, namespace: str = NAMESPACE) -> None:
    """Check an SSHSIG of ``message`` by ``public_key`` (raw Ed25519) in ``namespace``."""
    sig = parse(armored)
    if sig.public_key != public_key:
        raise PublicationError("the SSH signature was made by another key")
    if sig.namespace != namespace:
        raise PublicationError(f"the SSH signature is for another purpose, not {namespace!r}")
    data = signed_data(sig.namespace, sig.hash_algorithm, message)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig.signature, data)
    except InvalidSignature as exc:
        raise PublicationError("the post was changed after signing (SSH signature)") from exc
