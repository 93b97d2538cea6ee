"""Move a desk's vault to an object store: copy every blob, verify it there, then switch.

``sijil desk vault migrate --to URL``. Blobs are copied as they are stored (already
encrypted, under the same keyed names), so nothing is decrypted on the way out and
the object store sees ciphertext only. Each copy is then read back from the object
store and verified: every chunk decrypts and authenticates, and the plaintext's
SHA-256, keyed, gives back the blob's name (its content address). Only when every
blob is there and verified does the desk switch: ``HOME/vault.json`` is written
(sijil.desk.vault_config). The folder is left as it was; an operator deletes it
once the object store's own backups are in place.

A run that stops (the object store unreachable, the disk failing) can be run again:
blobs already copied are verified, not copied twice. Imports should be paused
meanwhile; a blob stored during the copy is caught by listing the folder again.
A blob already damaged in the folder is copied as it is and reported (``sijil
verify`` reports it too): the copy is exactly as good as the original.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.vault_config import load_vault_url, save_vault_url
from sijil.errors import BlobAltered, ConfigError
from sijil.vault import Vault, blob_store_from_url
from sijil.vault.cipher import decrypt_chunks

__all__ = ["MigrationReport", "copy_blobs", "migrate_vault", "verify_blob"]

# the copy streams each blob in pieces this size: memory stays bounded whatever its size
COPY_PIECE = 1 << 20
# listing the source again after a pass catches a blob stored meanwhile; an import
# that keeps storing cannot keep the migration going for ever
MAX_PASSES = 3

#: progress(blobs done, blobs known, bytes copied)
Progress = Callable[[int, int, int], None]


@dataclass
class MigrationReport:
    copied: int = 0  # copied by this run
    present: int = 0  # already at the target (an earlier run), verified again
    verified: int = 0  # read back from the target and found intact
    bytes: int = 0  # stored bytes copied by this run
    damaged_at_source: list[str] = field(default_factory=list)  # copied as they were
    problems: list[str] = field(default_factory=list)  # copies that did not verify
    switched: bool = False  # vault.json now names the target


def verify_blob(vault: Vault, name: str) -> str | None:
    """None if blob ``name`` decrypts, authenticates and hashes back to its name."""
    hasher = hashlib.sha256()
    try:
        with vault.blobs.open(name) as blob:
            for chunk in decrypt_chunks(vault.key, blob):
                hasher.update(chunk)
    except BlobAltered as exc:
        return f"altered: {exc}"
    if vault.key.name_of(hasher.hexdigest()) != name:
        return "altered: its content does not match its name"
    return None


def _copy_one(source: Vault, target: Vault, name: str, report: MigrationReport) -> None:
    if target.blobs.exists(name):
        report.present += 1
    else:
        pending = target.blobs.begin(name)
        try:
            with source.blobs.open(name) as blob:
                # ends at the end of a finite stored blob
                while piece := blob.read(COPY_PIECE):
                    pending.write(piece)
                    report.bytes += len(piece)
        except BaseException:
            pending.abort()
            raise
        pending.commit(name)
        report.copied += 1
    problem = verify_blob(target, name)
    if problem is None:
        report.verified += 1
    elif verify_blob(source, name) is not None:
        report.damaged_at_source.append(f"blob {name[:12]}: {problem} (in the folder too)")
    else:
        report.problems.append(f"blob {name[:12]}: the copy is {problem}")


def copy_blobs(source: Vault, target: Vault, progress: Progress | None = None) -> MigrationReport:
    """Copy every blob of ``source`` missing from ``target`` and verify each one there."""
    report = MigrationReport()
    done: set[str] = set()
    for _ in range(MAX_PASSES):
        names = sorted(set(source.blobs.names()) - done)
        if not names:
            break
        total = len(done) + len(names)
        for name in names:
            _copy_one(source, target, name, report)
            done.add(name)
            if progress is not None:
                progress(len(done), total, report.bytes)
    return report


def migrate_vault(
    home: DeskHome, identity: DeskIdentity, url: str, *, progress: Progress | None = None
) -> MigrationReport:
    """Copy the desk's vault to ``url``, verify every blob, and switch the desk there."""
    home.require()
    if load_vault_url(home.vault_config) == url:
        raise ConfigError("the desk's vault is already there")
    source = home.open_vault(identity)
    target = Vault(blobs=blob_store_from_url(url), key=source.key)
    report = copy_blobs(source, target, progress)
    if not report.problems:
        save_vault_url(home.vault_config, url)
        report.switched = True
    return report
