"""Where a passphrase comes from: a prompt, or SIJIL_PASSPHRASE. Never a flag."""

from __future__ import annotations

import getpass
import os
import sys

from sijil.errors import PassphraseError

__all__ = ["BACKUP_PASSPHRASE_ENV", "NEW_PASSPHRASE_ENV", "PASSPHRASE_ENV", "read_passphrase"]

PASSPHRASE_ENV = "SIJIL_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
# a key file's next passphrase ('passphrase change'), and a backup's own
NEW_PASSPHRASE_ENV = "SIJIL_NEW_PASSPHRASE"  # noqa: S105 - a name, not a secret
BACKUP_PASSPHRASE_ENV = "SIJIL_BACKUP_PASSPHRASE"  # noqa: S105 - a name, not a secret
# Short passphrases fall to a dictionary even behind scrypt.
MIN_NEW_PASSPHRASE = 8


def read_passphrase(purpose: str, *, new: bool = False, env: str = PASSPHRASE_ENV) -> str:
    """Return the passphrase from the environment variable ``env``, or ask on the terminal."""
    from_env = os.environ.get(env)
    if from_env is not None:
        value = from_env
    elif sys.stdin.isatty():
        value = getpass.getpass(f"Passphrase for {purpose}: ")
        if new and getpass.getpass("Again, to be sure: ") != value:
            raise PassphraseError("the two passphrases differ; nothing was changed")
    else:
        raise PassphraseError(
            f"a passphrase is needed for {purpose}: run in a terminal or set {env}"
        )
    if new and len(value) < MIN_NEW_PASSPHRASE:
        raise PassphraseError(f"choose a passphrase of at least {MIN_NEW_PASSPHRASE} characters")
    if not value:
        raise PassphraseError("the passphrase is empty")
    return value
