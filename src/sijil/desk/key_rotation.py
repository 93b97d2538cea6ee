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

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.crypto.handover import ANNOUNCE_MARK
from sijil.crypto.identity import DeskIdentity, RetiredDeskKey, raw_public
from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.desk.reply import send_reply
from sijil.errors import (
    ConfigError,
    KeyFileError,
    PassphraseError,
    RelayAuthError,
    RelayError,
)
from sijil.faults import FaultHook
from sijil.fsutil import atomic_write
from sijil.ledger import log
from sijil.ledger.entries import parse_entry
from sijil.ledger.handover import append_handover, find_handover
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


def key_file_kdf(data: bytes) -> KdfParams:
    """The scrypt costs a key file was locked with (its authenticated header)."""
    try:
        kdf = json.loads(data)["kdf"]
        return KdfParams(log_n=int(kdf["log_n"]), r=int(kdf["r"]), p=int(kdf["p"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(
            "desk.key is damaged: its key-derivation parameters do not parse"
        ) from exc


def _relock(identity: DeskIdentity, passphrase: str, kdf: KdfParams) -> bytes:
    locked = identity.lock(passphrase, kdf)
    opened = DeskIdentity.unlock(locked, passphrase)
    if opened.public.fingerprint != identity.public.fingerprint or len(opened.retired) != len(
        identity.retired
    ):
        raise PassphraseError("the re-locked desk key does not open; nothing was changed")
    return locked


def rotate_desk_key(home: DeskHome, passphrase: str, *, kdf: KdfParams | None = None) -> Rotation:
    """Rotate ``home``'s age and signing keys (steps above); return the two fingerprints."""
    current = home.unlock(passphrase)  # finishes an earlier, interrupted rotation first
    kdf = kdf or key_file_kdf(home.key_file.read_bytes())
    retired = (RetiredDeskKey(age=current.age, sign=current.sign), *current.retired)
    rotated = DeskIdentity(
        age=X25519PrivateKey.generate(),
        sign=Ed25519PrivateKey.generate(),
        vault=current.vault,
        retired=retired,
        rotating=True,
    )
    locked = _relock(rotated, passphrase, kdf)
    home.faults("rotate.before_key")
    atomic_write(home.key_file, locked)
    home.faults("rotate.key_written")
    finished = finish_rotation(home, rotated, passphrase, kdf=kdf)
    store = home.open_store(finished)
    try:
        with store.session() as session:
            seq = find_handover(session, raw_public(finished.sign.public_key()))
    finally:
        store.close()
    return Rotation(
        old_fingerprint=current.public.fingerprint,
        new_fingerprint=finished.public.fingerprint,
        handover_seq=-1 if seq is None else seq,
    )


def finish_rotation(
    home: DeskHome, identity: DeskIdentity, passphrase: str, *, kdf: KdfParams | None = None
) -> DeskIdentity:
    """Complete a rotation whose key file is written (steps 2-4); idempotent."""
    if not identity.retired:
        raise KeyFileError("desk.key is marked as rotating but holds no retired key")
    kdf = kdf or key_file_kdf(home.key_file.read_bytes())
    previous = identity.retired[0]
    store = home.open_store(identity)
    try:
        with store.session(write=True) as session:
            # under the ledger's lock, so two processes finishing at once append one handover
            append_handover_once(session, previous, identity, faults=home.faults)
            home.faults("rotate.before_commit")
        home.faults("rotate.ledger_committed")
    finally:
        store.close()
    atomic_write(home.public_file, identity.public.to_bytes(), mode=0o644)
    home.faults("rotate.pub_written")
    done = replace(identity, rotating=False)
    atomic_write(home.key_file, _relock(done, passphrase, kdf))
    home.faults("rotate.done")
    return done


def append_handover_once(
    session: Session, previous: RetiredDeskKey, identity: DeskIdentity, *, faults: FaultHook
) -> None:
    """Append the handover from ``previous`` to ``identity`` unless the ledger has it."""
    log.lock(session)
    if find_handover(session, raw_public(identity.sign.public_key())) is None:
        append_handover(
            session, previous.sign, identity.sign, new_age=identity.age.public_key(), faults=faults
        )


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
