"""``sijil desk user|place|actor|incident|review`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import CliResult, DeskFixture
from desk_work_helpers import Desk, small_gazetteer
from sijil.desk.home import DeskHome
from sijil.desk.users import is_solo
from sijil.store import Attachment, MediaMatch

Cli = Callable[..., CliResult]


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


@pytest.fixture
def sijil(desk: DeskFixture, run_cli: Cli) -> Callable[..., CliResult]:
    """``sijil desk ARGS --home ... --db ...``, expected to succeed unless ``fails=True``."""

    def run(*args: str, fails: bool = False) -> CliResult:
        result = run_cli("desk", *args, *desk.args)
        if fails:
            assert result.code == 1, result
            assert result.err.startswith("sijil: error: ") and result.err.count("\n") == 1
        else:
            assert result.code == 0, result.err
        return result

    return run


def _json(result: CliResult) -> object:
    return json.loads(result.out)


def test_a_night_at_the_desk_from_users_to_a_reviewed_assessment(
    sijil: Callable[..., CliResult],
    desk: DeskFixture,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an admin-editor, a reviewer, the gazetteer and an actor
    sijil("user", "add", "amal", "--role", "admin", "--role", "editor")
    sijil("user", "add", "dima", "--role", "reviewer", "--as", "amal")
    assert _json(sijil("user", "list", "--json")) == [
        {"name": "amal", "roles": ["admin", "editor"]},
        {"name": "dima", "roles": ["reviewer"]},
    ]
    places = tmp_path / "places.json"
    places.write_bytes(small_gazetteer(corpus))
    imported = sijil("places", "import", str(places), "--as", "amal")
    assert "places: 126 added, 0 updated, 0 unchanged" in imported.out
    found = _json(sijil("place", "find", "الرقة", "--json", "--limit", "2"))
    assert [(p["kind"], p["code"]) for p in found] == [("governorate", "SY11"), ("place", "C5710")]
    monkeypatch.setenv("SIJIL_USER", "amal")  # who acts, from here on
    sijil("actor", "add", "--name-en", "Syrian government", "--name-ar", "الحكومة السورية",
          "--alias", "regime")  # fmt: skip
    # When Amal records the incident, links a report, attributes it and proposes an assessment
    new = sijil("incident", "new", "--title-ar", "غارة على السوق", "--title-en", "Market strike",
                "--type", "airstrike", "--place", "C5710", "--start", "2017-06-06T04:30+03:00",
                "--json")  # fmt: skip
    code = _json(new)["code"]  # type: ignore[index]
    assert code == "SJ-" + code[3:7] + "-0001"
    with desk.home.open_store() as store:
        report = Desk(store).report("Photos")
    sijil("incident", "link", code, "--report", str(report), "--role", "primary",
          "--confidence", "certain", "--note", "craters")  # fmt: skip
    sijil("incident", "attribute", code, "--actor", "Regime", "--stance", "suspected",
          "--basis", "only its jets flew")  # fmt: skip
    assessed = sijil("incident", "assess", code, "--grading", "fair", "--harm", "yes",
                     "--count", "killed:civilian:all=7-11", "--count", "killed:civilian:child=3-5",
                     "--summary-ar", "قتل مدنيون", "--summary-en", "Civilians were killed",
                     "--json")  # fmt: skip
    token = _json(assessed)["id"]  # type: ignore[index]
    assert token == "A-1"
    # Then Amal cannot approve it, and Dima can
    refused = sijil("review", token, "--approve", "--comment", "mine", fails=True)
    assert "amal needs the reviewer role" in refused.err
    approved = sijil(
        "review", token, "--approve", "--comment", "hospital confirmed", "--as", "dima"
    )
    assert approved.out.strip() == "A-1: approved"
    shown = _json(sijil("incident", "show", code, "--json"))
    assert isinstance(shown, dict)
    assert shown["code"] == code and shown["state"] == "draft" and shown["version"] == 1
    assert shown["titles"] == {"ar": "غارة على السوق", "en": "Market strike"}
    assert shown["evidence"] == [{"report": report, "role": "primary", "confidence": "certain",
                                  "attachment": None, "note": "craters", "author": "amal",
                                  "linked_at": shown["evidence"][0]["linked_at"]}]  # fmt: skip
    current = shown["current_assessment"]
    assert (current["id"], current["grading"], current["harm"]) == ("A-1", "fair", "yes")
    assert (current["author"], current["reviewed_by"]) == ("amal", "dima")
    assert current["independently_reviewed"] is True
    assert current["summaries"] == {"ar": "قتل مدنيون", "en": "Civilians were killed"}
    assert current["casualties"][1] == {"outcome": "killed", "status": "civilian",
                                        "group": "child", "min": 3, "max": 5}  # fmt: skip
    # And the list finds it by governorate, grading and state
    listed = _json(sijil("incident", "list", "--json", "--place", "Ar Raqqah Governorate",
                         "--grading", "fair", "--state", "draft"))  # fmt: skip
    assert [r["code"] for r in listed] == [code]  # type: ignore[index, union-attr]
    assert _json(sijil("incident", "list", "--json", "--grading", "weak")) == []
    text = sijil("incident", "show", code).out
    assert "assessment A-1: fair" in text and "reviewed by dima" in text


def test_an_edit_with_a_stale_version_is_a_one_line_conflict(
    sijil: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    sijil("user", "add", "amal", "--role", "admin", "--role", "editor")
    monkeypatch.setenv("SIJIL_USER", "amal")
    code = sijil("incident", "new", "--title-ar", "اعتقال", "--title-en", "Arrests",
                 "--type", "arrest", "--at", "35.95,39.01", "--start", "2017-06-06").out.strip()  # fmt: skip
    edited = sijil("incident", "edit", code, "--if-version", "1", "--title-en", "Mass arrests",
                   "--json")  # fmt: skip
    assert _json(edited) == {"code": code, "version": 2}
    stale = sijil("incident", "edit", code, "--if-version", "1", "--title-en", "X", fails=True)
    assert f"{code} is at version 2, not 1" in stale.err
    assert _json(sijil("incident", "show", code, "--json"))["titles"]["en"] == "Mass arrests"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("incident", "show", "SJ-2017-0042"), "no incident SJ-2017-0042"),
        (("review", "A-7", "--approve", "--comment", "x"), "no assessment A-7"),
        (("incident", "new", "--title-ar", "ا", "--title-en", "a", "--type", "shelling",
          "--place", "Atlantis", "--start", "2017-06-06"), "no place matches 'Atlantis'"),
        (("incident", "new", "--title-ar", "ا", "--title-en", "a", "--type", "shelling",
          "--at", "1,2", "--start", "2017-06-06T10:00"), "has no time zone"),
        (("incident", "assess", "SJ-2026-0001", "--grading", "fair", "--harm", "yes",
          "--count", "killed:civilian:all=5-2", "--summary-ar", "ا", "--summary-en", "a"),
         "min 5 is above max 2"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_nothing_is_written(
    sijil: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    sijil("user", "add", "amal", "--role", "admin", "--role", "editor", "--role", "reviewer")
    monkeypatch.setenv("SIJIL_USER", "amal")
    failed = sijil(*args, fails=True)
    assert message in failed.err
    assert _json(sijil("incident", "list", "--json")) == []


def test_desk_init_solo_marks_a_desk_of_one(
    run_cli: Cli, tmp_path: Path, store_url: str, passphrase: str
) -> None:
    home = tmp_path / "solo"
    result = run_cli("desk", "init", "--home", str(home), "--db", store_url, "--solo")
    assert result.code == 0, result.err
    assert "A desk of one" in result.out
    solo = DeskHome(root=home, db_url=store_url)
    with solo.open_store(solo.unlock(passphrase)) as store, store.session() as session:
        assert is_solo(session)


def test_an_editor_decides_the_machines_near_duplicate_suggestions(
    sijil: Callable[..., CliResult], desk: DeskFixture
) -> None:
    # Given two reports whose photos the media fingerprints matched at intake
    with desk.home.open_store() as store:
        work = Desk(store)
        work.users(amal="admin editor")
        first, second = work.report(), work.report(files=("b.jpg",))
        with work.tx() as s:
            a = s.scalars(select(Attachment.id).where(Attachment.report_id == first)).one()
            b = s.scalars(select(Attachment.id).where(Attachment.report_id == second)).one()
            s.add(MediaMatch(attachment_id=b, other_id=a, kind="image", distance=6))
    # When the editor lists what waits for a decision
    waiting = _json(sijil("report-link", "suggestions", "--json"))
    # Then the pair is there, suggested by the machine
    assert waiting == [
        {
            "reports": [first, second],
            "kind": "near_duplicate",
            "origin": "machine",
            "state": "suggested",
            "basis": f"image match: b.jpg in #{second} looks like a.jpg in #{first} (distance 6)",
        }
    ]
    # When the editor rejects it as a false match
    out = sijil(
        "report-link", "set", str(second), str(first), "--kind", "near_duplicate",
        "--machine", "--reject", "--as", "amal",
    ).out  # fmt: skip
    # Then it is recorded and no longer waits
    assert f"reports #{first} and #{second}: near_duplicate, rejected" in out
    assert "no suggestions waiting" in sijil("report-link", "suggestions").out
    # And a link to a report that does not exist is a one-line error
    sijil("report-link", "set", str(first), "999", "--kind", "same_event", "--as", "amal",
          fails=True)  # fmt: skip
