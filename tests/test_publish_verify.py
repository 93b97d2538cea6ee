"""Checking a published post and a mirrored log as an outsider would.

The site here is built with the API posting and the site use (sign_post,
sign_checkpoint, write_log, write_public_keys); each tamper (a post, a tile, the
checkpoint, a data tile, a rewritten history) is caught with its own message,
and the stock tools agree with sijil on the same files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CliResult
from sijil.crypto.canonical import canonical_json
from sijil.errors import PublicationError
from sijil.ledger import merkle
from sijil.publish.keys import PublicationKey
from sijil.publish.signing import (
    log_root,
    sign_checkpoint,
    sign_post,
    write_log,
    write_public_keys,
)
from sijil.publish.verify import verify_log, verify_post

ORIGIN = "example.org/sijil-log"


@dataclass
class Site:
    root: Path
    key: PublicationKey
    bodies: list[bytes]

    def post(self, index: int) -> Path:
        return self.root / "posts" / f"{index}.json"

    def grow(self, count: int) -> None:
        """Publish ``count`` more posts, as the posting and site code would."""
        previous = len(self.bodies)
        for index in range(previous, previous + count):
            body = canonical_json(
                {
                    "format": "sijil-post/1",
                    "log_index": index,
                    "action": "post",
                    "subject": f"RAQ-{index:04d}",
                    "summary": {"ar": "غارة جوية", "en": "an airstrike"},
                }
            )
            self.bodies.append(body)
            signatures = sign_post(self.key, body, trusted_comment=f"sijil post {index}")
            self.post(index).write_bytes(body)
            self.post(index).with_name(f"{index}.json.minisig").write_text(signatures.minisig)
            self.post(index).with_name(f"{index}.json.sig").write_text(signatures.sshsig)
        root = log_root(merkle.leaf_hashes(self.bodies))
        note = sign_checkpoint(self.key, ORIGIN, len(self.bodies), root)
        write_log(self.root / "log", self.bodies, note, previous_size=previous)


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Site]:
    """Factory: a site folder holding ``count`` signed posts and their log."""

    def make(count: int = 20, name: str = "site") -> Site:
        root = tmp_path / name
        (root / "posts").mkdir(parents=True)
        key = PublicationKey.generate(ORIGIN)
        write_public_keys(root / "keys", key.public)
        site = Site(root=root, key=key, bodies=[])
        site.grow(count)
        return site

    return make


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def test_a_published_post_verifies(make_site: Callable[..., Site]) -> None:
    # Given a site of 20 posts
    site = make_site(20)
    # When post 17 is checked against a pinned key
    result = verify_post(site.post(17), public_key=site.root / "keys/publication.pub")
    # Then both signatures, the checkpoint and its inclusion check out
    assert (result.log_index, result.log_size, result.origin) == (17, 20, ORIGIN)
    assert result.trusted_comment == "sijil post 17" and result.pinned


@pytest.mark.skipif(shutil.which("minisign") is None, reason="minisign is not installed")
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_stock_tools_verify_the_sites_posts(make_site: Callable[..., Site]) -> None:
    # Given a site
    site = make_site(3)
    keys, post = site.root / "keys", site.post(2)
    # When minisign and ssh-keygen check a post with the site's key files
    mini = subprocess.run(
        ["minisign", "-V", "-p", str(keys / "publication.pub"), "-m", str(post)],
        capture_output=True,
        check=False,
    )
    ssh = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(keys / "allowed_signers"), "-I",
         "publication@sijil", "-n", "sijil-post", "-s", f"{post}.sig"],
        input=post.read_bytes(), capture_output=True, check=False,
    )  # fmt: skip
    # Then both accept it
    assert mini.returncode == 0, mini.stderr
    assert ssh.returncode == 0, ssh.stderr


def test_a_changed_post_is_caught(make_site: Callable[..., Site]) -> None:
    site = make_site(20)
    flip(site.post(17), 30)
    with pytest.raises(PublicationError, match="the post was changed after signing"):
        verify_post(site.post(17))


def test_a_changed_hash_tile_is_caught(make_site: Callable[..., Site]) -> None:
    # Given a site whose level-0 hash tile was edited at post 16 (17's sibling)
    site = make_site(20)
    flip(site.root / "log/tile/0/000.p/20", 16 * 32)
    # Then post 17 is no longer proven in the log, and the mirror check names the tile
    with pytest.raises(PublicationError, match="the log does not contain this post at index 17"):
        verify_post(site.post(17))
    with pytest.raises(PublicationError, match=r"tile tile/0/000\.p/20 does not match"):
        verify_log(site.root)


def test_a_changed_data_tile_is_caught(make_site: Callable[..., Site]) -> None:
    site = make_site(20)
    tile = site.root / "log/tile/entries/000.p/20"
    flip(tile, len(tile.read_bytes()) - 5)  # inside the last entry, post 19
    with pytest.raises(PublicationError, match="data tile holds other bytes at index 19"):
        verify_post(site.post(19))


def test_a_changed_checkpoint_is_caught(make_site: Callable[..., Site]) -> None:
    # Given a checkpoint whose size line was edited (20 -> 21)
    site = make_site(20)
    checkpoint = site.root / "log/checkpoint"
    checkpoint.write_text(checkpoint.read_text().replace("\n20\n", "\n21\n", 1))
    # Then its signature no longer verifies
    with pytest.raises(PublicationError, match="the checkpoint's signature does not verify"):
        verify_post(site.post(3))


def test_a_key_other_than_the_pinned_one_is_named(make_site: Callable[..., Site]) -> None:
    # Given a site and a reader who pinned another site's key
    site, other = make_site(2), make_site(1, name="other")
    # Then the signatures are said to be by another key
    with pytest.raises(PublicationError, match="made by another key"):
        verify_post(site.post(1), public_key=other.root / "keys/publication.pub")


def test_a_post_newer_than_the_checkpoint_is_not_in_the_log(make_site: Callable[..., Site]) -> None:
    # Given a site whose checkpoint is older than post 20 (the log grew, then rolled back)
    site = make_site(20)
    old_checkpoint = (site.root / "log/checkpoint").read_bytes()
    site.grow(1)
    (site.root / "log/checkpoint").write_bytes(old_checkpoint)
    # Then post 20 is said not to be in the log
    with pytest.raises(PublicationError, match="does not contain this post at index 20"):
        verify_post(site.post(20))


def test_a_mirror_checks_the_whole_log_and_that_it_only_grew(
    make_site: Callable[..., Site],
) -> None:
    # Given a mirror that kept the checkpoint of a 20-post log, which then grew past a tile
    site = make_site(20)
    kept = (site.root / "log/checkpoint").read_bytes()
    site.grow(250)
    # When the whole log is checked against the kept checkpoint
    result = verify_log(site.root, since=kept)
    # Then every tile, entry and post agrees and the log only grew
    assert (result.size, result.posts_checked) == (270, 270)


def test_a_rewritten_history_is_caught_by_a_mirror(make_site: Callable[..., Site]) -> None:
    # Given a mirror's checkpoint, then the whole log rewritten and re-signed with post 3 changed
    site = make_site(20)
    kept = (site.root / "log/checkpoint").read_bytes()
    doc = json.loads(site.bodies[3])
    doc["summary"]["en"] = "nothing happened"
    site.bodies[3] = canonical_json(doc)
    shutil.rmtree(site.root / "log")
    root = log_root(merkle.leaf_hashes(site.bodies))
    write_log(site.root / "log", site.bodies, sign_checkpoint(site.key, ORIGIN, 20, root))
    # Then the new log checks alone, but not against what the mirror kept
    with pytest.raises(PublicationError, match="first 20 entries were changed"):
        verify_log(site.root, since=kept)
    # And the old posts/3.json no longer matches the log's entry
    with pytest.raises(PublicationError, match=r"posts/3\.json differs"):
        verify_log(site.root)


def test_cli_verify_says_which_key_it_used(
    make_site: Callable[..., Site], run_cli: Callable[..., CliResult]
) -> None:
    # Given a site
    site = make_site(5)
    # When a post is verified without and with a pinned key, and the site as a whole
    unpinned = run_cli("publish", "verify", str(site.post(4)))
    pinned = run_cli(
        "publish", "verify", str(site.post(4)), "--key", str(site.root / "keys/publication.pub")
    )
    whole = run_cli("publish", "verify", str(site.root))
    # Then each succeeds, and only the unpinned ones say the site's own key was used
    assert unpinned.code == 0 and "entry 4 of the publication log" in unpinned.out
    assert "site's own" in unpinned.err
    assert pinned.code == 0 and "site's own" not in pinned.err
    assert whole.code == 0 and "5 entries" in whole.out


def test_cli_verify_fails_in_one_line(
    make_site: Callable[..., Site], run_cli: Callable[..., CliResult]
) -> None:
    site = make_site(5)
    flip(site.post(2), 10)
    result = run_cli("publish", "verify", str(site.post(2)))
    assert result.code != 0
    errors = [line for line in result.err.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1 and "the post was changed after signing" in errors[0]
