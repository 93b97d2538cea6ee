"""Claims from FA-KES, verdicts and their review, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from claims_helpers import (
    FAKES_FILE,
    FAKES_HEADER,
    fakes_csv,
    fakes_row,
    ledger_data,
    report_by,
    shared_store,
)
from desk_work_helpers import Desk, small_gazetteer
from sijil.desk.actors import add_actor
from sijil.desk.claim_view import claim_rows, show_claim
from sijil.desk.claims import Killed, add_claim, claim_content, link_claim, list_claims
from sijil.desk.csvrows import BadRow, lines_of, records
from sijil.desk.custody import canonical_sha256
from sijil.desk.fakes_import import ClaimImport, FakesRow, import_fakes, parse_fakes
from sijil.desk.sources import add_source
from sijil.desk.users import set_solo
from sijil.desk.verdicts import (
    get_verdict,
    propose_verdict,
    review_item,
    review_verdict,
    verdict_content,
)
from sijil.errors import DeskError, MalformedImport, PermissionDenied, ReviewRefused, UnknownCode
from sijil.store import Claim, ClaimVerdict, LedgerEntry, Source, Store

# --- the real FA-KES file, imported once per database ----------------------------------


class Imported:
    def __init__(self, desk: Desk, first: ClaimImport, data: bytes) -> None:
        self.desk, self.first, self.data = desk, first, data


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fakes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    """A desk that imported all of FA-KES (the gazetteer's governorates first)."""
    corpus = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("test corpus not found")
    for store in shared_store(request, tmp_path_factory.mktemp("fakes")):
        desk = Desk(store)
        desk.users(amal="admin editor", dima="reviewer")
        desk.places(small_gazetteer(corpus))
        data = corpus.joinpath(*FAKES_FILE).read_bytes()
        with desk.tx() as s:
            first = import_fakes(s, data, by="amal", clock=desk.clock)
        yield Imported(desk, first, data)


@pytest.mark.xdist_group("fakes")
def test_the_real_fakes_file_becomes_644_claims_by_15_outlets(fakes: Imported) -> None:
    # Given FA-KES imported, then every row is a claim and every outlet a source
    assert (fakes.first.added, fakes.first.unchanged, fakes.first.bad) == (644, 0, [])
    assert fakes.first.outlets_added == 15
    with fakes.desk.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Claim)) == 644
        outlets = {
            name: n
            for name, n in s.execute(
                select(Source.name, func.count(Claim.id))
                .join(Claim, Claim.source_id == Source.id)
                .group_by(Source.name)
            )
        }
        assert len(outlets) == 15 and outlets["ahram"] == 122 and outlets["tass"] == 5
        # a known row (line 17): Asharq Al-Awsat on the Khan Shaykhun chemical attack
        (claim,) = s.scalars(select(Claim).where(Claim.external_ref == "1918150026")).all()
        view = show_claim(s, f"C-{claim.id}")
    assert view["source"]["name"] == "asharqalawsat" and view["date"] == "2017-04-05"
    assert view["title"] == "Chemical Massacre in Idlib Defies the World"
    assert view["killed"] == {"civilians": 100, "children": 25, "women": 15, "noncivilians": 0}
    assert view["place"]["governorate"] == "SY07" and view["place"]["kind"] == "governorate"
    assert view["actor"] is None and view["actor_text"] == "syrian government or russian troops"
    assert view["external"] == {"dataset": "fakes", "ref": "1918150026", "part": 1, "label": "1"}
    assert view["cause"] == "chemical and toxic gases" and view["current_verdict"] is None


@pytest.mark.xdist_group("fakes")
def test_an_article_with_several_claims_keeps_them_apart_in_file_order(fakes: Imported) -> None:
    # FA-KES repeats unit_id 1926479049 for three claims of one SANA article
    with fakes.desk.store.session() as s:
        claims = s.scalars(
            select(Claim).where(Claim.external_ref == "1926479049").order_by(Claim.external_part)
        ).all()
        got = [(c.external_part, c.governorate, c.killed_civilians, c.killed_children)
               for c in claims]  # fmt: skip
    assert got == [(1, "SY01", 1, 1), (2, "SY02", 3, 0), (3, "SY02", 2, 2)]


@pytest.mark.xdist_group("fakes")
def test_reimporting_fakes_changes_nothing_not_even_the_ledger(fakes: Imported) -> None:
    store = fakes.desk.store
    with store.session() as s:
        before = s.scalar(select(func.count()).select_from(LedgerEntry))
    # When the same file is imported again
    with fakes.desk.tx() as s:
        again = import_fakes(s, fakes.data, by="amal", clock=fakes.desk.clock)
    # Then nothing is added, changed or logged
    assert (again.added, again.unchanged, again.bad, again.outlets_added) == (0, 644, [], 0)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before
        assert s.scalar(select(func.count()).select_from(Claim)) == 644


