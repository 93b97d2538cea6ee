"""Update the built site in place after new publications, without rebuilding it.

Where the site is: the folder recorded in ``<home>/publish-site.json`` by the last
``sijil publish build``, holding that build's marker (``.sijil-site``, with the log
size it shows). :func:`update_site` renders only what the new log entries change:

* their posts and signatures, new media, and the pages of their subjects;
* the pages that name those subjects: the list page holding each (and the page
  before a new list page, whose "next" link appears), the incident pages a verdict
  rests on and the verdict pages resting on an incident;
* the files that depend on the whole record (home pages, map, feeds, exports,
  the change list) and the search indexes, patched rather than recomputed.

Order, so that a reader or a mirror never meets a link to a missing file: files
that did not exist are written first, then the log's new tiles and checkpoint,
then every changed file is renamed into place (each atomically: temp file, fsync,
rename), then media no current version shows are deleted, and last the marker.
A crash part-way leaves a site whose every page is whole; the next update (or a
full build) finishes the job, since the marker still names the older size.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sijil.desk.home import DeskHome
from sijil.errors import PublicationError
from sijil.fsutil import atomic_write, fsync_dir
from sijil.publish.exports import Fragments, api_path, api_subject
from sijil.publish.feeds import FEED_SIZE
from sijil.publish.ledger_heads import heads_file
from sijil.publish.pages import LATEST, PER_PAGE, Pages, list_page, media_path
from sijil.publish.signing import (
    log_entries_to_write,
    write_log_from_hashes,
    write_public_keys,
)
from sijil.publish.site import (
    MARKER,
    global_files,
    load_cache,
    marker_bytes,
    read_marker,
    remember,
    save_cache,
    site_location,
)
from sijil.publish.site_labels import LANGS
from sijil.publish.site_record import Post, Record, SubjectKey, load_record, media_content
from sijil.publish.site_search import docs_for, index_bytes, patch_index
from sijil.store import Store, utcnow

__all__ = ["UpdateResult", "update_site"]

MODE = 0o644


@dataclass(frozen=True)
class UpdateResult:
    site: Path
    entries: int  # new log entries shown
    written: int  # files written (new and changed)
    deleted: int


def _related(
    record: Record, new: list[Post], verdicts_on: dict[str, list[SubjectKey]]
) -> set[SubjectKey]:
    """The subjects whose pages change: the new posts' own and those that link them."""
    keys = {post.key for post in new}
    for post in new:
        if post.kind == "verdict":
            for version in record.history[post.key]:
                for code in version.verdict.get("incidents") or []:
                    if ("incident", str(code)) in record.history:
                        keys.add(("incident", str(code)))
        else:
            keys.update(verdicts_on.get(post.subject, []))
    return keys


def _list_pages(
    record: Record, pages: Pages, keys: set[SubjectKey], built: int
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for kind in ("incident", "verdict"):
        subjects = record.subjects(kind)
        before = {k for k in subjects if record.history[k][0].log_index < built}
        numbers = {pages.list_page_of(k) for k in keys if k[0] == kind}
        if subjects and list_page(len(before)) != list_page(len(subjects) - 1):
            numbers.add(max(1, list_page(len(before) - 1)) if before else 1)  # gains a "next" link
        if not subjects:
            numbers.add(1)
        if numbers:  # (an empty list would render them all)
            out.update(pages.list_pages(kind, sorted(numbers)))
    return out


def _search(
    site: Path, record: Record, keys: set[SubjectKey], fragments: Fragments
) -> dict[str, bytes]:
    """Both search indexes, patched; parsed from the cache's copy when it is of the same file."""
    out: dict[str, bytes] = {}
    removed = {f"{k[0]}/{k[1]}.html" for k in keys}
    current = [p for k in keys if (p := record.current(k)) is not None]
    for lang in LANGS:
        path = site / "search" / f"{lang}.json"
        try:
            found = path.read_bytes()
            copy = fragments.search.pop(lang, None)
            if copy is not None and copy[0] == hashlib.sha256(found).digest():
                index = copy[1]
            else:
                index = json.loads(found)
        except (OSError, ValueError) as exc:
            raise PublicationError(f"the site's search index {path.name} cannot be read") from exc
        patched = patch_index(index, removed, docs_for(current, lang))
        out[f"search/{lang}.json"] = data = index_bytes(patched)
        fragments.search[lang] = (hashlib.sha256(data).digest(), patched)
    return out


def _wanted(record: Record, keys: set[SubjectKey], built: int) -> set[int]:
    """The posts an update shows: new ones, the feeds' and home pages', ``keys``' versions."""
    recent = record.posts[-max(FEED_SIZE, LATEST) :]
    out = {post.log_index for post in recent}
    out.update(log_entries_to_write(built, record.size))
    for key in keys | {post.key for post in recent if post.key in record.history}:
        history = record.history[key]
        out.update(post.log_index for post in history)
    return out


def _list_page_posts(record: Record, pages: Pages, keys: set[SubjectKey]) -> set[int]:
    """The current posts of the subjects on the list pages of ``keys`` and the pages before."""
    out: set[int] = set()
    for kind in ("incident", "verdict"):
        subjects = record.subjects(kind)
        for number in {pages.list_page_of(k) for k in keys if k[0] == kind}:
            for n in (number - 1, number):
                for key in subjects[max(0, n - 1) * PER_PAGE : n * PER_PAGE]:
                    out.add(record.latest(key).log_index)
    return out


def _write_files(site: Path, files: dict[str, bytes]) -> None:
    """Each file atomically (temp file, fsync, rename), each folder fsynced once at the end."""
    temps: list[tuple[Path, Path]] = []
    try:
        for rel, data in files.items():
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            temps.append((Path(name), target))
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), MODE)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for temp, target in temps:
            temp.replace(target)
    except BaseException:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise
    for folder in sorted({target.parent for _, target in temps}):
        fsync_dir(folder)


