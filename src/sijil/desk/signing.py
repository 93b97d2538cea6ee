"""Issuing tree heads for a desk: sign in one transaction, then timestamp if configured."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sijil.desk.home import DeskHome
from sijil.errors import TimestampError
from sijil.ledger.heads import issue_head
from sijil.ledger.timestamp import TsaConfig, request_timestamp
from sijil.store import LedgerHead, Store

__all__ = ["sign_now"]


def sign_now(
    home: DeskHome, store: Store, key: Ed25519PrivateKey, *, strict: bool = True
) -> LedgerHead:
    """Sign the ledger's current head; attach an RFC 3161 timestamp if configured.

    The authority is asked after the head is committed, so a slow or absent
    authority never holds the ledger's lock. If it fails, the signed head stays
    and TimestampError is raised, unless ``strict`` is False (an export goes
    ahead without a timestamp rather than not at all).
    """
    with store.session(write=True) as session:
        row, signed = issue_head(session, key, faults=home.faults)
    config = TsaConfig.load(home.tsa_config)
    if config is None:
        return row
    try:
        token = request_timestamp(config, signed.body)
    except TimestampError:
        if strict:
            raise
        return row
    with store.session(write=True) as session:
        stored = session.get(LedgerHead, row.id)
        if stored is not None:
            stored.timestamp_token = token
            row = stored
    return row
