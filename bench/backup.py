"""Benchmark: desk backup and restore beside `tar | age` on the same files, same run.

    .venv/bin/python bench/backup.py [--gib 0.25] [--blob-mib 4] [--repeat 1] [--tmpdir DIR]

A desk is built with --gib of vault blobs (random bytes, as media are
incompressible, --blob-mib each) and a SQLite database. Then, timed, with
``os.sync()`` (untimed) before each step:

- backup: ``write_backup`` to an age X25519 recipient (a passphrase costs one
  scrypt more, about a second); references ``tar -cf - -C HOME . | age -r R > FILE``,
  and the same followed by ``sync -f`` (the backup is fsynced before its rename);
- restore: ``restore_desk`` into a new home (each blob fsynced, as the vault
  writes them); references ``age -d -i ID FILE | tar -xf - -C DIR``, and the same
  followed by ``sync -f`` (tar's writes are not durable until then);
- incremental: 1% new blobs are stored, then ``write_backup(since=full)``.

Throughput is MiB/s of vault bytes; medians of --repeat runs.
Goals (issue 17): backup and restore >= 0.7x `tar | age`; the incremental backup
after 1% new blobs <= 5% of the full backup's time. Exits 0 whatever the verdict.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import age_identity_string, age_recipient_string
from sijil.crypto.kdf import KdfParams
from sijil.desk.backup import write_backup
from sijil.desk.backup_archive import BackupKey
from sijil.desk.home import DeskHome
from sijil.desk.restore import restore_desk

MIB = 1 << 20
GOAL_RATIO = 0.7
GOAL_INCREMENTAL = 0.05
PASSPHRASE = "bench passphrase, not secret"  # noqa: S105 - a throwaway desk


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _build_desk(root: Path, gib: float, blob_mib: int) -> tuple[DeskHome, int]:
    home = DeskHome(root=root / "desk")
    home.init(PASSPHRASE, KdfParams(log_n=10))
    identity = home.unlock(PASSPHRASE)
    vault = home.open_vault(identity)
    count = max(1, int(gib * 1024 / blob_mib))
    for _ in range(count):
        vault.put_bytes(os.urandom(blob_mib * MIB))
    return home, count


def _add_blobs(home: DeskHome, count: int, blob_mib: int) -> None:
    vault = home.open_vault(home.unlock(PASSPHRASE))
    for _ in range(count):
        vault.put_bytes(os.urandom(blob_mib * MIB))


def _shell(command: str) -> None:
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)


def _one_run(
    folder: Path, home: DeskHome, run: int, blob_mib: int, runs: dict[str, list[float]]
) -> None:
    key = X25519PrivateKey.generate()
    recipient = age_recipient_string(key.public_key())
    identity_file = folder / "id.txt"
    identity_file.write_text(age_identity_string(key) + "\n")
    identity = home.unlock(PASSPHRASE)
    ours = folder / f"full-{run}.backup"
    runs["backup"].append(
        _timed(lambda: write_backup(home, identity, ours, BackupKey(recipient=key.public_key())))
    )
    ref = folder / f"ref-{run}.tar.age"
    tar_age = f"tar -cf - -C '{home.root}' . | age -r {recipient} > '{ref}'"
    runs["tar|age"].append(_timed(lambda: _shell(tar_age)))
    ref.unlink()
    # the backup is fsynced before its rename (atomic_writer); this is the durable reference
    runs["tar|age+sync"].append(_timed(lambda: _shell(f"{tar_age} && sync -f '{ref}'")))
    target = folder / f"restored-{run}"
    backup_key = BackupKey(identities=(key,))
    runs["restore"].append(
        _timed(lambda: restore_desk([ours], target, backup_key, desk_passphrase=lambda: PASSPHRASE))
    )
    for name, sync in (("age|tar", ""), ("age|tar+sync", " && sync -f {dir}")):
        out = folder / f"ref-out-{run}-{len(sync)}"
        out.mkdir()
        command = f"age -d -i '{identity_file}' '{ref}' | tar -xf - -C '{out}'" + sync.format(
            dir=f"'{out}'"
        )
        runs[name].append(_timed(lambda command=command: _shell(command)))
        shutil.rmtree(out)
    shutil.rmtree(target)
    ref.unlink()
    runs["archive_mib"].append(ours.stat().st_size / MIB)
    # incremental: 1% new blobs, then a backup since the full one
    _add_blobs(home, max(1, len(list(home.vault.glob("??/*"))) // 100), blob_mib)
    incr = folder / f"incr-{run}.backup"
    runs["incremental"].append(
        _timed(
            lambda: write_backup(
                home, identity, incr, BackupKey(recipient=key.public_key()), since=ours
            )
        )
    )
    ours.unlink()
    incr.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--gib", type=float, default=0.25, help="vault size (the issue: 2)")
    parser.add_argument("--blob-mib", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tmpdir", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("age") is None or shutil.which("tar") is None:
        raise SystemExit("bench/backup.py needs the age and tar tools (make tools)")
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="sijil-bench-backup-") as tmp:
        folder = Path(tmp)
        home, count = _build_desk(folder, args.gib, args.blob_mib)
        vault_mib = count * args.blob_mib
        print(f"desk: {count} blobs of {args.blob_mib} MiB ({vault_mib} MiB of vault)")
        runs: dict[str, list[float]] = {
            name: []
            for name in (
                "backup", "tar|age", "tar|age+sync", "restore", "age|tar", "age|tar+sync",
                "incremental",
                "archive_mib",
            )
        }  # fmt: skip
        for run in range(args.repeat):
            _one_run(folder, home, run, args.blob_mib, runs)
        median = {name: statistics.median(values) for name, values in runs.items()}
    for name in ("backup", "tar|age", "tar|age+sync", "restore", "age|tar", "age|tar+sync"):
        seconds = median[name]
        print(f"{name:14} {seconds:8.2f} s  {vault_mib / seconds:8.1f} MiB/s")
    print(f"{'incremental':14} {median['incremental']:8.2f} s  (after 1% new blobs)")
    print(f"archive: {median['archive_mib']:.1f} MiB for {vault_mib} MiB of vault")
    backup_ratio = median["tar|age"] / median["backup"]
    backup_sync_ratio = median["tar|age+sync"] / median["backup"]
    restore_ratio = median["age|tar"] / median["restore"]
    restore_sync_ratio = median["age|tar+sync"] / median["restore"]
    incremental = median["incremental"] / median["backup"]
    verdict = {True: "met", False: "NOT met"}
    print(f"backup:  {backup_ratio:.2f}x tar|age, {backup_sync_ratio:.2f}x tar|age+sync "
          f"(goal >= {GOAL_RATIO}x): {verdict[backup_ratio >= GOAL_RATIO]}")  # fmt: skip
    print(f"restore: {restore_ratio:.2f}x age|tar, {restore_sync_ratio:.2f}x age|tar+sync "
          f"(goal >= {GOAL_RATIO}x): {verdict[restore_ratio >= GOAL_RATIO]}")  # fmt: skip
    print(f"incremental: {incremental:.1%} of the full backup (goal <= {GOAL_INCREMENTAL:.0%}): "
          f"{verdict[incremental <= GOAL_INCREMENTAL]}")  # fmt: skip


if __name__ == "__main__":
    main()
