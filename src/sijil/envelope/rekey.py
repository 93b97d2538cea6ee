"""A rekey statement: a correspondent moves to a new pseudonym key, signed by the old one.

The statement travels in an ordinary envelope's manifest (``rekey``), so the old
key signs it like any report. It names the new keys and carries the new signing
key's signature over ``REKEY_CONTEXT ‖ old sign key ‖ new reply key``: proof that
whoever made the statement holds the new key, and that it was made for this old key.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sijil.crypto.identity import CorrespondentIdentity, b64, raw_public, unb64
from sijil.envelope.manifest import Manifest, Rekey
from sijil.errors import BadSignature, KeyFileError

__all__ = ["REKEY_CONTEXT", "make_rekey", "verify_rekey"]

# Domain separation: a rekey proof is never valid as a manifest or reply signature.
REKEY_CONTEXT = b"sijil-rekey/1\x00"


def _message(old_sign_key: str, new_reply_key: str) -> bytes:
    old = unb64(old_sign_key, size=32, what="old sender key")
    reply = unb64(new_reply_key, size=32, what="new reply key")
    return REKEY_CONTEXT + old + reply


def make_rekey(old: CorrespondentIdentity, new: CorrespondentIdentity) -> Rekey:
    """The statement ``old`` signs (inside a manifest) to hand over to ``new``."""
    old_key = b64(raw_public(old.sign.public_key()))
    new_reply = b64(raw_public(new.box.public_key()))
    proof = new.sign.sign(_message(old_key, new_reply))
    return Rekey(
        sign_key=b64(raw_public(new.sign.public_key())), reply_key=new_reply, proof=b64(proof)
    )


def verify_rekey(manifest: Manifest) -> Rekey:
    """The manifest's rekey statement, once its proof verifies under the new key."""
    rekey = manifest.rekey
    if rekey is None:
        raise BadSignature("the report carries no rekey statement")
    if rekey.sign_key == manifest.sign_key:
        raise BadSignature("a rekey statement must name a new key")
    try:
        new = Ed25519PublicKey.from_public_bytes(unb64(rekey.sign_key, size=32, what="new key"))
        proof = unb64(rekey.proof, size=64, what="rekey proof")
        new.verify(proof, _message(manifest.sign_key, rekey.reply_key))
    except (InvalidSignature, KeyFileError) as exc:
        raise BadSignature("the rekey statement was not signed by the new key it names") from exc
    return rekey
