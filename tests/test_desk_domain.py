"""The verification desk's domain on SQLite and PostgreSQL: users, places, actors, incidents."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from desk_work_helpers import START, Desk, small_gazetteer
from sijil.desk.actors import add_actor, list_actors, resolve_actor
from sijil.desk.incidents import (
    IncidentChanges,
    edit_incident,
    get_incident,
    list_incidents,
    parse_coordinates,
    parse_when,
    revisions,
)
from sijil.desk.places import find_places, import_gazetteer, place_token, resolve_place
from sijil.desk.users import add_user, is_solo, list_users, set_solo
from sijil.errors import (
    AmbiguousName,
    DeskError,
    MalformedImport,
    PermissionDenied,
    UnknownCode,
    VersionConflict,
)
from sijil.ledger.entries import parse_entry
from sijil.store import Incident, IncidentRevision, LedgerEntry, Place, Store


@pytest.fixture
def desk(store: Store) -> Desk:
    return Desk(store)


@pytest.fixture
def staffed(desk: Desk) -> Desk:
    """A desk with an admin-editor, a second editor, a reviewer and a viewer."""
    desk.users(amal="admin editor", badr="editor", dima="reviewer", omar="viewer")
    return desk


@pytest.fixture
def placed(staffed: Desk, corpus: Path) -> Desk:
    staffed.places(small_gazetteer(corpus))
    return staffed


def _actions(store: Store) -> list[str]:
    with store.session() as session:
        bodies = session.scalars(select(LedgerEntry.body).order_by(LedgerEntry.seq)).all()
    return [parse_entry(b.encode()).data.get("action", "") for b in bodies]


# --- users ----------------------------------------------------------------------------


def test_the_first_user_is_an_admin_and_later_users_are_added_by_one(desk: Desk) -> None:
    # Given an empty desk, when a first user without the admin role is added, it is refused
    with pytest.raises(DeskError, match="first desk user must hold the admin role"), desk.tx() as s:
        add_user(s, "badr", ["editor"], by=None)
    # When an admin is added first, then further users need an admin to add them
    desk.users(amal="admin")
    with pytest.raises(PermissionDenied, match="say who is acting"), desk.tx() as s:
        add_user(s, "badr", ["editor"], by=None)
    with desk.tx() as s:
        add_user(s, "badr", ["editor", "reviewer"], by="amal")
    with pytest.raises(PermissionDenied, match="badr needs the admin role"), desk.tx() as s:
        add_user(s, "dima", ["viewer"], by="badr")
    # Then the users hold their roles, and each addition is in the ledger
    with desk.tx() as s:
        assert [u.to_dict() for u in list_users(s)] == [
            {"name": "amal", "roles": ["admin"]},
            {"name": "badr", "roles": ["editor", "reviewer"]},
        ]
    assert _actions(desk.store) == ["user.added", "user.added"]


def test_a_viewer_cannot_do_desk_work_and_strangers_are_refused(staffed: Desk) -> None:
    with pytest.raises(PermissionDenied, match="omar needs the editor or analyst role"):
        staffed.incident(by="omar")
    with pytest.raises(PermissionDenied, match="no desk user 'zaid'"):
        staffed.incident(by="zaid")


def test_solo_is_a_setting_of_the_desk(desk: Desk) -> None:
    with desk.tx() as s:
        assert not is_solo(s)
        set_solo(s, True, clock=desk.clock)
    with desk.tx() as s:
        assert is_solo(s)
    assert _actions(desk.store) == ["desk.solo"]


# --- places ---------------------------------------------------------------------------


def test_the_whole_gazetteer_imports_once_with_the_governorates(
    staffed: Desk, corpus: Path
) -> None:
    data = corpus.joinpath("gazetteer", "syria-locations.json").read_bytes()
    # When the Syrian Archive list is imported twice
    with staffed.tx() as s:
        first = import_gazetteer(s, data, by="amal", clock=staffed.clock)
    with staffed.tx() as s:
        again = import_gazetteer(s, data, by="amal", clock=staffed.clock)
    # Then every place is there once, with the 14 governorates, and nothing changed the second time
    assert first.to_dict() == {"added": 5997, "updated": 0, "unchanged": 0}
    assert again.to_dict() == {"added": 0, "updated": 0, "unchanged": 5997}
    with staffed.tx() as s:
        kinds = dict(s.execute(select(Place.kind, func.count()).group_by(Place.kind)).all())
        raqqa = s.scalars(select(Place).where(Place.code == "C5710")).one()
    assert kinds == {"governorate": 14, "place": 5997}
    assert (raqqa.name_en, raqqa.name_ar, raqqa.governorate) == ("Ar-Raqqa", "الرقة", "SY11")
    assert (raqqa.lat_e6, raqqa.lon_e6) == (35953075, 39006062)
    assert _actions(staffed.store)[-2:] == ["places.imported", "places.imported"]


@pytest.mark.parametrize("spelling", ["Raqqa", "Ar-Raqqah", "Al-Raqqa", "الرقة", "ar raqqa"])
def test_any_spelling_of_raqqa_finds_the_governorate_and_the_city(
    placed: Desk, spelling: str
) -> None:
    with placed.tx() as s:
        found = find_places(s, spelling, limit=3)
        top = [(c.place.kind, c.place.code, c.score) for c in found[:2]]
    assert top == [("governorate", "SY11", 100), ("place", "C5710", 100)]


@pytest.mark.parametrize(
    ("text", "code"),
    [("idlib", "SY07"), ("deir ezzor", "SY09"), ("Deir ez-Zor", "SY09"), ("hasakeh", "SY08"),
     ("Ar Raqqah Governorate", "SY11"), ("C5710", "C5710"), ("Akramiyah", "SY0200")],
)  # fmt: skip
def test_resolve_place_takes_the_one_best_match(placed: Desk, text: str, code: str) -> None:
    with placed.tx() as s:
        assert resolve_place(s, text).code == code


def test_resolve_place_refuses_to_guess_between_equals_and_names_unknown_places(
    placed: Desk,
) -> None:
    with placed.tx() as s:
        with pytest.raises(AmbiguousName, match=r"could be several places: P-.* Ar-Raqqa"):
            resolve_place(s, "Raqqa")
        with pytest.raises(UnknownCode, match="no place matches 'Atlantis'"):
            resolve_place(s, "Atlantis")
        city = s.scalars(select(Place).where(Place.code == "C5710")).one()
        assert resolve_place(s, place_token(city.id)).id == city.id


def test_a_malformed_gazetteer_record_is_named_and_nothing_is_stored(staffed: Desk) -> None:
    good = {"id": 1, "search_name_en": "A - B - Afrin", "search_name_ar": "ا - ب - عفرين",
            "search_name_ar_short": "ا", "lat": 36.1, "lon": 37.2}  # fmt: skip
    bad = dict(good, id=2, lat="north")
    with pytest.raises(MalformedImport, match="gazetteer record #1: not a coordinate"):
        staffed.places(json.dumps([good, bad]).encode())
    with staffed.tx() as s:
        assert s.scalar(select(func.count()).select_from(Place)) == 0


# --- actors ---------------------------------------------------------------------------


def test_an_actor_is_found_by_any_of_its_names_in_any_spelling(staffed: Desk) -> None:
    with staffed.tx() as s:
        add_actor(s, name_en="Islamic State", name_ar="تنظيم الدولة الإسلامية",
                  aliases=["ISIS", "Daesh", "داعش"], by="badr", clock=staffed.clock)  # fmt: skip
    with staffed.tx() as s:
        assert resolve_actor(s, "isis").name_en == "Islamic State"
        assert resolve_actor(s, "داعش").name_en == "Islamic State"
        assert resolve_actor(s, "تنظيم الدولة الاسلامية").name_en == "Islamic State"
        assert [a.name_en for a in list_actors(s)] == ["Islamic State"]
    with pytest.raises(DeskError, match="'Daesh' already names the actor"), staffed.tx() as s:
        add_actor(s, name_en="Other", name_ar="آخر", aliases=["DAESH"], by="badr")
    with pytest.raises(UnknownCode, match="no actor is called"), staffed.tx() as s:
        resolve_actor(s, "Unknown Group")


# --- incidents ------------------------------------------------------------------------


def test_a_new_incident_gets_a_code_version_one_and_its_first_revision(placed: Desk) -> None:
    # When two incidents are recorded, one by place and one by coordinates
    first = placed.incident(place="C5710", at=None, title_en="Strike near the Clock Roundabout")
    second = placed.incident(at="35.95,39.01", date_prec=2)
    # Then they get consecutive codes of the year they were recorded
    assert (first, second) == ("SJ-2026-0001", "SJ-2026-0002")
    with placed.tx() as s:
        one = get_incident(s, "sj-2026-1")
        assert (one.version, one.state, one.where_prec, one.governorate) == (1, "draft", 1, "SY11")
        assert (one.lat_e6, one.start_at) == (None, START)
        two = get_incident(s, second)
        assert (two.lat_e6, two.lon_e6, two.place_id, two.date_prec) == (
            35950000,
            39010000,
            None,
            2,
        )
        (rev,) = revisions(s, first)
    assert rev["title_en"] == "Strike near the Clock Roundabout" and rev["version"] == 1
    assert _actions(placed.store).count("incident.created") == 2


def test_a_local_time_is_stored_as_utc_and_its_revision_agrees(staffed: Desk) -> None:
    # Given a start in Raqqa's local time (+03:00), as the demo and the web app pass it
    raqqa = timezone(timedelta(hours=3))
    local = datetime(2017, 6, 6, 4, 30, tzinfo=raqqa)
    # When the incident is recorded
    code = staffed.incident(start=local, end=local + timedelta(hours=1))
    # Then the store holds the same instant in UTC, and the revision the ledger
    # vouches for says exactly what the row says (the audit compares the two)
    with staffed.tx() as s:
        row = get_incident(s, code)
        assert row.start_at == datetime(2017, 6, 6, 1, 30, tzinfo=UTC)
        (rev,) = revisions(s, code)
    assert rev["start"] == row.start_at.isoformat()
    # And a time without a zone is refused rather than guessed
    with pytest.raises(DeskError, match="time zone"):
        staffed.incident(start=datetime(2017, 6, 6, 4, 30))


def test_a_governorate_place_means_where_precision_four(placed: Desk) -> None:
    code = placed.incident(place="SY11", at=None)
    with placed.tx() as s:
        assert get_incident(s, code).where_prec == 4


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"at": None}, DeskError, "needs a place or coordinates"),
        ({"at": "95,39"}, DeskError, "off the globe"),
        ({"at": "north,east"}, DeskError, "not LAT,LON"),
        ({"end": datetime(2017, 6, 5, tzinfo=UTC)}, DeskError, "ends before it starts"),
        ({"date_prec": 6}, DeskError, "date precision is 1"),
        ({"where_prec": 0}, DeskError, "where precision is 1"),
        ({"title_ar": " "}, DeskError, "needs an Arabic title"),
        ({"incident_type": "picnic"}, ValueError, "picnic"),
    ],
)
def test_a_bad_incident_is_refused_and_nothing_is_written(
    staffed: Desk, fields: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        staffed.incident(**fields)
    with staffed.tx() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    assert "incident.created" not in _actions(staffed.store)


def test_parse_when_wants_a_time_zone_for_a_time() -> None:
    assert parse_when("2017-06-06") == datetime(2017, 6, 6, tzinfo=UTC)
    assert parse_when("2017-06-06T04:30+03:00") == datetime(2017, 6, 6, 1, 30, tzinfo=UTC)
    with pytest.raises(DeskError, match="no time zone"):
        parse_when("2017-06-06T04:30")
    assert parse_coordinates("35.9530749,39.0060619") == (35953075, 39006062)


def test_an_edit_names_its_version_and_a_stale_one_is_a_conflict(staffed: Desk) -> None:
    code = staffed.incident()
    # Given Amal and Badr both read version 1; Amal saves first
    with staffed.tx() as s:
        saved = edit_incident(s, code, if_version=1, by="amal", clock=staffed.clock,
                              changes=IncidentChanges(title_en="Airstrike on the old market"))  # fmt: skip
        assert saved.version == 2
    # When Badr saves over version 1, then it is a conflict and his change is not written
    with pytest.raises(VersionConflict, match="is at version 2, not 1"), staffed.tx() as s:
        edit_incident(s, code, if_version=1, by="badr",
                      changes=IncidentChanges(title_en="Shelling of the market"))  # fmt: skip
    with staffed.tx() as s:
        now = get_incident(s, code)
        assert (now.version, now.title_en) == (2, "Airstrike on the old market")
        history = revisions(s, code)
    assert [(r["version"], r["title_en"]) for r in history] == [
        (1, "Airstrike on a Raqqa market"),
        (2, "Airstrike on the old market"),
    ]
    assert _actions(staffed.store).count("incident.edited") == 1


def test_two_editors_saving_at_once_one_wins_the_other_conflicts(staffed: Desk) -> None:
    code = staffed.incident()
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def save(name: str) -> None:
        barrier.wait()
        try:
            with staffed.tx() as s:
                edit_incident(s, code, if_version=1, by=name,
                              changes=IncidentChanges(title_en=f"Saved by {name}"))  # fmt: skip
            outcome[name] = "saved"
        except VersionConflict:
            outcome[name] = "conflict"

    threads = [threading.Thread(target=save, args=(n,)) for n in ("amal", "badr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["conflict", "saved"]
    winner = next(n for n, o in outcome.items() if o == "saved")
    with staffed.tx() as s:
        now = get_incident(s, code)
        assert (now.version, now.title_en) == (2, f"Saved by {winner}")


def test_concurrent_creators_get_distinct_consecutive_codes(staffed: Desk) -> None:
    barrier = threading.Barrier(3)
    codes: list[str] = []
    lock = threading.Lock()

    def create(name: str) -> None:
        barrier.wait()
        for _ in range(4):
            code = staffed.incident(by=name)
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=create, args=(n,)) for n in ("amal", "badr", "amal")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [f"SJ-2026-{n:04d}" for n in range(1, 13)]


# Each step: ("read", editor) or ("save", editor). An editor saves the version it last read.
steps = st.lists(st.tuples(st.sampled_from(["read", "save"]), st.sampled_from(["amal", "badr"])),
                 min_size=1, max_size=8)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_any_interleaving_of_two_editors_never_loses_a_save(
    staffed: Desk, script: list[tuple[str, str]]
) -> None:
    # Given a fresh incident both editors have read at version 1
    code = staffed.incident()
    seen = {"amal": 1, "badr": 1}
    version, title, saves = 1, "Airstrike on a Raqqa market", 0
    for n, (step, editor) in enumerate(script):
        if step == "read":
            with staffed.tx() as s:
                seen[editor] = get_incident(s, code).version
            continue
        wanted = f"{editor} {n}"
        try:
            with staffed.tx() as s:
                edit_incident(s, code, if_version=seen[editor], by=editor,
                              changes=IncidentChanges(title_en=wanted))  # fmt: skip
        except VersionConflict:
            # Then a save based on an old version is refused exactly when another came between
            assert seen[editor] != version
        else:
            assert seen[editor] == version
            version, title, saves = version + 1, wanted, saves + 1
            seen[editor] = version
        with staffed.tx() as s:
            now = get_incident(s, code)
            assert (now.version, now.title_en) == (version, title)
    # And every successful save is one revision, in order
    with staffed.tx() as s:
        kept = s.scalars(
            select(IncidentRevision.version)
            .join(Incident, Incident.id == IncidentRevision.incident_id)
            .where(Incident.code == code)
            .order_by(IncidentRevision.version)
        ).all()
    assert list(kept) == list(range(1, saves + 2))


def test_state_moves_only_along_the_workflow(staffed: Desk) -> None:
    code = staffed.incident()
    with pytest.raises(DeskError, match="has no reviewed assessment to publish"), staffed.tx() as s:
        edit_incident(s, code, if_version=1, by="amal",
                      changes=IncidentChanges(state="in_review"))  # fmt: skip
        edit_incident(s, code, if_version=2, by="amal",
                      changes=IncidentChanges(state="published"))  # fmt: skip
    with pytest.raises(DeskError, match="cannot go from draft to published"), staffed.tx() as s:
        edit_incident(s, code, if_version=1, by="amal", changes=IncidentChanges(state="published"))
    with pytest.raises(DeskError, match="nothing to change"), staffed.tx() as s:
        edit_incident(s, code, if_version=1, by="amal", changes=IncidentChanges(state="draft"))


def test_list_filters_by_place_time_and_state(placed: Desk) -> None:
    in_city = placed.incident(place="C5710", at=None, start=datetime(2017, 6, 6, tzinfo=UTC))
    in_village = placed.incident(place="Abbara", at=None, start=datetime(2017, 7, 1, tzinfo=UTC))
    by_coordinates = placed.incident(start=datetime(2017, 8, 1, tzinfo=UTC))
    with placed.tx() as s:
        edit_incident(s, in_village, if_version=1, by="amal",
                      changes=IncidentChanges(state="in_review"))  # fmt: skip
    with placed.tx() as s:

        def codes(**filters: object) -> list[str]:
            return [i.code for i in list_incidents(s, **filters)]  # type: ignore[arg-type]

        assert codes() == [by_coordinates, in_village, in_city]
        assert codes(place="Ar-Raqqah Governorate") == [in_village, in_city]
        assert codes(place="C5710") == [in_city]
        assert codes(since=datetime(2017, 6, 7, tzinfo=UTC)) == [by_coordinates, in_village]
        assert codes(until=datetime(2017, 7, 1, tzinfo=UTC)) == [in_village, in_city]
        assert codes(state="in_review") == [in_village]
        assert codes(grading="confirmed") == []
        with pytest.raises(UnknownCode, match="no incident SJ-2026-0099"):
            get_incident(s, "SJ-2026-0099")
        with pytest.raises(UnknownCode, match="is not an incident code"):
            get_incident(s, "incident 7")
