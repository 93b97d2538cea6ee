"""The safety gate around posting, on SQLite and PostgreSQL: delay, solo desks, review,
corrections and retractions, the deny list, the dry run; and the governorate centres."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import Evidence
from desk_work_helpers import Clock
from publish_helpers import PublishDesk, publish_desk_factory
from sijil.crypto.kdf import KdfParams
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.codes import assessment_token
from sijil.desk.gazetteer import GOVERNORATES, parse_syrian_archive
from sijil.desk.incidents import IncidentChanges, create_incident, edit_incident, get_incident
from sijil.desk.users import set_solo
from sijil.errors import PublishRefused
from sijil.publish.coarsen import GOVERNORATE_CENTRES, earliest_publication
from sijil.publish.gate_records import (
    add_deny_term,
    approve_override,
    deny_terms,
    gate_settings,
    remove_deny_term,
    tier_of,
)
from sijil.publish.posting import attest, correct, override, post, retract
from sijil.publish.preview import preview
from sijil.store import Incident, LedgerEntry, Publication, PublicationCheckpoint
from sijil.store.models_desk import IncidentState
from sijil.store.models_publish_gate import GateCheck


@pytest.fixture
def make_publish_desk(evidence: Evidence, fast_kdf: KdfParams) -> Callable[[], PublishDesk]:
    return publish_desk_factory(evidence, fast_kdf)


def _written(desk: PublishDesk) -> tuple[int, int, int]:
    """Posts, checkpoints and ledger entries: what a refusal must leave unchanged."""
    with desk.tx() as s:
        return (
            s.scalar(select(func.count()).select_from(Publication)) or 0,
            s.scalar(select(func.count()).select_from(PublicationCheckpoint)) or 0,
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def _happened_at(desk: PublishDesk, when: datetime) -> None:
    """Move the incident to ``when`` (a recent event) through the desk's own edit."""
    with desk.tx() as s:
        incident = get_incident(s, desk.code)
        edit_incident(
            s,
            desk.code,
            if_version=incident.version,
            changes=IncidentChanges(start=when),
            by="badr",
            clock=desk.clock,
        )


