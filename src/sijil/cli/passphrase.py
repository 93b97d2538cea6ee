"""Where a passphrase comes from: a prompt, or SIJIL_PASSPHRASE. Never a flag."""

from __future__ import annotations

import getpass
import os
import sys

from sijil.errors import PassphraseError

__all__ = ["PASSPHRASE_ENV", "read_passphrase"]

PASSPHRASE_ENV = "SIJIL_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
# Short passphrases fall to a dictionary even behind scrypt.
MIN_NEW_PASSPHRASE = 8


def read_passphrase(purpose: str, *, new: bool = False) -> str:
    """Return the passphrase from the environment, or ask for it on the terminal."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        value = from_env
    elif sys.stdin.isatty():
        value = getpass.getpass(f"Passphrase for {purpose}: ")
        if new and getpass.getpass("Again, to be sure: ") != value:
            raise PassphraseError("the two passphrases differ; nothing was changed")
    else:
        raise PassphraseError(
            f"a passphrase is needed for {purpose}: run in a terminal or set {PASSPHRASE_ENV}"
        )
    if new and len(value) < MIN_NEW_PASSPHRASE:
        raise PassphraseError(f"choose a passphrase of at least {MIN_NEW_PASSPHRASE} characters")
    if not value:
        raise PassphraseError("the passphrase is empty")
    return value
