"""Benchmark: sijil envelope seal/open against the reference `age` tool, same bytes, same run.

    .venv/bin/python bench/envelope.py [--sizes 1M,100M,1G] [--repeat 3] [--quick]

Every operation runs in a fresh child process (`bench/envelope.py --child ...` for sijil,
`age` for age). The parent times Popen -> os.wait4 (wall, *including* process start-up:
the fair figure, since age is a process too); peak RSS is the child's own maximum
resident set as GNU time reports it (see run() for why not our own wait4 rusage).
sijil children also report the time of the operation alone (modules imported and keys
loaded before the clock starts).
Sizes are binary: 1M = 1 MiB, 1G = 1024 MiB; throughput is MiB/s of attachment bytes.
Goals (issue): throughput >= 0.8x age at sizes >= 100 MiB, peak RSS < 200 MiB at 1 GiB.
The benchmark exits 0 whatever the verdict; only a crash or a failed operation is non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20
UNITS = {"K": 1 << 10, "M": MIB, "G": 1 << 30}
THROUGHPUT_GOAL = 0.8  # sijil / age throughput
MEMORY_GOAL_MIB = 200  # peak RSS at 1 GiB
GOAL_MIN_SIZE = 100 * MIB  # below this, process start-up dominates and the ratio says little
AGE = shutil.which("age") or "/usr/bin/age"
TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for honest peak RSS


# --------------------------------------------------------------------------- child side


def _load_keys(keyfile: Path):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from sijil.crypto.identity import DeskIdentity

    raw = keyfile.read_bytes()
    return DeskIdentity(
        age=X25519PrivateKey.from_private_bytes(raw[:32]),
        sign=Ed25519PrivateKey.from_private_bytes(raw[32:64]),
    )


def child(op: str, keyfile: Path, src: Path, dst: Path) -> None:
    """Run one operation and print {"op_seconds": ...} on stdout."""
    from sijil.crypto.identity import CorrespondentIdentity
    from sijil.envelope.sealing import AttachmentSource, Draft, open_envelope, seal

    desk = _load_keys(keyfile)
    result: dict[str, object] = {}
    if op == "seal":
        sender = CorrespondentIdentity.generate()
        with src.open("rb") as stream, dst.open("wb") as out:
            start = time.perf_counter()
            sealed = seal(
                Draft(title="bench", body="benchmark attachment", lang="en"),
                [AttachmentSource(name="video.mp4", media_type="video/mp4", stream=stream)],
                sender=sender,
                desk=desk.public,
                out=out,
            )
            out.flush()
            result["op_seconds"] = time.perf_counter() - start
        result["envelope_id"] = sealed.envelope_id
    elif op == "open":
        with src.open("rb") as env:
            start = time.perf_counter()
            opened = open_envelope(env, identity=desk.age, staging=dst)
            result["op_seconds"] = time.perf_counter() - start
        result["size"] = opened.attachments[0].path.stat().st_size
    elif op == "noop":  # start-up cost: interpreter, imports and key loading, nothing else
        result["op_seconds"] = 0.0
    else:
        raise SystemExit(f"unknown child op {op!r}")
    print(json.dumps(result))


# -------------------------------------------------------------------------- parent side


def run(argv: list[str], work: Path) -> dict[str, float]:
    """Run argv as a child; return wall seconds, peak RSS MiB and any op_seconds it printed.

    Peak RSS comes from GNU time (`time -f %M`), not from our own os.wait4: Linux carries the
    forking parent's high-water RSS across exec into the child's ru_maxrss, so wait4 from
    this Python process reports at least ~11-30 MiB even for /bin/true. GNU time is small.
    """
    rss_file = work / "rss.txt"
    timed = [TIME, "-f", "%M", "-o", str(rss_file), *argv] if TIME else argv
    os.sync()  # start each op with no dirty pages left by the previous one (not timed)
    start = time.perf_counter()
    proc = subprocess.Popen(timed, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    kib = int(rss_file.read_text().split()[-1]) if TIME else usage.ru_maxrss
    result = {"wall": wall, "rss": kib / 1024}
    if out.strip():
        result["op"] = float(json.loads(out)["op_seconds"])
    return result


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text[-1:] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def label(size: int) -> str:
    for unit, factor in (("G", 1 << 30), ("M", MIB), ("K", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}iB"
    return f"{size} B"


def make_input(path: Path, size: int) -> None:
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(MIB, left)))
            left -= min(MIB, left)


def machine() -> list[str]:
    import cryptography

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    age_version = subprocess.run([AGE, "--version"], capture_output=True, text=True, check=True)
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores ({platform.machine()}, Linux {platform.release()})",
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"age {age_version.stdout.strip()} ({AGE})",
    ]


def bench_size(
    size: int, repeat: int, work: Path, keyfile: Path, recipient: str, age_id: Path
) -> dict[tuple[str, str], list[dict[str, float]]]:
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    plain, sealed, age_enc = work / "input.bin", work / "sealed.age", work / "plain.age"
    age_dec, staging = work / "decrypted.bin", work / "staging"
    make_input(plain, size)
    staging.mkdir(exist_ok=True)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(repeat):
        steps = [
            (("seal", "sijil"), [*me, "seal", str(keyfile), str(plain), str(sealed)]),
            (("seal", "age"), [AGE, "-r", recipient, "-o", str(age_enc), str(plain)]),
            (("open", "sijil"), [*me, "open", str(keyfile), str(sealed), str(staging)]),
            (("open", "age"), [AGE, "-d", "-i", str(age_id), "-o", str(age_dec), str(age_enc)]),
        ]
        for key, argv in steps:
            runs.setdefault(key, []).append(run(argv, work))
        opened = list(staging.iterdir())
        if len(opened) != 1 or opened[0].stat().st_size != size:
            raise RuntimeError(f"sijil open left {opened} in staging, not one {size}-byte file")
        if age_dec.stat().st_size != size:
            raise RuntimeError("age -d produced the wrong size")
        for path in [*opened, sealed, age_enc, age_dec]:
            path.unlink()
    plain.unlink()
    return runs


def median(runs: list[dict[str, float]], field: str) -> float:
    return statistics.median(r[field] for r in runs)


def report(size: int, runs: dict[tuple[str, str], list[dict[str, float]]]) -> list[str]:
    """Print one table; return goal failures for this size."""
    mib = size / MIB
    print(f"\n## {label(size)}  (medians of {len(runs['seal', 'sijil'])} runs)\n")
    print(
        "| op   | tool  | wall s | MiB/s  | op-only s | op-only MiB/s | peak RSS MiB |"
        " sijil/age (wall) |"
    )
    print(
        "|------|-------|-------:|-------:|----------:|--------------:|-------------:|"
        "-----------------:|"
    )
    failures = []
    for op in ("seal", "open"):
        age_wall = median(runs[op, "age"], "wall")
        for tool in ("sijil", "age"):
            r = runs[op, tool]
            wall, rss = median(r, "wall"), median(r, "rss")
            peak = max(x["rss"] for x in r)
            if tool == "sijil":
                op_s = median(r, "op")
                only = f"{op_s:9.3f} | {mib / op_s:13.1f}"
                ratio_value = age_wall / wall
                ratio = f"{ratio_value:.2f}x"
                if size >= GOAL_MIN_SIZE and ratio_value < THROUGHPUT_GOAL:
                    failures.append(f"{op} {label(size)}: {ratio_value:.2f}x age throughput")
                if size >= 1 << 30 and peak >= MEMORY_GOAL_MIB:
                    failures.append(f"{op} {label(size)}: peak RSS {peak:.0f} MiB")
            else:
                only, ratio = f"{'-':>9} | {'-':>13}", ""
            print(
                f"| {op:4} | {tool:5} | {wall:6.3f} | {mib / wall:6.1f} | {only} |"
                f" {rss:12.1f} | {ratio:>16} |"
            )
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,100M,1G", help="comma-separated, e.g. 1M,100M,1G")
    parser.add_argument("--repeat", type=int, default=3, help="runs per operation (medians)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1M,100M only")
    parser.add_argument("--tmpdir", default=None, help="where inputs and outputs go")
    parser.add_argument(
        "--child", nargs=4, metavar=("OP", "KEYFILE", "SRC", "DST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        op, *paths = args.child
        child(op, *(Path(p) for p in paths))
        return 0

    from sijil.crypto.identity import DeskIdentity, age_identity_string, age_recipient_string

    sizes = [parse_size(s) for s in ("1M,100M" if args.quick else args.sizes).split(",")]
    print("# sijil envelope benchmark\n")
    for line in machine():
        print(f"- {line}")
    print(
        f"- sizes {', '.join(label(s) for s in sizes)}; {args.repeat} runs each; "
        "wall = Popen..wait4 incl. process start-up; op-only = sijil child's own timing"
    )
    work = Path(tempfile.mkdtemp(prefix="sijil-bench-", dir=args.tmpdir))
    try:
        desk = DeskIdentity.generate()
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        keyfile, age_id = work / "desk.key", work / "desk.agekey"
        for path, data in (
            (
                keyfile,
                desk.age.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
                + desk.sign.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            ),
            (age_id, (age_identity_string(desk.age) + "\n").encode()),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        recipient = age_recipient_string(desk.public.age)

        me = [sys.executable, str(Path(__file__).resolve()), "--child"]
        empty = work / "empty.bin"
        empty.touch()
        noop = [run([*me, "noop", str(keyfile), "-", "-"], work) for _ in range(args.repeat)]
        age0 = [
            run([AGE, "-r", recipient, "-o", str(work / "e.age"), str(empty)], work)
            for _ in range(args.repeat)
        ]
        print(
            f"- start-up (median): sijil child (python, imports, keys) "
            f"{median(noop, 'wall') * 1000:.0f} ms, {median(noop, 'rss'):.1f} MiB RSS; "
            f"age on an empty file {median(age0, 'wall') * 1000:.0f} ms, "
            f"{median(age0, 'rss'):.1f} MiB RSS"
        )

        failures: list[str] = []
        for size in sizes:
            failures += report(
                size, bench_size(size, args.repeat, work, keyfile, recipient, age_id)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    checked = [label(s) for s in sizes if s >= GOAL_MIN_SIZE]
    memory = "checked" if 1 << 30 in sizes else "not checked (1 GiB not run)"
    verdict = "FAIL" if failures else "PASS"
    print(
        f"\n{verdict}: goals throughput >= {THROUGHPUT_GOAL}x age (wall, sizes "
        f"{', '.join(checked) or 'none'}), peak RSS < {MEMORY_GOAL_MIB} MiB at 1 GiB "
        f"({memory})" + ("; missed: " + "; ".join(failures) if failures else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
