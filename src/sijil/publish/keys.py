"""The publication key: an Ed25519 key that signs posts and the log's checkpoints.

It is not the desk's ledger key. A reader who pins it learns nothing about the
desk's custody keys, and the desk can replace it (a new site key) without touching
its ledger. The private key is locked under the desk's passphrase with the same
scheme as ``desk.key`` (sijil.crypto.kdf); its public forms sit beside it:

    publication.key       the locked private key, its minisign key id and the log origin
    publication.json      the public key, key id and origin (read without a passphrase)

The public key is handed out in the forms stock tools read: a minisign public key
file, an OpenSSH ``ssh-ed25519`` line, an ``allowed_signers`` line for
``ssh-keygen -Y verify`` and a C2SP signed-note verifier key for the checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from sijil.crypto.identity import b64, unb64
from sijil.crypto.kdf import KdfParams, lock_secret, unlock_secret
from sijil.desk.home import DeskHome
from sijil.errors import ConfigError, KeyFileError, PassphraseError
from sijil.fsutil import atomic_write

__all__ = [
    "DEFAULT_ORIGIN",
    "SSH_IDENTITY",
    "PublicationKey",
    "PublicationPublic",
    "check_origin",
    "key_file",
    "public_file",
    "retired_public_keys",
]

PUBLIC_FORMAT = "sijil-publication-pub/1"
KEY_KIND = "publication"
#: The checkpoint's origin when none is given; ``.invalid`` can never be a real host.
DEFAULT_ORIGIN = "sijil.invalid/publication-log"
#: The principal named in ``allowed_signers``; ssh-keygen -Y verify is run with -I this.
SSH_IDENTITY = "publication@sijil"
#: minisign's key id: 8 random bytes, shown as 16 hex digits.
KEY_ID_SIZE = 8
# The origin is the first line of every checkpoint and the signed-note key name:
# C2SP signed-note forbids spaces and "+" in a key name; printable ASCII keeps
# it readable everywhere, and a short cap keeps it a name, not a payload.
MAX_ORIGIN = 200
_ORIGIN = re.compile(r"[!-*,-~]+")  # printable ASCII without space and "+"


def check_origin(origin: str) -> str:
    if not origin or len(origin) > MAX_ORIGIN or not _ORIGIN.fullmatch(origin):
        raise ConfigError(
            f"a log origin is up to {MAX_ORIGIN} printable ASCII characters without"
            " spaces or '+', e.g. example.org/publication-log"
        )
    return origin


def key_file(home: DeskHome) -> Path:
    """``publication.key`` in a desk home: locked under the desk's passphrase."""
    return home.root / "publication.key"


def public_file(home: DeskHome) -> Path:
    return home.root / "publication.json"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True, kw_only=True)
