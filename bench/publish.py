"""Benchmark: the public site, full build against incremental publish of one post.

    .venv/bin/python bench/publish.py [--incidents 10000] [--verdicts 1000] [--tmpdir DIR]

1. makes a throwaway desk (encrypted SQLite, a publication key) and loads the
   synthetic archive's published posts (bench/archive.py ``publications``, seed 7),
   each signed in both formats, with a tenth of the incidents showing one photo,
   and the log's checkpoint, all but the last post;
2. times ``sijil publish build`` (sijil.publish.site.build_site): the full site into
   a new folder, swapped in; reports files, site size and the largest page;
3. publishes the last post and times the incremental update
   (sijil.publish.incremental.update_site), then a correction of an early incident
   (which touches a verdict and an early list page).

Goals (issue 13): incremental publish <= 2 s and >= 20x faster than a full build.
Exits 0 whatever the verdict.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import Archive, insert_rows, table
from sijil.crypto.canonical import canonical_json
from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.desk.users import add_user, get_user
from sijil.ledger.merkle import leaf_hash
from sijil.publish.incremental import update_site
from sijil.publish.keys import PublicationKey
from sijil.publish.signing import log_root, sign_checkpoint, sign_post
from sijil.publish.site import build_site
from sijil.store.models_publish import (
    Publication,
    PublicationCheckpoint,
    PublicationMedia,
)

PASSPHRASE = "bench passphrase, not secret"  # noqa: S105 (a throwaway desk)


def _photo(seed: int) -> bytes:
    image = Image.new("RGB", (320, 240), ((seed * 53) % 256, (seed * 97) % 256, 120))
    for i, byte in enumerate(seed.to_bytes(4, "big")):  # distinct bytes for every seed
        image.paste((byte, 255 - byte, i * 60), (i * 40, 0, i * 40 + 40, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


class Log:
    """The desk's publication log as posting leaves it: rows, signatures, checkpoints."""

    def __init__(self, home: DeskHome, key: PublicationKey, user: int) -> None:
        self.home, self.key, self.user = home, key, user
        self.bodies: list[bytes] = []
        self.leaves: list[bytes] = []
        self.versions: dict[tuple[str, str], tuple[int, int]] = {}

    def row(
        self, content: dict[str, Any], action: str = "post", reason: Any = None
    ) -> tuple[dict[str, Any], Any]:
        kind, subject = content["kind"], content["subject"]
        version, previous = self.versions.get((kind, subject), (0, None))
        index = len(self.bodies)
        photo = content.get("_photo")
        body_content = dict(content.get(kind) or {}) if action != "retraction" else None
        media = None
        if photo is not None and body_content is not None:
            data = _photo(photo)
            import hashlib

            sha = hashlib.sha256(data).hexdigest()
            body_content["media"] = [
                {"sha256": sha, "media_type": "image/jpeg", "path": f"media/{sha}.jpg"}
            ]
            media = {"sha256": sha, "log_index": index, "media_type": "image/jpeg", "content": data}
        post = {
            "format": "sijil-post/1", "log_index": index, "action": action, "kind": kind,
            "subject": subject, "version": version + 1, "supersedes": previous,
            "published_at": content["published_at"], "independently_reviewed": True,
            "languages": {"ar": "complete", "en": "complete"}, "reason": reason,
            "incident": body_content if kind == "incident" else None,
            "verdict": body_content if kind == "verdict" else None,
        }  # fmt: skip
        body = canonical_json(post)
        signatures = sign_post(self.key, body, trusted_comment=f"sijil post {index}")
        self.bodies.append(body)
        self.leaves.append(leaf_hash(body))
        self.versions[(kind, subject)] = (version + 1, index)
        day = datetime.fromisoformat(content["published_at"]).replace(tzinfo=UTC)
        row = {
            "log_index": index, "action": action, "kind": kind, "subject": subject,
            "version": version + 1, "supersedes": previous, "body": body,
            "leaf_hash": self.leaves[-1].hex(), "minisig": signatures.minisig,
            "sshsig": signatures.sshsig, "independently_reviewed": True,
            "published_at": day, "published_by": self.user,
        }  # fmt: skip
        return row, media

    def load(self, contents: list[dict[str, Any]], **kwargs: Any) -> None:
        rows, media = [], []
        for content in contents:
            row, photo = self.row(content, **kwargs)
            rows.append(row)
            if photo is not None:
                media.append(photo)
        root = log_root(self.leaves)
        note = sign_checkpoint(self.key, self.key.origin, len(self.leaves), root)
        with self.home.open_store() as store, store.engine.begin() as conn:
            insert_rows(conn, table(Publication), rows)
            if media:
                insert_rows(conn, table(PublicationMedia), media)
            insert_rows(conn, table(PublicationCheckpoint), [
                {"size": len(self.leaves), "root_hash": root.hex(), "note": note,
                 "signed_at": datetime.now(UTC)}])  # fmt: skip


def _size(folder: Path) -> tuple[int, int]:
    files = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            files, total = files + 1, total + path.stat().st_size
    return files, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--verdicts", type=int, default=1_000)
    parser.add_argument("--tmpdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sijil-bench-publish-", dir=args.tmpdir))
    try:
        home = DeskHome(root=work / "desk")
        kdf = KdfParams(log_n=10, r=8, p=1)
        home.init(PASSPHRASE, kdf)
        home = home.with_key(home.unlock(PASSPHRASE))
        key = PublicationKey.init(home, PASSPHRASE, kdf)
        with home.open_store() as store, store.session(write=True) as session:
            add_user(session, "bench", ["admin", "editor"], by=None)
            user = get_user(session, "bench").id
        contents = list(Archive(seed=7).publications(args.incidents, args.verdicts))
        log = Log(home, key, user)
        started = time.perf_counter()
        log.load(contents[:-1])
        print(f"loaded {len(contents) - 1:,} signed posts in {time.perf_counter() - started:.1f} s")

        site = work / "site"
        with home.open_store() as store:
            started = time.perf_counter()
            built = build_site(home, store, site)
            full = time.perf_counter() - started
        files, total = _size(site)
        print(f"full build: {full:.1f} s, {files:,} files, {total / 2**20:.1f} MiB, "
              f"largest page {built.largest_page / 1024:.1f} KiB")  # fmt: skip

        timings = []
        for label, batch, options in (
            ("new incident", [contents[-1]], {}),
            ("correction", [dict(contents[0], published_at=contents[-1]["published_at"])],
             {"action": "correction", "reason": {"ar": "تصحيح", "en": "a correction"}}),
        ):  # fmt: skip
            log.load(batch, **options)
            with home.open_store() as store:
                started = time.perf_counter()
                result = update_site(home, store)
                took = time.perf_counter() - started
            timings.append(took)
            assert result is not None and result.entries == 1
            print(f"incremental ({label}): {took:.2f} s, {result.written} files written, "
                  f"{full / took:.0f}x faster than the full build")  # fmt: skip
        worst = max(timings)
        verdict = "met" if worst <= 2 and full / worst >= 20 else "NOT met"
        print(f"goal (<= 2 s and >= 20x): {verdict}; {platform.python_version()}, "
              f"{os.cpu_count()} cores, SQLite (encrypted)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
