"""The static site: pages in both languages, a build that swaps in whole, and incremental updates.

Posts are inserted as the posting gate would leave them (tests/publish_site_helpers.py);
the site is built from the database and the publication public key only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from conftest import PASSPHRASE
from publish_site_helpers import PublishedDesk, jpeg, published_factory, site_file
from sijil.errors import ConfigError
from sijil.publish.incremental import update_site
from sijil.publish.site import MARKER, build_site
from sijil.publish.snapshot import write_snapshot


@pytest.fixture
def make_published(
    make_desk: Callable[..., object], fast_kdf: object
) -> Callable[..., PublishedDesk]:
    return published_factory(make_desk, fast_kdf)  # type: ignore[arg-type]


def _build(desk: PublishedDesk, out: Path, **options: object) -> object:
    with desk.home.open_store() as store:
        return build_site(desk.home, store, out, **options)  # type: ignore[arg-type]


def _update(desk: PublishedDesk) -> object:
    with desk.home.open_store() as store:
        return update_site(desk.home, store)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


@pytest.fixture
def published(make_published: Callable[..., PublishedDesk], store_url: str) -> PublishedDesk:
    """Three incidents (one with a photo), a verdict resting on the first, on either database."""
    desk = make_published(store_url)
    desk.incident("RAQ-0001", media=[jpeg(1)])
    desk.incident("RAQ-0002")
    desk.incident("ALP-0003")
    desk.verdict("CLM-0001", incidents=["RAQ-0001"])
    return desk


def test_build_writes_both_languages_with_the_incident_its_grading_and_signed_posts(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a desk with published incidents and a verdict
    site = tmp_path / "site"

    # When the site is built
    _build(published, site)

    # Then /ar/ is right to left and /en/ left to right, each naming the other
    ar = site_file(site, "ar/incident/RAQ-0001.html")
    en = site_file(site, "en/incident/RAQ-0001.html")
    assert '<html lang="ar" dir="rtl">' in ar and '<html lang="en" dir="ltr">' in en
    assert 'hreflang="en" href="../../en/incident/RAQ-0001.html"' in ar
    assert 'hreflang="ar" href="../../ar/incident/RAQ-0001.html"' in en
    # with the grading and its definition, the casualty range, the attribution, the photo
    assert "Fair" in en and "with a strike confirmed nearby" in en
    assert "معقول" in ar and "مع تأكيد حدوث ضربة" in ar
    assert re.search(r"<bdi dir=\"ltr\">3–5</bdi>", en)
    assert "International Coalition" in en and "suspected" in en
    sha = hashlib.sha256(jpeg(1)).hexdigest()
    assert f'src="../../media/{sha}.jpg"' in en
    assert (site / "media" / f"{sha}.jpg").read_bytes() == jpeg(1)
    # and the verdict resting on it is linked both ways
    assert 'href="../../en/verdict/CLM-0001.html"' in en
    assert 'href="../../ar/incident/RAQ-0001.html"' in site_file(site, "ar/verdict/CLM-0001.html")
    # The posts are served byte for byte with their signatures, and the log and keys are there
    assert (site / "posts/0.json").read_bytes() == published.posts[0]
    assert (site / "posts/0.json.minisig").read_text().startswith("untrusted comment:")
    assert (site / "log/checkpoint").read_text().startswith(published.key.origin)
    assert (site / "keys/publication.pub").is_file() and (site / "keys/allowed_signers").is_file()
    # and the root sends readers to Arabic first
    assert "url=ar/index.html" in site_file(site, "index.html")


def test_pages_load_nothing_from_elsewhere_and_never_name_an_editor(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a built site
    site = tmp_path / "site"
    _build(published, site)
    pages = [p for p in site.rglob("*.html")]

    # Then every page has the CSP for its own origin, and no link or source leaves the site
    assert len(pages) > 20
    for page in pages:
        html = unescape(page.read_text(encoding="utf-8"))
        assert "Content-Security-Policy\" content=\"default-src 'self';" in html, page
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page
        assert "<style" not in html and " style=" not in html and "<script>" not in html, page
    assert "Content-Security-Policy: default-src 'self'" in site_file(site, "_headers")
    # and the editor who published stays internal
    everything = b"".join(p.read_bytes() for p in site.rglob("*") if p.is_file())
    assert b"dima" not in everything
    # and the Arabic webfont is served from the site itself
    assert (site / "static/fonts/noto-naskh-arabic-400.woff2").stat().st_size > 10_000
    assert 'url("fonts/noto-naskh-arabic-400.woff2")' in site_file(site, "static/site.css")


def test_a_correction_shows_the_new_values_and_the_history_of_both_versions(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given an incident corrected after it was published
    published.correct("RAQ-0002", reason="the casualty count was wrong", killed=(7, 9))
    site = tmp_path / "site"

    # When the site is built
    _build(published, site)

    # Then the page shows the corrected range and both versions with the reason
    en = site_file(site, "en/incident/RAQ-0002.html")
    assert "7–9" in en and "3–5" not in en
    assert "the casualty count was wrong" in en and "Corrected" in en
    assert 'href="../../posts/1.json"' in en and 'href="../../posts/4.json"' in en


def test_a_retraction_leaves_a_tombstone_page_and_takes_its_photo_off_the_site(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given an incident with a photo, then withdrawn
    published.retract("incident", "RAQ-0001", reason="a safety concern")
    site = tmp_path / "site"

    # When the site is built
    _build(published, site)

    # Then its page says it was withdrawn and why, with nothing of the withdrawn content
    en = site_file(site, "en/incident/RAQ-0001.html")
    assert "withdrawn" in en and "a safety concern" in en
    assert "Strike on a market" not in en and "Fair" not in en
    assert not list((site / "media").glob("*"))
    # and the verdict no longer links to it
    assert 'href="../../en/incident/RAQ-0001.html"' not in site_file(
        site, "en/verdict/CLM-0001.html"
    )


def test_a_folder_that_is_not_a_site_is_refused_and_left_untouched(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a folder holding someone's files
    out = tmp_path / "documents"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")

    # When a build is aimed at it
    with pytest.raises(ConfigError) as refused:
        _build(published, out)

    # Then it is refused in one line, the folder is as it was, and nothing is left beside it
    assert "\n" not in str(refused.value) and "not empty" in str(refused.value)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_broken_template_is_refused_and_the_previous_site_stays(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a built site, and a copy of the templates with one broken
    site = tmp_path / "site"
    _build(published, site)
    before = _tree(site)
    from sijil.publish.pages import TEMPLATES

    broken = tmp_path / "templates"
    broken.mkdir()
    for path in TEMPLATES.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "incident.html").write_text("{% if %}")

    # When the site is rebuilt with them
    with pytest.raises(ConfigError) as refused:
        _build(published, site, templates=broken)

    # Then one line names the template, the old site is whole, and no build folder is left
    assert "incident.html" in str(refused.value) and "\n" not in str(refused.value)
    assert _tree(site) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]


def test_a_rebuild_replaces_the_previous_build_whole(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a built site with a stray file in it
    site = tmp_path / "site"
    _build(published, site)
    (site / "ar" / "stray.html").write_text("old")

    # When it is rebuilt
    _build(published, site)

    # Then the new build took its place whole
    assert not (site / "ar" / "stray.html").exists()
    assert json.loads((site / MARKER).read_text())["log_size"] == 4


def test_an_incremental_update_gives_the_same_site_as_a_full_build(
    published: PublishedDesk, tmp_path: Path
) -> None:
    # Given a built site
    site = tmp_path / "site"
    _build(published, site)

    # When a new incident, a correction and a retraction are published and the site updated
    published.incident("DRZ-0004", media=[jpeg(4)])
    published.correct("RAQ-0002", reason="the date was wrong", killed=(4, 4))
    published.retract("incident", "RAQ-0001", reason="a safety concern")
    result = _update(published)

    # Then every file equals what a full build writes, except the search slots' order
    fresh = tmp_path / "fresh"
    _build(published, fresh)
    updated, rebuilt = _tree(site), _tree(fresh)
    assert result.entries == 3 and result.deleted == 1  # type: ignore[attr-defined]
    # (older partial log tiles stay, as C2SP tlog-tiles allows)
    extra = set(updated) - set(rebuilt)
    assert set(rebuilt) <= set(updated) and all(".p/" in rel for rel in extra), extra
    differing = sorted(rel for rel in rebuilt if updated[rel] != rebuilt[rel])
    assert differing == ["search/ar.json", "search/en.json"]
    for lang in ("ar", "en"):
        assert _search_pages(site, lang) == _search_pages(fresh, lang)


def _search_pages(site: Path, lang: str) -> dict[str, set[str]]:
    index = json.loads((site / "search" / f"{lang}.json").read_bytes())
    out: dict[str, set[str]] = {}
    for key, ids in index["keys"].items():
        for i in ids:
            out.setdefault(index["docs"][i][0], set()).add(key)
    return out


def test_the_search_index_is_arabic_aware(published: PublishedDesk, tmp_path: Path) -> None:
    # Given a built site
    site = tmp_path / "site"
    _build(published, site)

    # Then "الرقة" is indexed under its key without the article, as "والرقة" would look it up
    pages = _search_pages(site, "ar")
    raqqa = {page for page, keys in pages.items() if "رقه" in keys}
    assert raqqa == {"incident/RAQ-0001.html"} or "incident/RAQ-0001.html" in raqqa
    assert all("raqa" in keys for page, keys in _search_pages(site, "en").items() if page in raqqa)


def test_update_without_a_site_does_nothing(make_published: Callable[..., PublishedDesk]) -> None:
    # Given a desk that never built its site, When a post is published and update runs
    desk = make_published()
    desk.incident("RAQ-0001")

    # Then there is nothing to update
    assert _update(desk) is None


def test_snapshot_is_deterministic_and_signed(published: PublishedDesk, tmp_path: Path) -> None:
    # Given a built site
    site = tmp_path / "site"
    _build(published, site)

    # When two snapshots are made
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    write_snapshot(site, published.key, first)
    write_snapshot(site, published.key, second)

    # Then they are the same bytes, and the signature verifies under the site's key
    import zipfile

    from sijil.publish import minisign
    from sijil.publish.keys import PublicationPublic

    assert first.read_bytes() == second.read_bytes()
    public = PublicationPublic.load(published.home)
    comment = minisign.verify(public, first.read_bytes(), (tmp_path / "a.zip.minisig").read_text())
    assert "log size 4" in comment
    names = zipfile.ZipFile(first).namelist()
    assert "sijil-site/index.html" in names and f"sijil-site/{MARKER}" not in names


def test_cli_builds_and_snapshots(
    published: PublishedDesk, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    # Given a desk with posts, When the build and snapshot commands run
    site, zipped = tmp_path / "site", tmp_path / "site.zip"
    built = run_cli("publish", "build", *published.desk.args, "--out", str(site))
    snap = run_cli("publish", "snapshot", "--home", str(published.home.root), "--out", str(zipped))

    # Then both say what they wrote
    assert built.code == 0, built.err  # type: ignore[attr-defined]
    assert "4 post(s)" in built.out  # type: ignore[attr-defined]
    assert snap.code == 0, snap.err  # type: ignore[attr-defined]
    assert zipped.is_file() and (tmp_path / "site.zip.minisig").is_file()

    # And a build aimed at a folder of other files is refused in one line
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    refused = run_cli("publish", "build", *published.desk.args, "--out", str(other))
    assert refused.code != 0 and len(refused.err.strip().splitlines()) == 1  # type: ignore[attr-defined]
    assert PASSPHRASE not in refused.err  # type: ignore[attr-defined]


def test_the_site_carries_one_signed_ledger_head_a_day_old_and_no_entries(
    published: PublishedDesk, tmp_path: Path
) -> None:
    import base64
    from datetime import timedelta

    from sijil.ledger import log as ledger_log
    from sijil.ledger.entries import EntryKind, NewEntry
    from sijil.ledger.heads import SignedHead, issue_head
    from sijil.store import LedgerEntry, LedgerNode, utcnow

    # Given a desk whose ledger records an original file, with a head two days old and
    # one issued just now
    identity = published.home.unlock(PASSPHRASE)
    original = hashlib.sha256(b"an original photo").hexdigest()
    with published.home.open_store() as store:
        with store.session(write=True) as session:
            received = NewEntry(kind=EntryKind.ENVELOPE_RECEIVED, subject=original)
            opened = NewEntry(kind=EntryKind.ENVELOPE_OPENED, subject=original)
            ledger_log.append(session, [received, opened])
            old, _ = issue_head(session, identity.sign, at=utcnow() - timedelta(days=2))
            issue_head(session, identity.sign)
        with store.session() as session:
            # the hashes the ledger's entries name (envelopes, originals' blobs) and its nodes
            named = {e.subject for e in session.query(LedgerEntry) if len(e.subject) == 64}
            named |= {n.hash.hex() for n in session.query(LedgerNode)}
    # When the site is built
    site = tmp_path / "site"
    _build(published, site)
    # Then ledger/heads.json holds only the old head, and it verifies under the ledger key
    (shown,) = json.loads((site / "ledger" / "heads.json").read_text())["heads"]
    signed = SignedHead(
        body=shown["tree_head"].encode(), signature=base64.b64decode(shown["signature"])
    )
    assert signed.verify(identity.sign.public_key()).tree_size == old.tree_size
    assert shown["tree_head"] == old.body
    # And no hash an entry names (an envelope, an original file) nor a node appears on the site
    everything = b"".join(_tree(site).values())
    # (the head's own root is public by design: it is what the head signs)
    assert original in named
    assert not any(h.encode() in everything for h in named - {old.root_hash})
