"""``sijil publish key rotate``: a new publication key, announced in the log by the old one.

The announcement is a post of kind ``key`` (docs/publish-format.md, "Rotating the
publication key"): its ``key`` field names the old and the new key, with the new
key's signature accepting the handover; the post itself, and the checkpoint that
adds it to the log, are signed by the old key. Posts and checkpoints after it are
signed by the new key, so a reader who pinned either key follows the chain.

The steps, each atomic, so that a kill -9 leaves a publication key that works:

1. ``publication.key`` is rewritten holding the new key, the old one as
   ``previous`` and the acting desk user (the rotation is under way).
2. One transaction appends the announcement, its checkpoint and the custody entry.
3. ``publication.json`` names the new key (and, under ``retired``, the old ones).
4. ``publication.key`` is rewritten without ``previous``.

A rotation cut short before step 3 stops ``PublicationKey.load`` with one line
(nothing is signed with a key the log may not announce yet) until ``sijil publish
key rotate`` is run again, which finishes it: the announcement is appended only if
the log does not hold it yet. After step 3, ``load`` does step 4 itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import b64, unb64
from sijil.crypto.kdf import KdfParams
from sijil.desk.custody import begin_change, record, utcnow
from sijil.desk.home import DeskHome
from sijil.desk.key_rotation import key_file_kdf
from sijil.desk.users import require_user
from sijil.errors import KeyFileError, PublicationError
from sijil.fsutil import atomic_write
from sijil.publish import document
from sijil.publish.keys import (
    PublicationKey,
    PublicationPublic,
    key_file,
    public_file,
    retired_public_keys,
)
from sijil.publish.signing import log_root, sign_checkpoint, sign_post
from sijil.store import Publication, PublicationCheckpoint, Store
from sijil.store.models_publish import PostAction, PostKind

__all__ = [
    "HANDOVER_CONTEXT",
    "HANDOVER_FORMAT",
    "PublicationRotation",
    "finish_publication_rotation",
    "handover_of",
    "rotate_publication_key",
]

HANDOVER_FORMAT = "sijil-publication-key-handover/1"
HANDOVER_CONTEXT = b"sijil-publication-key-handover/1\x00"
_STATEMENT = ("format", "origin", "old_public_key", "old_key_id", "new_public_key", "new_key_id")


@dataclass(frozen=True, kw_only=True)
class PublicationRotation:
    old_key_id: str
    new_key_id: str
    log_index: int
    # True when this run only finished a rotation an earlier run had begun
    finished_earlier: bool = False


def _handover(old: PublicationKey, new: PublicationKey) -> dict[str, Any]:
    statement = {
        "format": HANDOVER_FORMAT,
        "origin": new.origin,
        "old_public_key": b64(old.public.raw),
        "old_key_id": old.key_id.hex(),
        "new_public_key": b64(new.public.raw),
        "new_key_id": new.key_id.hex(),
    }
    accepted = new.sign(HANDOVER_CONTEXT + canonical_json(statement))
    return {**statement, "accepted": b64(accepted)}


def handover_of(body: dict[str, Any]) -> tuple[PublicationPublic, PublicationPublic]:
    """The (old, new) keys a ``key`` post names, its new-key acceptance checked.

    The post's own signatures (by the old key) are the caller's to check."""
    doc = body.get("key")
    if body.get("kind") != PostKind.KEY or not isinstance(doc, dict):
        raise PublicationError("not a publication key rotation post")
    if doc.get("format") != HANDOVER_FORMAT or set(doc) != {*_STATEMENT, "accepted"}:
        raise PublicationError("a key rotation post's handover does not parse")
    try:
        old_raw = unb64(doc["old_public_key"], size=32, what="old publication key")
        new_raw = unb64(doc["new_public_key"], size=32, what="new publication key")
        ids = bytes.fromhex(str(doc["old_key_id"])), bytes.fromhex(str(doc["new_key_id"]))
        new_key = Ed25519PublicKey.from_public_bytes(new_raw)
        message = HANDOVER_CONTEXT + canonical_json({k: doc[k] for k in _STATEMENT})
        new_key.verify(unb64(doc["accepted"], size=64, what="acceptance"), message)
    except InvalidSignature as exc:
        raise PublicationError("a key rotation post is not accepted by its new key") from exc
    except (KeyFileError, ValueError, TypeError) as exc:
        raise PublicationError("a key rotation post's handover does not parse") from exc
    origin = str(doc["origin"])
    old = PublicationPublic(
        key=Ed25519PublicKey.from_public_bytes(old_raw), key_id=ids[0], origin=origin
    )
    return old, PublicationPublic(key=new_key, key_id=ids[1], origin=origin)


def _announced(session: Session, new: PublicationKey) -> int | None:
    stmt = select(Publication.log_index).where(
        Publication.kind == str(PostKind.KEY), Publication.subject == new.key_id.hex()
    )
    return session.scalars(stmt.limit(1)).first()


def _announce(session: Session, old: PublicationKey, new: PublicationKey, user_id: int) -> int:
    """Append the announcement signed by ``old``, and the checkpoint that holds it."""
    now = utcnow()
    index = session.scalar(select(func.count()).select_from(Publication)) or 0
    day = now.astimezone(UTC).date()
    subject = new.key_id.hex()
    body = document.post_body(
        log_index=index,
        action=str(PostAction.POST),
        kind=str(PostKind.KEY),
        subject=subject,
        version=1,
        supersedes=None,
        published_at=day,
        independently_reviewed=False,
        reason=None,
        content=None,
    )
    body["key"] = _handover(old, new)
    data = canonical_json(body)
    signed = sign_post(old, data, trusted_comment=f"sijil-post {index} key {subject} v1 post")
    session.add(
        Publication(
            log_index=index,
            action=str(PostAction.POST),
            kind=str(PostKind.KEY),
            subject=subject,
            version=1,
            supersedes=None,
            body=data,
            leaf_hash=hashlib.sha256(b"\x00" + data).hexdigest(),
            minisig=signed.minisig,
            sshsig=signed.sshsig,
            independently_reviewed=False,
            published_at=datetime.combine(day, time(), tzinfo=UTC),
            published_by=user_id,
        )
    )
    session.flush()
    leaves = [
        bytes.fromhex(h)
        for h in session.scalars(select(Publication.leaf_hash).order_by(Publication.log_index))
    ]
    root = log_root(leaves)
    session.add(
        PublicationCheckpoint(
            size=len(leaves),
            root_hash=root.hex(),
            note=sign_checkpoint(old, old.origin, len(leaves), root),
            signed_at=now,
        )
    )
    record(
        session,
        action="publish.key",
        subject=subject,
        by=user_id,
        data={
            "log_index": index,
            "kind": str(PostKind.KEY),
            "old_key_id": old.key_id.hex(),
            "post_sha256": hashlib.sha256(data).hexdigest(),
        },
        at=now,
    )
    return index


def rotate_publication_key(
    home: DeskHome,
    passphrase: str,
    *,
    by: str | None,
    kdf: KdfParams | None = None,
) -> PublicationRotation:
    """Make a new publication key and announce it with the old one (steps above).

    A rotation found cut short is finished instead, and no new one is started.
    """
    identity = home.unlock(passphrase)
    pending = PublicationKey.unlock(key_file(home).read_bytes(), passphrase)
    if pending.previous is not None:
        done = finish_publication_rotation(home, pending, passphrase)
        with home.open_store(identity) as store, store.session() as session:
            index = _announced(session, done)
        return PublicationRotation(
            old_key_id=pending.previous.public.key_id_hex,
            new_key_id=done.public.key_id_hex,
            log_index=-1 if index is None else index,
            finished_earlier=True,
        )
    old = PublicationKey.load(home, passphrase)
    store = home.open_store(identity)
    try:
        with store.session() as session:
            user = require_user(session, by)  # any desk user; the ledger names who
            user_id = user.id
    finally:
        store.close()
    kdf = kdf or key_file_kdf(key_file(home).read_bytes())
    new = replace(PublicationKey.generate(old.origin), previous=old, rotating_by=user_id)
    locked = new.lock(passphrase, kdf)
    if PublicationKey.unlock(locked, passphrase).previous is None:
        raise KeyFileError("the new publication key file does not open; nothing was changed")
    home.faults("pubkey.before_key")
    atomic_write(key_file(home), locked)
    home.faults("pubkey.key_written")
    done = finish_publication_rotation(home, new, passphrase, kdf=kdf, store=None)
    store = home.open_store(identity)
    try:
        with store.session() as session:
            index = _announced(session, done)
    finally:
        store.close()
    return PublicationRotation(
        old_key_id=old.public.key_id_hex,
        new_key_id=done.public.key_id_hex,
        log_index=-1 if index is None else index,
    )


def finish_publication_rotation(
    home: DeskHome,
    key: PublicationKey,
    passphrase: str,
    *,
    kdf: KdfParams | None = None,
    store: Store | None = None,
) -> PublicationKey:
    """Complete a rotation whose key file is written (steps 2-4); idempotent."""
    old = key.previous
    if old is None:
        return key
    kdf = kdf or key_file_kdf(key_file(home).read_bytes())
    own = store is None
    opened = home.open_store(home.unlock(passphrase)) if store is None else store
    try:
        with opened.session(write=True) as session:
            begin_change(session)  # the ledger's lock: posts take turns, one announcement
            if _announced(session, key) is None:
                _announce(session, old, key, key.rotating_by or 0)
            home.faults("pubkey.before_commit")
        home.faults("pubkey.post_committed")
    finally:
        if own:
            opened.close()
    current = PublicationPublic.load(home)
    retired = retired_public_keys(home)
    if current.raw != key.public.raw:
        retired = [*retired, current]
    atomic_write(public_file(home), key.public.to_bytes_with(retired), mode=0o644)
    home.faults("pubkey.public_written")
    done = replace(key, previous=None, rotating_by=None)
    atomic_write(key_file(home), done.lock(passphrase, kdf))
    home.faults("pubkey.done")
    return done
