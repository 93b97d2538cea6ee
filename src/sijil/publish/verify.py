"""Check a published post, or a whole mirrored log, the way an outsider would.

A post is checked four ways: its minisign signature, its SSH signature, the
checkpoint's signed note, and its inclusion at ``log_index`` in the log the
checkpoint commits to (an RFC 9162 proof read from the hash tiles, and the data
tile holding the same bytes). Each failure is one line naming what failed.

Nothing here needs the desk: only the site's files and, ideally, a key the
reader got elsewhere (``public_key``). Without one the site's own
``keys/publication.pub`` is used, which proves consistency, not authorship.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from sijil.errors import PublicationError
from sijil.ledger import merkle
from sijil.publish import minisign, signed_note, sshsig, tlog
from sijil.publish.key_rotation import handover_of
from sijil.publish.keys import PublicationPublic

__all__ = ["LogVerification", "PostVerification", "find_site_root", "verify_log", "verify_post"]

# A post is one JSON object of a few kilobytes; the data tile caps it at 64 KiB.
MAX_POST = tlog.MAX_ENTRY
MAX_SIGNATURE_FILE = 8192
# Parent folders searched for the site root above a post (posts/N.json: one).
MAX_SITE_DEPTH = 4


@dataclass(frozen=True, kw_only=True)
class PostVerification:
    log_index: int
    log_size: int
    origin: str
    key_id: str  # minisign's 16 hex digits
    trusted_comment: str
    pinned: bool  # checked against a key the reader gave, not the site's own


@dataclass(frozen=True, kw_only=True)
class LogVerification:
    size: int
    origin: str
    key_id: str
    posts_checked: int
    pinned: bool


def find_site_root(path: Path) -> Path:
    """The folder above ``path`` holding ``log/checkpoint`` and ``keys/``."""
    for folder in [path, *path.resolve().parents][: MAX_SITE_DEPTH + 1]:
        if (folder / "log" / "checkpoint").is_file() and (folder / "keys").is_dir():
            return folder
    raise PublicationError(f"{path.name} is not inside a site (no log/checkpoint and keys/)")


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise PublicationError(f"{what} {path.name} cannot be read") from exc
    if len(data) > limit:
        raise PublicationError(f"{what} {path.name} is over {limit} bytes")
    return data


def _public(site: Path, public_key: Path | PublicationPublic | None) -> PublicationPublic:
    if isinstance(public_key, PublicationPublic):
        return public_key
    path = public_key or site / "keys" / "publication.pub"
    text = _read(path, MAX_SIGNATURE_FILE, "the public key").decode("utf-8", "replace")
    return PublicationPublic.from_minisign(text)


@dataclass(frozen=True)
class _Chain:
    """The publication keys in force along the log: the pinned key's chain of rotation
    posts (kind "key"), each signed by the key before it and accepted by the next."""

    pinned: PublicationPublic
    # (log index of the rotation post, old key, new key), in log order
    steps: list[tuple[int, PublicationPublic, PublicationPublic]]
    bodies: dict[int, bytes]

    def for_post(self, index: int) -> PublicationPublic:
        """The key that signs post ``index``: the rotation post itself is the old key's."""
        if not self.steps:
            return self.pinned
        key = self.steps[0][1]
        for at, _old, new in self.steps:
            if at < index:
                key = new
        return key

    def for_size(self, size: int) -> PublicationPublic:
        """The key that signs a checkpoint of ``size`` entries (that of its last post)."""
        return self.for_post(size - 1)

    def check_logged(self, reader: tlog.TileReader, size: int) -> None:
        """Every rotation post the chain rests on is the log's entry at its index."""
        for at, _old, _new in self.steps:
            if at < size and reader.entry(at) != self.bodies[at]:
                raise PublicationError(f"the key rotation post {at} is not the log's entry {at}")


def _chain(site: Path, pinned: PublicationPublic) -> _Chain:
    """Read the site's rotation posts; the pinned key must be one of the chain's keys."""
    steps: list[tuple[int, PublicationPublic, PublicationPublic]] = []
    bodies: dict[int, bytes] = {}
    folder = site / "posts"
    names = (
        sorted((int(p.stem), p) for p in folder.glob("*.json") if p.stem.isdigit() and p.is_file())
        if folder.is_dir()
        else []
    )
    for index, path in names:
        body = _read(path, MAX_POST, "the post")
        if b'"kind":"key"' not in body:
            continue
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PublicationError(f"posts/{index}.json is not JSON") from exc
        if not isinstance(doc, dict) or doc.get("kind") != "key":
            continue
        if doc.get("log_index") != index:
            raise PublicationError(f"posts/{index}.json names another log index")
        old, new = handover_of(doc)
        minisig = _read(path.with_name(path.name + ".minisig"), MAX_SIGNATURE_FILE, "the signature")
        minisign.verify(old, body, minisig.decode("utf-8", "replace"))
        if steps and steps[-1][2].raw != old.raw:
            raise PublicationError(f"the key rotation post {index} does not follow the one before")
        steps.append((index, old, new))
        bodies[index] = body
    keys = [steps[0][1].raw, *(new.raw for _, _, new in steps)] if steps else [pinned.raw]
    if pinned.raw not in keys:
        raise PublicationError(
            "the site's publication keys do not include your key, before or after a rotation"
        )
    return _Chain(pinned=pinned, steps=steps, bodies=bodies)


