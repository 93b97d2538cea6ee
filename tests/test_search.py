"""Search across the desk's records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, update

from desk_work_helpers import START, Desk, small_gazetteer
from search_helpers import add_report, found
from sijil.desk.actors import add_actor
from sijil.desk.claims import add_claim
from sijil.desk.incidents import IncidentChanges, edit_incident
from sijil.desk.search import SearchFilters, SearchScope, search
from sijil.desk.search_index import STALE_SETTING, rebuild
from sijil.desk.search_query import MAX_QUERY_CHARS
from sijil.desk.sources import add_source
from sijil.errors import QueryError
from sijil.store import DeskSetting, DocKind, Place, Report, SearchDoc, Store, alembic_config


@pytest.fixture
def desk(store: Store) -> Desk:
    made = Desk(store)
    made.users(amal="admin editor", dima="reviewer")
    return made


# --- spelling variants -----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["الرقة", "الرقه", "الرَّقَّة", "الرقـــة", "ٱلرقة", "أَلرقة", "بالرقة", "والرقة", "للرقة",
     "الرق\u200cة", "\u202bالرقة\u202c"],
)  # fmt: skip
def test_every_arabic_spelling_finds_the_report(desk: Desk, query: str) -> None:
    # Given a report that writes the city with harakat and one with tatweel
    vowelled = add_report(desk, "قصف على الرَّقَّة", "خبر")
    stretched = add_report(desk, "خبر", "سقطت قذائف في الرقـــة صباحا")
    add_report(desk, "حلب", "لا شيء هنا")
    # When an editor searches for any spelling of it
    # Then both reports are found, and nothing else
    assert sorted(found(desk, query)) == sorted([f"#{vowelled}", f"#{stretched}"])


@pytest.mark.parametrize("query", ["Raqqa", "raqqah", "Ar-Raqqah", "Al-Raqqa", "RAQQA", "al raqqa"])
def test_every_latin_spelling_finds_the_report(desk: Desk, query: str) -> None:
    # Given reports in English naming the city three ways
    ids = [
        add_report(desk, "Airstrike in Ar-Raqqah", lang="en"),
        add_report(desk, "Shelling", "Smoke over al-Raqqa this morning", lang="en"),
        add_report(desk, "Raqqa market", lang="en"),
    ]
    add_report(desk, "Aleppo", "Nothing here", lang="en")
    # Then each spelling finds all three
    assert sorted(found(desk, query)) == sorted(f"#{i}" for i in ids)


def test_english_words_match_their_other_forms_and_digits_their_shapes(desk: Desk) -> None:
    # Given a report of people killed and a count in Arabic-Indic digits
    report = add_report(desk, "Civilians killed", "٣ families fled", lang="en")
    # Then other forms of the words, and ASCII digits, find it
    assert found(desk, "killing civilian") == [f"#{report}"]
    assert found(desk, "3 families") == [f"#{report}"]


def test_a_mixed_query_needs_every_word_and_a_phrase_its_order(desk: Desk) -> None:
    # Given two reports with the same words in different orders
    first = add_report(desk, "Market", "الرقة: the market was hit at noon", lang="en")
    second = add_report(desk, "Noon", "At noon the hit market in الرقه burned", lang="en")
    # Then Arabic and English words together find both, a phrase only the first
    assert sorted(found(desk, "market الرقة")) == sorted([f"#{first}", f"#{second}"])
    assert found(desk, '"the market was hit"') == [f"#{first}"]
    assert found(desk, "“market was hit”") == [f"#{first}"]
    assert found(desk, "market nowhere") == []


def test_a_prefix_query_finds_words_that_begin_so(desk: Desk) -> None:
    report = add_report(desk, "Bombardment", "Tabqa dam", lang="en")
    add_report(desk, "Other", "Table", lang="en")
    assert found(desk, "bombard*") == [f"#{report}"]
    assert sorted(found(desk, "tab*")) == sorted([f"#{report}", f"#{report + 1}"])


def test_hits_carry_a_title_a_language_a_score_and_a_marked_snippet(desk: Desk) -> None:
    add_report(desk, "Report", "Before. The market in Ar-Raqqah was hit. After.", lang="en")
    add_report(desk, "Other", "Aleppo", lang="en")
    add_report(desk, "Third", "Idlib", lang="en")
    with desk.store.session() as session:
        (hit,) = search(session, "raqqa")
    record = hit.to_dict()
    assert record["kind"] == "report" and record["title"] == "Report" and record["lang"] == "en"
    assert record["score"] > 0
    assert "⟦Ar-Raqqah⟧" in record["snippet"] and "⟦market⟧" not in record["snippet"]


# --- every kind of record, kept current ------------------------------------------------


def test_incidents_claims_sources_places_and_actors_are_found(desk: Desk, corpus: Path) -> None:
    # Given a desk with a gazetteer, an incident, a claim from a source, and an actor
    desk.places(small_gazetteer(corpus))
    code = desk.incident(title_en="Strike on the Tabqa dam", title_ar="غارة على سد الطبقة")
    with desk.tx() as session:
        source = add_source(session, "outlet", "Raqqa is Being Slaughtered Silently", by="amal")
        claim = add_claim(
            session, source=f"S-{source.id}", title="Dam hit", body="The Tabqa dam was struck",
            lang="en", claim_date=date(2017, 3, 26), by="amal", clock=desk.clock,
        )  # fmt: skip
        add_actor(session, name_en="Syrian Democratic Forces", name_ar="قوات سوريا الديمقراطية",
                  by="amal")  # fmt: skip
    # Then each kind is found by its words, in either language
    assert found(desk, "الطبقه", kinds=frozenset({DocKind.INCIDENT})) == [code]
    assert found(desk, "tabqa", kinds=frozenset({DocKind.CLAIM})) == [f"C-{claim.id}"]
    assert found(desk, "slaughtered", kinds=frozenset({DocKind.SOURCE})) == [f"S-{source.id}"]
    assert found(desk, "الديمقراطيه", kinds=frozenset({DocKind.ACTOR})) != []
    places = found(desk, "Ar-Raqqa", kinds=frozenset({DocKind.PLACE}))
    assert places and all(p.startswith("P-") for p in places)


def test_an_edit_is_searchable_at_once_and_a_rollback_leaves_no_trace(desk: Desk) -> None:
    # Given an incident
    code = desk.incident(title_en="Shelling of a bakery", title_ar="قصف مخبز")
    # When its title is changed
    with desk.tx() as session:
        edit_incident(session, code, if_version=1, by="amal", clock=desk.clock,
                      changes=IncidentChanges(title_en="Shelling of a school"))  # fmt: skip
    # Then the new words find it and the old ones no longer do
    assert found(desk, "school") == [code]
    assert found(desk, "bakery") == []
    # And a report added in a transaction that fails is never found
    with pytest.raises(RuntimeError), desk.tx() as session:
        session.add(Report(envelope_id="x" * 64, correspondent_id=1, title="phantom", body="",
                           lang="en", created_at=START, manifest="{}", signature="s"))  # fmt: skip
        raise RuntimeError("abort")
    assert found(desk, "phantom") == []


# --- filters and scope -----------------------------------------------------------------


def test_dates_places_and_kinds_narrow_the_hits(desk: Desk, corpus: Path) -> None:
    # Given reports in and far from Raqqa city, on two days, and an incident
    desk.places(small_gazetteer(corpus))
    day = datetime(2017, 6, 1, tzinfo=UTC)
    near = add_report(desk, "Shelling", "shelling", received=day, at=(35.95, 39.01))
    far = add_report(desk, "Shelling", "shelling", received=day, at=(36.20, 37.15))
    later = add_report(desk, "Shelling", "shelling", received=day + timedelta(days=9))
    # Then since/until keep a window of received days
    assert sorted(found(desk, "shelling", since=date(2017, 6, 1), until=date(2017, 6, 2))) == [
        f"#{near}", f"#{far}"]  # fmt: skip
    assert found(desk, "shelling", since=date(2017, 6, 5)) == [f"#{later}"]
    # And a place keeps what lies within its radius
    assert found(desk, "shelling", place="C5710") == [f"#{near}"]
    # And a kind filter leaves the reports out
    assert found(desk, "shelling", kinds=frozenset({DocKind.INCIDENT})) == []


def test_a_scope_hides_what_the_user_may_not_see(desk: Desk) -> None:
    # Given a report and an incident with the same word
    add_report(desk, "Bakery", "bakery", lang="en")
    code = desk.incident(title_en="Bakery strike")
    # When a user whose scope is incidents only searches
    with desk.store.session() as session:
        hits = search(session, "bakery", scope=SearchScope(kinds=frozenset({DocKind.INCIDENT})))
    # Then the report is not among the hits
    assert [h.id for h in hits] == [code]


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "   ", "\u064e\u064f\u0650", "!!! ??? ...", '"', '""', "*", "-", "()", "NEAR(a b)",
     "a OR b AND NOT c", "col:value", "^start", "'; DROP TABLE reports; --", "\\", "\x00",
     "\udcff\udcfe", "ـــ"],
)  # fmt: skip
def test_syntax_and_noise_give_an_empty_result_or_words_never_an_error(
    desk: Desk, query: str
) -> None:
    add_report(desk, "value", "start a b c or and not col", lang="en")
    # When the query is noise or database syntax, it is searched as text (or is nothing)
    hits = found(desk, query)
    assert isinstance(hits, list)
    # and the reports table is still there
    assert found(desk, "value") != []


def test_a_query_too_long_is_refused_in_one_line(desk: Desk) -> None:
    with pytest.raises(QueryError, match="at most 1,000 characters"):
        found(desk, "a" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(QueryError, match="words and phrases"):
        found(desk, " ".join(f"w{i}" for i in range(40)))
    assert found(desk, "ab " * 300) == []


# --- an index built after the records --------------------------------------------------


def test_a_desk_older_than_the_index_is_indexed_on_its_first_search(store: Store) -> None:
    # Given a desk migrated before the index existed, holding a report (made first,
    # by today's models, then the schema taken back to before the index)
    desk = Desk(store)
    desk.users(amal="admin editor")
    old = add_report_before_index(desk)
    with store.engine.begin() as conn:
        # (a desk of then had no sealed values: its manifest was in the clear)
        conn.exec_driver_sql("UPDATE reports SET manifest_sealed = NULL, manifest = '{}'")
        command.downgrade(alembic_config(conn), "0008")
        conn.exec_driver_sql("DROP TABLE IF EXISTS search_docs")
    # When it is migrated to the index's revision
    store.migrate()
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeskSetting).where(
            DeskSetting.name == STALE_SETTING)) == 1  # fmt: skip
    # Then the first search indexes it, and finds it
    assert found(desk, "forgotten") == [f"#{old}"]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(SearchDoc)) >= 1


def add_report_before_index(desk: Desk) -> int:
    from sijil.desk import search_index

    search_index.event.remove(search_index.Session, "after_flush", search_index._after_flush)
    try:
        return add_report(desk, "forgotten", "an old report", lang="en")
    finally:
        search_index.install()


def test_a_rebuild_gives_the_same_hits_and_drops_what_edits_left_behind(desk: Desk) -> None:
    # Given reports, one of them re-indexed several times
    ids = [add_report(desk, f"report {i}", "common words", lang="en") for i in range(5)]
    for _ in range(3):
        with desk.tx() as session:
            session.execute(update(Report).where(Report.id == ids[0]).values(body="edited words"))
            session.get(Report, ids[0]).body = "edited words again"  # type: ignore[union-attr]
    before = found(desk, "words", limit=50)
    # When the index is rebuilt
    with desk.tx() as session:
        assert rebuild(session) == 5
    # Then the hits are the same
    assert sorted(found(desk, "words", limit=50)) == sorted(before)
    assert found(desk, "again") == [f"#{ids[0]}"]


def test_limits_outside_the_page_are_refused(desk: Desk) -> None:
    with desk.store.session() as session, pytest.raises(QueryError):
        search(session, "x", SearchFilters(limit=0))
    with desk.store.session() as session, pytest.raises(QueryError):
        search(session, "x", SearchFilters(since=date(2020, 1, 2), until=date(2020, 1, 1)))


def test_a_place_name_finds_the_reports_written_in_the_other_script(
    desk: Desk, corpus: Path
) -> None:
    # Given the gazetteer, an Arabic report about Ar-Raqqa and an English one about Manbij
    desk.places(small_gazetteer(corpus))
    arabic = add_report(desk, "قصف", "سقطت قذائف على الرقة", lang="ar")
    english = add_report(desk, "Shelling", "Shells fell on Raqqa", lang="en")
    add_report(desk, "Other", "Nothing about places", lang="en")
    # When an editor searches for the city in either script
    # Then both reports are found, whichever script the query is in
    assert sorted(found(desk, "Raqqa", kinds=frozenset({DocKind.REPORT}))) == sorted(
        [f"#{arabic}", f"#{english}"]
    )
    assert sorted(found(desk, "الرقة", kinds=frozenset({DocKind.REPORT}))) == sorted(
        [f"#{arabic}", f"#{english}"]
    )
    # And a word that names no place is not widened
    assert found(desk, "shells", kinds=frozenset({DocKind.REPORT})) == [f"#{english}"]


def test_a_narrowed_scope_gets_no_score_and_an_actor_is_named_by_its_name(desk: Desk) -> None:
    with desk.tx() as session:
        add_actor(session, name_en="Syrian Democratic Forces", name_ar="قسد", by="amal")
    add_report(desk, "Forces", "Syrian forces", lang="en")
    with desk.store.session() as session:
        everything = search(session, "syrian")
        narrowed = search(session, "syrian", scope=SearchScope(kinds=frozenset({DocKind.ACTOR})))
    assert all(h.score is not None for h in everything)
    assert [(h.id, h.score) for h in narrowed] == [("Syrian Democratic Forces", None)]


def test_moving_a_place_moves_what_is_placed_there(desk: Desk, corpus: Path) -> None:
    # Given an incident placed at a gazetteer village, found by the village's area
    desk.places(small_gazetteer(corpus))
    code = desk.incident(title_en="Strike on a farm", at=None, place="C5710")
    assert found(desk, "farm", place="C5710") == [code]
    # When the gazetteer moves the place far away (a corrected import)
    with desk.tx() as session:
        place = session.scalars(select(Place).where(Place.code == "C5710")).first()
        assert place is not None
        place.lat_e6, place.lon_e6 = 33_513_800, 36_276_500
    # Then the incident is found where the place now is, by what lies near it
    with desk.store.session() as session:
        (doc,) = session.scalars(select(SearchDoc).where(SearchDoc.kind == "incident")).all()
    assert (doc.lat_c, doc.lon_c) == (3351, 3628)