class PublicationPublic:
    """What readers hold: the public key, its minisign key id and the log's origin."""

    key: Ed25519PublicKey
    key_id: bytes
    origin: str

    @property
    def raw(self) -> bytes:
        return _raw_public(self.key)

    @property
    def key_id_hex(self) -> str:
        # minisign prints the id as a little-endian 64-bit number in upper-case hex
        return int.from_bytes(self.key_id, "little").to_bytes(KEY_ID_SIZE, "big").hex().upper()

    def minisign_public(self) -> str:
        """A minisign public key file: ``minisign -V -p FILE`` reads it."""
        blob = base64.b64encode(b"Ed" + self.key_id + self.raw).decode("ascii")
        return f"untrusted comment: minisign public key {self.key_id_hex}\n{blob}\n"

    def ssh_blob(self) -> bytes:
        """The OpenSSH public key blob (RFC 8709): string "ssh-ed25519", string key."""
        return _ssh_string(b"ssh-ed25519") + _ssh_string(self.raw)

    def ssh_public(self) -> str:
        blob = base64.b64encode(self.ssh_blob()).decode("ascii")
        return f"ssh-ed25519 {blob} {SSH_IDENTITY}\n"

    def allowed_signers(self) -> str:
        """One line for ``ssh-keygen -Y verify -f``: only for the sijil-post namespace."""
        blob = base64.b64encode(self.ssh_blob()).decode("ascii")
        return f'{SSH_IDENTITY} namespaces="sijil-post" ssh-ed25519 {blob}\n'

    def note_verifier(self) -> str:
        """The C2SP signed-note verifier key of the checkpoint (name = the origin)."""
        from sijil.publish.signed_note import verifier_key

        return verifier_key(self.origin, self.raw)

    def to_bytes(self) -> bytes:
        doc = {
            "format": PUBLIC_FORMAT,
            "public_key": b64(self.raw),
            "key_id": self.key_id.hex(),
            "origin": self.origin,
        }
        return (json.dumps(doc, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicationPublic:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise KeyFileError("not a sijil publication public-key file") from exc
        if not isinstance(doc, dict) or doc.get("format") != PUBLIC_FORMAT:
            raise KeyFileError("not a sijil publication public-key file")
        return cls(
            key=Ed25519PublicKey.from_public_bytes(
                unb64(doc.get("public_key"), size=32, what="publication key")
            ),
            key_id=_key_id(doc.get("key_id")),
            origin=check_origin(str(doc.get("origin", ""))),
        )

    @classmethod
    def from_minisign(cls, text: str, *, origin: str = DEFAULT_ORIGIN) -> PublicationPublic:
        """Read a minisign public key file (a reader's pinned ``--key``)."""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines and lines[0].startswith("untrusted comment:"):
            lines = lines[1:]
        if not lines:
            raise KeyFileError("not a minisign public key: it is empty")
        raw = unb64(lines[0], size=2 + KEY_ID_SIZE + 32, what="minisign public key")
        if raw[:2] != b"Ed":
            raise KeyFileError("not a minisign Ed25519 public key")
        return cls(
            key=Ed25519PublicKey.from_public_bytes(raw[2 + KEY_ID_SIZE :]),
            key_id=raw[2 : 2 + KEY_ID_SIZE],
            origin=origin,
        )

    @classmethod
    def load(cls, home: DeskHome) -> PublicationPublic:
        """The desk's publication public key; one line naming the fix when there is none."""
        path = public_file(home)
        if not path.is_file():
            raise ConfigError(
                f"the desk at {home.root} has no publication key"
                " (run 'sijil publish key init --home DIR')"
            )
        return cls.from_bytes(path.read_bytes())

    def to_bytes_with(self, retired: list[PublicationPublic]) -> bytes:
        """publication.json naming, after the key, the keys rotations retired (oldest first)."""
        doc = json.loads(self.to_bytes())
        doc["retired"] = [{"public_key": b64(r.raw), "key_id": r.key_id.hex()} for r in retired]
        return (json.dumps(doc, indent=1) + "\n").encode()


def retired_public_keys(home: DeskHome) -> list[PublicationPublic]:
    """The publication keys earlier rotations retired, oldest first (from publication.json)."""
    path = public_file(home)
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError("not a sijil publication public-key file") from exc
    items = doc.get("retired", []) if isinstance(doc, dict) else []
    if not isinstance(items, list):
        raise KeyFileError("publication.json's retired keys do not parse")
    origin = check_origin(str(doc.get("origin", "")))
    return [
        PublicationPublic(
            key=Ed25519PublicKey.from_public_bytes(
                unb64(item.get("public_key"), size=32, what="retired publication key")
            ),
            key_id=_key_id(item.get("key_id")),
            origin=origin,
        )
        for item in items
        if isinstance(item, dict)
    ]


def _kdf_of(data: bytes) -> KdfParams:
    """The scrypt costs a key file was locked with (its authenticated header)."""
    try:
        kdf = json.loads(data)["kdf"]
        return KdfParams(log_n=int(kdf["log_n"]), r=int(kdf["r"]), p=int(kdf["p"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(
            "publication.key is damaged: its key-derivation costs do not parse"
        ) from exc


def _key_id(text: object) -> bytes:
    try:
        raw = bytes.fromhex(str(text))
    except ValueError as exc:
        raise KeyFileError("publication key id is not hex") from exc
    if len(raw) != KEY_ID_SIZE:
        raise KeyFileError("publication key id has the wrong length")
    return raw


@dataclass(frozen=True, kw_only=True)
class PublicationKey:
    """The private publication key, unlocked."""

    private: Ed25519PrivateKey
    key_id: bytes
    origin: str
    # while a rotation is under way (sijil.publish.key_rotation): the key it replaces,
    # which signs the announcement, and the desk user who asked for it
    previous: PublicationKey | None = None
    rotating_by: int | None = None

    @classmethod
    def generate(cls, origin: str = DEFAULT_ORIGIN) -> PublicationKey:
        return cls(
            private=Ed25519PrivateKey.generate(),
            key_id=os.urandom(KEY_ID_SIZE),
            origin=check_origin(origin),
        )

    @property
    def public(self) -> PublicationPublic:
        return PublicationPublic(
            key=self.private.public_key(), key_id=self.key_id, origin=self.origin
        )

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def lock(self, passphrase: str, kdf: KdfParams) -> bytes:
        raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        secret = {"sign": b64(raw), "key_id": self.key_id.hex(), "origin": self.origin}
        if self.previous is not None:
            old = self.previous.private.private_bytes(
                Encoding.Raw, PrivateFormat.Raw, NoEncryption()
            )
            secret.update(previous_sign=b64(old), previous_key_id=self.previous.key_id.hex())
            secret["rotating_by"] = str(self.rotating_by or 0)
        return lock_secret(KEY_KIND, secret, passphrase, kdf)

    @classmethod
    def unlock(cls, data: bytes, passphrase: str) -> PublicationKey:
        secret = unlock_secret(data, passphrase, kind=KEY_KIND)
        origin = check_origin(secret.get("origin", ""))
        previous = None
        if "previous_sign" in secret:
            previous = cls(
                private=Ed25519PrivateKey.from_private_bytes(
                    unb64(secret.get("previous_sign"), size=32, what="previous publication key")
                ),
                key_id=_key_id(secret.get("previous_key_id")),
                origin=origin,
            )
        by = secret.get("rotating_by", "")
        return cls(
            private=Ed25519PrivateKey.from_private_bytes(
                unb64(secret.get("sign"), size=32, what="publication key")
            ),
            key_id=_key_id(secret.get("key_id")),
            origin=origin,
            previous=previous,
            rotating_by=int(by) if by.isdigit() else None,
        )

    @classmethod
    def init(
        cls, home: DeskHome, passphrase: str, kdf: KdfParams, *, origin: str = DEFAULT_ORIGIN
    ) -> PublicationKey:
        """Make the desk's publication key; refuse to replace one (posts rest on it)."""
        home.require()
        if key_file(home).exists() or public_file(home).exists():
            raise ConfigError(f"the desk at {home.root} already has a publication key")
        key = cls.generate(origin)
        atomic_write(key_file(home), key.lock(passphrase, kdf))
        atomic_write(public_file(home), key.public.to_bytes(), mode=0o644)
        return key

    @classmethod
    def load(cls, home: DeskHome, passphrase: str) -> PublicationKey:
        """Unlock the desk's publication key with the desk passphrase."""
        public = PublicationPublic.load(home)
        path = key_file(home)
        if not path.is_file():
            raise ConfigError(f"the desk at {home.root} has no publication.key beside its .json")
        key = cls.unlock(path.read_bytes(), passphrase)
        if key.previous is not None:
            # A rotation was cut short (sijil.publish.key_rotation). publication.json names
            # the new key only once the announcement is in the log: then only the key
            # file's last rewrite is missing, and it is done here. Before that, whether
            # the announcement was committed is the database's to say: rotate again.
            if public.raw == key.public.raw:
                done = replace(key, previous=None, rotating_by=None)
                atomic_write(path, done.lock(passphrase, _kdf_of(path.read_bytes())))
                return done
            if public.raw != key.previous.public.raw:
                raise KeyFileError("publication.key and publication.json belong to different keys")
            raise ConfigError(
                "a publication key rotation was cut short: run 'sijil publish key rotate"
                " --as NAME' to finish it (it then stops)"
            )
        if key.public.raw != public.raw or key.key_id != public.key_id:
            raise KeyFileError("publication.key and publication.json belong to different keys")
        return key

    @classmethod
    def relock(cls, home: DeskHome, old: str, new: str, kdf: KdfParams) -> bool:
        """Re-lock the publication key under the desk's new passphrase, if the desk has one.

        For ``sijil desk passphrase change``: the two keys share one passphrase.
        Returns whether there was a key to re-lock. A key that already opens with
        ``new`` (a change cut short after this step) is left as it is, so running the
        change again finishes it.
        """
        if not key_file(home).exists():
            return False
        try:
            key = cls.load(home, old)
        except PassphraseError:
            cls.load(home, new)  # already re-locked, or the old passphrase is wrong
            return True
        locked = key.lock(new, kdf)
        if cls.unlock(locked, new).public.raw != key.public.raw:
            raise KeyFileError("the re-locked publication key does not open; nothing was changed")
        atomic_write(key_file(home), locked)
        return True