def update_site(home: DeskHome, store: Store) -> UpdateResult | None:
    """Show the log entries published since the last build or update; None if no site."""
    site = site_location(home)
    if site is None:
        return None
    marker = read_marker(site) or {}
    built = int(str(marker.get("log_size", 0)))
    fragments = load_cache(home)
    with store.session() as session:
        record = load_record(session, lazy=True, known=fragments.log, known_media=fragments.media)
        if record.size < built:
            raise PublicationError("the site shows more posts than the log holds: rebuild it")
        if record.size == built:
            return UpdateResult(site, 0, 0, 0)
        if not record.checkpoint:
            raise PublicationError("the publication log has posts but no signed checkpoint")
        new = record.posts[built:]
        # a key rotation post (kind "key") is in the log and posts/, but has no page
        paged = [post for post in new if post.key in record.history]
        record.bodies.fetch(_wanted(record, {post.key for post in paged}, built))
        for post in paged:
            fragments.of(record, post.key)
        verdicts_on = fragments.verdicts_on(record)
        pages = Pages(record, verdicts_on=verdicts_on)
        files: dict[str, bytes] = {}
        for post in new:
            files[f"posts/{post.log_index}.json"] = post.body
            files[f"posts/{post.log_index}.json.minisig"] = post.minisig.encode()
            files[f"posts/{post.log_index}.json.sig"] = post.sshsig.encode()
        keys = _related(record, paged, verdicts_on)
        shows = _wanted(record, keys, built) | _list_page_posts(record, pages, keys)
        for key in keys:
            if key[0] == "incident":
                shows.update(record.latest(k).log_index for k in verdicts_on.get(key[1], []))
        record.bodies.fetch(shows)
        for key in keys:
            fragments.of(record, key)
        shown = {
            media_path(sha, record.media[sha]): sha
            for _, frag in fragments.all(record)
            for sha in frag.get("media", [])
            if sha in record.media
        }
        for path, sha in shown.items():
            if not (site / path).exists():
                files[path] = media_content(session, sha)
        for key in sorted(keys):
            files.update(pages.subject(key))
            files[api_path(key)] = api_subject(record, key)
        files.update(_list_pages(record, pages, {p.key for p in paged}, built))
        files.update(
            global_files(record, pages, fragments, heads=heads_file(session, now=utcnow()))
        )
        files.update(_search(site, record, {p.key for p in paged}, fragments))
        log_bodies = {i: record.posts[i].body for i in log_entries_to_write(built, record.size)}
    leaf_hashes = [post.leaf_hash for post in record.posts]
    fresh = {rel: data for rel, data in files.items() if not (site / rel).exists()}
    changed = {rel: data for rel, data in files.items() if rel not in fresh}
    _write_files(site, fresh)
    write_log_from_hashes(
        site / "log", leaf_hashes, log_bodies, record.checkpoint, previous_size=built
    )
    _write_files(
        site, {rel: data for rel, data in changed.items() if (site / rel).read_bytes() != data}
    )
    deleted = 0
    media_dir = site / "media"
    if media_dir.is_dir():
        for found in sorted(media_dir.iterdir()):
            if f"media/{found.name}" not in shown and not found.name.startswith("."):
                found.unlink()
                deleted += 1
    if len(paged) != len(new):  # the publication key was rotated: keys/ names both
        write_public_keys(site / "keys", home)
    atomic_write(site / MARKER, marker_bytes(record.size), mode=MODE)
    remember(home, site, record.size)
    save_cache(home, fragments, record)
    return UpdateResult(site, len(new), len(files), deleted)
