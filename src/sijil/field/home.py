"""The correspondent's home folder: one locked key file and an outbox of sealed envelopes.

Everything that would tell a searcher who this device reports to (the desk's keys,
the codename, the relay address, the outbox index with report titles) sits inside
passphrase- or key-encrypted files. Plaintext attachments are never written here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sijil.crypto.identity import CorrespondentIdentity, DeskPublic
from sijil.crypto.kdf import KdfParams
from sijil.envelope.age import AgeReader, AgeWriter
from sijil.envelope.invite import Invite
from sijil.errors import ConfigError, KeyFileError
from sijil.fsutil import atomic_write

__all__ = ["FieldHome", "FieldSession"]

KEY_FILE = "identity.key"
OUTBOX = "outbox"
INDEX_FILE = "index.sealed"  # age-encrypted too, named apart from the envelopes


@dataclass(frozen=True)
class FieldHome:
    """Paths of a correspondent's home; no I/O until a method is called."""

    root: Path

    @property
    def key_file(self) -> Path:
        return self.root / KEY_FILE

    @property
    def outbox(self) -> Path:
        return self.root / OUTBOX

    def exists(self) -> bool:
        return self.key_file.is_file()

    def require(self) -> None:
        if not self.exists():
            raise ConfigError(f"no correspondent home at {self.root} (run 'sijil field init')")

    def init(self, invite: Invite, passphrase: str, kdf: KdfParams) -> CorrespondentIdentity:
        """Create the keystore from an invite; refuse to overwrite an existing one."""
        if self.exists():
            raise ConfigError(f"a correspondent home already exists at {self.root}")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.outbox.mkdir(exist_ok=True, mode=0o700)
        identity = CorrespondentIdentity.generate()
        extra = {
            "codename": invite.codename,
            "desk": invite.desk.to_bytes().decode(),
            "relay": invite.relay or "",
            "enrol_token": invite.token,
        }
        atomic_write(self.key_file, identity.lock(passphrase, kdf, extra))
        session = FieldSession(home=self, identity=identity, settings=extra)
        session.save_index([])
        return identity

    def unlock(self, passphrase: str) -> FieldSession:
        self.require()
        identity, extra = CorrespondentIdentity.unlock(self.key_file.read_bytes(), passphrase)
        return FieldSession(home=self, identity=identity, settings=extra)


@dataclass(frozen=True)
class FieldSession:
    """An unlocked home: the identity and the settings stored with it."""

    home: FieldHome
    identity: CorrespondentIdentity
    settings: dict[str, str]

    @property
    def desk(self) -> DeskPublic:
        return DeskPublic.from_bytes(self.settings["desk"].encode())

    @property
    def codename(self) -> str:
        return self.settings.get("codename", "")

    @property
    def enrol_token(self) -> str | None:
        return self.settings.get("enrol_token") or None

    def load_index(self) -> list[dict[str, Any]]:
        path = self.home.outbox / INDEX_FILE
        if not path.exists():
            return []
        with path.open("rb") as handle:
            data = AgeReader(handle, self.identity.box).read()
        doc = json.loads(data)
        if not isinstance(doc, list):
            raise KeyFileError("the outbox index is damaged")
        return [dict(item) for item in doc]

    def save_index(self, entries: list[dict[str, Any]]) -> None:
        # Encrypted to our own X25519 key: titles in the index must not be readable
        # by whoever takes the device, and only a passphrase unlocks that key.
        buf = io.BytesIO()
        writer = AgeWriter(buf, self.identity.box.public_key())
        writer.write(json.dumps(entries, ensure_ascii=False).encode())
        writer.close()
        atomic_write(self.home.outbox / INDEX_FILE, buf.getvalue())

    def envelope_path(self, envelope_id: str) -> Path:
        return self.home.outbox / f"{envelope_id}.age"


def wipe(home: FieldHome) -> int:
    """Destroy keys and outbox now; return the number of files removed.

    The key file is overwritten with random bytes before it is unlinked; the
    envelopes are only unlinked (they are sealed to the desk and useless without
    its key). On flash storage overwriting is not a guarantee: the passphrase
    encryption of the key file is what protects a recovered copy.
    """
    removed = 0
    if home.key_file.exists():
        size = home.key_file.stat().st_size
        with home.key_file.open("r+b") as handle:
            handle.write(secrets.token_bytes(max(size, 1)))
            handle.flush()
            os.fsync(handle.fileno())
        home.key_file.unlink()
        removed += 1
    if home.outbox.is_dir():
        for path in home.outbox.iterdir():
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed += 1
        home.outbox.rmdir()
    # the home folder may hold files that are not ours: then it stays
    with contextlib.suppress(OSError):
        home.root.rmdir()
    return removed
