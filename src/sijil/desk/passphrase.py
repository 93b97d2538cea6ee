"""``sijil desk passphrase change``: re-lock the desk key under a new passphrase.

The key itself does not change (envelopes, the vault and the encrypted database
stay readable); only its lock does. The new key file is written beside the old
and renamed over it (sijil.fsutil.atomic_write), after proving that it opens with
the new passphrase, so a crash leaves one whole key file, old or new, and the
old passphrase opens nothing once the rename is done. Backups made earlier hold
the key under the passphrase it had then.
"""

from __future__ import annotations

from sijil.crypto.identity import DeskIdentity
from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.errors import PassphraseError
from sijil.fsutil import atomic_write

__all__ = ["change_desk_passphrase"]


def change_desk_passphrase(home: DeskHome, old: str, new: str, kdf: KdfParams) -> None:
    """Re-lock ``home``'s key file: ``old`` must open it; afterwards only ``new`` does."""
    identity = home.unlock(old)
    if new == old:
        raise PassphraseError("the new passphrase is the old one; nothing was changed")
    locked = identity.lock(new, kdf)
    if DeskIdentity.unlock(locked, new).public.fingerprint != identity.public.fingerprint:
        raise PassphraseError("the re-locked key does not open; nothing was changed")
    atomic_write(home.key_file, locked)
