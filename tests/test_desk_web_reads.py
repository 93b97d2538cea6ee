"""The desk's read functions behind the web app's incident screens: an incident's history
with its differences, the review queue, and what exists in one language only."""

from __future__ import annotations

import pytest

from desk_work_helpers import Desk
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.incident_history import diff_snapshots, incident_history
from sijil.desk.incidents import IncidentChanges, edit_incident
from sijil.desk.review_queue import assessment_page, review_queue
from sijil.desk.translation_gaps import missing_language, translation_gaps
from sijil.desk.users import set_solo
from sijil.errors import UnknownCode
from sijil.store import Store


@pytest.fixture
def desk(store: Store) -> Desk:
    made = Desk(store)
    made.users(amal="admin editor", badr="editor reviewer", dima="reviewer")
    return made


def _propose(desk: Desk, code: str, by: str, summary_en: str = "A market was struck.") -> int:
    with desk.tx() as s:
        return propose_assessment(s, code, grading="fair", harm="yes", summary_ar="قصف سوق",
                                  summary_en=summary_en, by=by, clock=desk.clock).id  # fmt: skip


def test_diff_snapshots_names_only_what_changed() -> None:
    old = {"title_en": "A", "title_ar": "أ", "end": None, "version": 1}
    new = {"title_en": "B", "title_ar": "أ", "end": None, "version": 2}
    changes = diff_snapshots(old, new)
    assert [(c.field, c.old, c.new) for c in changes] == [("title_en", "A", "B")]
    first = diff_snapshots(None, new)
    assert {c.field for c in first} == {"title_en", "title_ar"}  # unset fields are left out


def test_history_lists_versions_newest_first_with_their_changes(desk: Desk) -> None:
    code = desk.incident()
    with desk.tx() as s:
        edit_incident(s, code, if_version=1, changes=IncidentChanges(state="in_review"),
                      by="badr", clock=desk.clock)  # fmt: skip
    with desk.store.session() as s:
        history = incident_history(s, code)
    assert [v.version for v in history.versions] == [2, 1]
    newest = history.versions[0]
    assert newest.saved_by == "badr"
    assert [(c.field, c.old, c.new) for c in newest.changes] == [("state", "draft", "in_review")]
    with desk.store.session() as s, pytest.raises(UnknownCode):
        incident_history(s, "SJ-2026-0999")


def test_the_queue_holds_unreviewed_work_of_others_only(desk: Desk) -> None:
    code = desk.incident()
    mine, theirs = _propose(desk, code, "badr"), _propose(desk, code, "amal")
    with desk.store.session() as s:
        badr = [i.assessment_id for i in review_queue(s, user_id=2)]
        dima = [i.assessment_id for i in review_queue(s, user_id=3)]
    assert badr == [theirs] and dima == [mine, theirs]
    with desk.tx() as s:
        review(s, f"A-{theirs}", approve=True, comment="", by="dima", clock=desk.clock)
    with desk.store.session() as s:
        items = review_queue(s, user_id=3)
        page = assessment_page(s, mine, user_id=2)
    assert [i.assessment_id for i in items] == [mine] and items[0].superseded
    assert page.own and not page.solo and page.assessment["status"] == "proposed"


def test_a_solo_desk_queues_your_own_work_marked_as_yours(desk: Desk) -> None:
    code = desk.incident()
    with desk.tx() as s:
        set_solo(s)
    mine = _propose(desk, code, "badr")
    with desk.store.session() as s:
        items = review_queue(s, user_id=2)
    assert [(i.assessment_id, i.own) for i in items] == [(mine, True)]


@pytest.mark.parametrize(
    ("ar", "en", "missing"),
    [
        ("غارة على سوق", "Airstrike on a market", None),
        ("غارة على سوق", "", "en"),
        ("غارة على سوق", "غارة على سوق", "en"),  # copied
        ("غارة على سوق", "غارة - market", None),  # both scripts: taken as translated
        ("Airstrike on a market", "Airstrike on a market", "ar"),
        ("Airstrike", "Airstrike on a market", "ar"),  # Latin only in the Arabic field
        ("", "Airstrike", "ar"),
        ("2017-06-06", "2017-06-06", None),  # no letters: taken as it is
        ("2017", "2018", None),
        ("", "", None),
    ],
)
def test_missing_language(ar: str, en: str, missing: str | None) -> None:
    assert missing_language(ar, en) == missing


def test_translation_gaps_list_titles_and_summaries_in_one_language(desk: Desk) -> None:
    copied = desk.incident(title_en="غارة على سوق الرقة")
    desk.incident(title_en="An airstrike")
    number = _propose(desk, copied, "amal", summary_en="قصف سوق")
    with desk.store.session() as s:
        gaps = translation_gaps(s)
    assert [(g.kind, g.ref, g.missing) for g in gaps] == [
        ("incident", copied, "en"),
        ("assessment", f"A-{number}", "en"),
    ]
    with desk.store.session() as s:
        assert len(translation_gaps(s, limit=1)) == 1
