"""Benchmark: sijil's scrubber against `exiftool -all= -time:all=` and `mat2 -L`, same files.

    .venv/bin/python bench/scrub.py [--repeat 3] [--jpegs 4] [--quick]

The file set: every supported file of ../shared/corpus/media (the corrupt JPEG
aside), plus generated 12-megapixel JPEGs carrying EXIF (make, model, serials,
dates), GPS, maker notes, a thumbnail and XMP, plus a generated 20 MB MP4 with
location atoms and creation times. Each tool cleans its own copy of the whole
set in ONE process (start-up included): sijil in a child `bench/scrub.py
--child` cleaning on 2 threads as `sijil scrub` does by default (plain
writes, no fsync, like the others), exiftool as one batch, mat2 with all
files on one command line.
Timed twice: the whole set, and the JPEGs alone (the issue's mat2 goal is on
JPEG). Medians of --repeat runs; files/s and MB/s (MB = 10^6 bytes of input).

Every tool's output is then read with exiftool, and files that still carry an
identifying tag (sijil.scrub.leaks) are counted; sijil's output is also checked
to be lossless (decoded pixels, decoded video frames and audio packet hashes, PDF page
streams).
Goals (issue): >= 2x exiftool's batch throughput and >= 50x mat2 -L on JPEG.
mat2 is the Debian package `mat2`; without it its columns say "missing".
Exits 0 whatever the verdict; only a crash is non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "media"
EXIFTOOL, MAT2, FFMPEG = shutil.which("exiftool"), shutil.which("mat2"), shutil.which("ffmpeg")
CORRUPT = {"corrupted.jpg"}
GOAL_EXIFTOOL, GOAL_MAT2_JPEG = 2.0, 50.0
JOBS = 2  # sijil scrub's default --jobs


def child(out_dir: Path, files: list[Path], jobs: int) -> None:
    """Clean ``files`` as `sijil scrub --jobs N` does: threads, results in order."""
    from concurrent.futures import ThreadPoolExecutor

    from sijil.scrub import scrub

    def one(item: tuple[int, Path]) -> None:
        n, src = item
        with (out_dir / f"{n}-{src.name}").open("wb") as f:
            scrub(src, f)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, enumerate(files)))


# --------------------------------------------------------------------------- the file set


def make_jpeg(path: Path, seed: int, work: Path) -> None:
    from PIL import Image

    rng = random.Random(seed)
    small = Image.frombytes("RGB", (400, 300), rng.randbytes(400 * 300 * 3))
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)  # 12 MP, photo-like
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Apple", "iPhone 6", "iOS 10.1.1"
    exif[0x0132] = "2016:11:22 03:14:15"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = sub[0x9004] = "2016:11:22 03:14:15"
    sub[0xA431], sub[0xA434] = "C39PQ2HDG5QR", "iPhone 6 back camera 4.15mm f/2.2"
    sub[0x927C] = b"Apple iOS\x00" + rng.randbytes(4000)  # maker notes
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (35.0, 57.0, 11.0), "E", (39.0, 0.0, 22.0)
    image.save(path, "JPEG", quality=92, exif=exif)
    thumb = work / f"thumb{seed}.jpg"
    image.resize((160, 120)).save(thumb, "JPEG")
    assert EXIFTOOL
    subprocess.run(
        [EXIFTOOL, "-q", "-m", "-overwrite_original", f"-ThumbnailImage<={thumb}",
         "-XMP-dc:Creator=Abu Ibrahim", "-XMP-photoshop:City=Raqqa", str(path)],
        check=True,
    )  # fmt: skip


def make_mp4(path: Path) -> None:
    assert FFMPEG
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=500",
         "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "7800k",
         "-c:a", "aac", "-metadata", "location=+35.9500+039.0000/",
         "-metadata", "com.apple.quicktime.location.ISO6709=+35.9500+039.0000+250.000/",
         "-metadata", "com.apple.quicktime.make=Apple",
         "-metadata", "com.apple.quicktime.model=iPhone 6",
         "-metadata", "creation_time=2016-11-22T03:14:15Z", "-movflags", "use_metadata_tags",
         str(path)],
        check=True,
    )  # fmt: skip


def file_set(work: Path, jpegs: int) -> list[Path]:
    from sijil.scrub import REGISTRY, detect_format

    files = [
        p
        for p in sorted(CORPUS.rglob("*"))
        if p.is_file() and p.name not in CORRUPT and detect_format(p.read_bytes()[:64]) in REGISTRY
    ]
    gen = work / "generated"
    gen.mkdir()
    for n in range(jpegs):
        make_jpeg(gen / f"IMG_{n:04d}.jpg", n, work)
        files.append(gen / f"IMG_{n:04d}.jpg")
    make_mp4(gen / "VID_0001.mp4")
    files.append(gen / "VID_0001.mp4")
    return files


# --------------------------------------------------------------------------- the tools


class Clock:
    """Wall time, and CPU time (user + sys) of the child processes run meanwhile.

    CPU time includes grandchildren (ffmpeg) once reaped; on a shared, noisy VM it
    varies far less than wall time, so both are shown.
    """

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), _children_cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _children_cpu() - self.cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def copies(files: list[Path], into: Path) -> list[Path]:
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    out = []
    for n, src in enumerate(files):
        dst = into / f"{n}-{src.name}"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


def run_sijil(files: list[Path], work: Path) -> tuple[Clock, list[Path]]:
    out = work / "sijil-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    listing = work / "list.json"
    listing.write_text(json.dumps([str(p) for p in files]))
    with Clock() as clock:
        subprocess.run(
            [sys.executable, __file__, "--child", str(out), str(listing), "--jobs", str(JOBS)],
            check=True,
        )
    return clock, [out / f"{n}-{p.name}" for n, p in enumerate(files)]


def run_exiftool(files: list[Path], work: Path) -> tuple[Clock, list[Path]]:
    assert EXIFTOOL
    mine = copies(files, work / "exiftool-out")
    command = [EXIFTOOL, "-q", "-q", "-m", "-overwrite_original", "-all=", "-time:all="]
    with Clock() as clock:
        subprocess.run(
            [*command, *map(str, mine)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return clock, mine


def run_mat2(files: list[Path], work: Path) -> tuple[Clock, list[Path]]:
    assert MAT2
    mine = copies(files, work / "mat2-out")
    with Clock() as clock:
        subprocess.run([MAT2, "-L", *map(str, mine)], check=False, capture_output=True)
    return clock, [p.with_name(f"{p.stem}.cleaned{p.suffix}") for p in mine]


# --------------------------------------------------------------------------- the checks


def leaking(outputs: list[Path]) -> tuple[int, int]:
    """(files still carrying an identifying tag, files missing) by one exiftool run."""
    import hashlib

    from PIL import Image

    from sijil.scrub import leaks
    from sijil.scrub.icc import STANDARD_ICC_PROFILES

    present = [p for p in outputs if p.is_file()]
    assert EXIFTOOL
    run = subprocess.run(
        [EXIFTOOL, "-a", "-G0:1", "-j", "-n", "-api", "QuickTimeUTC", *map(str, present)],
        capture_output=True,
        check=False,
    )
    bad = 0
    for entry in json.loads(run.stdout or b"[]"):
        keys = [k for k, v in entry.items() if leaks(k, v)]
        if keys and all(k.startswith("ICC_Profile:") for k in keys):
            with Image.open(entry["SourceFile"]) as im:
                profile = im.info.get("icc_profile") or b""
            if hashlib.sha256(profile).hexdigest() in STANDARD_ICC_PROFILES:
                keys = []
        bad += bool(keys)
    return bad, len(outputs) - len(present)


def lossless(files: list[Path], outputs: list[Path]) -> int:
    """How many sijil outputs differ from their source in decoded content."""
    import pillow_heif
    from PIL import Image

    from sijil.scrub import detect_format

    pillow_heif.register_heif_opener()
    differ = 0
    for src, out in zip(files, outputs, strict=True):
        fmt = detect_format(src.read_bytes()[:64])
        if fmt in {"jpeg", "png", "gif", "webp", "tiff", "heic", "avif"}:
            with Image.open(src) as a, Image.open(out) as b:
                same = a.size == b.size and a.tobytes() == b.tobytes()
        elif fmt == "pdf":
            import pikepdf

            with pikepdf.open(src) as a, pikepdf.open(out) as b:
                same = [p.obj.Contents.read_raw_bytes() for p in a.pages if "/Contents" in p.obj
                        and isinstance(p.obj.Contents, pikepdf.Stream)] == [
                    p.obj.Contents.read_raw_bytes() for p in b.pages if "/Contents" in p.obj
                    and isinstance(p.obj.Contents, pikepdf.Stream)]  # fmt: skip
        else:
            same = _packets(src) == _packets(out)
        if not same:
            print(f"  not lossless: {src.name}", file=sys.stderr)
        differ += not same
    return differ


def _packets(path: Path) -> bytes:
    """Decoded video frames (H.264 loses its SEI banner, so packets differ) + audio packets."""
    assert FFMPEG
    base = [FFMPEG, "-nostdin", "-v", "error", "-i", str(path)]
    video = [*base, "-map", "0:V?", "-f", "streamhash", "-hash", "sha256", "-"]
    audio = [*base, "-map", "0:a?", "-c", "copy", "-f", "streamhash", "-hash", "sha256", "-"]
    probe = [FFMPEG.replace("ffmpeg", "ffprobe"), "-v", "error", "-select_streams", "V",
             "-show_entries", "stream=index", "-of", "csv=p=0", str(path)]  # fmt: skip
    has_video = bool(subprocess.run(probe, capture_output=True, check=False).stdout.strip())
    # an optional map that matches nothing makes ffmpeg fall back to its default streams,
    # so audio-only files (a FLAC's cover art is not "V") skip the video hash entirely
    commands = (video, audio) if has_video else (audio,)
    return b"".join(subprocess.run(a, capture_output=True, check=False).stdout
                    for a in commands)  # fmt: skip


# --------------------------------------------------------------------------- main


def measure(runner, files, work, repeat):  # type: ignore[no-untyped-def]
    """Median wall and median CPU seconds over ``repeat`` runs, and the last outputs."""
    walls, cpus, outputs = [], [], []
    for _ in range(repeat):
        clock, outputs = runner(files, work)
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    return statistics.median(walls), statistics.median(cpus), outputs


def _version(args: list[str | None]) -> str:
    if args[0] is None:
        return "missing (apt-get install mat2)"
    done = subprocess.run([a for a in args if a], capture_output=True, text=True, check=False)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jpegs", type=int, default=4, help="generated 12-megapixel JPEGs")
    parser.add_argument("--quick", action="store_true", help="1 run, 2 JPEGs")
    parser.add_argument("--jobs", type=int, default=JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("OUT", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        listing = json.loads(Path(args.child[1]).read_text())
        child(Path(args.child[0]), [Path(p) for p in listing], args.jobs)
        return
    if args.quick:
        args.repeat, args.jpegs = 1, 2
    if not (EXIFTOOL and FFMPEG and CORPUS.is_dir()):
        sys.exit("needs exiftool, ffmpeg and the shared corpus")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"exiftool {_version([EXIFTOOL, '-ver'])}, mat2 {_version([MAT2, '--version'])}")
    with tempfile.TemporaryDirectory(prefix="sijil-bench-") as tmp:
        work = Path(tmp)
        files = file_set(work, args.jpegs)
        jpegs = [p for p in files if p.read_bytes()[:3] == b"\xff\xd8\xff"]
        tools = [("sijil", run_sijil), ("exiftool", run_exiftool)]
        if MAT2:
            tools.append(("mat2 -L", run_mat2))
        results: dict[tuple[str, str], float] = {}
        cpu: dict[tuple[str, str], float] = {}
        for label, subset in (("all", files), ("jpeg", jpegs)):
            size = sum(p.stat().st_size for p in subset) / 1e6
            print(f"\n== {label}: {len(subset)} files, {size:.1f} MB, median of {args.repeat}")
            print(f"{'tool':10} {'wall s':>8} {'files/s':>9} {'MB/s':>8} {'CPU s':>7}"
                  "  leaking  missing  lossless")  # fmt: skip
            for name, runner in tools:
                seconds, cpu_s, outputs = measure(runner, subset, work, args.repeat)
                results[(label, name)], cpu[(label, name)] = seconds, cpu_s
                bad, missing = leaking(outputs)
                exact = "-"
                if name == "sijil":
                    exact = "yes" if lossless(subset, outputs) == 0 else "NO"
                print(f"{name:10} {seconds:8.2f} {len(subset) / seconds:9.1f} {size / seconds:8.1f}"
                      f" {cpu_s:7.2f}  {bad:7d}  {missing:7d}  {exact}")  # fmt: skip
        print()
        ratio_all = results[("all", "exiftool")] / results[("all", "sijil")]
        ratio_jpeg = results[("jpeg", "exiftool")] / results[("jpeg", "sijil")]
        verdict = "PASS" if ratio_all >= GOAL_EXIFTOOL else "FAIL"
        print(f"sijil vs exiftool batch (wall): {ratio_all:.1f}x (all), {ratio_jpeg:.1f}x (JPEG)"
              f"  goal >= {GOAL_EXIFTOOL}x: {verdict}")  # fmt: skip
        c_all = cpu[("all", "exiftool")] / cpu[("all", "sijil")]
        c_jpeg = cpu[("jpeg", "exiftool")] / cpu[("jpeg", "sijil")]
        print(f"sijil vs exiftool batch (CPU):  {c_all:.1f}x (all), {c_jpeg:.1f}x (JPEG)")
        if MAT2:
            m_all = results[("all", "mat2 -L")] / results[("all", "sijil")]
            m_jpeg = results[("jpeg", "mat2 -L")] / results[("jpeg", "sijil")]
            verdict = "PASS" if m_jpeg >= GOAL_MAT2_JPEG else "FAIL"
            print(f"sijil vs mat2 -L (wall): {m_all:.1f}x (all), {m_jpeg:.1f}x (JPEG)"
                  f"  goal >= {GOAL_MAT2_JPEG}x on JPEG: {verdict}")  # fmt: skip
            c_all = cpu[("all", "mat2 -L")] / cpu[("all", "sijil")]
            c_jpeg = cpu[("jpeg", "mat2 -L")] / cpu[("jpeg", "sijil")]
            print(f"sijil vs mat2 -L (CPU):  {c_all:.1f}x (all), {c_jpeg:.1f}x (JPEG)")
        else:
            print("sijil vs mat2 -L: mat2 missing (apt-get install mat2)")


if __name__ == "__main__":
    main()
