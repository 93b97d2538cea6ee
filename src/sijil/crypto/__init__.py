"""Identities, key files and fingerprints (``sijil.crypto``)."""

from sijil.crypto.identity import (
    CorrespondentIdentity,
    CorrespondentPublic,
    DeskIdentity,
    DeskPublic,
    fingerprint,
)
from sijil.crypto.kdf import DEFAULT_KDF, KdfParams

__all__ = [
    "DEFAULT_KDF",
    "CorrespondentIdentity",
    "CorrespondentPublic",
    "DeskIdentity",
    "DeskPublic",
    "KdfParams",
    "fingerprint",
]
