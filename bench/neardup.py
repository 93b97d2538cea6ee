"""Benchmark: near-duplicate recall and precision on the test set, beside the stock PDQ usage.

    .venv/bin/python bench/neardup.py [--radius 31]

Builds the near-duplicate set of tests/test_media_neardup.py (tests/neardup_set.py:
the corpus photos and 40 seeded generated pictures, 17 kinds of copy each) and
matches every copy against an index of the sources two ways:

- sijil: as the desk matches an arriving photo (sijil.media.pdq.hash_image: reduced
  decode, 64x64 Lanczos, 8 dihedral hashes and the inner picture; the desk's
  catalog at the radius), the path the tests assert on;
- reference: the stock usage of the same PDQ binding, `pdqhash.compute` on the
  full decoded image, one hash per file, a linear scan at the same radius.

Prints the recall table docs/media.md quotes (per kind of copy, both matchers, and
sijil's recall over the reference's), false positives over the unrelated pairs, the
nearest unrelated distance, and the time per file of each. Goals (the tests'):
recall >= 0.95 per family of re-encode, resize, rotate, mirror; >= 0.90 per variant
and for screenshots; <= 1 false positive in 10,000 unrelated pairs. Exits 0
whatever the verdict.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from neardup_set import (  # noqa: E402
    CORE,
    VARIANTS,
    DeskMatcher,
    Matcher,
    NearDupSet,
    copies_of,
    corpus_sources,
    evaluate,
)
from sijil.desk.neardup.catalog import DEFAULT_RADIUS, MIN_IMAGE_QUALITY  # noqa: E402
from sijil.media.pdq import hash_image  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


class ReferenceMatcher:
    """`pdqhash.compute` on the full decoded image, one hash a file, linear scan."""

    def __init__(self, radius: int) -> None:
        self.radius = radius
        self.numbers: list[int] = []
        self.hashes: list[np.ndarray] = []

    @staticmethod
    def _hash(data: bytes) -> tuple[np.ndarray, int]:
        import pdqhash

        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"))
        bits, quality = pdqhash.compute(pixels)
        return np.packbits(bits.astype(np.uint8)), int(quality)

    def add(self, number: int, data: bytes) -> None:
        packed, _quality = self._hash(data)
        self.numbers.append(number)
        self.hashes.append(packed)

    def distances(self, data: bytes) -> dict[int, int]:
        packed, _quality = self._hash(data)
        table = np.unpackbits(np.bitwise_xor(np.stack(self.hashes), packed), axis=1).sum(axis=1)
        return {n: int(d) for n, d in zip(self.numbers, table, strict=True)}

    def match(self, data: bytes) -> dict[int, int]:
        return {n: d for n, d in self.distances(data).items() if d <= self.radius}


class Timed:
    """A matcher that adds up the seconds spent in it (hashing included)."""

    def __init__(self, inner: Matcher) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.files = 0

    def add(self, number: int, data: bytes) -> None:
        start = time.perf_counter()
        self.inner.add(number, data)
        self.seconds += time.perf_counter() - start
        self.files += 1

    def match(self, data: bytes) -> dict[int, int]:
        start = time.perf_counter()
        found = self.inner.match(data)
        self.seconds += time.perf_counter() - start
        self.files += 1
        return found


def _share(hit: int, total: int) -> str:
    return f"{hit}/{total} ({hit / total:.3f})" if total else "-"


def _ratio(ours: float, ref: float) -> str:
    return f"{ours / ref:.2f}x" if ref else ("=" if ours == ref else "inf")


def report(sets: dict[str, NearDupSet], timed: dict[str, Timed], radius: int) -> None:
    sijil, ref = sets["sijil"], sets["reference"]
    print(f"\n## Recall at radius {radius}, {len(sijil.names)} sources")
    print("| copy | family | sijil | reference (pdqhash.compute) | sijil / reference |")
    print("|---|---|---:|---:|---:|")
    ours, theirs = sijil.recall(lambda o: o.variant), ref.recall(lambda o: o.variant)
    for name, family, _make, _options in VARIANTS:
        (h1, t1), (h2, t2) = ours[name], theirs[name]
        print(f"| {name} | {family} | {_share(h1, t1)} | {_share(h2, t2)} | "
              f"{_ratio(h1 / t1, h2 / t2)} |")  # fmt: skip
    print("\n| family | sijil | reference | sijil / reference | goal |")
    print("|---|---:|---:|---:|---|")
    fam_ours, fam_theirs = sijil.recall(lambda o: o.family), ref.recall(lambda o: o.family)
    verdicts = []
    for family, (h1, t1) in fam_ours.items():
        h2, t2 = fam_theirs[family]
        goal = ""
        if family in CORE:
            ok = h1 / t1 >= 0.95
            verdicts.append(ok)
            goal = f">= 0.95 {'PASS' if ok else 'FAIL'}"
        print(f"| {family} | {_share(h1, t1)} | {_share(h2, t2)} | "
              f"{_ratio(h1 / t1, h2 / t2)} | {goal} |")  # fmt: skip
    print("\n| matcher | false positives / unrelated pairs | precision | ms per file |")
    print("|---|---:|---:|---:|")
    for key, found in sets.items():
        fp = found.false_positives + found.source_false_positives
        ms = timed[key].seconds / max(1, timed[key].files) * 1e3
        print(f"| {key} | {fp} / {found.pairs_unrelated:,} | {found.precision:.4f} | {ms:.1f} |")
    fp = sijil.false_positives + sijil.source_false_positives
    ok = fp / sijil.pairs_unrelated <= 1e-4
    verdicts.append(ok)
    speed = timed["reference"].seconds / timed["sijil"].seconds if timed["sijil"].seconds else 0
    print(f"\nsijil time per file over the reference's: {1 / speed:.2f}x" if speed else "")
    print(f"false positives <= 1 in 10,000: {'PASS' if ok else 'FAIL'}")
    print(f"verdict: {'PASS' if all(verdicts) else 'FAIL'}")


def nearest_unrelated(sources: list[tuple[str, bytes]], reference: ReferenceMatcher) -> None:
    """How close two different sources come: the scale the radius sits on."""
    prints = [hash_image(io.BytesIO(data)) for _name, data in sources]
    indexed = [p for p in prints if p.quality >= MIN_IMAGE_QUALITY]
    stored = np.stack([np.frombuffer(p.pdq, np.uint8) for p in indexed])
    ours = 256
    for number, found in enumerate(indexed):
        for variant in found.dihedral:
            xor = np.bitwise_xor(stored, np.frombuffer(variant, np.uint8))
            bits = np.unpackbits(xor, axis=1).sum(axis=1)
            bits[number] = 256
            ours = min(ours, int(bits.min()))
    theirs = min(
        d
        for number, (_name, data) in enumerate(sources, 1)
        for other, d in reference.distances(data).items()
        if other != number
    )
    print(
        f"nearest two different sources: sijil {ours} bits (any dihedral variant, "
        f"{len(indexed)} indexed), reference {theirs} bits; radius {reference.radius}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=int, default=DEFAULT_RADIUS)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}; nothing to measure")
        return 0
    cpu = platform.processor() or platform.machine()
    print(f"# bench/neardup.py: {cpu}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    sources = corpus_sources(CORPUS)
    with tempfile.TemporaryDirectory(prefix="sijil-bench-neardup-") as tmp:
        desk = DeskMatcher(Path(tmp) / "nd.db", radius=args.radius)
        reference = ReferenceMatcher(args.radius)
        timed = {"sijil": Timed(desk), "reference": Timed(reference)}
        try:
            sets = evaluate(sources, copies_of(sources), dict(timed))
        finally:
            desk.close()
        report(sets, timed, args.radius)
        nearest_unrelated(sources, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