def test_an_event_too_recent_is_held_until_delay_and_jitter_have_passed(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given an incident that happened just now, attested (which draws its jitter)
    desk = make_publish_desk()
    event = desk.clock.now
    _happened_at(desk, event)
    with desk.tx() as s:
        attest(s, desk.code, by="badr", clock=desk.clock)
        tier, jitter = tier_of(s, get_incident(s, desk.code))
        settings = gate_settings(s)
    assert jitter is not None
    ready = earliest_publication(
        event,
        tier,
        base_delay=settings.base_delay,
        base_jitter=settings.base_jitter,
        jitter_ppm=jitter,
    )
    assert ready - event >= settings.base_delay * 3  # the default tier, elevated, waits ×3
    before = _written(desk)
    # When it is posted a minute before the delay and its jitter have passed
    with desk.tx() as s, pytest.raises(PublishRefused) as refused:
        post(s, desk.key, desk.code, by="badr", clock=Clock(ready - timedelta(minutes=1)))
    # Then the gate refuses in one line saying until when, and nothing is written
    message = str(refused.value)
    assert "\n" not in message
    assert f"delay: held until {ready.date().isoformat()} (elevated tier)" in message
    assert _written(desk) == before
    # When the clock has passed the delay and the jitter, the same post goes out
    with desk.tx() as s:
        result = post(s, desk.key, desk.code, by="badr", clock=Clock(ready))
    assert json.loads(result.body)["log_index"] == 0


def test_a_solo_desk_posts_as_not_independently_reviewed_and_cannot_override(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given a desk of one whose editor approved their own assessment
    desk = make_publish_desk()
    with desk.tx() as s:
        set_solo(s, True, clock=desk.clock)
    with desk.tx() as s:
        made = propose_assessment(
            s,
            desk.code,
            grading="fair",
            harm="yes",
            summary_ar="قصف سوق",
            summary_en="A market was struck.",
            by="badr",
            clock=desk.clock,
        )
        token = assessment_token(made.id)
    with desk.tx() as s:
        assert not review(s, token, approve=True, comment="mine", by="badr").independent
        digest = attest(s, desk.code, by="badr", clock=desk.clock)
    # When an override is asked for, it is refused: it needs two people
    with desk.tx() as s, pytest.raises(PublishRefused, match="solo desk cannot override"):
        approve_override(
            s,
            kind="incident",
            subject=desk.code,
            content_sha256=digest,
            check="delay",
            reason="urgent",
            by="badr",
            clock=desk.clock,
        )
    # When it is posted
    with desk.tx() as s:
        result = post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    # Then the post says it was not independently reviewed
    body = json.loads(result.body)
    assert body["independently_reviewed"] is False
    with desk.tx() as s:
        row = s.get(Publication, 0)
        assert row is not None and row.independently_reviewed is False


def test_an_incident_without_a_reviewed_assessment_refuses_and_writes_nothing(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given a new incident no one has assessed
    desk = make_publish_desk()
    with desk.tx() as s:
        code = create_incident(
            s,
            title_ar="غارة",
            title_en="An airstrike",
            incident_type="airstrike",
            start=datetime(2017, 6, 9, tzinfo=desk.clock.now.tzinfo),
            at="35.9530,39.0060",
            by="amal",
            clock=desk.clock,
        ).code
    before = _written(desk)
    # When it is posted, or attested
    for attempt in (
        lambda s: post(s, desk.key, code, by="badr", clock=desk.clock),
        lambda s: attest(s, code, by="badr", clock=desk.clock),
    ):
        with desk.tx() as s, pytest.raises(PublishRefused) as refused:
            attempt(s)
        # Then one line says there is nothing reviewed to publish, and nothing is written
        assert str(refused.value) == f"{code} has no reviewed assessment; nothing to publish"
    assert _written(desk) == before


def test_a_correction_supersedes_and_a_retraction_is_a_tombstone(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given a posted incident
    desk = make_publish_desk()
    with desk.tx() as s:
        attest(s, desk.code, by="badr", clock=desk.clock)
    with desk.tx() as s:
        first = post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    # When it is corrected (the date changed, attested again) and then retracted
    _happened_at(desk, datetime(2017, 6, 20, 1, 40, tzinfo=desk.clock.now.tzinfo))
    with desk.tx() as s:
        attest(s, desk.code, by="badr", clock=desk.clock)
    with desk.tx() as s:
        second = correct(
            s,
            desk.key,
            desk.code,
            reason_ar="تصحيح التاريخ",
            reason_en="the date was wrong",
            by="badr",
            clock=desk.clock,
        )
    with desk.tx() as s:
        third = retract(
            s,
            desk.key,
            desk.code.lower(),
            reason_ar="سحب",
            reason_en="a source withdrew",
            by="badr",
            clock=desk.clock,
        )
    # Then the correction is version 2 superseding entry 0, with its reason and content
    corrected = json.loads(second.body)
    assert (corrected["action"], corrected["version"], corrected["supersedes"]) == (
        "correction",
        2,
        json.loads(first.body)["log_index"],
    )
    assert corrected["reason"]["en"] == "the date was wrong" and corrected["incident"]
    # And the retraction is a tombstone: version 3, superseding 1, the reason and no content
    tomb = json.loads(third.body)
    assert (tomb["action"], tomb["subject"], tomb["version"], tomb["supersedes"]) == (
        "retraction",
        desk.code,
        3,
        1,
    )
    assert tomb["incident"] is None and tomb["verdict"] is None
    assert tomb["reason"] == {"ar": "سحب", "en": "a source withdrew"}
    with desk.tx() as s:
        assert s.scalar(select(Incident.state).where(Incident.code == desk.code)) == (
            IncidentState.WITHDRAWN
        )
        assert [p.supersedes for p in s.scalars(select(Publication).order_by("log_index"))] == [
            None,
            0,
            1,
        ]
    # And a withdrawn subject cannot be corrected or retracted again
    with desk.tx() as s, pytest.raises(PublishRefused, match="no live post to correct"):
        correct(s, desk.key, desk.code, reason_ar="x", reason_en="x", by="badr", clock=desk.clock)
    with desk.tx() as s, pytest.raises(PublishRefused, match="no live post to retract"):
        retract(s, desk.key, desk.code, reason_ar="x", reason_en="x", by="badr")


def test_the_dry_run_names_failing_checks_and_writes_nothing(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given an incident whose text holds a deny-listed term, not attested
    desk = make_publish_desk()
    with desk.tx() as s:
        add_deny_term(s, "Market", "other", by="amal", clock=desk.clock)
    before = _written(desk)
    # When the gate is run dry
    with desk.tx() as s:
        seen = preview(s, desk.code, now=desk.clock.now)
    # Then it names the leak and the missing attestation, coarsened place and all
    assert {f.check for f in seen.failing} == {GateCheck.LEAK, GateCheck.ATTESTATION}
    assert not seen.passes and seen.action == "post" and seen.version == 1
    assert seen.made.content["where"]["h3"] is not None
    assert all("Market" not in f.reason for f in seen.failures)
    assert _written(desk) == before
    # When two people override the leak and an editor attests, the dry run passes
    with desk.tx() as s:
        override(s, desk.code, "leak", reason="a public place name", by="badr")
    with desk.tx() as s:
        _, people = override(s, desk.code, "leak", reason="agreed", by="dima")
        attest(s, desk.code, by="badr", clock=desk.clock)
    assert people == 2
    with desk.tx() as s:
        seen = preview(s, desk.code, now=desk.clock.now)
    assert seen.passes and {f.check for f in seen.failures} == {GateCheck.LEAK}


def test_a_term_taken_off_the_deny_list_no_longer_blocks(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given a deny-listed word in the incident's title, and an attestation
    desk = make_publish_desk()
    with desk.tx() as s:
        term = add_deny_term(s, "vegetable", "other", by="amal", clock=desk.clock).id
        attest(s, desk.code, by="badr", clock=desk.clock)
    with desk.tx() as s, pytest.raises(PublishRefused, match="leak: other"):
        post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    # When the term is removed
    with desk.tx() as s:
        remove_deny_term(s, term, by="badr", clock=desk.clock)
    # Then the list is empty, the ledger says which id went, and the post goes out
    with desk.tx() as s:
        assert deny_terms(s) == []
        removed = [e.body for e in s.scalars(select(LedgerEntry)) if "deny_removed" in e.body]
        assert len(removed) == 1 and "vegetable" not in removed[0]
        assert post(s, desk.key, desk.code, by="badr", clock=desk.clock).log_index == 0


def test_each_governorate_centre_lies_among_its_places(corpus: Path) -> None:
    # Given the gazetteer's places, grouped by governorate
    data = (corpus / "gazetteer" / "syria-locations.json").read_bytes()
    places: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for record in parse_syrian_archive(data):
        if record.governorate and record.lat_e6 is not None and record.lon_e6 is not None:
            places[record.governorate].append((record.lat_e6, record.lon_e6))
    every = [(lat, lon, code) for code, points in places.items() for lat, lon in points]
    # Then every governorate has a centre, and each lies in its places' bounding box
    assert set(GOVERNORATE_CENTRES) == {g.code for g in GOVERNORATES} == set(places)
    for code, (lat, lon) in GOVERNORATE_CENTRES.items():
        lats, lons = [p[0] for p in places[code]], [p[1] for p in places[code]]
        assert min(lats) <= lat <= max(lats), code
        assert min(lons) <= lon <= max(lons), code
        # And the places nearest to it are its own governorate's, not a neighbour's
        nearest = sorted(every, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lon) ** 2)[:3]
        assert {p[2] for p in nearest} == {code}, code
