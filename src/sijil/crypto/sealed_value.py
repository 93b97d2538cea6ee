"""Values the desk keeps encrypted inside its database: exact places, manifests, replies,
fingerprints.

A seized PostgreSQL server (or its disk, or a dump) must not show where a report
was written, what a correspondent's signed manifest said, what the desk replied, or
the fingerprint of a photo someone could test a known picture against. The desk
never looks these up by value, so each is sealed on its own before it reaches the
database and opened after it is read back, with a key the database never holds.

Format of one sealed value (bytes)::

    version (1 byte, 0x01) || nonce (12 random bytes) || AES-256-GCM(value) || tag (16)

The associated data is the value's *slot* (``"reports.latitude"``), so a sealed
value copied into another column, or another table, fails to open instead of being
read as something it is not. A random 96-bit nonce per value is safe far beyond the
desk's scale (NIST SP 800-38D: 2^32 values under one key).

The key is HKDF-SHA256 of the database key (itself HKDF of the vault secret in
``desk.key``) under its own label, so it opens only after the passphrase.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sijil.errors import ConfigError, StoreError

__all__ = ["NONCE_BYTES", "OVERHEAD", "SealedValueError", "ValueSealer"]

VERSION: Final = b"\x01"
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
#: What sealing adds to each value.
OVERHEAD: Final = len(VERSION) + NONCE_BYTES + TAG_BYTES
_VALUE_INFO: Final = b"sijil-desk-db/1 sealed values"
_FILE_INFO: Final = b"sijil-desk-db/1 sealed files"
_AAD_PREFIX: Final = b"sijil-sealed/1 "


class SealedValueError(StoreError):
    """A sealed value that does not open: altered, moved, or from another desk."""


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class ValueSealer:
    """Seals and opens single values under a key derived from the database key."""

    __slots__ = ("_aead", "_file_secret")

    def __init__(self, database_key: bytes) -> None:
        if len(database_key) != 32:
            raise ConfigError("a database key is 32 bytes")
        self._aead = AESGCM(_derive(database_key, _VALUE_INFO))
        self._file_secret = _derive(database_key, _FILE_INFO)

    def __repr__(self) -> str:  # never the key
        return "ValueSealer(<key>)"

    def seal(self, value: bytes, slot: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, value, _AAD_PREFIX + slot.encode())

    def open(self, sealed: bytes, slot: str) -> bytes:
        if len(sealed) < OVERHEAD or sealed[:1] != VERSION:
            raise SealedValueError(f"a sealed value in {slot} is damaged (wrong format)")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _AAD_PREFIX + slot.encode())
        except InvalidTag as exc:
            raise SealedValueError(
                f"a sealed value in {slot} does not open: altered, moved from another "
                "column, or written by another desk"
            ) from exc

    @property
    def file_secret(self) -> bytes:
        """A secret for files the desk keeps beside its database (the media index),
        encrypted the way vault blobs are (sijil.vault.cipher)."""
        return self._file_secret
