"""The search keys of sijil.text and the query parser: properties, and both backends' syntax."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from conftest import _postgres_admin_url, _postgres_unreachable
from sijil.desk.search_index import tsvector_literal
from sijil.desk.search_query import MAX_QUERY_CHARS, ParsedQuery, parse_query
from sijil.errors import QueryError
from sijil.text import MAX_GROWTH
from sijil.text.search import MAX_TOKEN_CHARS, arabic_key, search_keys, search_words, word_keys

ARABIC_LETTERS = st.sampled_from("ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآ")
HARAKAT = st.sampled_from("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0640\u200c\u200f")
QUERY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\"*-():^{}+NEAROR'\\;“”«»\u064e\u0640\x00"),
        ARABIC_LETTERS,
    ),
    max_size=80,
)


# --- sijil.text.search -----------------------------------------------------------------


@given(st.text())
@example("arrAA")  # a glued-article reading on top of the word's own (found by hypothesis)
def test_keys_and_words_are_total_and_bounded(value: str) -> None:
    words, keys = search_words(value), search_keys(value)
    assert all(0 < len(w) <= MAX_TOKEN_CHARS for w in words)
    assert sum(map(len, words)) <= MAX_GROWTH * len(value)
    # a reading of a word gives at most two keys (transliteration and stem), and a Latin
    # word that may hold a glued article ("arraa": ar-Raa or Arraa) keeps both readings'
    assert len(keys) <= 4 * len(words)


@given(st.lists(ARABIC_LETTERS, min_size=2, max_size=8), st.data())
def test_harakat_tatweel_and_joiners_never_change_an_arabic_key(
    letters: list[str], data: st.DataObject
) -> None:
    word = "".join(letters)
    # Given the same word with marks, tatweel and invisible joiners between its letters
    marked = "".join(c + data.draw(st.text(HARAKAT, max_size=2)) for c in letters)
    # Then its keys are the same
    assert search_keys(marked) == search_keys(word)


@pytest.mark.parametrize(
    ("written", "key"),
    [("الرقة", "رقه"), ("بالرقة", "رقه"), ("والرقة", "رقه"), ("للرقة", "رقه"), ("ولد", "ولد"),
     ("ال", "ال")],
)  # fmt: skip
def test_the_arabic_key_drops_and_article_and_preposition(written: str, key: str) -> None:
    assert arabic_key(search_words(written)[0]) == key


def test_latin_articles_give_no_key_and_names_share_one() -> None:
    assert search_keys("Ar-Raqqah") == ["raqa", "raqqah"]
    assert "raqa" in search_keys("Raqqa") and "raqa" in search_keys("Ar-Raqqah")
    assert set(search_keys("Deir ez-Zor")) & set(search_keys("deir ezzor")) >= {"deir", "zor"}


# --- the parser ------------------------------------------------------------------------


@given(QUERY_TEXT)
def test_parsing_any_text_gives_a_query_or_a_query_error(value: str) -> None:
    try:
        query = parse_query(value)
    except QueryError:
        return
    assert isinstance(query, ParsedQuery)
    assert query.empty == (not query.fts5())


def test_phrases_prefixes_and_unbalanced_quotes() -> None:
    query = parse_query('market "the dam was hit" raq* "unclosed')
    assert query.phrases == (("the", "dam", "was", "hit"),)
    assert [t.word for t in query.terms] == ["market", "raq", "unclosed"]
    assert [t.prefix for t in query.terms] == [False, True, False]


def test_a_query_too_long_or_too_wordy_is_refused() -> None:
    with pytest.raises(QueryError):
        parse_query("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(QueryError):
        parse_query(" ".join(f"w{i}" for i in range(40)))


# --- each backend accepts what the parser writes ---------------------------------------


@pytest.fixture(scope="module")
def fts5() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(words, keys, content='', "
        "tokenize='unicode61 remove_diacritics 0', prefix='2 3')"
    )
    db.execute("INSERT INTO t (rowid, words, keys) VALUES (1, 'the dam was hit', 'dam hit')")
    yield db
    db.close()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(QUERY_TEXT)
def test_sqlite_fts5_accepts_every_parsed_query(fts5: sqlite3.Connection, value: str) -> None:
    try:
        query = parse_query(value)
    except QueryError:
        return
    if not query.empty:
        fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", (query.fts5(),)).fetchall()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Engine]:
    reason = _postgres_unreachable()
    if reason is not None:
        if os.environ.get("SIJIL_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    engine = create_engine(_postgres_admin_url(), poolclass=NullPool)
    yield engine
    engine.dispose()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(QUERY_TEXT, st.text(max_size=60))
def test_postgresql_accepts_every_parsed_query_and_indexed_text(
    postgres: Engine, value: str, document: str
) -> None:
    try:
        query = parse_query(value)
    except QueryError:
        return
    words = search_words(document)
    literal = tsvector_literal(words, word_keys(words))
    with postgres.connect() as conn:
        conn.execute(text("SELECT CAST(:v AS tsvector)"), {"v": literal}).scalar()
        if not query.empty:
            conn.execute(
                text("SELECT CAST(:v AS tsvector) @@ CAST(:q AS tsquery)"),
                {"v": literal, "q": query.tsquery()},
            ).scalar()


def test_the_tsvector_puts_each_word_and_its_keys_at_one_position() -> None:
    # a phrase matches in any spelling, and a key equal to its word is stored once
    assert tsvector_literal(["al", "raqqah", "market"], [(), ("raqa", "raqqah"), ("market",)]) == (
        "'al':1 'raqqah':2 'raqa':2 'market':3"
    )


def test_a_tsvector_stays_under_postgresqls_limit_for_any_text_length() -> None:
    # Given a text of far more distinct words than PostgreSQL keeps in one tsvector
    words = [f"w{i:07d}" for i in range(200_000)]
    literal = tsvector_literal(words, [(w,) for w in words])
    # Then the literal stops short of the 1 MB limit, keeping the first words
    assert len(literal.encode()) < 1_000_000
    assert literal.startswith("'w0000000':1")
