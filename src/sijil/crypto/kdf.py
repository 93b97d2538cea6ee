"""Passphrase protection of private keys at rest (scrypt, a memory-hard KDF)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sijil.errors import KeyFileError, PassphraseError

__all__ = ["DEFAULT_KDF", "KdfParams", "lock_secret", "unlock_secret"]

KEYFILE_FORMAT = "sijil-key/1"
# 2**17 x 8 x 128 bytes = 128 MiB per guess: affordable once on an old phone,
# ruinous for someone with a seized device trying a dictionary.
DEFAULT_LOG_N = 17
# Refuse key files that ask for more than this, so a planted file cannot make
# us allocate gigabytes; and less than 2**10, which no one should ever use.
MAX_LOG_N = 20
MIN_LOG_N = 10
SCRYPT_MAXMEM = 1 << 30  # 1 GiB: room for MAX_LOG_N at r=8, under hashlib's 2 GiB cap


@dataclass(frozen=True, kw_only=True)
class KdfParams:
    """scrypt cost parameters; tests pass a cheap set, people get DEFAULT_KDF."""

    log_n: int = DEFAULT_LOG_N
    r: int = 8
    p: int = 1

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        if (
            not MIN_LOG_N <= self.log_n <= MAX_LOG_N
            or not 1 <= self.r <= 32
            or self.p != 1
            or 128 * self.r * (1 << self.log_n) > SCRYPT_MAXMEM // 2
        ):
            raise KeyFileError("key file asks for key-derivation costs outside the safe range")
        return hashlib.scrypt(
            passphrase.encode("utf-8"),
            salt=salt,
            n=1 << self.log_n,
            r=self.r,
            p=self.p,
            maxmem=SCRYPT_MAXMEM,
            dklen=32,
        )


DEFAULT_KDF = KdfParams()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise KeyFileError("key file is damaged: a field is not text")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise KeyFileError("key file is damaged: bad base64") from exc


def lock_secret(kind: str, secret: dict[str, str], passphrase: str, kdf: KdfParams) -> bytes:
    """Encrypt ``secret`` under ``passphrase``; the header is authenticated, not secret."""
    if not passphrase:
        raise PassphraseError("an empty passphrase protects nothing; choose one")
    salt = os.urandom(16)
    nonce = os.urandom(12)
    header = {
        "format": KEYFILE_FORMAT,
        "kind": kind,
        "kdf": {"name": "scrypt", "log_n": kdf.log_n, "r": kdf.r, "p": kdf.p, "salt": _b64(salt)},
    }
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    plaintext = json.dumps(secret, sort_keys=True).encode()
    sealed = ChaCha20Poly1305(kdf.derive(passphrase, salt)).encrypt(nonce, plaintext, aad)
    document = {**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def unlock_secret(data: bytes, passphrase: str, *, kind: str) -> dict[str, str]:
    """Decrypt a key file made by :func:`lock_secret`."""
    try:
        document: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError("not a sijil key file") from exc
    if not isinstance(document, dict) or document.get("format") != KEYFILE_FORMAT:
        raise KeyFileError("not a sijil key file (unknown format)")
    if document.get("kind") != kind:
        raise KeyFileError(f"this is a {document.get('kind')!s:.20} key file, not a {kind} key")
    kdf_doc = document.get("kdf")
    if not isinstance(kdf_doc, dict) or kdf_doc.get("name") != "scrypt":
        raise KeyFileError("key file uses an unknown key-derivation function")
    try:
        params = KdfParams(log_n=int(kdf_doc["log_n"]), r=int(kdf_doc["r"]), p=int(kdf_doc["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError("key file is damaged: bad key-derivation parameters") from exc
    header = {k: document[k] for k in ("format", "kind", "kdf")}
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    key = params.derive(passphrase, _unb64(kdf_doc.get("salt")))
    try:
        plaintext = ChaCha20Poly1305(key).decrypt(
            _unb64(document.get("nonce")), _unb64(document.get("ciphertext")), aad
        )
    except InvalidTag as exc:
        raise PassphraseError("wrong passphrase (or the key file was changed)") from exc
    secret = json.loads(plaintext)
    if not isinstance(secret, dict) or not all(isinstance(v, str) for v in secret.values()):
        raise KeyFileError("key file is damaged: unexpected content")
    return {str(k): v for k, v in secret.items()}
