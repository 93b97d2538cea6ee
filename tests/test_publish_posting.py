"""Posting through the safety gate, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from conftest import Evidence
from publish_helpers import PublishDesk, publish_desk_factory
from sijil.crypto.kdf import KdfParams
from sijil.desk.revocation import revoke
from sijil.errors import PublishRefused
from sijil.publish.gate_records import add_deny_term, approve_override
from sijil.publish.posting import attest, correct, post, retract
from sijil.store import (
    Incident,
    LedgerEntry,
    Publication,
    PublicationCheckpoint,
    PublicationMedia,
)
from sijil.store.models_desk import IncidentState


@pytest.fixture
def make_publish_desk(evidence: Evidence, fast_kdf: KdfParams) -> Callable[[], PublishDesk]:
    return publish_desk_factory(evidence, fast_kdf)


def _counts(desk: PublishDesk) -> tuple[int, int, int]:
    with desk.tx() as s:
        return (
            s.scalar(select(func.count()).select_from(Publication)) or 0,
            s.scalar(select(func.count()).select_from(PublicationCheckpoint)) or 0,
            s.scalar(select(func.count()).select_from(PublicationMedia)) or 0,
        )


def test_a_reviewed_attested_incident_is_posted_signed_and_logged(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given a reviewed incident with a photo, attested by an editor
    desk = make_publish_desk()
    vault = desk.vault()
    with desk.tx() as s:
        attest(s, desk.code, media=[desk.photo], read=vault.read_bytes, by="badr", clock=desk.clock)
    # When it is posted
    with desk.tx() as s:
        result = post(
            s,
            desk.key,
            desk.code,
            media=[desk.photo],
            read=vault.read_bytes,
            by="badr",
            clock=desk.clock,
        )
    # Then one signed post, its derivative and a checkpoint are in the log
    body = json.loads(result.body)
    assert (body["log_index"], body["version"], body["action"]) == (0, 1, "post")
    assert body["languages"] == {"ar": "complete", "en": "complete"}
    incident = body["incident"]
    assert incident["where"]["h3"] is not None and incident["where"]["where_prec"] == 2
    assert incident["when"]["date_prec"] >= 2  # the default tier is "elevated": a week
    assert incident["grading"]["code"] == "fair"
    assert [m["sha256"] for m in incident["media"]] != [desk.photo]
    assert _counts(desk) == (1, 1, 1)
    with desk.tx() as s:
        row = s.get(Publication, 0)
        assert row is not None and row.body == result.body and row.minisig and row.sshsig
        state = s.scalar(select(Incident.state).where(Incident.code == desk.code))
        assert state == IncidentState.PUBLISHED
        actions = [e.body for e in s.scalars(select(LedgerEntry))]
        assert any('"publish.post"' in d for d in actions)


def test_a_post_without_attestation_refuses_in_one_line_and_writes_nothing(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    desk = make_publish_desk()
    with desk.tx() as s, pytest.raises(PublishRefused) as refused:
        post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    message = str(refused.value)
    assert "\n" not in message and "attestation" in message
    assert _counts(desk) == (0, 0, 0)


def test_a_planted_codename_refuses_and_two_people_may_override(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    # Given an incident whose English title names the correspondent, attested
    desk = make_publish_desk()
    with desk.tx() as s:
        add_deny_term(s, "Market", "other", by="amal", clock=desk.clock)
        attest(s, desk.code, by="badr", clock=desk.clock)
    # When it is posted, the leak scan refuses, without echoing the term
    with desk.tx() as s, pytest.raises(PublishRefused) as refused:
        post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    assert "leak: other (term) in incident" in str(refused.value)
    assert "Market" not in str(refused.value)
    # When one person approves an override, it still refuses; two people let it through
    with desk.tx() as s:
        digest = attest(s, desk.code, by="badr", clock=desk.clock)
        approve_override(
            s,
            kind="incident",
            subject=desk.code,
            content_sha256=digest,
            check="leak",
            reason="a public place name",
            by="badr",
            clock=desk.clock,
        )
    with desk.tx() as s, pytest.raises(PublishRefused):
        post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    with desk.tx() as s:
        approve_override(
            s,
            kind="incident",
            subject=desk.code,
            content_sha256=digest,
            check="leak",
            reason="agreed",
            by="dima",
            clock=desk.clock,
        )
    with desk.tx() as s:
        assert post(s, desk.key, desk.code, by="badr", clock=desk.clock).log_index == 0


def test_a_revoked_correspondents_reports_block_publication(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    desk = make_publish_desk()
    from datetime import UTC, datetime

    with desk.tx() as s:
        revoke(s, "Raven", since=datetime(2000, 1, 1, tzinfo=UTC), reason="captured", by="amal")
        attest(s, desk.code, by="badr", clock=desk.clock)
    with desk.tx() as s, pytest.raises(PublishRefused) as refused:
        post(s, desk.key, desk.code, by="badr", clock=desk.clock)
    assert "flagged" in str(refused.value)


def test_verdict_post_correction_and_retraction_chain(
    make_publish_desk: Callable[[], PublishDesk],
) -> None:
    desk = make_publish_desk()
    with desk.tx() as s:
        attest(s, desk.verdict, by="badr", clock=desk.clock)
    with desk.tx() as s:
        first = post(s, desk.key, desk.verdict, by="badr", clock=desk.clock)
    assert json.loads(first.body)["subject"] == desk.claim
    with desk.tx() as s, pytest.raises(PublishRefused):
        post(s, desk.key, desk.verdict, by="badr", clock=desk.clock)
    with desk.tx() as s:
        second = correct(
            s,
            desk.key,
            desk.verdict,
            reason_ar="تصحيح",
            reason_en="a typo",
            by="badr",
            clock=desk.clock,
        )
        third = retract(
            s,
            desk.key,
            desk.claim,
            kind="verdict",
            reason_ar="سحب",
            reason_en="withdrawn",
            by="badr",
            clock=desk.clock,
        )
    assert json.loads(second.body)["supersedes"] == 0
    tomb = json.loads(third.body)
    assert (tomb["action"], tomb["supersedes"], tomb["verdict"], tomb["version"]) == (
        "retraction",
        1,
        None,
        3,
    )
    assert _counts(desk)[:2] == (3, 3)