def _checkpoint(site: Path, chain: _Chain) -> tuple[tlog.Checkpoint, tlog.TileReader]:
    """The checkpoint, its signature checked: the note's key name is the log's origin."""
    note = _read(site / "log" / "checkpoint", signed_note.MAX_NOTE, "the checkpoint")
    text = signed_note.parse(note).text
    origin = text.split("\n", 1)[0]
    # which key signed it depends on its size (a rotation): read unverified, then checked
    public = chain.for_size(tlog.Checkpoint.parse(text).size)
    try:
        verifier = signed_note.Verifier.of(origin, public.raw)
    except PublicationError as exc:
        raise PublicationError("the checkpoint's origin is not a valid key name") from exc
    checkpoint = tlog.Checkpoint.parse(signed_note.open_note(note, verifier))
    return checkpoint, tlog.TileReader(site / "log", checkpoint.size)


def _log_index(body: bytes) -> int:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PublicationError("the post is not JSON") from exc
    index = doc.get("log_index") if isinstance(doc, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise PublicationError("the post has no log_index")
    return index


def verify_post(
    path: Path, *, public_key: Path | PublicationPublic | None = None
) -> PostVerification:
    """Check ``posts/N.json``: both signatures, the checkpoint, its place in the log."""
    path = Path(path)
    body = _read(path, MAX_POST, "the post")
    minisig = _read(path.with_name(path.name + ".minisig"), MAX_SIGNATURE_FILE, "the signature")
    sshsig_text = _read(path.with_name(path.name + ".sig"), MAX_SIGNATURE_FILE, "the signature")
    site = find_site_root(path.parent)
    chain = _chain(site, _public(site, public_key))
    public = chain.pinned
    if chain.steps:  # the key in force at the post's index (unverified yet: the signature is)
        with contextlib.suppress(PublicationError):  # a damaged post: the signature says so
            public = chain.for_post(_log_index(body))
    comment = minisign.verify(public, body, minisig.decode("utf-8", "replace"))
    sshsig.verify(public.raw, body, sshsig_text.decode("utf-8", "replace"))
    index = _log_index(body)
    checkpoint, reader = _checkpoint(site, chain)
    chain.check_logged(reader, checkpoint.size)
    if index >= checkpoint.size:
        raise PublicationError(
            f"the log does not contain this post at index {index}"
            f" (the checkpoint has {checkpoint.size} entries)"
        )
    proof = reader.inclusion_proof(index)
    leaf = merkle.leaf_hash(body)
    if not merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root):
        raise PublicationError(f"the log does not contain this post at index {index}")
    if reader.entry(index) != body:
        raise PublicationError(f"the log's data tile holds other bytes at index {index}")
    return PostVerification(
        log_index=index,
        log_size=checkpoint.size,
        origin=checkpoint.origin,
        key_id=public.key_id_hex,
        trusted_comment=comment,
        pinned=public_key is not None,
    )


def _check_since(
    note: bytes, chain: _Chain, now: tlog.Checkpoint, levels: list[list[bytes]]
) -> None:
    """The log grew only by appending since the checkpoint ``note`` a mirror kept."""
    try:
        size = tlog.Checkpoint.parse(signed_note.parse(note).text).size
        verifier = signed_note.Verifier.of(now.origin, chain.for_size(size).raw)
        old = tlog.Checkpoint.parse(signed_note.open_note(note, verifier))
    except PublicationError as exc:
        raise PublicationError(f"the earlier checkpoint does not check: {exc}") from exc
    if old.origin != now.origin or old.size > now.size:
        raise PublicationError(
            f"the log shrank or changed origin: {old.size} entries before, {now.size} now"
        )
    peaks = [levels[level][index] for level, index in merkle.root_nodes(old.size)]
    if merkle.root_from_peaks(peaks) != old.root:
        raise PublicationError(
            f"the log's first {old.size} entries were changed since the earlier checkpoint"
        )


def verify_log(
    site: Path,
    *,
    public_key: Path | PublicationPublic | None = None,
    since: bytes | None = None,
) -> LogVerification:
    """Check a whole (mirrored) log: every tile the checkpoint covers, rebuilt from its entries.

    Every data tile is read and hashed again; every hash tile must equal the
    rebuilt one byte for byte, and the rebuilt root the checkpoint's. A post in
    ``posts/`` must be the log's entry at its index. ``since``: a checkpoint
    note kept from an earlier visit; the log must still hold that log's entries
    unchanged (its root must be the root of the same first entries now).
    """
    site = Path(site)
    chain = _chain(site, _public(site, public_key))
    checkpoint, reader = _checkpoint(site, chain)
    public = chain.for_size(checkpoint.size)
    entries = [reader.entry(index) for index in range(checkpoint.size)]
    chain.check_logged(reader, checkpoint.size)
    levels = tlog.tree_levels(merkle.leaf_hashes(entries))
    for level, index, width in tlog.changed_tiles(0, checkpoint.size):
        path = tlog.tile_path(level, index, width)
        if _read(site / "log" / path, tlog.TILE_WIDTH * tlog.HASH_SIZE, "the tile") != (
            tlog.hash_tile(levels, level, index, width)
        ):
            raise PublicationError(f"the log's tile {path} does not match its entries")
    if reader.root() != checkpoint.root:
        raise PublicationError("the log's entries do not lead to the checkpoint's root")
    if since is not None:
        _check_since(since, chain, checkpoint, levels)
    checked = 0
    for index, entry in enumerate(entries):
        post = site / "posts" / f"{index}.json"
        if post.is_file():
            if _read(post, MAX_POST, "the post") != entry:
                raise PublicationError(f"posts/{index}.json differs from the log's entry {index}")
            checked += 1
    return LogVerification(
        size=checkpoint.size,
        origin=checkpoint.origin,
        key_id=public.key_id_hex,
        posts_checked=checked,
        pinned=public_key is not None,
    )
