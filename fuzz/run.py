"""Run one fuzz target under atheris (libFuzzer, coverage-guided) for a bounded time.

    python fuzz/run.py TARGET [--seconds 120]      fuzz, then minimise the corpus
    python fuzz/run.py --list                      the target names

New inputs that reach new coverage go to ``fuzz/corpus/TARGET/``, which is kept in the
repository so runs accumulate across sessions. Seeds from the shared corpus are read
where they lie (a temporary folder of links, never copied). After the run the corpus
is minimised (libFuzzer ``-merge=1``) and capped. A crash is written to
``fuzz/crashes/TARGET-crash-<sha1>`` and the run exits non-zero; each one becomes a
regression test in ``tests/test_fuzz_regressions.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
SHARED = Path(os.environ.get("SIJIL_FUZZ_SHARED", "/work/shared/corpus"))
# Files of the shared corpus larger than this are not used as seeds: the fuzzer would
# spend its time copying them (and -max_len cuts them anyway).
MAX_SEED_BYTES = 256 << 10
# A kept corpus larger than this is a repository burden; the merge keeps the smallest
# inputs that cover the most, and files beyond the cap are dropped, largest first.
MAX_CORPUS_BYTES = 1 << 20
# A parser that needs more memory than this on a 64 KiB input is a finding (libFuzzer
# reports it as an out-of-memory crash).
RSS_LIMIT_MB = 2048
# One input that takes longer than this is a finding (a hang).
INPUT_TIMEOUT_S = 10


def shared_seeds(formats: tuple[str, ...], into: Path) -> None:
    """Link the shared corpus's files of ``formats`` into ``into`` (no copy)."""
    if not SHARED.is_dir():
        return
    for path in SHARED.rglob("*"):
        suffix = path.suffix.lower().lstrip(".")
        if path.is_file() and suffix in formats and path.stat().st_size <= MAX_SEED_BYTES:
            link = into / f"{len(list(into.iterdir()))}-{path.name}"
            link.symlink_to(path)


def cap(folder: Path) -> None:
    files = sorted(folder.iterdir(), key=lambda p: p.stat().st_size)
    total = 0
    for path in files:
        total += path.stat().st_size
        if total > MAX_CORPUS_BYTES:
            path.unlink()


def child(target: str, argv: list[str]) -> None:
    """In the fuzzing process: instrument sijil, then hand over to libFuzzer."""
    import atheris  # type: ignore[import-untyped]

    with atheris.instrument_imports(include=["sijil"]):
        sys.path.insert(0, str(HERE))
        from targets import TARGETS

    chosen = TARGETS[target]
    atheris.Setup([sys.argv[0], f"-max_len={chosen.max_len}", *argv], chosen.run)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 120)))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.child is not None:
        # before anything imports sijil: only modules imported under the hook are traced
        child(args.target, args.child)
        return 0
    sys.path.insert(0, str(HERE))
    from targets import TARGETS

    if args.list:
        print(" ".join(TARGETS))
        return 0
    if args.target not in TARGETS:
        parser.error(f"unknown target; one of: {' '.join(TARGETS)}")
    corpus = CORPUS / args.target
    corpus.mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sijil-fuzz-seeds-") as tmp:
        seeds = Path(tmp) / "shared"
        seeds.mkdir()
        shared_seeds(TARGETS[args.target].formats, seeds)
        me = [sys.executable, str(Path(__file__).resolve()), args.target, "--child"]
        common = [f"-rss_limit_mb={RSS_LIMIT_MB}", f"-timeout={INPUT_TIMEOUT_S}"]
        fuzz = subprocess.run(  # noqa: S603 - this very script, with our own arguments
            [
                *me,
                *common,
                f"-max_total_time={args.seconds}",
                f"-artifact_prefix={CRASHES}/{args.target}-",
                "-print_final_stats=1",
                str(corpus),
                str(seeds),
            ],
            check=False,
        )
        # minimise: keep the inputs that cover what the whole corpus covers
        merged = Path(tmp) / "merged"
        merged.mkdir()
        merge = subprocess.run(  # noqa: S603 - as above
            [*me, *common, "-merge=1", str(merged), str(corpus)],
            check=False,
            capture_output=True,
        )
        if merge.returncode == 0 and any(merged.iterdir()):
            shutil.rmtree(corpus)
            shutil.copytree(merged, corpus)
        cap(corpus)
    return fuzz.returncode


if __name__ == "__main__":
    sys.exit(main())
