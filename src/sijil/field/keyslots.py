"""The two passphrase slots of a correspondent's home: the key file and its spare.

``identity.key`` opens with the correspondent's passphrase. ``spare.key`` is in
every home, the same shape and size whether or not a duress passphrase was set:
random filler (a copy locked under a random passphrase no one knows) until
``sijil field duress set`` locks the real identity in it under the duress
passphrase. Whoever examines the device cannot tell which of the two it holds.

Every unlock tries both slots (two scrypt derivations, whatever the outcome), so
unlocking with the duress passphrase takes as long as unlocking with the real one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sijil.crypto.identity import CorrespondentIdentity
from sijil.crypto.kdf import KdfParams
from sijil.errors import PassphraseError

__all__ = [
    "SPARE_FILE",
    "Slot",
    "Unlocked",
    "decoy_slot",
    "duress_slot",
    "open_slots",
    "opens_spare",
]

SPARE_FILE = "spare.key"
# What the spare slot stores beside the keys; same content in the filler, so the
# filler and a real duress slot have the same size.
_MARK = ("slot", "spare")
# 32 random bytes as a passphrase: the filler slot opens for no one.
_FILLER_BYTES = 32


class Slot(StrEnum):
    """Which slot opened: the correspondent's own, or the duress one."""

    OWN = "own"
    DURESS = "duress"


@dataclass(frozen=True, kw_only=True)
class Unlocked:
    identity: CorrespondentIdentity
    settings: dict[str, str]
    slot: Slot


def _spare_settings(settings: dict[str, str]) -> dict[str, str]:
    return {**settings, _MARK[0]: _MARK[1]}


def duress_slot(
    identity: CorrespondentIdentity, settings: dict[str, str], passphrase: str, kdf: KdfParams
) -> bytes:
    """The spare slot opening to ``identity`` under the duress ``passphrase``."""
    return identity.lock(passphrase, kdf, _spare_settings(settings))


def decoy_slot(settings: dict[str, str], kdf: KdfParams) -> bytes:
    """Filler for the spare slot: same shape and size, opens for no one."""
    stranger = CorrespondentIdentity.generate()
    nobody = secrets.token_hex(_FILLER_BYTES)
    return stranger.lock(nobody, kdf, _spare_settings(settings))


def _try(
    data: bytes | None, passphrase: str
) -> tuple[CorrespondentIdentity, dict[str, str]] | None:
    if data is None:
        return None
    try:
        return CorrespondentIdentity.unlock(data, passphrase)
    except PassphraseError:
        return None


def open_slots(key_file: Path, passphrase: str) -> Unlocked:
    """Open whichever slot ``passphrase`` opens, paying for both derivations every time."""
    own_data = key_file.read_bytes()
    spare_path = key_file.parent / SPARE_FILE
    spare_data = spare_path.read_bytes() if spare_path.is_file() else None
    own = _try(own_data, passphrase)
    # A home made before the spare slot existed: spend the same time on the own slot
    # again with a passphrase that cannot open it, so no unlock is measurably shorter.
    spare = _try(spare_data, passphrase) if spare_data else _try(own_data, passphrase + "\0")
    if own is not None:
        return Unlocked(identity=own[0], settings=own[1], slot=Slot.OWN)
    if spare is not None and spare_data is not None:
        settings = {k: v for k, v in spare[1].items() if k != _MARK[0]}
        return Unlocked(identity=spare[0], settings=settings, slot=Slot.DURESS)
    raise PassphraseError("wrong passphrase (or the key file was changed)")


def opens_spare(key_file: Path, passphrase: str) -> bool:
    """Whether ``passphrase`` is the duress passphrase (opens the spare slot)."""
    spare_path = key_file.parent / SPARE_FILE
    return spare_path.is_file() and _try(spare_path.read_bytes(), passphrase) is not None
