"""Desk and correspondent identities, their public files and their fingerprints.

The desk has an X25519 key (the age recipient every envelope is sealed to) and an
Ed25519 key (it signs tree heads and replies later). A correspondent has an Ed25519
pseudonym key (it signs manifests) and an X25519 key (for replies later).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sijil.crypto import bech32
from sijil.crypto.kdf import KdfParams, lock_secret, unlock_secret
from sijil.errors import KeyFileError

__all__ = [
    "CorrespondentIdentity",
    "CorrespondentPublic",
    "DeskIdentity",
    "DeskPublic",
    "RetiredDeskKey",
    "age_identity_string",
    "age_recipient_string",
    "b64",
    "fingerprint",
    "parse_age_recipient",
    "raw_public",
    "unb64",
]

DESK_PUB_FORMAT = "sijil-desk-pub/1"
# Six groups of five digits: Signal's "safety number" shape. Digits read aloud
# the same in Arabic and English and survive a bad phone line.
FINGERPRINT_GROUPS = 6
# 256 bits: the vault's keys are derived from it with HKDF-SHA256.
VAULT_SECRET_SIZE = 32


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, *, size: int | None = None, what: str = "key") -> bytes:
    if not isinstance(text, str):
        raise KeyFileError(f"{what} is missing or not text")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise KeyFileError(f"{what} is not valid base64") from exc
    if size is not None and len(raw) != size:
        raise KeyFileError(f"{what} has the wrong length")
    return raw


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(*keys: bytes) -> str:
    """A fingerprint two people can compare aloud: ``12345 67890 ...``."""
    digest = hashlib.sha256(b"sijil-fingerprint/1\x00" + b"".join(keys)).digest()
    groups = [
        f"{int.from_bytes(digest[i * 5 : i * 5 + 5], 'big') % 100000:05d}"
        for i in range(FINGERPRINT_GROUPS)
    ]
    return " ".join(groups)


def age_recipient_string(key: X25519PublicKey) -> str:
    return bech32.encode("age", raw_public(key))


def age_identity_string(key: X25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return bech32.encode("age-secret-key-", raw).upper()


def parse_age_recipient(text: str) -> X25519PublicKey:
    try:
        hrp, raw = bech32.decode(text.strip())
    except ValueError as exc:
        raise KeyFileError(f"not an age recipient ({exc})") from exc
    if hrp != "age" or len(raw) != 32:
        raise KeyFileError("not an age X25519 recipient")
    return X25519PublicKey.from_public_bytes(raw)


def _private_raw(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True, kw_only=True)
class DeskPublic:
    """What correspondents and verifiers hold: the desk's two public keys."""

    age: X25519PublicKey
    sign: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(raw_public(self.sign), raw_public(self.age))

    def to_dict(self) -> dict[str, str]:
        return {
            "format": DESK_PUB_FORMAT,
            "age_recipient": age_recipient_string(self.age),
            "sign_key": b64(raw_public(self.sign)),
            "fingerprint": self.fingerprint,
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1) + "\n").encode()

    @classmethod
    def from_dict(cls, doc: Any) -> DeskPublic:
        if not isinstance(doc, dict) or doc.get("format") != DESK_PUB_FORMAT:
            raise KeyFileError("not a sijil desk public-key file")
        age = parse_age_recipient(str(doc.get("age_recipient", "")))
        sign = Ed25519PublicKey.from_public_bytes(
            unb64(doc.get("sign_key"), size=32, what="desk signing key")
        )
        desk = cls(age=age, sign=sign)
        if doc.get("fingerprint") not in (None, desk.fingerprint):
            raise KeyFileError("desk public-key file is damaged: fingerprint does not match")
        return desk

    @classmethod
    def from_bytes(cls, data: bytes) -> DeskPublic:
        try:
            return cls.from_dict(json.loads(data))
        except (ValueError, UnicodeDecodeError) as exc:
            raise KeyFileError("not a sijil desk public-key file") from exc


def _new_vault_secret() -> bytes:
    return os.urandom(VAULT_SECRET_SIZE)


@dataclass(frozen=True, kw_only=True)
class RetiredDeskKey:
    """A desk key pair replaced by a rotation: kept (locked) to open envelopes sealed
    to it and to sign the announcement of its successor, never to sign tree heads."""

    age: X25519PrivateKey
    sign: Ed25519PrivateKey

    @property
    def public(self) -> DeskPublic:
        return DeskPublic(age=self.age.public_key(), sign=self.sign.public_key())


# Retired keys a desk keeps at most: a few rotations a year for decades.
MAX_RETIRED = 256


