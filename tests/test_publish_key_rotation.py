"""Rotating the publication key: a post of kind "key", signed by the old key, hands over.

On SQLite and PostgreSQL: posts before and after the rotation verify, as a post and
as a whole mirrored log, whether the reader pinned the old key or the new; the site
publishes the new key and keeps the old under keys/retired/; a key outside the chain
and a tampered handover are refused; a kill -9 at each step of the rotation leaves a
key that signs, and the next load finishes the rotation; the migration widens the
kind constraint on a database that already holds posts.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from cli_process import start_cli
from conftest import PASSPHRASE, DeskFixture
from publish_site_helpers import PublishedDesk, published_factory
from sijil.desk.audit import audit_desk
from sijil.errors import ConfigError, PublicationError
from sijil.publish.incremental import update_site
from sijil.publish.key_rotation import rotate_publication_key
from sijil.publish.keys import PublicationKey, PublicationPublic, key_file
from sijil.publish.site import build_site
from sijil.publish.verify import verify_log, verify_post
from sijil.store import Publication, Store
from sijil.store.migrate import alembic_config

RUN_TIMEOUT_S = 120


@pytest.fixture
def make_published(
    make_desk: Callable[..., DeskFixture], fast_kdf: object
) -> Callable[..., PublishedDesk]:
    return published_factory(make_desk, fast_kdf)  # type: ignore[arg-type]


def _reload_posts(desk: PublishedDesk) -> None:
    """The helper signs with ``desk.key`` and keeps its own list of the log's bodies."""
    desk.key = PublicationKey.load(desk.home, PASSPHRASE)
    with desk.home.open_store() as store, store.session() as session:
        bodies = session.scalars(select(Publication.body).order_by(Publication.log_index))
        desk.posts = [bytes(b) for b in bodies]


def _site(desk: PublishedDesk, out: Path) -> Path:
    with desk.home.open_store() as store:
        build_site(desk.home, store, out)
    return out


@pytest.fixture
def rotated_site(
    make_published: Callable[..., PublishedDesk], store_url: str, tmp_path: Path
) -> tuple[PublishedDesk, Path, Path]:
    """Two incidents, the key rotated, two more incidents; the site built; the old key kept."""
    desk = make_published(store_url)
    desk.incident("RAQ-0001")
    desk.incident("RAQ-0002")
    old = tmp_path / "old.pub"
    old.write_text(desk.key.public.minisign_public())
    rotate_publication_key(desk.home, PASSPHRASE, by="dima")
    _reload_posts(desk)
    desk.incident("RAQ-0003")
    desk.incident("RAQ-0004")
    return desk, _site(desk, tmp_path / "site"), old


def test_posts_before_and_after_the_rotation_verify_with_the_old_or_the_new_key(
    rotated_site: tuple[PublishedDesk, Path, Path], tmp_path: Path
) -> None:
    desk, site, old = rotated_site
    new = tmp_path / "new.pub"
    new.write_text(desk.key.public.minisign_public())
    # Then the log holds the rotation post at index 2, signed by the old key
    rotation = json.loads((site / "posts" / "2.json").read_bytes())
    assert rotation["kind"] == "key"
    assert rotation["key"]["new_key_id"] == desk.key.key_id.hex()
    # And every post, and the whole log, verify against either pinned key
    for pinned in (old, new, None):
        log = verify_log(site, public_key=pinned)
        assert log.size == 5 and log.posts_checked == 5
        for index in range(5):
            checked = verify_post(site / "posts" / f"{index}.json", public_key=pinned)
            assert checked.log_index == index
    # And the site names the new key, with the old one kept under keys/retired/
    current = PublicationPublic.from_minisign((site / "keys" / "publication.pub").read_text())
    assert current.raw == desk.key.public.raw
    retired = list((site / "keys" / "retired").glob("*.pub"))
    assert len([p for p in retired if not p.name.endswith(".ssh.pub")]) == 1
    # And the desk's audit passes (the rotation is a custody entry like any post)
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        audit = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
    assert audit.problems == []


def test_a_key_outside_the_chain_and_a_tampered_handover_are_refused(
    rotated_site: tuple[PublishedDesk, Path, Path], tmp_path: Path
) -> None:
    _desk, site, _old = rotated_site
    # Given a reader who pinned some other key
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(PublicationKey.generate().public.minisign_public())
    with pytest.raises(PublicationError, match="do not include your key"):
        verify_log(site, public_key=stranger)
    # When the handover's new key is swapped for another (the acceptance then fails)
    post = site / "posts" / "2.json"
    doc = json.loads(post.read_bytes())
    doc["key"]["new_public_key"] = doc["key"]["old_public_key"]
    post.write_bytes(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())
    with pytest.raises(PublicationError):
        verify_log(site)


