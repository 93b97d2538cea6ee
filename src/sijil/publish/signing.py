"""What posting and the site call to sign posts, sign checkpoints and write the log.

The formats live in their own modules (minisign, sshsig, signed_note, tlog);
this is the small, stable surface the rest of ``sijil.publish`` uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sijil.desk.home import DeskHome
from sijil.fsutil import atomic_write
from sijil.ledger import merkle
from sijil.publish import minisign, signed_note, sshsig, tlog
from sijil.publish.keys import PublicationKey, PublicationPublic, check_origin, retired_public_keys

__all__ = [
    "PostSignatures",
    "log_entries_to_write",
    "log_root",
    "sign_checkpoint",
    "sign_post",
    "write_log",
    "write_log_from_hashes",
    "write_public_keys",
]

#: The files ``write_public_keys`` puts in the site's ``keys/`` folder.
MINISIGN_PUB = "publication.pub"
SSH_PUB = "publication.ssh.pub"
ALLOWED_SIGNERS = "allowed_signers"
NOTE_VERIFIER = "checkpoint.vkey"
#: Under ``keys/``: the publication keys earlier rotations retired (publication-<ID>.pub).
RETIRED_DIR = "retired"


@dataclass(frozen=True)
class PostSignatures:
    """The text of ``posts/N.json.minisig`` and ``posts/N.json.sig``."""

    minisig: str
    sshsig: str


def sign_post(key: PublicationKey, body: bytes, *, trusted_comment: str) -> PostSignatures:
    """Sign a post's exact bytes in both stock formats with the publication key."""
    return PostSignatures(
        minisig=minisign.sign(key, body, trusted_comment=trusted_comment),
        sshsig=sshsig.sign(key, body),
    )


def sign_checkpoint(key: PublicationKey, origin: str, size: int, root: bytes) -> str:
    """The log's checkpoint as a signed note, named by the origin (C2SP tlog-checkpoint)."""
    body = tlog.Checkpoint(origin=check_origin(origin), size=size, root=root).body()
    return signed_note.sign(body, origin, key.private)


def log_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 root of the log whose leaf hashes (SHA-256(0x00 || post)) are given."""
    levels = tlog.tree_levels(leaf_hashes)
    return merkle.root_from_peaks(
        [levels[level][index] for level, index in merkle.root_nodes(len(leaf_hashes))]
    )


def write_log(
    log_dir: Path, entries: Sequence[bytes], checkpoint_note: str, *, previous_size: int = 0
) -> None:
    """Write the log's new tiles (hash and data) and then ``log_dir/checkpoint``.

    ``entries`` are all post bodies in log order; ``previous_size`` is how many
    of them the tiles already on disk hold (0 writes every tile). The checkpoint
    must be of exactly these entries, or nothing is written.
    """
    tlog.write(log_dir, entries, checkpoint_note, previous_size=previous_size)


def write_log_from_hashes(
    log_dir: Path,
    leaf_hashes: Sequence[bytes],
    entries: Mapping[int, bytes],
    checkpoint_note: str,
    *,
    previous_size: int = 0,
) -> None:
    """``write_log`` from every post's stored leaf hash and only the bodies it writes.

    ``entries`` maps log index to post body for at least ``log_entries_to_write``'s
    indexes (the new data tiles'); the tiles are the same bytes ``write_log`` writes.
    """
    tlog.write_from_hashes(
        log_dir, leaf_hashes, entries, checkpoint_note, previous_size=previous_size
    )


def log_entries_to_write(previous_size: int, size: int) -> range:
    """The log indexes whose bodies ``write_log_from_hashes`` needs to grow the log."""
    return tlog.new_entries(previous_size, size)


def write_public_keys(keys_dir: Path, home: DeskHome | PublicationPublic) -> None:
    """publication.pub (minisign), publication.ssh.pub, allowed_signers, checkpoint.vkey.

    ``home`` is the desk home (its publication public key is read, no passphrase
    needed) or the public key itself.
    """
    public = home if isinstance(home, PublicationPublic) else PublicationPublic.load(home)
    forms = {
        MINISIGN_PUB: public.minisign_public(),
        SSH_PUB: public.ssh_public(),
        ALLOWED_SIGNERS: public.allowed_signers(),
        NOTE_VERIFIER: public.note_verifier() + "\n",
    }
    for name, text in forms.items():
        atomic_write(keys_dir / name, text.encode(), mode=0o644)
    if isinstance(home, PublicationPublic):
        return
    # keys a rotation retired: posts before the rotation verify with them, and the
    # rotation post (kind "key", signed by the old key) says which came after which
    for old in retired_public_keys(home):
        name = f"{RETIRED_DIR}/publication-{old.key_id_hex}"
        atomic_write(keys_dir / f"{name}.pub", old.minisign_public().encode(), mode=0o644)
        atomic_write(keys_dir / f"{name}.ssh.pub", old.ssh_public().encode(), mode=0o644)
