"""Issuing tree heads for a desk: sign in one transaction, then timestamp if configured."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sijil.desk.home import DeskHome
from sijil.ledger.heads import issue_head
from sijil.ledger.timestamp import TsaConfig, request_timestamp
from sijil.store import LedgerHead, Store

__all__ = ["sign_now"]


def sign_now(home: DeskHome, store: Store, key: Ed25519PrivateKey) -> LedgerHead:
    """Sign the ledger's current head; attach an RFC 3161 timestamp if configured.

    The authority is asked after the head is committed, so a slow or absent
    authority never holds the ledger's lock; a failure raises TimestampError
    and leaves the signed head in place.
    """
    with store.session(write=True) as session:
        row, signed = issue_head(session, key)
    config = TsaConfig.load(home.tsa_config)
    if config is None:
        return row
    token = request_timestamp(config, signed.body)
    with store.session(write=True) as session:
        stored = session.get(LedgerHead, row.id)
        if stored is not None:
            stored.timestamp_token = token
            row = stored
    return row