@pytest.mark.xdist_group("fakes")
def test_each_claim_is_a_ledger_entry_with_its_content_digest(fakes: Imported) -> None:
    entries = ledger_data(fakes.desk.store)
    created = {s: d for _, s, d in entries if d["action"] == "claim.created"}
    assert len(created) == 644
    assert sum(d["action"] == "source.added" for _, _, d in entries) == 15
    (summary,) = [d for _, _, d in entries if d["action"] == "claims.imported"]
    assert (summary["added"], summary["bad"]) == (644, 0)
    with fakes.desk.store.session() as s:
        digests = {f"C-{c.id}": c.content_sha256 for c in s.scalars(select(Claim))}
    assert {k: d["content_sha256"] for k, d in created.items()} == digests
    assert all("Idlib" not in str(d) for _, _, d in entries)  # digests, never text


# --- small files ---------------------------------------------------------------------


@pytest.fixture
def desk(store: Store, corpus: Path) -> Desk:
    d = Desk(store)
    d.users(amal="admin editor", badr="editor reviewer", dima="reviewer", omar="viewer")
    d.places(small_gazetteer(corpus))
    return d


def _import(desk: Desk, data: bytes, by: str = "amal") -> ClaimImport:
    with desk.tx() as s:
        return import_fakes(s, data, by=by, clock=desk.clock)


def _claims(desk: Desk) -> int:
    with desk.store.session() as s:
        return s.scalar(select(func.count()).select_from(Claim)) or 0


def test_a_bad_row_is_named_by_its_line_and_the_others_go_in(desk: Desk) -> None:
    # Given a file whose second record (lines 4-5: its text has a newline) has a bad count
    rows = [fakes_row("1"), fakes_row("2", nb_women="two"), fakes_row("3", location="Atlantis")]
    result = _import(desk, fakes_csv(rows))
    # Then both bad rows are reported by the line they start on, and the good one is a claim
    assert result.bad == [BadRow(4, "nb_women 'two' is not a number of people"),
                          BadRow(6, "no governorate is called 'Atlantis'")]  # fmt: skip
    assert (result.added, _claims(desk)) == (1, 1)
    # When the file is fixed and imported again, only the skipped rows are added
    fixed = [fakes_row("1"), fakes_row("2"), fakes_row("3", location="Deir Ezzor")]
    again = _import(desk, fakes_csv(fixed))
    assert (again.added, again.unchanged, again.bad) == (2, 1, [])


def test_a_row_imported_before_with_other_content_is_reported_and_left(desk: Desk) -> None:
    _import(desk, fakes_csv([fakes_row("7")]))
    changed = _import(desk, fakes_csv([fakes_row("7", nb_civilians="60")]))
    assert changed.added == 0
    assert [b.line for b in changed.bad] == [2] and "different content" in changed.bad[0].reason
    with desk.store.session() as s:
        assert s.scalar(select(Claim.killed_civilians)) == 6


def test_broken_quoting_refuses_the_whole_file_naming_the_line(desk: Desk) -> None:
    good = fakes_csv([fakes_row("1"), fakes_row("2")])
    broken = good + b'3,"A title"oops,text,sana,4/5/17,raqqa,unknown,shelling,0,1,0,0,1\r\n'
    # line 1 header, lines 2-3 and 4-5 the two records, line 6 the broken one
    with pytest.raises(MalformedImport, match=r"line 6: the CSV breaks here"):
        _import(desk, broken)
    with pytest.raises(MalformedImport, match=r"line 4: the CSV breaks here"):
        _import(desk, fakes_csv([fakes_row("1")]) + b'2,"never closed,sana\r\n')
    assert _claims(desk) == 0


def test_a_file_without_the_fakes_columns_is_refused_naming_them(desk: Desk) -> None:
    header = [c for c in FAKES_HEADER if c not in ("nb_women", "location")]
    with pytest.raises(MalformedImport, match="lacks the columns location, nb_women"):
        _import(desk, fakes_csv([fakes_row()], header=header))


def test_without_a_gazetteer_the_import_says_to_import_places(store: Store) -> None:
    desk = Desk(store)
    desk.users(amal="admin editor")
    with pytest.raises(DeskError, match="run 'sijil desk places import FILE' first"):
        _import(desk, fakes_csv([fakes_row()]))
    with pytest.raises(PermissionDenied):
        _import(desk, fakes_csv([fakes_row()]), by="nobody")


