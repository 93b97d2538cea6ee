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

from sijil.crypto.handover import parse_handover
from sijil.crypto.identity import CorrespondentIdentity, DeskPublic, parse_age_recipient, raw_public
from sijil.crypto.kdf import KdfParams
from sijil.envelope.age import AgeReader, AgeWriter
from sijil.envelope.invite import Invite
from sijil.envelope.manifest import SealMode
from sijil.errors import ConfigError, EnvelopeError, KeyFileError, PassphraseError
from sijil.field.keyslots import SPARE_FILE, Slot, decoy_slot, duress_slot, open_slots
from sijil.fsutil import atomic_write, fsync_dir

__all__ = ["FieldHome", "FieldSession"]

KEY_FILE = "identity.key"
OUTBOX = "outbox"
DESK_KEYS_FILE = "desk-keys.sealed"  # key handovers the desk announced, age to our key
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

    @property
    def spare_file(self) -> Path:
        return self.root / SPARE_FILE

    def exists(self) -> bool:
        return self.key_file.is_file()

    def require(self) -> None:
        if not self.exists():
            raise ConfigError(f"no correspondent home at {self.root} (run 'sijil field init')")

    def init(
        self, invite: Invite, passphrase: str, kdf: KdfParams, *, duress: str | None = None
    ) -> CorrespondentIdentity:
        """Create the keystore from an invite; refuse to overwrite an existing one.

        ``duress``: a second passphrase that unlocks in duress mode (sijil.field.duress).
        Without it the spare slot is filler of the same size.
        """
        if self.exists():
            raise ConfigError(f"a correspondent home already exists at {self.root}")
        if duress is not None and duress == passphrase:
            raise PassphraseError("the duress passphrase must differ from your passphrase")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.outbox.mkdir(exist_ok=True, mode=0o700)
        identity = CorrespondentIdentity.generate()
        extra = {
            "codename": invite.codename,
            "desk": invite.desk.to_bytes().decode(),
            "relay": invite.relay or "",
            # every address, tried in order by 'field send' (spaces never occur in one)
            "relays": " ".join(invite.relays),
            "enrol_token": invite.token,
            # the network's relay token (absent from older invites): 'field send' sends it
            "relay_token": invite.relay_token or "",
        }
        spare = (
            decoy_slot(extra, kdf) if duress is None else duress_slot(identity, extra, duress, kdf)
        )
        atomic_write(self.spare_file, spare)
        atomic_write(self.key_file, identity.lock(passphrase, kdf, extra))
        session = FieldSession(home=self, identity=identity, settings=extra)
        session.save_index([])
        return identity

    def unlock(self, passphrase: str) -> FieldSession:
        """Open the home; the duress passphrase opens it too, in duress mode.

        The first duress unlock wipes every unsent envelope and the replies, and
        latches duress mode in the encrypted outbox index: from then on every
        envelope is sealed with the duress mark, whichever passphrase unlocked.
        """
        self.require()
        opened = open_slots(self.key_file, passphrase)
        session = FieldSession(home=self, identity=opened.identity, settings=opened.settings)
        latched = session.index_mode() is SealMode.DURESS
        if opened.slot is Slot.DURESS and not latched:
            _wipe_outbox(self)
        if opened.slot is Slot.DURESS or latched:
            session = FieldSession(
                home=self, identity=opened.identity, settings=opened.settings, duress=True
            )
            if not latched:
                session.save_index([])
        return session


def _wipe_outbox(home: FieldHome) -> None:
    """Unlink every file in the outbox but its index (envelopes, replies, half-sealed files)."""
    if not home.outbox.is_dir():
        return
    for path in home.outbox.iterdir():
        # the desk's announced keys stay: they say nothing a captor holding the unlocked
        # home does not see anyway, and sealing to a retired key would only delay reports
        if path.name not in (INDEX_FILE, DESK_KEYS_FILE) and (path.is_file() or path.is_symlink()):
            path.unlink()
    fsync_dir(home.outbox)


