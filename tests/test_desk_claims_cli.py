"""``sijil desk claims import``, ``claim``, ``review V-``, ``monitor import-ged`` and ``source``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claims_helpers import FAKES_HEADER, fakes_csv, fakes_row, ged_csv, ged_slice, report_by
from conftest import CliResult, DeskFixture
from desk_work_helpers import Desk, small_gazetteer

Cli = Callable[..., CliResult]


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


@pytest.fixture
def sijil(desk: DeskFixture, run_cli: Cli) -> Cli:
    """``sijil desk ARGS --home ... --db ...``; expected exit status ``code`` (default 0)."""

    def run(*args: str, code: int = 0) -> CliResult:
        result = run_cli("desk", *args, *desk.args)
        assert result.code == code, result
        if code == 1:
            assert result.err.startswith("sijil: error: ") and result.err.count("\n") == 1
        return result

    return run


@pytest.fixture
def staffed(sijil: Cli, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A desk with Amal (admin, editor), Dima (reviewer) and the gazetteer; Amal acts."""
    sijil("user", "add", "amal", "--role", "admin", "--role", "editor")
    sijil("user", "add", "dima", "--role", "reviewer", "--as", "amal")
    places = tmp_path / "places.json"
    places.write_bytes(small_gazetteer(corpus))
    sijil("places", "import", str(places), "--as", "amal")
    monkeypatch.setenv("SIJIL_USER", "amal")
    return sijil


def _json(result: CliResult) -> Any:
    return json.loads(result.out)


def test_claims_imported_rated_reviewed_and_counted_from_the_command_line(
    staffed: Cli, desk: DeskFixture, tmp_path: Path
) -> None:
    # Given a FA-KES file whose third record (line 6) has a bad date
    file = tmp_path / "fakes.csv"
    file.write_bytes(fakes_csv([fakes_row("1", source="sana", nb_civilians="0"),
                                fakes_row("2", source="reuters"),
                                fakes_row("3", date="31/31/17")]))  # fmt: skip
    # When it is imported: the good rows go in, the bad one is named, and the exit status is 3
    imported = staffed("claims", "import", str(file), code=3)
    assert "skipped line 6: date '31/31/17' is not M/D/YY or YYYY-MM-DD" in imported.out
    assert "claims: 2 added, 0 unchanged, 1 skipped; 2 new outlets" in imported.out
    assert "rows/s" in imported.out
    again = _json(staffed("claims", "import", str(file), "--json", code=3))
    assert (again["added"], again["unchanged"], again["bad"]) == (
        0, 2, [{"line": 6, "reason": "date '31/31/17' is not M/D/YY or YYYY-MM-DD"}])  # fmt: skip
    # Then the claims are listed by outlet, and shown with their numbers
    listed = _json(staffed("claim", "list", "--json", "--outlet", "sana"))
    assert [(c["id"], c["killed"]["civilians"], c["verdict"]) for c in listed] == [("C-1", 0, None)]
    shown = _json(staffed("claim", "show", "C-1", "--json"))
    assert shown["external"] == {"dataset": "fakes", "ref": "1", "part": 1, "label": "1"}
    # When the claim is linked to an incident and rated false with a report as evidence
    code = _json(staffed("incident", "new", "--title-ar", "غارة", "--title-en", "Market strike",
                         "--type", "airstrike", "--place", "C5710", "--start", "2017-04-05",
                         "--json"))["code"]  # fmt: skip
    assert "C-1 is about" in staffed("claim", "link", "C-1", "--incident", code).out
    with desk.home.open_store() as store:
        report = report_by(Desk(store), "raven")
    rated = staffed("claim", "rate", "C-1", "--rating", "false", "--summary-en", "Seven died.",
                    "--summary-ar", "قتل سبعة.", "--evidence", f"#{report}", "--json")  # fmt: skip
    assert _json(rated) == {"id": "V-1"}
    # Then its author cannot approve it; the reviewer can, through 'review' with the V- id
    mine = staffed("review", "V-1", "--approve", "--comment", "ok", code=1)
    assert "amal needs the reviewer role" in mine.err
    done = staffed("review", "V-1", "--approve", "--comment", "photos", "--as", "dima", "--json")
    assert _json(done) == {"id": "V-1", "decision": "approved", "independently_reviewed": True}
    shown = _json(staffed("claim", "show", "C-1", "--json"))
    assert shown["incidents"] == [code]
    assert (shown["current_verdict"]["rating"], shown["current_verdict"]["evidence"]) == (
        "false", [report])  # fmt: skip
    assert "verdict V-1: false, approved (current)" in staffed("claim", "show", "C-1").out
    # And the outlet's track record counts it; the correspondent's key is nowhere
    sources = _json(staffed("source", "list", "--json"))
    by_name = {s["name"]: s["track_record"] for s in sources}
    assert by_name["sana"]["claims_false_or_misleading"] == 1 and by_name["raven"]["items"] == 1
    sana = _json(staffed("source", "show", "sana", "--json"))
    assert sana["rated_claims"] == [{"claim": "C-1", "verdict": "V-1", "rating": "false"}]
    assert "SIGNKEY" not in staffed("source", "show", "raven", "--json").out
    assert "claims false/misleading 1" in staffed("source", "list").out


