"""Finishing a desk key rotation: the steps after the new key file is written.

Kept apart from sijil.desk.key_rotation so that ``DeskHome.unlock`` can finish a
rotation it finds half-done (sijil.desk.home imports this module; this module
knows the home only by the few things it uses).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from sijil.crypto.identity import DeskIdentity, RetiredDeskKey, raw_public
from sijil.crypto.kdf import KdfParams
from sijil.errors import KeyFileError, PassphraseError
from sijil.faults import FaultHook
from sijil.fsutil import atomic_write
from sijil.ledger import log
from sijil.ledger.handover import append_handover, find_handover
from sijil.store import Store

__all__ = ["RotatingHome", "append_handover_once", "finish_rotation", "key_file_kdf", "relock"]


class RotatingHome(Protocol):
    """What finishing a rotation needs of a desk home (sijil.desk.home.DeskHome)."""

    @property
    def key_file(self) -> Path: ...

    @property
    def public_file(self) -> Path: ...

    @property
    def faults(self) -> FaultHook: ...

    def open_store(self, identity: DeskIdentity | None = None) -> Store: ...


def key_file_kdf(data: bytes) -> KdfParams:
    """The scrypt costs a key file was locked with (its authenticated header)."""
    try:
        kdf = json.loads(data)["kdf"]
        return KdfParams(log_n=int(kdf["log_n"]), r=int(kdf["r"]), p=int(kdf["p"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(
            "desk.key is damaged: its key-derivation parameters do not parse"
        ) from exc


def relock(identity: DeskIdentity, passphrase: str, kdf: KdfParams) -> bytes:
    locked = identity.lock(passphrase, kdf)
    opened = DeskIdentity.unlock(locked, passphrase)
    if opened.public.fingerprint != identity.public.fingerprint or len(opened.retired) != len(
        identity.retired
    ):
        raise PassphraseError("the re-locked desk key does not open; nothing was changed")
    return locked


def finish_rotation(
    home: RotatingHome, identity: DeskIdentity, passphrase: str, *, kdf: KdfParams | None = None
) -> DeskIdentity:
    """Complete a rotation whose key file is written (steps 2-4); idempotent."""
    if not identity.retired:
        raise KeyFileError("desk.key is marked as rotating but holds no retired key")
    kdf = kdf or key_file_kdf(home.key_file.read_bytes())
    previous = identity.retired[0]
    store = home.open_store(identity)
    try:
        with store.session(write=True) as session:
            # under the ledger's lock, so two processes finishing at once append one handover
            append_handover_once(session, previous, identity, faults=home.faults)
            home.faults("rotate.before_commit")
        home.faults("rotate.ledger_committed")
    finally:
        store.close()
    atomic_write(home.public_file, identity.public.to_bytes(), mode=0o644)
    home.faults("rotate.pub_written")
    done = replace(identity, rotating=False)
    atomic_write(home.key_file, relock(done, passphrase, kdf))
    home.faults("rotate.done")
    return done


def append_handover_once(
    session: Session, previous: RetiredDeskKey, identity: DeskIdentity, *, faults: FaultHook
) -> None:
    """Append the handover from ``previous`` to ``identity`` unless the ledger has it."""
    log.lock(session)
    if find_handover(session, raw_public(identity.sign.public_key())) is None:
        append_handover(
            session, previous.sign, identity.sign, new_age=identity.age.public_key(), faults=faults
        )