def test_a_known_actor_is_resolved_and_an_unknown_one_kept_as_text(desk: Desk) -> None:
    isis = "the organization of the islamic state in iraq and the levant - isis"
    with desk.tx() as s:
        add_actor(s, name_en="Islamic State", name_ar="تنظيم الدولة", aliases=[isis], by="amal")
    _import(desk, fakes_csv([fakes_row("1", actor=isis), fakes_row("2", actor="unknown")]))
    with desk.store.session() as s:
        shown = [show_claim(s, f"C-{n}") for n in (1, 2)]
    assert shown[0]["actor"] == {"en": "Islamic State", "ar": "تنظيم الدولة"}
    assert shown[0]["actor_text"] == isis
    assert (shown[1]["actor"], shown[1]["actor_text"]) == (None, "unknown")
    assert shown[0]["text"] == "Shells fell on the market.\nMany were hurt."


# --- parsing: line numbers (property tests) --------------------------------------------

_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\x00"), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_TEXT, min_size=3, max_size=3), min_size=1, max_size=12), st.data())
def test_every_record_is_numbered_by_the_line_it_starts_on(
    rows: list[list[str]], data: st.DataObject
) -> None:
    # Given any CSV (fields with quotes, commas and newlines), with blank lines between records
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=data.draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(["a", "b", "c"])
    text = out.getvalue()
    starts = []
    for row in rows:
        if data.draw(st.booleans()):
            text += "\n"
        starts.append(text.count("\n") + 1)
        line = io.StringIO(newline="")
        csv.writer(line, lineterminator="\n").writerow(row)
        text += line.getvalue()
    # When it is read, then each record's line is where it starts, and its fields survive
    got = list(records(lines_of(text)))
    assert [r.line for r in got] == starts
    assert all(not isinstance(r, BadRow) for r in got)
    assert [list(r.fields.values()) for r in got if not isinstance(r, BadRow)] == rows


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=7),
    st.sampled_from(["many", "x", "-1", "1.5"]),
)
def test_a_bad_fakes_row_is_reported_at_its_first_line(
    texts: list[tuple[str, str]], which: int, bad_count: str
) -> None:
    # Given FA-KES rows whose titles and articles hold any Latin-1 text, one with a bad count
    which %= len(texts)
    rows = [
        fakes_row(str(i + 1), article_title=f"t{i} {title}", article_content=body,
                  nb_civilians=bad_count if i == which else "3")
        for i, (title, body) in enumerate(texts)
    ]  # fmt: skip
    data = fakes_csv(rows)
    # the physical line each record starts on, counted independently of the parser
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FAKES_HEADER)
    starts = []
    for row in rows:
        starts.append(out.getvalue().count("\n") + 1)
        writer.writerow([row[c] for c in FAKES_HEADER])
    # When it is parsed, then exactly the bad row is reported, at the line where it starts
    parsed = list(parse_fakes(data))
    bad = [p for p in parsed if isinstance(p, BadRow)]
    assert [b.line for b in bad] == [starts[which]]
    assert f"nb_civilians {bad_count!r}" in bad[0].reason
    good = [p for p in parsed if isinstance(p, FakesRow)]
    assert [g.line for g in good] == [s for i, s in enumerate(starts) if i != which]
    assert all(g.claim_date == date(2017, 4, 5) for g in good)


def test_a_record_with_too_many_fields_is_a_bad_row_not_a_broken_file() -> None:
    data = fakes_csv([fakes_row("1")]) + b"2,too,many,fields,here,x,x,x,x,x,x,x,x,x\r\n"
    parsed = list(parse_fakes(data))
    assert isinstance(parsed[0], FakesRow)
    assert parsed[1] == BadRow(4, "14 fields where the header has 13")


# --- claims, links and verdicts --------------------------------------------------------


def _claim(desk: Desk, source: str = "Ministry of Defence", **fields: object) -> str:
    with desk.tx() as s:
        if s.scalar(select(Source).where(Source.name == source)) is None:
            add_source(s, "official", source, by="amal", clock=desk.clock)
        values: dict[str, object] = {"title": "Only a weapons depot was hit", "place": "C5710"}
        made = add_claim(s, source=source, by="amal", clock=desk.clock, **(values | fields))
        return f"C-{made.id}"


