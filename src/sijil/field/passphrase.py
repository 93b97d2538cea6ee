"""``sijil field passphrase change``: re-lock the correspondent's key file.

The identity and the settings kept inside the key file (codename, desk key,
relay) are locked again under the new passphrase and the file is replaced
atomically, after proving that the new one opens: the old passphrase opens
nothing afterwards, and a crash leaves one whole key file.
"""

from __future__ import annotations

from sijil.crypto.identity import CorrespondentIdentity
from sijil.crypto.kdf import KdfParams
from sijil.errors import PassphraseError
from sijil.field.home import FieldHome
from sijil.field.keyslots import opens_spare
from sijil.fsutil import atomic_write

__all__ = ["change_field_passphrase"]


def change_field_passphrase(home: FieldHome, old: str, new: str, kdf: KdfParams) -> None:
    """Re-lock ``home``'s key file: ``old`` must open it; afterwards only ``new`` does."""
    session = home.unlock(old)
    if new == old:
        raise PassphraseError("the new passphrase is the old one; nothing was changed")
    if opens_spare(home.key_file, new):
        raise PassphraseError("the new passphrase is the duress passphrase; nothing was changed")
    locked = session.identity.lock(new, kdf, session.settings)
    reopened, settings = CorrespondentIdentity.unlock(locked, new)
    if reopened.public.fingerprint != session.identity.public.fingerprint or settings != dict(
        session.settings
    ):
        raise PassphraseError("the re-locked key does not open; nothing was changed")
    atomic_write(home.key_file, locked)