@dataclass(frozen=True, kw_only=True)
class DeskIdentity:
    age: X25519PrivateKey
    sign: Ed25519PrivateKey
    # root secret of the evidence vault (encryption and keyed blob names derive from it)
    vault: bytes = field(default_factory=_new_vault_secret, repr=False)
    # keys replaced by rotations, newest first (sijil.desk.key_rotation)
    retired: tuple[RetiredDeskKey, ...] = field(default=(), repr=False)
    # a rotation wrote this key file and has not finished yet (ledger, desk.pub)
    rotating: bool = False

    @property
    def age_keys(self) -> tuple[X25519PrivateKey, ...]:
        """Every age key that may open an envelope: the current one first, then retired."""
        return (self.age, *(r.age for r in self.retired))

    @classmethod
    def generate(cls) -> DeskIdentity:
        return cls(age=X25519PrivateKey.generate(), sign=Ed25519PrivateKey.generate())

    @property
    def public(self) -> DeskPublic:
        return DeskPublic(age=self.age.public_key(), sign=self.sign.public_key())

    def lock(self, passphrase: str, kdf: KdfParams) -> bytes:
        secret = {
            "age": b64(_private_raw(self.age)),
            "sign": b64(_private_raw(self.sign)),
            "vault": b64(self.vault),
        }
        if self.retired:  # a key file without retired keys stays as older sijil wrote it
            secret["retired"] = json.dumps(
                [
                    {"age": b64(_private_raw(r.age)), "sign": b64(_private_raw(r.sign))}
                    for r in self.retired
                ]
            )
        if self.rotating:
            secret["rotating"] = "1"
        return lock_secret("desk", secret, passphrase, kdf)

    @classmethod
    def unlock(cls, data: bytes, passphrase: str) -> DeskIdentity:
        secret = unlock_secret(data, passphrase, kind="desk")
        return cls(
            age=X25519PrivateKey.from_private_bytes(unb64(secret.get("age"), size=32)),
            sign=Ed25519PrivateKey.from_private_bytes(unb64(secret.get("sign"), size=32)),
            vault=unb64(secret.get("vault"), size=VAULT_SECRET_SIZE, what="vault key"),
            retired=_retired(secret.get("retired")),
            rotating=secret.get("rotating") == "1",
        )


def _retired(text: str | None) -> tuple[RetiredDeskKey, ...]:
    if text is None:
        return ()
    try:
        items: Any = json.loads(text)
    except ValueError as exc:
        raise KeyFileError("key file is damaged: its retired keys do not parse") from exc
    if not isinstance(items, list) or len(items) > MAX_RETIRED:
        raise KeyFileError("key file is damaged: its retired keys do not parse")
    retired = []
    for item in items:
        if not isinstance(item, dict):
            raise KeyFileError("key file is damaged: a retired key does not parse")
        retired.append(
            RetiredDeskKey(
                age=X25519PrivateKey.from_private_bytes(
                    unb64(item.get("age"), size=32, what="a retired age key")
                ),
                sign=Ed25519PrivateKey.from_private_bytes(
                    unb64(item.get("sign"), size=32, what="a retired signing key")
                ),
            )
        )
    return tuple(retired)


@dataclass(frozen=True, kw_only=True)
class CorrespondentPublic:
    sign: Ed25519PublicKey
    box: X25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(raw_public(self.sign), raw_public(self.box))


@dataclass(frozen=True, kw_only=True)
class CorrespondentIdentity:
    """A correspondent's pseudonym: nothing in it names the person."""

    sign: Ed25519PrivateKey
    box: X25519PrivateKey

    @classmethod
    def generate(cls) -> CorrespondentIdentity:
        return cls(sign=Ed25519PrivateKey.generate(), box=X25519PrivateKey.generate())

    @property
    def public(self) -> CorrespondentPublic:
        return CorrespondentPublic(sign=self.sign.public_key(), box=self.box.public_key())

    def lock(self, passphrase: str, kdf: KdfParams, extra: dict[str, str] | None = None) -> bytes:
        secret = {"sign": b64(_private_raw(self.sign)), "box": b64(_private_raw(self.box))}
        return lock_secret("correspondent", {**(extra or {}), **secret}, passphrase, kdf)

    @classmethod
    def unlock(cls, data: bytes, passphrase: str) -> tuple[CorrespondentIdentity, dict[str, str]]:
        """Return the identity and the other secrets stored beside it."""
        secret = unlock_secret(data, passphrase, kind="correspondent")
        ident = cls(
            sign=Ed25519PrivateKey.from_private_bytes(unb64(secret.pop("sign", None), size=32)),
            box=X25519PrivateKey.from_private_bytes(unb64(secret.pop("box", None), size=32)),
        )
        return ident, secret
