"""A duress passphrase, and moving to a new pseudonym key (``sijil field rekey``).

Duress: a second passphrase, locked into the home's spare slot
(sijil.field.keyslots). Unlocking with it behaves like a normal unlock, while
sijil.field.home wipes the unsent envelopes and latches duress mode, so that every
envelope sealed afterwards carries ``"mode": "duress"`` inside its signed, encrypted
manifest (same length as ``"normal"``: nothing outside the encryption differs).

Rekey: a correspondent who is safe makes a new key pair; a rekey statement
(sijil.envelope.rekey) signed by the old key goes to the desk in an ordinary
envelope, and the key file is then locked to the new key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sijil.crypto.identity import CorrespondentIdentity
from sijil.crypto.kdf import KdfParams
from sijil.envelope.rekey import make_rekey
from sijil.envelope.sealing import Draft
from sijil.errors import PassphraseError
from sijil.field.compose import compose
from sijil.field.home import FieldHome, FieldSession
from sijil.field.inbox import reseal_inbox
from sijil.field.keyslots import Slot, decoy_slot, duress_slot, open_slots
from sijil.fsutil import atomic_write

__all__ = ["Rekeyed", "rekey", "set_duress"]

REKEY_TITLE = "key change"


def set_duress(home: FieldHome, passphrase: str, duress: str, kdf: KdfParams) -> None:
    """Lock the spare slot under ``duress``; ``passphrase`` must open the key file itself."""
    home.require()
    if duress == passphrase:
        raise PassphraseError("the duress passphrase must differ from your passphrase")
    opened = open_slots(home.key_file, passphrase)
    if opened.slot is not Slot.OWN:
        # under duress this changes nothing, and says only what a wrong passphrase says
        raise PassphraseError("wrong passphrase (or the key file was changed)")
    atomic_write(home.spare_file, duress_slot(opened.identity, opened.settings, duress, kdf))


@dataclass(frozen=True, kw_only=True)
class Rekeyed:
    envelope_id: str
    old_fingerprint: str
    new_fingerprint: str


def rekey(home: FieldHome, passphrase: str, kdf: KdfParams) -> Rekeyed:
    """Seal a rekey statement signed by the old key into the outbox, then switch keys.

    The statement is in the outbox before the key file changes: a crash in between
    leaves the old key and a statement the desk accepts (the next rekey replaces it).
    The spare slot holds the old key, so it becomes filler: set the duress
    passphrase again afterwards.
    """
    session = home.unlock(passphrase)
    new = CorrespondentIdentity.generate()
    statement = make_rekey(session.identity, new)
    draft = Draft(title=REKEY_TITLE, body="", lang="en")
    composed = compose(session, draft, [], rekey=statement)
    index = session.load_index()
    settings = dict(session.settings)
    locked = new.lock(passphrase, kdf, settings)
    moved = FieldSession(home=home, identity=new, settings=settings, duress=session.duress)
    # The index and replies are re-encrypted to the new key, then the key file changes:
    # a crash between these writes leaves an index no kept key opens (the envelopes
    # stay and still export by file name); the one non-atomic window of a rekey.
    moved.save_index(index)
    reseal_inbox(session, moved)
    atomic_write(home.key_file, locked)
    atomic_write(home.spare_file, decoy_slot(settings, kdf))
    return Rekeyed(
        envelope_id=composed.envelope_id,
        old_fingerprint=session.identity.public.fingerprint,
        new_fingerprint=new.public.fingerprint,
    )