def _rate(desk: Desk, claim: str, rating: str = "false", by: str = "amal", **kw: object) -> str:
    with desk.tx() as s:
        made = propose_verdict(s, claim, rating=rating, summary_en="The photos show a market.",
                               summary_ar="الصور تظهر سوقا.", by=by, clock=desk.clock,
                               **kw)  # fmt: skip
        return f"V-{made.id}"


def test_a_claim_is_linked_to_the_incidents_it_is_about(desk: Desk) -> None:
    code, claim = desk.incident(), _claim(desk, killed=Killed(civilians=0))
    with desk.tx() as s:
        link_claim(s, claim, incident=code, by="badr", clock=desk.clock)
    with pytest.raises(DeskError, match=f"{claim} is already linked to {code}"), desk.tx() as s:
        link_claim(s, claim, incident=code, by="badr")
    with (
        pytest.raises(PermissionDenied, match="omar needs the editor or analyst role"),
        desk.tx() as s,
    ):
        link_claim(s, claim, incident=code, by="omar")
    with pytest.raises(UnknownCode, match="no claim C-99"), desk.tx() as s:
        link_claim(s, "C-99", incident=code, by="badr")
    with desk.tx() as s:
        assert show_claim(s, claim)["incidents"] == [code]
        assert [f"C-{c.id}" for c in list_claims(s, incident=code)] == [claim]
        assert [f"C-{c.id}" for c in list_claims(s, outlet="Ministry of Defence")] == [claim]
        assert show_claim(s, claim)["place"]["name_en"] == "Ar-Raqqa"
    (linked,) = [d for _, _, d in ledger_data(desk.store) if d["action"] == "claim.linked"]
    assert linked["incident"] == code


def test_a_verdict_counts_only_once_another_reviewer_approves_it(desk: Desk) -> None:
    # Given a claim and a verdict with the photos as evidence
    claim, photos = _claim(desk), report_by(desk, "raven")
    verdict = _rate(desk, claim, evidence=[photos])
    with desk.tx() as s:
        shown = show_claim(s, claim)
    assert shown["current_verdict"] is None
    assert shown["verdicts"][0]["status"] == "proposed"
    assert shown["verdicts"][0]["evidence"] == [photos]
    # When a different person with the reviewer role approves it (through review's V- ids)
    with desk.tx() as s:
        done = review_item(s, verdict, approve=True, comment="photos checked", by="dima")
    assert (done.id, done.decision, done.independent) == (verdict, "approved", True)
    # Then it is the claim's current verdict, reviewed independently
    with desk.tx() as s:
        current = show_claim(s, claim)["current_verdict"]
        rows = claim_rows(s, list_claims(s))
    assert (current["id"], current["rating"], current["reviewed_by"]) == (verdict, "false", "dima")
    assert current["independently_reviewed"] is True and current["review_mark"] is None
    assert rows[0]["verdict"] == {"id": verdict, "rating": "false"}
    actions = [(k, s, d["action"]) for k, s, d in ledger_data(desk.store)
               if str(d["action"]).startswith("verdict.")]  # fmt: skip
    assert actions == [("assessment.changed", verdict, "verdict.proposed"),
                       ("assessment.changed", verdict, "verdict.approved")]  # fmt: skip


def test_verdict_review_refuses_self_review_non_reviewers_second_reviews_and_silence(
    desk: Desk,
) -> None:
    claim = _claim(desk)
    own = _rate(desk, claim, by="badr")
    with (
        pytest.raises(ReviewRefused, match=f"badr wrote {own} and cannot review it"),
        desk.tx() as s,
    ):
        review_verdict(s, own, approve=True, comment="fine", by="badr")
    with pytest.raises(PermissionDenied, match="amal needs the reviewer role"), desk.tx() as s:
        review_item(s, own, approve=True, comment="fine", by="amal")
    with pytest.raises(ReviewRefused, match="a comment is required"), desk.tx() as s:
        review_item(s, own, approve=False, comment=" ", by="dima")
    with desk.tx() as s:
        review_item(s, own, approve=False, comment="say which photo", by="dima")
    with pytest.raises(ReviewRefused, match="already reviewed"), desk.tx() as s:
        review_item(s, own, approve=True, comment="ok", by="dima")
    with pytest.raises(UnknownCode, match="no verdict V-99"), desk.tx() as s:
        review_item(s, "V-99", approve=True, comment="x", by="dima")
    with pytest.raises(UnknownCode, match="A-<number> or V-<number>"), desk.tx() as s:
        review_item(s, "C-1", approve=True, comment="x", by="dima")
    with desk.tx() as s:
        shown = show_claim(s, claim)
    assert shown["current_verdict"] is None
    assert shown["verdicts"][0]["review_comment"] == "say which photo"


