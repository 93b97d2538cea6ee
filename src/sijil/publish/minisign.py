"""minisign signatures, written and checked by hand (pure: bytes in, text out).

A ``.minisig`` file is four lines (minisign's SIGNATURE FORMAT):

    untrusted comment: <free text, not signed>
    base64( "ED" || key id (8 bytes) || Ed25519(BLAKE2b-512(message)) )
    trusted comment: <text>
    base64( Ed25519(signature || trusted comment) )

"ED" is the prehashed algorithm, the only one minisign has made by default since
0.10: the message is hashed first, so a large file is never held whole by the
signer. The global signature binds the trusted comment to the signature, so a
reader can trust the comment as much as the file. Interop with the Debian
``minisign`` binary is proven both ways in tests/test_publish_signing.py.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from sijil.errors import PublicationError
from sijil.publish.keys import KEY_ID_SIZE, PublicationKey, PublicationPublic

__all__ = ["MinisignSignature", "parse", "sign", "verify"]

PREHASHED = b"ED"
LEGACY = b"Ed"  # the whole message signed; minisign still verifies it, so do we
UNTRUSTED = "untrusted comment: "
TRUSTED = "trusted comment: "
SIGNATURE_SIZE = 64
# minisign reads comments into a fixed buffer (COMMENTMAXBYTES 1024 with its
# prefix); a longer trusted comment would sign here and fail there.
MAX_TRUSTED_COMMENT = 1024 - len(TRUSTED) - 2


@dataclass(frozen=True, kw_only=True)
class MinisignSignature:
    algorithm: bytes
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes


def _message_digest(algorithm: bytes, message: bytes) -> bytes:
    return hashlib.blake2b(message, digest_size=64).digest() if algorithm == PREHASHED else message


def sign(key: PublicationKey, message: bytes, *, trusted_comment: str) -> str:
    """A minisign signature file for ``message``, prehashed, with ``trusted_comment``."""
    if "\n" in trusted_comment or "\r" in trusted_comment:
        raise PublicationError("a minisign trusted comment must be one line")
    if len(trusted_comment.encode()) > MAX_TRUSTED_COMMENT:
        raise PublicationError(f"a minisign trusted comment is at most {MAX_TRUSTED_COMMENT} bytes")
    signature = key.sign(_message_digest(PREHASHED, message))
    global_signature = key.sign(signature + trusted_comment.encode())
    blob = base64.b64encode(PREHASHED + key.key_id + signature).decode("ascii")
    untrusted = f"signature from sijil publication key {key.public.key_id_hex}"
    return (
        f"{UNTRUSTED}{untrusted}\n{blob}\n{TRUSTED}{trusted_comment}\n"
        f"{base64.b64encode(global_signature).decode('ascii')}\n"
    )


def _b64(text: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise PublicationError(f"the minisign signature's {what} is not base64") from exc
    if len(raw) != size:
        raise PublicationError(f"the minisign signature's {what} has the wrong length")
    return raw


def parse(text: str) -> MinisignSignature:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0].startswith(UNTRUSTED) or not lines[2].startswith(TRUSTED):
        raise PublicationError("not a minisign signature file")
    blob = _b64(lines[1], 2 + KEY_ID_SIZE + SIGNATURE_SIZE, "signature line")
    if blob[:2] not in (PREHASHED, LEGACY):
        raise PublicationError("the minisign signature uses an unknown algorithm")
    return MinisignSignature(
        algorithm=blob[:2],
        key_id=blob[2 : 2 + KEY_ID_SIZE],
        signature=blob[2 + KEY_ID_SIZE :],
        trusted_comment=lines[2][len(TRUSTED) :].rstrip("\r"),
        global_signature=_b64(lines[3], SIGNATURE_SIZE, "global signature"),
    )


def verify(public: PublicationPublic, message: bytes, signature_text: str) -> str:
    """Check a minisign signature of ``message``; return its trusted comment.

    Each failure says which part failed: another key, a changed message, or a
    changed trusted comment.
    """
    sig = parse(signature_text)
    if sig.key_id != public.key_id:
        raise PublicationError("the minisign signature was made by another key")
    try:
        public.key.verify(sig.signature, _message_digest(sig.algorithm, message))
    except InvalidSignature as exc:
        raise PublicationError("the post was changed after signing (minisign)") from exc
    try:
        public.key.verify(sig.global_signature, sig.signature + sig.trusted_comment.encode())
    except InvalidSignature as exc:
        raise PublicationError("the minisign trusted comment was changed after signing") from exc
    return sig.trusted_comment