def test_claims_import_without_a_gazetteer_is_one_line_telling_what_to_do(
    sijil: Cli, tmp_path: Path
) -> None:
    sijil("user", "add", "amal", "--role", "admin", "--role", "editor")
    file = tmp_path / "fakes.csv"
    file.write_bytes(fakes_csv([fakes_row()]))
    failed = sijil("claims", "import", str(file), "--as", "amal", code=1)
    assert "run 'sijil desk places import FILE' first" in failed.err


def test_claim_add_and_source_add_for_an_officials_claim(staffed: Cli, tmp_path: Path) -> None:
    file = tmp_path / "fakes.csv"
    file.write_bytes(fakes_csv([fakes_row()], header=[c for c in FAKES_HEADER if c != "unit_id"]))
    assert "lacks the column unit_id" in staffed("claims", "import", str(file), code=1).err
    assert (
        staffed("source", "add", "--kind", "official", "--name", "Ministry of Defence").out
        == "S-1\n"
    )
    made = staffed("claim", "add", "--source", "S-1", "--title", "Only a weapons depot was hit",
                   "--date", "2017-06-06", "--place", "C5710", "--civilians", "0", "--json")  # fmt: skip
    assert _json(made) == {"id": "C-1"}
    shown = _json(staffed("claim", "show", "C-1", "--json"))
    assert (shown["source"]["kind"], shown["killed"]["civilians"], shown["date"]) == (
        "official", 0, "2017-06-06")  # fmt: skip
    assert "no claim C-9" in staffed("claim", "show", "C-9", code=1).err
    bad = staffed("claim", "rate", "C-1", "--rating", "false", "--summary-en", "x",
                  "--summary-ar", "س", "--evidence", "12", code=1)  # fmt: skip
    assert "no report #12" in bad.err


def test_monitor_import_ged_reports_rows_per_second_and_refuses_missing_columns(
    staffed: Cli, corpus: Path, tmp_path: Path
) -> None:
    header, rows = ged_slice(corpus, 30)
    file = tmp_path / "ged.csv.gz"
    file.write_bytes(ged_csv(header, rows))
    done = staffed("monitor", "import-ged", str(file))
    assert "UCDP GED 19.1 (S-1): 30 added, 0 unchanged, 0 skipped; 30 rows in" in done.out
    assert "rows/s" in done.out
    again = _json(staffed("monitor", "import-ged", str(file), "--json"))
    assert (again["added"], again["unchanged"], again["rows"]) == (0, 30, 30)
    assert _json(staffed("source", "show", "S-1", "--json"))["track_record"]["records"] == 30
    cut = header.index("deaths_civilians")
    file.write_bytes(ged_csv(header[:cut] + header[cut + 1 :],
                             [r[:cut] + r[cut + 1 :] for r in rows]))  # fmt: skip
    refused = staffed("monitor", "import-ged", str(file), code=1)
    assert refused.err == "sijil: error: the GED file lacks the column deaths_civilians\n"
