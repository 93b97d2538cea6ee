"""Incident suggestions mark a report that is possibly coerced (issue 17 item 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from desk_work_helpers import Desk
from sijil.desk.revocation import revoke
from sijil.desk.suggest import suggest
from sijil.store import Correspondent, Report, Store
from test_desk_suggest import _scene


def test_a_suggested_report_from_a_revoked_key_is_marked(store: Store, corpus: Path) -> None:
    # Given an incident with reports around it, and the author of "Funerals" revoked
    scene = _scene(Desk(store), corpus)
    with scene.desk.tx() as s:
        report = s.get(Report, scene.reports["later"])
        assert report is not None
        author = s.get(Correspondent, report.correspondent_id)
        assert author is not None
        since = datetime(2017, 6, 7, tzinfo=UTC)
        revoke(
            s, author.codename, since=since, reason="captured", by="amal", clock=scene.desk.clock
        )
    # When the desk asks what else is about the incident
    with scene.desk.tx() as s:
        found = suggest(s, scene.code, days=7, km=50).to_dict()
    # Then that report is marked, in its title and its flag, and no other one is
    by_id = {item["id"]: item for item in found["suggestions"] if item["kind"] == "report"}
    later = by_id[f"#{scene.reports['later']}"]
    assert later["flag"] == "possibly coerced"
    assert later["title"] == "[POSSIBLY COERCED] Funerals"
    assert [i["flag"] for k, i in by_id.items() if i is not later] == [None] * (len(by_id) - 1)
