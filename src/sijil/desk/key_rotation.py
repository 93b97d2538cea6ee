"""``sijil desk key rotate``: a new age key and a new ledger signing key, one history.

The steps, each one atomic, so a kill -9 anywhere leaves a desk that works with the
old keys or the new ones, never neither:

1. ``desk.key`` is rewritten (temp file, fsync, rename) holding the new keys as
   current, the old ones as retired (newest first) and a ``rotating`` mark. The
   vault secret is kept as it is: the vault and the encrypted database do not change.
2. One database transaction appends the ``key.rotated`` handover (signed by the old
   and the new signing key, sijil.crypto.handover) and signs a tree head with the
   new key, so no head covering the handover is ever signed by the old one.
3. ``desk.pub`` is rewritten with the new public keys: invites made from now on
   carry them.
4. ``desk.key`` is rewritten without the ``rotating`` mark.

Any unlock that finds the mark (``DeskHome.unlock``) finishes the rotation from
whichever step it stopped at: the handover is appended only if the ledger has none
for the current key (looked up under the ledger's lock), and the two files are
rewritten with what the key file already holds. A crash before step 1's rename
leaves the old key file, and nothing else was changed: there is nothing to undo.

Afterwards ``announce_rotation`` seals a reply to every enrolled correspondent with
the handover, signed with the retired key they trust; their sijil adopts the new
key for its next envelopes (sijil.field.home). Envelopes sealed to a retired age
key still open: intake tries the current key, then the retired ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from sijil.crypto.canonical import canonical_json
from sijil.crypto.handover import ANNOUNCE_MARK
from sijil.crypto.identity import DeskIdentity, RetiredDeskKey, raw_public
from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.desk.key_handover import append_handover_once, finish_rotation, key_file_kdf, relock
from sijil.desk.reply import send_reply
from sijil.errors import (
    ConfigError,
    RelayAuthError,
    RelayError,
)
from sijil.fsutil import atomic_write
from sijil.ledger.entries import parse_entry
from sijil.ledger.handover import find_handover
from sijil.store import Correspondent, LedgerEntry, Revocation, Store

__all__ = [
    "ANNOUNCE_MARK",
    "Announced",
    "Rotation",
    "announce_rotation",
    "announcement_text",
    "append_handover_once",
    "finish_rotation",
    "key_file_kdf",
    "rotate_desk_key",
]


@dataclass(frozen=True, kw_only=True)
class Rotation:
    old_fingerprint: str
    new_fingerprint: str
    handover_seq: int
    # True when this run only finished a rotation an earlier run had begun
    finished_earlier: bool = False


def rotate_desk_key(home: DeskHome, passphrase: str, *, kdf: KdfParams | None = None) -> Rotation:
    """Rotate ``home``'s age and signing keys (steps above); return the two fingerprints.

    A rotation found cut short is finished instead, and no new one is started.
    """
    home.require()
    found = DeskIdentity.unlock(home.key_file.read_bytes(), passphrase)
    if found.rotating and found.retired:
        done = home.unlock(passphrase)  # finishes it
        return Rotation(
            old_fingerprint=found.retired[0].public.fingerprint,
            new_fingerprint=done.public.fingerprint,
            handover_seq=_handover_seq(home, done),
            finished_earlier=True,
        )
    current = home.unlock(passphrase)
    kdf = kdf or key_file_kdf(home.key_file.read_bytes())
    retired = (RetiredDeskKey(age=current.age, sign=current.sign), *current.retired)
    rotated = DeskIdentity(
        age=X25519PrivateKey.generate(),
        sign=Ed25519PrivateKey.generate(),
        vault=current.vault,
        retired=retired,
        rotating=True,
    )
    locked = relock(rotated, passphrase, kdf)
    home.faults("rotate.before_key")
    atomic_write(home.key_file, locked)
    home.faults("rotate.key_written")
    finished = finish_rotation(home, rotated, passphrase, kdf=kdf)
    return Rotation(
        old_fingerprint=current.public.fingerprint,
        new_fingerprint=finished.public.fingerprint,
        handover_seq=_handover_seq(home, finished),
    )


def _handover_seq(home: DeskHome, identity: DeskIdentity) -> int:
    store = home.open_store(identity)
    try:
        with store.session() as session:
            seq = find_handover(session, raw_public(identity.sign.public_key()))
    finally:
        store.close()
    return -1 if seq is None else seq


# -- announcing the new key to correspondents -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Announced:
    sent: list[str]
    failed: list[str]  # "codename: reason", one line each
    skipped: list[str]  # no reply key yet, or revoked


def _newest_handover(store: Store, identity: DeskIdentity) -> dict[str, Any]:
    with store.session() as session:
        seq = find_handover(session, raw_public(identity.sign.public_key()))
        body = None if seq is None else session.get(LedgerEntry, seq)
        if body is None:
            raise ConfigError("the desk's keys were never rotated: there is nothing to announce")
        return dict(parse_entry(body.body.encode()).data)


def announcement_text(handover: dict[str, Any], fingerprint: str) -> str:
    """The reply a correspondent reads; its last line is the handover their sijil checks."""
    return (
        "The desk has new keys (fingerprint "
        f"{fingerprint}). Your sijil seals your next reports to them by itself.\n"
        f"{ANNOUNCE_MARK}{canonical_json(handover).decode()}\n"
    )


def announce_rotation(
    home: DeskHome,
    identity: DeskIdentity,
    store: Store,
    *,
    relay: str,
    proxy: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Announced:
    """Seal the newest handover to every enrolled correspondent, signed by the retired key
    they still trust; a relay failure for one is named and the others go on."""
    if not identity.retired:
        raise ConfigError("the desk's keys were never rotated: there is nothing to announce")
    handover = _newest_handover(store, identity)
    text = announcement_text(handover, identity.public.fingerprint)
    with store.session() as session:
        rows = session.execute(
            select(Correspondent.id, Correspondent.codename, Correspondent.reply_key)
            .where(Correspondent.enrolled.is_(True))
            .order_by(Correspondent.codename)
        ).all()
        revoked = set(session.scalars(select(Revocation.correspondent_id)))
    sent: list[str] = []
    failed: list[str] = []
    skipped: list[str] = []
    for correspondent_id, codename, reply_key in rows:
        if not reply_key or correspondent_id in revoked:
            skipped.append(codename)
            continue
        try:
            _send(identity, store, relay, codename, text, proxy, clock)
        except RelayError as exc:
            failed.append(f"{codename}: {exc}")
            continue
        sent.append(codename)
    return Announced(sent=sent, failed=failed, skipped=skipped)


def _send(
    identity: DeskIdentity,
    store: Store,
    relay: str,
    codename: str,
    text: str,
    proxy: str | None,
    clock: Callable[[], float],
) -> None:
    """Sign the reply with the retired key the correspondent trusts; the request with the
    desk's current key, or the retired one while the relay still has the old desk.pub."""
    retired = identity.retired[0].sign
    for request_key in (identity.sign, retired):
        try:
            send_reply(
                identity,
                store,
                relay=relay,
                codename=codename,
                text=text,
                proxy=proxy,
                clock=clock,
                sign_with=retired,
                request_key=request_key,
            )
            return
        except RelayAuthError:
            if request_key is retired:
                raise
