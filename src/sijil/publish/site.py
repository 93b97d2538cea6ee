"""``sijil publish build``: the whole static site, built beside its folder and swapped in.

The site is built from the desk's database alone (the publication log's rows,
their signatures, the newest signed checkpoint, the published derivatives) and the
publication *public* key: no private key. Every file is written into a new
folder next to ``--out`` (``.<name>.build-XXXX``), which then takes the place of
the old site in one atomic exchange (``renameat2(RENAME_EXCHANGE)`` where Linux
has it, two renames otherwise). A failure leaves the old site as it was and no
half-built one.

``--out`` must be missing, empty, or a previous build: a build leaves the marker
file ``.sijil-site`` (its log size); any other non-empty folder is refused. The
desk remembers where its site is in ``<home>/publish-site.json`` (the folder and
the log size built), so that posting can update it in place
(:mod:`sijil.publish.incremental`), and keeps beside it ``publish-cache``:
each subject's share of the whole-record exports (exports.Fragments), so that an
update re-derives only what it publishes, and the log rows the site shows, so that
an update reads only the rows after them.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from sijil.desk.home import DeskHome
from sijil.errors import ConfigError, PublicationError
from sijil.fsutil import atomic_write
from sijil.ledger import merkle
from sijil.publish import signed_note, tlog
from sijil.publish.exports import Fragments, api_path, api_subject, export_files
from sijil.publish.feeds import feed_files
from sijil.publish.ledger_heads import HEADS_PATH, heads_file
from sijil.publish.pages import HEADERS, ROOT_INDEX, Pages, media_path
from sijil.publish.signing import write_log, write_public_keys
from sijil.publish.site_map import map_data, map_json, map_svg
from sijil.publish.site_record import Record, known_rows, load_record, media_content
from sijil.publish.site_search import indexes
from sijil.store import Store, utcnow

__all__ = [
    "MARKER",
    "POINTER",
    "BuildResult",
    "build_site",
    "global_files",
    "read_marker",
    "site_location",
    "static_files",
]

MARKER = ".sijil-site"
POINTER = "publish-site.json"
CACHE = "publish-cache"
OLD_CACHE = "publish-cache.json"  # sijil-site-cache/1, JSON
STATIC = Path(__file__).with_name("static")
VENDORED = {  # what the site serves from scripts/vendor-publish.sh's downloads
    "static/fonts/noto-naskh-arabic-400.woff2": "vendor/noto-naskh-arabic-400.woff2",
    "static/fonts/noto-naskh-arabic-700.woff2": "vendor/noto-naskh-arabic-700.woff2",
    "static/fonts/LICENSE.txt": "vendor/noto-naskh-arabic.LICENSE",
    "static/world-atlas.LICENSE.txt": "vendor/world-atlas.LICENSE",
}
OWN = ("site.css", "map.js", "search.js", "favicon.svg")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildResult:
    out: Path
    files: int
    bytes: int
    log_size: int
    largest_page: int


def read_marker(folder: Path) -> dict[str, object] | None:
    """The marker of a previous build in ``folder``, or None."""
    try:
        found = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found.get("format") == "sijil-site/1" else None


def marker_bytes(size: int) -> bytes:
    return json.dumps({"format": "sijil-site/1", "log_size": size}).encode() + b"\n"


def site_location(home: DeskHome) -> Path | None:
    """Where the desk's last build went, if it still holds a build."""
    try:
        found = json.loads((home.root / POINTER).read_text())
        folder = Path(found["site"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return folder if read_marker(folder) is not None else None


def remember(home: DeskHome, out: Path, size: int) -> None:
    body = json.dumps({"site": str(out), "log_size": size}).encode() + b"\n"
    atomic_write(home.root / POINTER, body)


def load_cache(home: DeskHome) -> Fragments:
    """The exports' per-subject fragments kept by the last build or update (or none).

    The cache is the desk's own file (0600, in the desk home, beside the database),
    written by :func:`save_cache` with ``marshal``: plain values, read back about
    ten times faster than JSON. Anything unreadable is no cache.
    """
    try:
        found = marshal.loads((home.root / CACHE).read_bytes())  # noqa: S302 (the desk's own file)
    except (OSError, ValueError, EOFError, TypeError):
        return Fragments()
    return Fragments(found if isinstance(found, dict) else None)


def save_cache(home: DeskHome, fragments: Fragments, record: Record | None = None) -> None:
    """Keep ``fragments`` (and, given the record the site now shows, its log rows)."""
    if record is not None and record.checkpoint:
        note = signed_note.parse(record.checkpoint).text
        fragments.log = known_rows(record, tlog.Checkpoint.parse(note).root)
        fragments.media = dict(record.media)
    # Renamed into place but not fsynced: after a crash an older cache is only stale
    # (every part is checked against what it was made from), a torn one unreadable.
    fd, name = tempfile.mkstemp(prefix=".tmp-", dir=home.root)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(marshal.dumps(fragments.to_dict()))
        Path(name).replace(home.root / CACHE)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    (home.root / OLD_CACHE).unlink(missing_ok=True)


def _check_out(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ConfigError(f"{out} is not a folder")
    if out.is_dir() and any(out.iterdir()) and read_marker(out) is None:
        raise ConfigError(f"{out} is not empty and holds no previous site build: refusing")
    if not out.parent.is_dir():
        raise ConfigError(f"no folder {out.parent} to build the site in")


def static_files() -> Iterator[tuple[str, bytes]]:
    for name in OWN:
        yield f"static/{name}", (STATIC / name).read_bytes()
    for target, source in VENDORED.items():
        path = STATIC / source
        if not path.is_file():
            raise ConfigError(
                "the site's font or map data is missing: run scripts/vendor-publish.sh"
            )
        yield target, path.read_bytes()


def global_files(
    record: Record, pages: Pages, fragments: Fragments, *, heads: bytes | None = None
) -> dict[str, bytes]:
    """The files that depend on the whole record: rewritten on every publication."""
    out = export_files(record, fragments)
    if heads is not None:
        out[HEADS_PATH] = heads
    located = [
        (key[1], float(f["point"][0]), float(f["point"][1]))
        for key, f in fragments.all(record)
        if "point" in f
    ]
    drawn = map_data(located)
    out.update({"data/map.json": map_json(drawn), "static/map.svg": map_svg(drawn)})
    out.update(feed_files(record))
    out.update(pages.fixed_pages(map_height=drawn.height, has_heads=heads is not None))
    return out


def _all_files(
    session: Session, record: Record, pages: Pages, fragments: Fragments
) -> Iterator[tuple[str, bytes]]:
    yield "index.html", ROOT_INDEX
    yield "_headers", HEADERS.encode()
    yield from static_files()
    for post in record.posts:
        yield f"posts/{post.log_index}.json", post.body
        yield f"posts/{post.log_index}.json.minisig", post.minisig.encode()
        yield f"posts/{post.log_index}.json.sig", post.sshsig.encode()
    for sha in sorted(record.shown_media()):
        yield media_path(sha, record.media[sha]), media_content(session, sha)
    for key in record.history:
        yield from pages.subject(key)
        yield api_path(key), api_subject(record, key)
    for kind in ("incident", "verdict"):
        yield from pages.list_pages(kind)
    heads = heads_file(session, now=utcnow())
    yield from global_files(record, pages, fragments, heads=heads).items()
    yield from indexes(record, fragments.search).items()


def build_site(
    home: DeskHome,
    store: Store,
    out: Path,
    *,
    templates: Path | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the whole site into a new folder beside ``out`` and swap it in."""
    out = out.absolute()
    _check_out(out)
    with store.session() as session:
        record = load_record(session)
        if record.size and not record.checkpoint:
            raise PublicationError("the publication log has posts but no signed checkpoint")
        pages = Pages(record, templates)  # a broken template stops here, before any file
        same = False
        build = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
        try:
            build.chmod(0o755)
            files = total = largest = 0
            made: set[Path] = set()
            fragments = Fragments()
            for rel, data in _all_files(session, record, pages, fragments):
                target = build / rel
                if target.parent not in made:
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                    made.add(target.parent)
                target.write_bytes(data)
                files, total = files + 1, total + len(data)
                if rel.endswith(".html"):
                    largest = max(largest, len(data))
                if progress is not None and files % 1000 == 0:
                    progress("files", files, 0)
            if record.checkpoint:
                bodies = [p.body for p in record.posts]
                write_log(build / "log", bodies, record.checkpoint)
                same = merkle.leaf_hashes(bodies) == [p.leaf_hash for p in record.posts]
            write_public_keys(build / "keys", home)
            (build / MARKER).write_bytes(marker_bytes(record.size))
            _fix_modes(build)
            _swap(build, out)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    remember(home, out, record.size)
    save_cache(home, fragments, record if same else None)  # rows whose leaf hashes are right
    return BuildResult(out, files, total, record.size, largest)


def _fix_modes(root: Path) -> None:
    """A site is public: folders 0755, files 0644 (the log writer's files included)."""
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            (Path(folder) / name).chmod(0o755)
        for name in names:
            (Path(folder) / name).chmod(0o644)


def _swap(build: Path, out: Path) -> None:
    """Put ``build`` where ``out`` is, atomically where the kernel can; drop the old site."""
    os.sync()
    if not out.exists():
        build.rename(out)
        return
    if _exchange(build, out):
        shutil.rmtree(build)  # now holds the old site
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    build.rename(out)
    shutil.rmtree(old)


def _exchange(a: Path, b: Path) -> bool:
    """Linux renameat2(RENAME_EXCHANGE): swap two paths in one step; False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(done == 0)


def require_site(home: DeskHome) -> Path:
    found = site_location(home)
    if found is None:
        raise ConfigError("no site built from this desk yet (run 'sijil publish build')")
    return found
