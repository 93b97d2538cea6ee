"""``sijil desk incident suggest``: claims, monitor records and reports near an incident,
ranked, with casualty figures against the current assessment; SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from claims_helpers import FAKES_FILE, GED_FILE, ged_csv
from conftest import CliResult, DeskFixture
from desk_work_helpers import START, T0, Desk, small_gazetteer
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.casualties import parse_count
from sijil.desk.claims import Killed, add_claim, link_claim
from sijil.desk.evidence import link_report
from sijil.desk.fakes_import import import_fakes
from sijil.desk.monitors import GED_COLUMNS, import_ged
from sijil.desk.nearby import Range, distance_km
from sijil.desk.places import place_token
from sijil.desk.sources import add_source
from sijil.desk.suggest import DEFAULT_DAYS, DEFAULT_KM, suggest
from sijil.errors import DeskError, UnknownCode
from sijil.store import Claim, Correspondent, Envelope, Place, Report, Store

Cli = Callable[..., CliResult]
CENTER = "35.9530,39.0060"  # Raqqa city, given as coordinates only
KM = 1 / 111.19508  # degrees of latitude in one kilometre (great circle)
OURS = "our current assessment A-1: 7\u201311 civilians killed"


def _north(km: float) -> float:
    return round(35.9530 + km * KM, 6)


def _ged(number: int, day: str, lat: float, *, end: str | None = None, date_prec: int = 1,
         where_prec: int = 1, civilians: int = 0, unknown: int = 0,
         low_best_high: tuple[int, int, int] | None = None) -> list[str]:  # fmt: skip
    """A GED row in GED_COLUMNS order, in Ar-Raqqa governorate at ``lat``, 39.006."""
    low, best, high = low_best_high or (civilians + unknown,) * 3
    values = {"id": number, "type_of_violence": 1, "date_start": day, "date_end": end or day,
              "date_prec": date_prec, "where_prec": where_prec, "where_coordinates": f"P{number}",
              "adm_1": "Ar Raqqah Governorate", "adm_2": "", "latitude": lat,
              "longitude": 39.006, "side_a": "A", "side_b": "B", "deaths_a": 0, "deaths_b": 0,
              "deaths_civilians": civilians, "deaths_unknown": unknown, "best": best,
              "low": low, "high": high}  # fmt: skip
    return [str(values[c]) for c in GED_COLUMNS]


def _report(desk: Desk, title: str, when: datetime, lat: float | None = None) -> int:
    """A report written at ``when``, at ``lat``, 39.006 (or with no coordinates)."""
    desk.reports += 1
    n = desk.reports
    with desk.tx() as s:
        envelope = Envelope(id=f"{n:064x}", size=1, channel="usb", status="opened",
                            received_at=T0)  # fmt: skip
        report = Report(envelope=envelope, title=title, body="نص", lang="ar", created_at=when,
                        received_at=T0, latitude=lat, longitude=None if lat is None else 39.006,
                        manifest="{}", signature=f"{n:0128x}",
                        correspondent=Correspondent(codename=f"raven-{n}", enrolled=True,
                                                    created_at=T0))  # fmt: skip
        s.add(report)
        s.flush()
        return report.id


@dataclass
class Scene:
    desk: Desk
    code: str
    reports: dict[str, int]


def _scene(desk: Desk, corpus: Path) -> Scene:
    """An airstrike in Raqqa (7-11 civilians killed, reviewed) and what lies around it."""
    desk.users(amal="admin editor", dima="reviewer")
    desk.places(small_gazetteer(corpus))
    code = desk.incident(at=CENTER)  # no place: its governorate comes from the gazetteer
    with desk.tx() as s:
        counts = [parse_count("killed:civilian:all=7-11")]
        made = propose_assessment(s, code, grading="fair", harm="yes", counts=counts,
                                  summary_ar="س", summary_en="s", by="amal", clock=desk.clock)  # fmt: skip
        review(s, f"A-{made.id}", approve=True, comment="ok", by="dima", clock=desk.clock)
        city = s.scalars(select(Place).where(Place.code == "C5710")).one()
        afrin = s.scalars(select(Place).where(Place.source_ref == "5622")).one()
        for kind, name in (("outlet", "sana"), ("outlet", "reuters"), ("official", "MoD")):
            add_source(s, kind, name, by="amal", clock=desk.clock)
        claims = [  # C-1 .. C-5
            ("sana", date(2017, 6, 6), "SY11", 0), ("reuters", date(2017, 6, 7),
            place_token(city.id), 9), ("MoD", date(2017, 6, 6), place_token(afrin.id), 0),
            ("sana", date(2017, 6, 20), "SY11", 1), ("MoD", date(2017, 6, 6), None, 0)]  # fmt: skip
        for source, day, place, civilians in claims:
            add_claim(s, source=source, title=f"{source} on {day}", claim_date=day, place=place,
                      killed=Killed(civilians=civilians), by="amal", clock=desk.clock)  # fmt: skip
        rows = [_ged(1, "2017-06-06", _north(5), civilians=4, unknown=5, low_best_high=(7, 9, 12)),
                _ged(2, "2017-06-05", 35.7, where_prec=4, civilians=30, low_best_high=(28, 30, 35)),
                _ged(3, "2017-05-20", _north(10), end="2017-06-19", date_prec=4, civilians=2),
                _ged(4, "2017-06-06", _north(60), civilians=9)]  # fmt: skip
        import_ged(s, io.BytesIO(ged_csv(GED_COLUMNS, rows)), by="amal", clock=desk.clock)
    at = datetime(2017, 6, 6, 10, 0, tzinfo=UTC)
    reports = {"near": _report(desk, "Smoke over the market", at, _north(2)),
               "later": _report(desk, "Funerals", datetime(2017, 6, 8, 12, tzinfo=UTC), _north(20)),
               "nowhere": _report(desk, "No place", at), "far": _report(desk, "Far", at, _north(30)),
               "late": _report(desk, "Late", datetime(2017, 6, 12, tzinfo=UTC), _north(1))}  # fmt: skip
    with desk.tx() as s:
        link_report(s, code, report_id=reports["near"], by="amal", clock=desk.clock)
        link_claim(s, "C-2", incident=code, by="amal", clock=desk.clock)
    return Scene(desk, code, reports)


@pytest.fixture
def scene(store: Store, corpus: Path) -> Scene:
    return _scene(Desk(store), corpus)


def _ranked(found: dict[str, object]) -> list[tuple[object, ...]]:
    keys = ("score", "kind", "id", "days", "km", "matched_by", "agreement", "linked")
    items = found["suggestions"]
    assert isinstance(items, list)
    return [tuple(item[k] for k in keys) for item in items]


def test_claims_records_and_reports_near_an_incident_are_ranked_with_their_figures(
    scene: Scene,
) -> None:
    # Given the scene, when suggestions are asked for with the defaults (3 days, 25 km)
    with scene.desk.store.session() as s:
        found = suggest(s, scene.code).to_dict()
    near = f"#{scene.reports['near']}"
    # Then the seven items within reach come ranked by time, place, governorate, agreement
    assert _ranked(found) == [
        (92, "monitor", "UCDP GED 19.1 #1", 0, 5.0, "distance", "agrees", False),
        (90, "claim", "C-2", 1, 0.0, "distance", "agrees", True),
        (82, "report", near, 0, 2.0, "distance", "unknown", True),
        (74, "monitor", "UCDP GED 19.1 #3", 0, 10.0, "distance", "differs", False),
        (50, "claim", "C-1", 0, None, "governorate", "differs", False),
        (40, "monitor", "UCDP GED 19.1 #2", 1, None, "governorate", "differs", False),
        (33, "report", f"#{scene.reports['later']}", 2, 20.0, "distance", "unknown", False),
    ]
    # and the far, late, unplaced and other-governorate items are not among them
    assert found["found"] == {"claim": 2, "monitor": 3, "report": 2}
    assert (found["governorate"], found["window"]) == ("SY11", {"days": DEFAULT_DAYS,
            "from": "2017-06-03", "to": "2017-06-09"})  # fmt: skip
    assert str(found["governorate_from"]).startswith("the nearest gazetteer place, P-")
    assert found["current_assessment"] == {"id": "A-1", "killed_civilians": {"min": 7, "max": 11}}
    # and each figure that differs from the assessment is spelled out in one line
    assert found["discrepancies"] == [
        f"UCDP GED 19.1 #3: 2 civilians killed, best 2 (low 2, high 2); {OURS}",
        f"outlet sana (C-1): 0 civilians killed; {OURS}; UCDP GED 19.1 #1: 4 civilians and 5 "
        "of unknown status killed, best 9 (low 7, high 12)",
        f"UCDP GED 19.1 #2: 30 civilians killed, best 30 (low 28, high 35); {OURS}",
    ]
    assert found["notes"] == [] and found["km"] == DEFAULT_KM


def test_a_narrower_window_and_radius_and_a_limit_keep_only_the_nearest(scene: Scene) -> None:
    with scene.desk.store.session() as s:
        narrow = suggest(s, scene.code, days=0, km=3).to_dict()
        one_each = suggest(s, scene.code, limit=1).to_dict()
    # the same day within 3 km: the report 2 km away, and the governorate-wide claim
    assert [(i[1], i[2]) for i in _ranked(narrow)] == [("report", f"#{scene.reports['near']}"),
                                                       ("claim", "C-1")]  # fmt: skip
    assert narrow["window"] == {"days": 0, "from": "2017-06-06", "to": "2017-06-06"}
    # the best of each kind, all still counted
    assert [i[2] for i in _ranked(one_each)] == ["UCDP GED 19.1 #1", "C-2",
                                                 f"#{scene.reports['near']}"]  # fmt: skip
    assert one_each["found"] == {"claim": 2, "monitor": 3, "report": 2}


def test_an_incident_placed_only_to_its_governorate_matches_by_governorate(scene: Scene) -> None:
    # Given a second incident known only to be in Ar-Raqqa governorate, not yet assessed
    code = scene.desk.incident(at=None, place="SY11", start=START)
    with scene.desk.store.session() as s:
        found = suggest(s, code).to_dict()
    # Then claims and records of the governorate match, with no distance; reports cannot
    assert [(i[2], i[4], i[6]) for i in _ranked(found)] == [
        ("C-1", None, "unknown"), ("UCDP GED 19.1 #1", None, "unknown"),
        ("UCDP GED 19.1 #3", None, "unknown"), ("UCDP GED 19.1 #4", None, "unknown"),
        ("C-2", None, "unknown"), ("UCDP GED 19.1 #2", None, "unknown")]  # fmt: skip
    assert found["governorate_from"] == "the incident" and found["center"] is None
    assert found["discrepancies"] == [] and len(found["notes"]) == 2
    assert found["notes"][0] == "no current assessment: casualty figures are shown, not compared"
    assert "reports, which have no governorate, are not suggested" in found["notes"][1]


def test_bad_requests_are_one_line_errors(scene: Scene) -> None:
    with scene.desk.store.session() as s:
        with pytest.raises(UnknownCode, match="no incident SJ-2026-0099"):
            suggest(s, "SJ-2026-99")
        with pytest.raises(DeskError, match="0 to 90 days either side, not 91"):
            suggest(s, scene.code, days=91)
        with pytest.raises(DeskError, match="above 0 and at most 200 km, not 0"):
            suggest(s, scene.code, km=0)


def test_distances_and_ranges_are_exact_arithmetic() -> None:
    # one degree of latitude on the mean sphere; Raqqa to Aleppo as the spherical law of
    # cosines gives it (170.4825 km)
    assert distance_km(0, 0, 1_000_000, 0) == pytest.approx(111.19508, abs=1e-5)
    assert distance_km(35_953_075, 39_006_062, 36_202_104, 37_134_232) == pytest.approx(
        170.48253, abs=1e-5
    )
    assert str(Range(7, 11)) == "7\u201311" and str(Range(9, 9)) == "9"
    assert Range(4, 9).meets(Range(7, 11)) and not Range(0, 0).meets(Range(7, 11))


def test_incident_suggest_from_the_command_line(
    make_desk: Callable[..., DeskFixture], store_url: str, run_cli: Cli, corpus: Path
) -> None:
    desk = make_desk(store_url)
    with desk.home.open_store() as store:
        scene = _scene(Desk(store), corpus)
    # When asked for JSON, then the ranking is the domain's
    result = run_cli("desk", "incident", "suggest", scene.code, "--json", *desk.args)
    assert result.code == 0, result.err
    found = json.loads(result.out)
    assert [i["id"] for i in found["suggestions"]][:2] == ["UCDP GED 19.1 #1", "C-2"]
    # and as text, one line each, the discrepancies spelled out
    text = run_cli("desk", "incident", "suggest", scene.code, "--days", "0", "--km", "3",
                   *desk.args)  # fmt: skip
    assert text.code == 0, text.err
    assert "current assessment A-1: 7\u201311 civilians killed" in text.out
    assert f"outlet sana (C-1): 0 civilians killed; {OURS}" in text.out
    bad = run_cli("desk", "incident", "suggest", "SJ-2026-0099", *desk.args)
    assert bad.code == 1 and bad.err == "sijil: error: no incident SJ-2026-0099\n"


def test_the_khan_shaykhun_attack_against_the_real_fakes_and_ged_imports(
    store: Store, corpus: Path
) -> None:
    # Given FA-KES and UCDP GED imported, and the attack of 4 April 2017 recorded and assessed
    desk = Desk(store)
    desk.users(amal="admin editor", dima="reviewer")
    desk.places(small_gazetteer(corpus))
    with desk.tx() as s, corpus.joinpath(*GED_FILE).open("rb") as ged:
        import_fakes(s, corpus.joinpath(*FAKES_FILE).read_bytes(), by="amal", clock=desk.clock)
        import_ged(s, ged, by="amal", clock=desk.clock)
    code = desk.incident(at="35.44208,36.65095", place="Idlib", title_en="Khan Shaykhun",
                         start=datetime(2017, 4, 4, 6, 30, tzinfo=UTC))  # fmt: skip
    with desk.tx() as s:
        counts = [parse_count("killed:civilian:all=80-92")]
        made = propose_assessment(s, code, grading="confirmed", harm="yes", counts=counts,
                                  summary_ar="س", summary_en="s", by="amal", clock=desk.clock)  # fmt: skip
        review(s, f"A-{made.id}", approve=True, comment="ok", by="dima", clock=desk.clock)
    # When suggestions are asked for
    with store.session() as s:
        found = suggest(s, code, limit=50).to_dict()
        ahram = s.scalars(select(Claim.id).where(Claim.external_ref == "1923848144")).one()
        sharq = s.scalars(select(Claim.id).where(Claim.external_ref == "1918150026")).one()
    # Then UCDP's record of the attack leads: the same town, the same day, figures that meet
    top = found["suggestions"][0]
    assert (top["id"], top["km"], top["days"], top["agreement"]) == (
        "UCDP GED 19.1 #242363", 0.0, 0, "agrees")  # fmt: skip
    by_id = {item["id"]: item for item in found["suggestions"]}
    # and Idlib's claims of those days match by governorate: al-Ahram's 86 agrees
    assert by_id[f"C-{ahram}"]["agreement"] == "agrees"
    assert by_id[f"C-{ahram}"]["matched_by"] == "governorate"
    # and Asharq al-Awsat's 100 is spelled out beside UCDP's figures
    assert (
        f"outlet asharqalawsat (C-{sharq}): 100 civilians killed; our current assessment A-1: "
        f"80\u201392 civilians killed; UCDP GED 19.1 #242363: {top['figures']}"
    ) in found["discrepancies"]
    assert found["found"]["claim"] >= 12 and found["found"]["report"] == 0
