"""Benchmark: storing and reading media in the evidence vault beside plain `cp`, same run.

    .venv/bin/python bench/vault.py [--total 1G] [--files 8] [--repeat 3] [--tmpdir DIR]

Store: ``Vault.put_file`` on each source file (SHA-256 of the plaintext, AES-256-GCM
in 1 MiB chunks, temp file, fsync, rename, fsync of the folder); reference:
``cp`` of the same files into a fresh folder, and ``cp`` followed by ``sync``
(the vault's writes are durable, cp's are not until the page cache is flushed).
Read: ``Vault.chunks`` (decrypt, authenticate, check the hash) written to a file,
not fsynced, like ``cp`` of the stored blobs beside it. ``os.sync()`` runs
(untimed) before every operation.
Throughput is MiB/s of media bytes; medians of --repeat runs.
Goal (issue): vault >= 0.5x cp. Exits 0 whatever the verdict.
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

from sijil.vault import Vault

MIB = 1 << 20
UNITS = {"M": MIB, "G": 1 << 30}
GOAL = 0.5


def _size(text: str) -> int:
    return int(float(text[:-1]) * UNITS[text[-1].upper()])


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _cp(sources: list[Path], target: Path, *, sync: bool) -> None:
    target.mkdir()
    subprocess.run(["cp", *map(str, sources), str(target)], check=True)
    if sync:
        subprocess.run(["sync", "-f", str(target)], check=True)


def _read(vault: Vault, sha256: str, target: Path) -> None:
    # like cp: written, not fsynced (Vault.copy_to also fsyncs)
    with target.open("wb") as out:
        for chunk in vault.chunks(sha256):
            out.write(chunk)


def _one_run(folder: Path, run: int, sources: list[Path], runs: dict[str, list[float]]) -> None:
    vault = Vault.folder(folder / f"vault-{run}", os.urandom(32))
    refs = []
    runs["put"].append(_timed(lambda: refs.extend(vault.put_file(p) for p in sources)))
    runs["cp"].append(_timed(lambda: _cp(sources, folder / f"cp-{run}", sync=False)))
    runs["cp+sync"].append(_timed(lambda: _cp(sources, folder / f"cps-{run}", sync=True)))
    out = folder / f"read-{run}"
    out.mkdir()
    runs["read"].append(_timed(lambda: [_read(vault, r.sha256, out / r.sha256) for r in refs]))
    blobs = [vault.blobs.path(vault.name_of(r.sha256)) for r in refs]  # type: ignore[attr-defined]
    runs["cp-read"].append(_timed(lambda: _cp(blobs, folder / f"cpr-{run}", sync=False)))
    for name in ("vault", "cp", "cps", "read", "cpr"):
        shutil.rmtree(folder / f"{name}-{run}", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", default="1G")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmpdir", type=Path, default=None)
    args = parser.parse_args()
    total = _size(args.total)
    each = total // args.files
    mib = args.files * each / MIB
    runs: dict[str, list[float]] = {k: [] for k in ("put", "cp", "cp+sync", "read", "cp-read")}
    with tempfile.TemporaryDirectory(prefix="sijil-bench-vault-", dir=args.tmpdir) as tmp:
        folder = Path(tmp)
        sources = []
        for i in range(args.files):
            path = folder / f"video-{i}.mp4"
            with path.open("wb") as out:
                for _ in range(each // MIB):
                    out.write(os.urandom(MIB))
            sources.append(path)
        for run in range(args.repeat):
            _one_run(folder, run, sources, runs)
    rate = {k: mib / statistics.median(v) for k, v in runs.items()}
    print(
        f"{mib:.0f} MiB in {args.files} files, median of {args.repeat} runs (MiB/s), "
        f"load average {os.getloadavg()[0]:.1f}:"
    )
    print(
        f"  store: vault {rate['put']:.0f}, cp {rate['cp']:.0f}, cp+sync {rate['cp+sync']:.0f}"
        f"  -> {rate['put'] / rate['cp']:.2f}x cp, {rate['put'] / rate['cp+sync']:.2f}x cp+sync"
    )
    print(
        f"  read:  vault {rate['read']:.0f}, cp of the blobs {rate['cp-read']:.0f}"
        f"  -> {rate['read'] / rate['cp-read']:.2f}x cp"
    )
    print(f"GOAL store >= {GOAL}x cp: {rate['put'] / rate['cp'] >= GOAL}")
    print(f"GOAL read >= {GOAL}x cp: {rate['read'] / rate['cp-read'] >= GOAL}")


if __name__ == "__main__":
    main()