@dataclass(frozen=True)
class FieldSession:
    """An unlocked home: the identity and the settings stored with it."""

    home: FieldHome
    identity: CorrespondentIdentity
    settings: dict[str, str]
    # unlocked with the duress passphrase, now or once before (latched in the index)
    duress: bool = False

    @property
    def seal_mode(self) -> SealMode:
        """The mark every envelope sealed in this session carries inside its manifest."""
        return SealMode.DURESS if self.duress else SealMode.NORMAL

    @property
    def desk(self) -> DeskPublic:
        """The desk's keys: those of the invite, moved on by every key handover the desk
        announced (each signed by the key before it, sijil.crypto.handover)."""
        current = DeskPublic.from_bytes(self.settings["desk"].encode())
        for doc in self.adopted_handovers():
            try:
                handover = parse_handover(doc)
            except KeyFileError:
                continue
            if handover.old_sign == raw_public(current.sign):
                age = parse_age_recipient(handover.new_age_recipient)
                current = DeskPublic(age=age, sign=handover.new_key)
        return current

    def adopted_handovers(self) -> list[dict[str, Any]]:
        path = self.home.outbox / DESK_KEYS_FILE
        if not path.exists():
            return []
        try:
            with path.open("rb") as handle:
                doc = json.loads(AgeReader(handle, self.identity.box).read())
        except (EnvelopeError, ValueError):
            return []  # damaged, or sealed to a key we no longer hold: the invite's key
        return [dict(d) for d in doc if isinstance(d, dict)] if isinstance(doc, list) else []

    def save_handovers(self, docs: list[dict[str, Any]]) -> None:
        buf = io.BytesIO()
        writer = AgeWriter(buf, self.identity.box.public_key())
        writer.write(json.dumps(docs).encode())
        writer.close()
        atomic_write(self.home.outbox / DESK_KEYS_FILE, buf.getvalue())

    def adopt_desk_key(self, doc: dict[str, Any]) -> bool:
        """Adopt the desk's new keys from a handover; False if they are already ours.

        The handover must start from the desk key this home holds (so only the desk
        can move it); anything else is a KeyFileError and changes nothing.
        """
        handover = parse_handover(doc)
        current = raw_public(self.desk.sign)
        if handover.new_sign == current:
            return False
        if handover.old_sign != current:
            raise KeyFileError("a desk key handover that does not start from the desk key held")
        self.save_handovers([*self.adopted_handovers(), dict(doc)])
        return True

    @property
    def codename(self) -> str:
        return self.settings.get("codename", "")

    @property
    def enrol_token(self) -> str | None:
        return self.settings.get("enrol_token") or None

    def _index_doc(self) -> dict[str, Any]:
        path = self.home.outbox / INDEX_FILE
        if not path.exists():
            return {"entries": [], "mode": str(SealMode.NORMAL)}
        with path.open("rb") as handle:
            data = AgeReader(handle, self.identity.box).read()
        doc = json.loads(data)
        if isinstance(doc, list):  # an index written before the mode was kept in it
            doc = {"entries": doc, "mode": str(SealMode.NORMAL)}
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise KeyFileError("the outbox index is damaged")
        return doc

    def index_mode(self) -> SealMode:
        try:
            return SealMode(str(self._index_doc().get("mode")))
        except ValueError:
            raise KeyFileError("the outbox index is damaged") from None

    def load_index(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self._index_doc()["entries"]]

    def save_index(self, entries: list[dict[str, Any]]) -> None:
        # Encrypted to our own X25519 key: titles in the index must not be readable
        # by whoever takes the device, and only a passphrase unlocks that key. The
        # mode has the same length either way, so the index's size does not tell.
        buf = io.BytesIO()
        writer = AgeWriter(buf, self.identity.box.public_key())
        doc = {"entries": entries, "mode": str(self.seal_mode)}
        writer.write(json.dumps(doc, ensure_ascii=False).encode())
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
    for key_file in (home.key_file, home.spare_file):
        if key_file.exists():
            size = key_file.stat().st_size
            with key_file.open("r+b") as handle:
                handle.write(secrets.token_bytes(max(size, 1)))
                handle.flush()
                os.fsync(handle.fileno())
            key_file.unlink()
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