def test_an_updated_site_shows_the_rotation_and_verifies_with_the_key_pinned_before(
    make_published: Callable[..., PublishedDesk], store_url: str, tmp_path: Path
) -> None:
    # Given a site built before the rotation
    desk = make_published(store_url)
    desk.incident("RAQ-0001")
    site = _site(desk, tmp_path / "site")
    (tmp_path / "old.pub").write_bytes((site / "keys" / "publication.pub").read_bytes())
    # When the key is rotated, a post follows, and the site is updated in place
    rotate_publication_key(desk.home, PASSPHRASE, by="dima")
    _reload_posts(desk)
    desk.incident("RAQ-0002")
    with desk.home.open_store() as store:
        assert update_site(desk.home, store) is not None
    # Then the old key still verifies the whole log, and keys/ names both
    assert verify_log(site, public_key=tmp_path / "old.pub").size == 3
    assert verify_log(site).size == 3
    assert (site / "keys" / "publication.pub").read_bytes() != (tmp_path / "old.pub").read_bytes()
    assert [p.name for p in (site / "keys" / "retired").glob("*.pub")]


# (crash point, whether the new key is in force afterwards, whether `rotate` must be run
# again to finish: before publication.json names the new key, only the log can say
# whether the announcement was committed, and signing waits for it)
POINTS = [
    ("pubkey.before_key", False, False),
    ("pubkey.key_written", True, True),
    ("pubkey.before_commit", True, True),
    ("pubkey.post_committed", True, True),
    ("pubkey.public_written", True, False),
    ("pubkey.done", True, False),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "rotated", "rerun"), POINTS, ids=[p[0] for p in POINTS])
def test_kill_9_during_publication_key_rotation_leaves_a_key_that_signs(
    make_published: Callable[..., PublishedDesk],
    store_url: str,
    tmp_path: Path,
    point: str,
    rotated: bool,
    rerun: bool,
) -> None:
    # Given a desk with one post
    desk = make_published(store_url)
    desk.incident("RAQ-0001")
    old = desk.key.public
    # When `sijil publish key rotate` is killed at the point
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJIL_")}
    env.update(SIJIL_PASSPHRASE=PASSPHRASE, SIJIL_TEST_CRASH_AT=f"{point}:1")
    argv = ["publish", "key", "rotate", "--as", "dima", *desk.desk.args]
    process = start_cli(argv, env, tmp_path / "run.out")
    process.join(RUN_TIMEOUT_S)
    assert process.exitcode == -signal.SIGKILL, (tmp_path / "run.out").read_text()
    # Then loading the key either works (old key, or new with the rotation finished), or
    # says in one line to run the rotation again, which finishes it and starts no other
    if rerun:
        with pytest.raises(ConfigError, match="rotation was cut short"):
            PublicationKey.load(desk.home, PASSPHRASE)
        again = rotate_publication_key(desk.home, PASSPHRASE, by="dima")
        assert again.finished_earlier
    _reload_posts(desk)
    assert (desk.key.public.raw != old.raw) is rotated
    assert PublicationKey.unlock(key_file(desk.home).read_bytes(), PASSPHRASE).previous is None
    kinds = [json.loads(b)["kind"] for b in desk.posts]
    assert kinds.count("key") == int(rotated)
    # And posting goes on, and the site verifies against the key pinned before
    desk.incident("RAQ-0002")
    site = _site(desk, tmp_path / "site")
    pinned = tmp_path / "old.pub"
    pinned.write_text(old.minisign_public())
    assert verify_log(site, public_key=pinned).size == len(kinds) + 1


def test_the_migration_widens_the_kind_constraint_on_a_database_with_posts(
    make_published: Callable[..., PublishedDesk], store_url: str
) -> None:
    from alembic import command

    # Given a database holding a post, taken back to revision 0015
    desk = make_published(store_url)
    desk.incident("RAQ-0001")
    store: Store
    with desk.home.open_store() as store, store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0015")
    insert = text(
        "UPDATE publications SET kind = 'key' WHERE log_index = 0"
    )  # what a rotation post needs
    with desk.home.open_store() as store:  # opening migrates it to the newest schema again
        with store.session(write=True) as session:
            session.execute(insert)
        with store.session() as session:
            kinds = session.scalars(select(Publication.kind)).all()
    assert kinds == ["key"]
