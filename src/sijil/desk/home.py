"""The desk's home folder: keys, public file, database, evidence vault, shard pool."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from sijil.crypto.identity import DeskIdentity, DeskPublic
from sijil.crypto.kdf import KdfParams
from sijil.envelope.invite import Invite
from sijil.errors import ConfigError
from sijil.faults import FaultHook, no_faults
from sijil.fsutil import atomic_write
from sijil.store import Correspondent, Store
from sijil.vault import Vault

__all__ = ["DeskHome"]


@dataclass(frozen=True, kw_only=True)
class DeskHome:
    """Paths of a desk home and how to reach its database; no I/O until asked."""

    root: Path
    db_url: str | None = None
    # crash points and injected failures (sijil.faults); tests and crash trials only
    faults: FaultHook = no_faults

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
        self.open_store().close()
        atomic_write(self.key_file, identity.lock(passphrase, kdf))
        atomic_write(self.public_file, identity.public.to_bytes(), mode=0o644)
        return identity.public

    def public(self) -> DeskPublic:
        self.require()
        return DeskPublic.from_bytes(self.public_file.read_bytes())

    def unlock(self, passphrase: str) -> DeskIdentity:
        self.require()
        identity = DeskIdentity.unlock(self.key_file.read_bytes(), passphrase)
        if identity.public.fingerprint != self.public().fingerprint:
            raise ConfigError("desk.key and desk.pub belong to different desks")
        return identity

    def open_store(self) -> Store:
        return Store.open(self.database_url)

    def open_vault(self, identity: DeskIdentity) -> Vault:
        """The evidence vault, unlocked with the desk's vault secret."""
        return Vault.folder(self.vault, identity.vault, faults=self.faults)

    def invite(self, store: Store, *, codename: str, relay: str | None = None) -> Invite:
        """Register a codename and return its invite; the token itself is not stored."""
        token = secrets.token_hex(32)
        invite = Invite(codename=codename, desk=self.public(), token=token, relay=relay)
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