def test_in_a_solo_desk_the_author_confirms_a_verdict_and_the_mark_travels(desk: Desk) -> None:
    with desk.tx() as s:
        set_solo(s, True)
    claim = _claim(desk)
    own = _rate(desk, claim, by="badr")
    with pytest.raises(ReviewRefused, match="propose a new verdict instead"), desk.tx() as s:
        review_item(s, own, approve=False, comment="hmm", by="badr")
    with desk.tx() as s:
        assert review_item(s, own, approve=True, comment="mine", by="badr").independent is False
    with desk.tx() as s:
        current = show_claim(s, claim)["current_verdict"]
    assert current["independently_reviewed"] is False
    assert current["review_mark"] == "not independently reviewed"


def test_the_current_verdict_is_the_newest_approved_and_never_an_older_one(desk: Desk) -> None:
    claim = _claim(desk)
    first, second = _rate(desk, claim, "unproven"), _rate(desk, claim, "false")
    with desk.tx() as s:
        review_item(s, second, approve=True, comment="photos", by="dima")
    with (
        pytest.raises(ReviewRefused, match=f"older than the current verdict {second}"),
        desk.tx() as s,
    ):
        review_item(s, first, approve=True, comment="late", by="dima")
    third = _rate(desk, claim, "misleading")
    with desk.tx() as s:
        assert show_claim(s, claim)["current_verdict"]["id"] == second  # third not yet reviewed
        review_item(s, third, approve=True, comment="a depot too", by="dima")
    with desk.tx() as s:
        assert show_claim(s, claim)["current_verdict"]["rating"] == "misleading"


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"evidence": [99]}, UnknownCode, "no report #99"),
        ({"rating": "mostly true"}, DeskError, "one of accurate, misleading, false, unproven"),
        ({"summary_ar": " "}, DeskError, "needs an Arabic summary"),
        ({"by": "omar"}, PermissionDenied, "omar needs the editor or analyst role"),
    ],
)
def test_a_bad_verdict_is_refused_and_nothing_is_written(
    desk: Desk, fields: dict[str, object], error: type[Exception], message: str
) -> None:
    claim = _claim(desk)
    values: dict[str, object] = {"rating": "false", "summary_en": "x", "summary_ar": "س",
                                 "by": "amal"} | fields  # fmt: skip
    with pytest.raises(error, match=message), desk.tx() as s:
        propose_verdict(s, claim, **values)
    with desk.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ClaimVerdict)) == 0
    assert not [d for _, _, d in ledger_data(desk.store) if d["action"] == "verdict.proposed"]


def test_a_correspondent_is_not_a_claim_source(desk: Desk) -> None:
    report_by(desk, "raven")
    with pytest.raises(DeskError, match="a report, not a claim"), desk.tx() as s:
        add_claim(s, source="raven", title="x", by="amal")
    with pytest.raises(DeskError, match="enrol them with an invite"), desk.tx() as s:
        add_source(s, "correspondent", "heron", by="amal")
    with desk.tx() as s:
        add_source(s, "outlet", "SANA", name_ar="سانا", by="amal")
    with pytest.raises(DeskError, match="already a source of kind outlet"), desk.tx() as s:
        add_source(s, "outlet", "SANA", by="amal")


def test_claims_and_verdicts_recompute_to_the_digests_in_their_ledger_entries(desk: Desk) -> None:
    _import(desk, fakes_csv([fakes_row("1"), fakes_row("2", nb_civilians="9")]))
    claim = _claim(desk)
    verdict = _rate(desk, claim, evidence=[report_by(desk, "raven")])
    entries = {(d["action"], s): d for _, s, d in ledger_data(desk.store)}
    with desk.store.session() as s:
        for row in s.scalars(select(Claim)):
            expected = entries[("claim.created", f"C-{row.id}")]["content_sha256"]
            assert canonical_sha256(claim_content(row)) == row.content_sha256 == expected
        proposed = entries[("verdict.proposed", verdict)]["content_sha256"]
        assert canonical_sha256(verdict_content(get_verdict(s, verdict))) == proposed
    # a claim whose numbers are changed behind the ledger's back no longer matches
    with desk.tx() as s:
        s.execute(update(Claim).where(Claim.external_ref == "2").values(killed_civilians=0))
    with desk.store.session() as s:
        changed = s.scalars(select(Claim).where(Claim.external_ref == "2")).one()
        assert (
            canonical_sha256(claim_content(changed))
            != entries[("claim.created", "C-2")]["content_sha256"]
        )
