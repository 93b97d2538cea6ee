"""The desk's home folder: keys, public file, database, evidence vault, shard pool.

The embedded SQLite database is encrypted (SQLCipher) under a key derived from the
unlocked desk identity, so it opens only after the passphrase: nothing else is
stored. A PostgreSQL database is reached by its URL and not encrypted by sijil.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from sijil.crypto.identity import DeskIdentity, DeskPublic
from sijil.crypto.kdf import KdfParams
from sijil.desk.key_handover import finish_rotation
from sijil.desk.vault_config import VAULT_CONFIG, open_blob_store
from sijil.envelope.invite import Invite
from sijil.errors import ConfigError
from sijil.faults import FaultHook, no_faults
from sijil.fsutil import atomic_write
from sijil.ledger.heads import issue_head
from sijil.store import Correspondent, Store
from sijil.store.database import sqlite_file
from sijil.store.sqlcipher import KEY_BYTES, SqliteFile, file_state
from sijil.vault import Vault, VaultKey

__all__ = ["DATABASE_KEY_INFO", "DeskHome", "database_key"]

#: HKDF label of the database key; a new label would be a new key (and migration).
DATABASE_KEY_INFO = b"sijil-desk-db/1 sqlcipher"


def database_key(identity: DeskIdentity) -> bytes:
    """The SQLCipher key of the desk's database: HKDF-SHA256 of the vault secret.

    The vault's own keys come from the same secret under other labels
    (sijil.vault.cipher), so neither key tells anything about the other.
    """
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=DATABASE_KEY_INFO
    ).derive(identity.vault)


@dataclass(frozen=True, kw_only=True)
class DeskHome:
    """Paths of a desk home and how to reach its database; no I/O until asked."""

    root: Path
    db_url: str | None = None
    # crash points and injected failures (sijil.faults); tests and crash trials only
    faults: FaultHook = no_faults
    # the database key, for a home handed around after unlocking (with_key)
    db_key: bytes | None = field(default=None, repr=False)

    @property
    def key_file(self) -> Path:
        return self.root / "desk.key"

    @property
    def public_file(self) -> Path:
        return self.root / "desk.pub"

    @property
    def vault(self) -> Path:
        """The evidence vault: encrypted blobs under keyed names (sijil.vault)."""
        return self.root / "vault"

    @property
    def tsa_config(self) -> Path:
        """Optional RFC 3161 timestamp authority settings (sijil.ledger.timestamp)."""
        return self.root / "tsa.json"

    @property
    def quarantine(self) -> Path:
        """Where desks before migration 0005 kept quarantined inputs, in the clear.

        No longer written: quarantined inputs are vault blobs now (sijil.desk.quarantine).
        Files an older desk left here stay readable until a retry moves them.
        """
        return self.root / "quarantine"

    @property
    def pending_shards(self) -> Path:
        return self.root / "shards"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def database_url(self) -> str:
        return self.db_url or Store.sqlite_url(self.root / "sijil.db")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file; None when the desk uses PostgreSQL."""
        return sqlite_file(self.database_url)

    def database_is_encrypted(self) -> bool:
        """Whether opening the database needs the key: a SQLite file not in the clear.

        A new file counts (it will be created encrypted); a plaintext file of a desk
        made before encryption does not, until 'sijil desk migrate-encrypt'.
        """
        path = self.sqlite_file
        return path is not None and file_state(path) is not SqliteFile.PLAIN

    def exists(self) -> bool:
        return self.key_file.is_file() and self.public_file.is_file()

    def require(self) -> None:
        if not self.exists():
            raise ConfigError(f"no desk home at {self.root} (run 'sijil desk init')")

    def init(self, passphrase: str, kdf: KdfParams) -> DeskPublic:
        """Create keys, the public file and the database; refuse to overwrite a desk."""
        if self.key_file.exists():
            raise ConfigError(f"a desk home already exists at {self.root}")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.vault, self.pending_shards):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        identity = DeskIdentity.generate()
        database = self.sqlite_file
        if database is not None and not database.exists():
            # owner-only from the start; SQLite gives its -wal and -shm the same mode
            database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self.open_store(identity) as store, store.session(write=True) as session:
            # a head of the empty ledger from the start: a desk always has one, so deleting
            # every head is noticed at once, even in the desk's first hour (sijil verify)
            issue_head(session, identity.sign)
        atomic_write(self.key_file, identity.lock(passphrase, kdf))
        atomic_write(self.public_file, identity.public.to_bytes(), mode=0o644)
        return identity.public

    def public(self) -> DeskPublic:
        self.require()
        return DeskPublic.from_bytes(self.public_file.read_bytes())

    def unlock(self, passphrase: str) -> DeskIdentity:
        self.require()
        identity = DeskIdentity.unlock(self.key_file.read_bytes(), passphrase)
        published = self.public().fingerprint
        if identity.rotating and identity.retired:
            # a rotation was interrupted: desk.pub may still be the old key's. Finish it
            # (ledger handover, desk.pub, key file) before anything uses the keys.
            if published not in (
                identity.public.fingerprint,
                identity.retired[0].public.fingerprint,
            ):
                raise ConfigError("desk.key and desk.pub belong to different desks")
            return finish_rotation(self, identity, passphrase)
        if identity.public.fingerprint != published:
            raise ConfigError("desk.key and desk.pub belong to different desks")
        return identity

    def with_key(self, identity: DeskIdentity) -> DeskHome:
        """This home, holding the database key so that ``open_store()`` needs no identity."""
        return replace(self, db_key=database_key(identity))

    def open_store(self, identity: DeskIdentity | None = None) -> Store:
        """The desk's database, migrated to the newest schema.

        An encrypted SQLite file is opened with the key of ``identity`` (or the one
        this home holds); a new one is created encrypted. A plaintext file left by
        an older desk opens as it is. On every backend the key also opens the values
        the desk seals itself (sijil.store.sealed); without it PostgreSQL opens, and
        reading a sealed value fails in one line.
        """
        key = database_key(identity) if identity is not None else self.db_key
        if key is None:
            if self.database_is_encrypted():
                raise ConfigError("the desk's database is encrypted: unlock the desk key first")
            return Store.open(self.database_url)
        return Store.open(self.database_url, key=key)

    @property
    def vault_config(self) -> Path:
        """Optional: the object store that holds the vault (sijil.desk.vault_config)."""
        return self.root / VAULT_CONFIG

    def open_vault(self, identity: DeskIdentity) -> Vault:
        """The evidence vault (the folder, or the object store vault.json names), unlocked."""
        blobs = open_blob_store(self.vault_config, self.vault)
        return Vault(blobs=blobs, key=VaultKey.from_secret(identity.vault), faults=self.faults)

    def invite(
        self,
        store: Store,
        *,
        codename: str,
        relay: str | None = None,
        relays: tuple[str, ...] = (),
        relay_token: str | None = None,
    ) -> Invite:
        """Register a codename and return its invite; the token itself is not stored.

        ``relays``: every address to try, in order (``relay`` alone: just that one);
        ``relay_token``: the network's relay token (sijil.desk.relay_token)."""
        token = secrets.token_hex(32)
        invite = Invite(
            codename=codename,
            desk=self.public(),
            token=token,
            relay=relay,
            relays=relays,
            relay_token=relay_token,
        )
        with store.session(write=True) as session:
            taken = session.scalar(select(Correspondent.id).filter_by(codename=codename))
            if taken is not None:
                raise ConfigError(f"cannot invite {codename!r}: that codename is taken")
            session.add(
                Correspondent(
                    codename=codename,
                    invite_token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    enrolled=True,
                )
            )
        return invite
