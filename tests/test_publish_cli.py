"""``sijil publish post|correct|retract|attest|check|override|tier|deny|settings`` on
SQLite and PostgreSQL: a round trip to a built site that ``sijil publish verify``,
minisign and ssh-keygen accept (the command lines quoted in docs/publish.md), the
refusals, and a passphrase change that the publication key follows."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import PASSPHRASE, CliResult, Evidence
from incident_work import incident_work
from publish_helpers import PublishDesk, publish_desk_factory
from sijil.crypto.kdf import KdfParams
from sijil.desk.users import set_solo
from sijil.publish.keys import SSH_IDENTITY, PublicationKey
from sijil.store import LedgerEntry, Publication, PublicationCheckpoint

DOC = Path(__file__).resolve().parents[1] / "docs" / "publish.md"
NEW = "a new desk passphrase"


@pytest.fixture
def make_publish_desk(evidence: Evidence, fast_kdf: KdfParams) -> Callable[[], PublishDesk]:
    return publish_desk_factory(evidence, fast_kdf)


def _args(desk: PublishDesk) -> list[str]:
    return desk.work.evidence.desk.args


def _written(desk: PublishDesk | Evidence) -> tuple[int, int, int]:
    evidence = desk.work.evidence if isinstance(desk, PublishDesk) else desk
    with evidence.desk.home.open_store() as store, store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Publication)) or 0,
            s.scalar(select(func.count()).select_from(PublicationCheckpoint)) or 0,
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def _one_line_error(result: CliResult) -> str:
    assert result.code != 0
    assert result.err.startswith("sijil: error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err + result.out
    return result.err


def _doc_command(prefix: str, index: int) -> tuple[list[str], str | None]:
    """The command line docs/publish.md quotes that starts with ``prefix``, for post ``index``."""
    lines = [line.strip() for line in DOC.read_text().splitlines()]
    line = next(x for x in lines if x.startswith(prefix))
    line = line.replace("<identity>", SSH_IDENTITY).replace("posts/N.", f"posts/{index}.")
    command, _, stdin = line.partition(" < ")
    return shlex.split(command), (stdin.strip() or None)


def _run_doc_command(prefix: str, site: Path, index: int) -> subprocess.CompletedProcess[bytes]:
    argv, stdin = _doc_command(prefix, index)
    data = (site / stdin).read_bytes() if stdin else None
    return subprocess.run(argv, cwd=site, input=data, capture_output=True, check=False)


def test_post_from_the_cli_builds_into_a_site_that_stock_tools_verify(
    make_publish_desk: Callable[[], PublishDesk],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a reviewed incident on a desk with a publication key
    desk = make_publish_desk()
    args = _args(desk)
    # When the editor runs the gate dry before attesting, it names the attestation and exits 3
    dry = run_cli("publish", "check", *args, desk.code)
    assert dry.code == 3 and "fails attestation" in dry.out and "where: " in dry.out
    assert _written(desk)[0] == 0
    # When they attest, the dry run passes; then they post
    attested = run_cli("publish", "attest", *args, "--as", "badr", desk.code)
    assert attested.code == 0 and "faces, voices and rooftops" in attested.out
    assert run_cli("publish", "check", *args, desk.code).code == 0
    posted = run_cli("publish", "post", *args, "--as", "badr", desk.code)
    # Then it prints the entry, the version, where and when as published, and how to rebuild
    assert posted.code == 0, posted.err
    out = posted.out
    assert f"log entry 0: post of incident {desk.code} version 1" in out
    assert "independently reviewed" in out
    assert re.search(r"where: .* at 3\d\.\d+, 3\d\.\d+ \(H3 cell [0-9a-f]+\)", out)
    assert re.search(r"when: 2017-06-\d\d to 2017-06-\d\d \(week\)", out)
    assert "sijil publish build --home " in out
    # When the site is built and checked the way a reader would
    site = tmp_path / "site"
    built = run_cli("publish", "build", *args, "--out", str(site))
    assert built.code == 0, built.err
    verified = run_cli("publish", "verify", str(site / "posts" / "0.json"))
    # Then sijil, minisign and ssh-keygen each accept the post
    assert verified.code == 0 and verified.out.startswith("ok: 0.json is signed"), verified.err
    minisign = _run_doc_command("minisign -V", site, 0)
    assert minisign.returncode == 0, minisign.stderr
    assert b"Signature and comment signature verified" in minisign.stderr + minisign.stdout
    ssh = _run_doc_command("ssh-keygen -Y verify", site, 0)
    assert ssh.returncode == 0, ssh.stderr
    assert f'Good "sijil-post" signature for {SSH_IDENTITY}' in (ssh.stdout + ssh.stderr).decode()
    pinned, _ = _doc_command("sijil publish verify --key publication.pub SITE/posts/", 0)
    pinned = [a.replace("publication.pub", str(site / "keys" / "publication.pub")) for a in pinned]
    pinned = [a.replace("SITE", str(site)) for a in pinned[1:]]
    assert run_cli(*pinned).code == 0
    assert run_cli("publish", "verify", str(site)).code == 0


def test_correct_and_retract_from_the_cli(
    make_publish_desk: Callable[[], PublishDesk],
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a posted verdict, and a site built from it
    desk = make_publish_desk()
    args = [*_args(desk), "--as", "badr"]
    assert run_cli("publish", "attest", *args, desk.verdict).code == 0
    assert run_cli("publish", "post", *args, desk.verdict).code == 0
    site = tmp_path / "site"
    assert run_cli("publish", "build", *_args(desk), "--out", str(site)).code == 0
    # When it is corrected and then retracted by its claim's id
    corrected = run_cli(
        "publish", "correct", *args, "--reason-ar", "تصحيح", "--reason-en", "a typo", desk.verdict
    )
    retracted = run_cli(
        "publish", "retract", *args, "--reason-ar", "سحب", "--reason-en", "withdrawn", desk.claim
    )
    # Then each says which entry and version it is, and the tombstone supersedes the correction
    assert corrected.code == 0 and (
        f"log entry 1: correction of verdict {desk.claim} version 2, supersedes entry 0"
        in corrected.out
    )
    assert retracted.code == 0 and (
        f"log entry 2: retraction of verdict {desk.claim} version 3, supersedes entry 1"
        in retracted.out
    )
    with desk.tx() as s:
        tomb = s.get(Publication, 2)
        assert tomb is not None and json.loads(tomb.body)["verdict"] is None
    # And each brought the site up to date: the tombstone is served, signed, and verifies
    assert "site updated" in corrected.out and "site updated" in retracted.out
    assert (site / "posts" / "2.json").read_bytes() == tomb.body
    assert run_cli("publish", "verify", str(site / "posts" / "2.json")).code == 0


def test_a_desk_without_a_publication_key_refuses_in_one_line_and_writes_nothing(
    evidence: Evidence, run_cli: Callable[..., CliResult]
) -> None:
    # Given reviewed work on a desk that never made a publication key
    work = incident_work(evidence)
    before = _written(evidence)
    # When an editor posts
    result = run_cli("publish", "post", *evidence.desk.args, "--as", "badr", work.code)
    # Then one line names the fix, and nothing is written
    err = _one_line_error(result)
    assert "has no publication key" in err and "sijil publish key init" in err
    assert _written(evidence) == before


def test_bad_input_gives_one_line_and_a_non_zero_exit(
    make_publish_desk: Callable[[], PublishDesk], run_cli: Callable[..., CliResult]
) -> None:
    desk = make_publish_desk()
    args = [*_args(desk), "--as", "badr"]
    before = _written(desk)
    # An unknown incident code
    assert "no incident SJ-2026-0099" in _one_line_error(
        run_cli("publish", "post", *args, "SJ-2026-0099")
    )
    # Not a code at all
    assert "is not an incident code" in _one_line_error(
        run_cli("publish", "check", *_args(desk), "nonsense")
    )
    # A tier that does not exist
    bad_tier = run_cli("publish", "tier", "set", *args, desk.code, "apocalyptic")
    assert bad_tier.code == 2 and "'apocalyptic' is not one of" in bad_tier.err
    # A correction or retraction without a reason
    assert "say why" in _one_line_error(run_cli("publish", "correct", *args, desk.code))
    assert "say why" in _one_line_error(
        run_cli("publish", "retract", *args, "--reason-ar", " ", desk.code)
    )
    # An override with an empty reason, or of a check that cannot be overridden
    assert run_cli("publish", "attest", *args, desk.code).code == 0
    assert "say why" in _one_line_error(
        run_cli("publish", "override", *args, "--reason", "  ", "delay", desk.code)
    )
    assert "cannot be overridden" in _one_line_error(
        run_cli("publish", "override", *args, "--reason", "x", "flagged", desk.code)
    )
    assert "may override are" in _one_line_error(
        run_cli("publish", "override", *args, "--reason", "x", "everything", desk.code)
    )
    # A setting that does not exist, and one with a bad value
    assert "no publishing setting" in _one_line_error(
        run_cli("publish", "settings", "set", *_args(desk), "--as", "amal", "delay", "3")
    )
    assert "whole number of hours" in _one_line_error(
        run_cli(
            "publish", "settings", "set", *_args(desk), "--as", "amal", "publish.delay_hours", "1.5"
        )
    )
    # A user who may not post
    assert _one_line_error(run_cli("publish", "post", *_args(desk), "--as", "omar", desk.code))
    # And nothing was published
    assert _written(desk)[:2] == before[:2]


def test_tier_deny_settings_and_override_from_the_cli(
    make_publish_desk: Callable[[], PublishDesk], run_cli: Callable[..., CliResult]
) -> None:
    desk = make_publish_desk()
    args = _args(desk)
    # Given an extreme tier: a governorate's centroid (the country here: the incident has a
    # point but no governorate), by month
    tier = run_cli("publish", "tier", "set", *args, "--as", "badr", desk.code, "extreme")
    assert tier.code == 0 and "governorate centroid" in tier.out
    dry = run_cli("publish", "check", *args, desk.code)
    assert "where: Syria / سوريا (country)" in dry.out and "(month)" in dry.out
    # And a settings table with its defaults and help
    shown = run_cli("publish", "settings", "show", *args)
    assert "publish.delay_hours = 24  (default 24): hours after an event" in shown.out
    changed = run_cli(
        "publish", "settings", "set", *args, "--as", "amal", "publish.delay_hours", "6"
    )
    assert changed.code == 0 and changed.out.strip() == "publish.delay_hours = 6"
    # When a term of the title is deny-listed, the add does not echo it
    added = run_cli("publish", "deny", "add", *args, "--as", "badr", "--class", "name", "vegetable")
    assert added.code == 0 and "vegetable" not in added.out
    listed = run_cli("publish", "deny", "list", *args, "--json")
    assert [(t["id"], t["class"], t["term"]) for t in json.loads(listed.out)] == [
        (1, "name", "vegetable")
    ]
    assert run_cli("publish", "attest", *args, "--as", "badr", desk.code).code == 0
    refused = _one_line_error(run_cli("publish", "post", *args, "--as", "badr", desk.code))
    assert "leak: name (term) in incident.title.en" in refused and "vegetable" not in refused
    # Then one person's override is not enough, two are
    first = run_cli(
        "publish", "override", *args, "--as", "badr", "--reason", "ok", "leak", desk.code
    )
    assert first.code == 0 and "takes effect when another person approves" in first.out
    assert _one_line_error(run_cli("publish", "post", *args, "--as", "badr", desk.code))
    second = run_cli(
        "publish", "override", *args, "--as", "dima", "--reason", "ok", "leak", desk.code
    )
    assert second.code == 0 and "it is in effect" in second.out
    posted = run_cli("publish", "post", *args, "--as", "badr", desk.code)
    assert posted.code == 0 and "(country)" in posted.out and "(month)" in posted.out
    # And the term can be taken off the list
    assert run_cli("publish", "deny", "remove", *args, "--as", "badr", "1").code == 0
    assert run_cli("publish", "deny", "list", *args).out.strip() == "The deny list is empty."


def test_a_solo_desk_cannot_override_from_the_cli(
    make_publish_desk: Callable[[], PublishDesk], run_cli: Callable[..., CliResult]
) -> None:
    # Given a desk of one
    desk = make_publish_desk()
    with desk.tx() as s:
        set_solo(s, True)
    # When its editor asks to override a check
    result = run_cli(
        "publish", "override", *_args(desk), "--as", "badr", "--reason", "x", "leak", desk.code
    )
    # Then it is refused: an override needs two people
    assert "solo desk cannot override" in _one_line_error(result)


def test_after_a_passphrase_change_posting_uses_the_new_passphrase(
    make_publish_desk: Callable[[], PublishDesk],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a desk with a publication key, and attested work
    desk = make_publish_desk()
    home = desk.work.evidence.desk.home
    assert run_cli("publish", "attest", *_args(desk), "--as", "badr", desk.code).code == 0
    # When the desk passphrase is changed
    monkeypatch.setenv("SIJIL_NEW_PASSPHRASE", NEW)
    changed = run_cli("desk", "passphrase", "change", "--home", str(home.root))
    assert changed.code == 0 and "publication key are locked" in changed.out
    # Then the old passphrase opens neither key, and a post with the new one goes out
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    assert "wrong passphrase" in _one_line_error(
        run_cli("publish", "post", *_args(desk), "--as", "badr", desk.code)
    )
    monkeypatch.setenv("SIJIL_PASSPHRASE", NEW)
    posted = run_cli("publish", "post", *_args(desk), "--as", "badr", desk.code)
    assert posted.code == 0, posted.err
    assert PublicationKey.load(home, NEW).public.raw == desk.key.public.raw


def test_a_passphrase_change_cut_short_after_the_publication_key_finishes_when_rerun(
    make_publish_desk: Callable[[], PublishDesk],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    fast_kdf: KdfParams,
) -> None:
    # Given a change that re-locked the publication key and stopped before the desk key
    desk = make_publish_desk()
    home = desk.work.evidence.desk.home
    assert PublicationKey.relock(home, PASSPHRASE, NEW, fast_kdf)
    # When the same change is run again
    monkeypatch.setenv("SIJIL_NEW_PASSPHRASE", NEW)
    assert run_cli("desk", "passphrase", "change", "--home", str(home.root)).code == 0
    # Then both keys open with the new passphrase
    assert home.unlock(NEW) and PublicationKey.load(home, NEW)


def test_media_is_attested_and_posted_as_a_re_encoded_derivative(
    make_publish_desk: Callable[[], PublishDesk], run_cli: Callable[..., CliResult]
) -> None:
    # Given a reviewed incident whose primary evidence has a photo
    desk = make_publish_desk()
    args = [*_args(desk), "--as", "badr", "--media", desk.photo]
    # When the draft with the photo is attested and posted
    assert run_cli("publish", "attest", *args, desk.code).code == 0
    posted = run_cli("publish", "post", *args, desk.code)
    # Then the post shows one re-encoded file, not the original
    assert posted.code == 0 and "media: 1 re-encoded file(s)" in posted.out, posted.err
    with desk.tx() as s:
        row = s.get(Publication, 0)
        assert row is not None
        media = json.loads(row.body)["incident"]["media"]
    assert len(media) == 1 and media[0]["sha256"] != desk.photo
    # And a file that is not the incident's evidence is refused in one line
    other = run_cli("publish", "check", *_args(desk), "--media", "0" * 64, desk.code)
    assert "is not a file of a report linked to" in _one_line_error(other)
