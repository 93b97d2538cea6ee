"""C2SP signed-note: text signed by one or more named keys (pure: text in, text out).

    <text, one or more lines, each ending in "\\n">
    <blank line>
    — <key name> base64(key id (4 bytes) || signature)
    ...

An Ed25519 key's id is the first four bytes of SHA-256(name || "\\n" || 0x01 ||
public key), and the signature is over the text alone (with its final newline,
without the blank line). A verifier is written ``name+hex(key id)+base64(0x01 ||
public key)``. The publication log's checkpoint is such a note, signed with the
publication key under the log's origin as its name. The Go sumdb note package's
test vector (PeterNeumann) is checked in tests/test_publish_log.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sijil.errors import PublicationError

__all__ = [
    "NoteSignature",
    "SignedNote",
    "Verifier",
    "key_id",
    "open_note",
    "parse",
    "sign",
    "verifier_key",
]

ED25519 = b"\x01"  # signed-note's algorithm byte for Ed25519
SIG_PREFIX = "\u2014 "  # an em dash and a space start every signature line
KEY_ID_SIZE = 4
# A note larger than this is not a checkpoint (C2SP tlog-checkpoint caps note
# readers at 1 MiB; ours are three lines and one signature).
MAX_NOTE = 1 << 20
MAX_SIGNATURES = 100  # signed-note lets verifiers stop reading after 100


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:KEY_ID_SIZE]


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(ED25519 + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True, kw_only=True)
class Verifier:
    name: str
    key_id: bytes
    key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            raw = base64.b64decode(encoded, validate=True)
            wanted = bytes.fromhex(hex_id)
        except (ValueError, binascii.Error) as exc:
            raise PublicationError("not a signed-note verifier key") from exc
        if not name or len(wanted) != KEY_ID_SIZE or len(raw) != 33 or raw[:1] != ED25519:
            raise PublicationError("not an Ed25519 signed-note verifier key")
        if key_id(name, raw[1:]) != wanted:
            raise PublicationError("the verifier key's id does not match its name and key")
        return cls(name=name, key_id=wanted, key=Ed25519PublicKey.from_public_bytes(raw[1:]))

    @classmethod
    def of(cls, name: str, public_key: bytes) -> Verifier:
        return cls.parse(verifier_key(name, public_key))


@dataclass(frozen=True, kw_only=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, kw_only=True)
class SignedNote:
    text: str
    signatures: tuple[NoteSignature, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n") or text.endswith("\n\n") or text.startswith("\n"):
        raise PublicationError("a note's text must be non-empty lines, each ending in a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise PublicationError("a note's text must not hold control characters")


def sign(text: str, name: str, private: Ed25519PrivateKey) -> str:
    """The signed note of ``text`` under the key named ``name``."""
    _check_text(text)
    public = private.public_key().public_bytes_raw()
    signature = private.sign(text.encode())
    encoded = base64.b64encode(key_id(name, public) + signature).decode("ascii")
    return f"{text}\n{SIG_PREFIX}{name} {encoded}\n"


def parse(note: str | bytes) -> SignedNote:
    """Split a note into its text and signature lines; check the shape, not the keys."""
    if len(note) > MAX_NOTE:
        raise PublicationError("the signed note is too large")
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PublicationError("the signed note is not UTF-8") from exc
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise PublicationError("the signed note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise PublicationError("the signed note has a malformed signature line")
        name, _, encoded = line[len(SIG_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise PublicationError("the signed note has a signature that is not base64") from exc
        if not name or " " in encoded or len(raw) <= KEY_ID_SIZE:
            raise PublicationError("the signed note has a malformed signature line")
        signatures.append(
            NoteSignature(name=name, key_id=raw[:KEY_ID_SIZE], signature=raw[KEY_ID_SIZE:])
        )
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise PublicationError("the signed note has no signatures, or too many")
    return SignedNote(text=text, signatures=tuple(signatures))


def open_note(note: str | bytes, verifier: Verifier) -> str:
    """The note's text, if ``verifier``'s key signed it; signatures by other keys are skipped."""
    parsed = parse(note)
    ours = [
        sig
        for sig in parsed.signatures
        if sig.name == verifier.name and sig.key_id == verifier.key_id
    ]
    if not ours:
        raise PublicationError(f"the note is not signed by {verifier.name}")
    for sig in ours:
        try:
            verifier.key.verify(sig.signature, parsed.text.encode())
        except InvalidSignature:
            continue
        return parsed.text
    raise PublicationError("the checkpoint's signature does not verify")
