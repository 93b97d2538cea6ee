"""Desk work behind the web app's new pages: assignments, user administration, previews, marks.

Given/When/Then over a real desk (SQLite and PostgreSQL) holding Raven's three
imported reports; the desk's own functions make every change, and the custody
ledger and the audit are checked after them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from conftest import PASSPHRASE, Evidence, desk_with_evidence
from media import camera_jpeg
from sijil.desk.assignments import (
    AssignmentKind,
    assign,
    assignee_of,
    incident_code,
    possible_assignees,
    unassign,
    waiting_for,
)
from sijil.desk.desk_audit import audit_desk_work
from sijil.desk.incidents import create_incident
from sijil.desk.revocation import revoke
from sijil.desk.thumbnails import THUMB_EDGE, make_thumbnail, report_marks, thumbnail
from sijil.desk.user_admin import add_desk_user, remove_user, set_roles, user_rows
from sijil.desk.users import add_user, get_user
from sijil.desk.web_sessions import FULL, start_session
from sijil.errors import DeskError, PermissionDenied, UnknownCode, VersionConflict
from sijil.ledger.entries import parse_entry
from sijil.store import Attachment, LedgerEntry, Report, ReportFlagKind, Store, WebSession
from sijil.store.models_desk import Role

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass
class Desk:
    evidence: Evidence
    store: Store
    reports: list[int]


@pytest.fixture
def desk(
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> Desk:
    """Raven's three reports; users root (admin), dima (editor), lina (analyst), sami (viewer)."""
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    store = evidence.desk.home.open_store()
    with store.session(write=True) as session:
        add_user(session, "root", {Role.ADMIN}, by=None)
        add_user(session, "dima", {Role.EDITOR}, by="root")
        add_user(session, "lina", {Role.ANALYST}, by="root")
        add_user(session, "sami", {Role.VIEWER}, by="root")
        reports = list(session.scalars(select(Report.id).order_by(Report.id)))
    yield Desk(evidence=evidence, store=store, reports=reports)  # type: ignore[misc]
    store.close()


def _actions(store: Store) -> list[dict[str, object]]:
    with store.session() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
        return [parse_entry(r.body.encode()).data for r in rows]


# --- assignments ----------------------------------------------------------------------


def test_an_assigned_report_waits_for_its_person_until_cleared(desk: Desk) -> None:
    # Given dima assigns the first report to lina
    report = desk.reports[0]
    with desk.store.session(write=True) as session:
        assign(session, AssignmentKind.REPORT, report, to="lina", by="dima", clock=lambda: NOW)
    # When lina asks what waits for her
    with desk.store.session() as session:
        lina = get_user(session, "lina").id
        waiting = waiting_for(session, lina)
        who = assignee_of(session, AssignmentKind.REPORT, report)
    # Then it is that report, assigned by dima, and the ledger says so
    assert [(w.kind, w.id, w.assigned_by) for w in waiting] == [("report", report, "dima")]
    assert waiting[0].label.startswith("r report") and who == "lina"
    assert {
        "action": "assignment.set",
        "kind": "report",
        "object": report,
        "user": lina,
    }.items() <= (_actions(desk.store)[-1].items())
    # When dima gives it to herself instead, then clears it
    with desk.store.session(write=True) as session:
        assign(session, AssignmentKind.REPORT, report, to="dima", by="dima")
    with desk.store.session() as session:
        assert waiting_for(session, lina) == []
        assert assignee_of(session, AssignmentKind.REPORT, report) == "dima"
    with desk.store.session(write=True) as session:
        unassign(session, AssignmentKind.REPORT, report, by="lina")
    # Then nobody holds it, and the ledger has the history
    with desk.store.session() as session:
        assert assignee_of(session, AssignmentKind.REPORT, report) is None
    actions = [a.get("action") for a in _actions(desk.store)]
    assert actions[-3:] == ["assignment.set", "assignment.set", "assignment.cleared"]
    with desk.store.session() as session:
        assert audit_desk_work(session).problems == []


def test_assigning_is_refused_for_viewers_missing_items_and_people_who_cannot_work_on_it(
    desk: Desk,
) -> None:
    report = desk.reports[0]
    with desk.store.session(write=True) as session, pytest.raises(PermissionDenied):
        assign(session, AssignmentKind.REPORT, report, to="dima", by="sami")
    with desk.store.session(write=True) as session, pytest.raises(PermissionDenied):
        assign(session, AssignmentKind.REPORT, report, to="sami", by="dima")
    with desk.store.session(write=True) as session, pytest.raises(UnknownCode):
        assign(session, AssignmentKind.INCIDENT, 999, to="dima", by="dima")
    with desk.store.session(write=True) as session, pytest.raises(UnknownCode):
        assign(session, AssignmentKind.REPORT, report, to="nobody", by="dima")
    with desk.store.session(write=True) as session, pytest.raises(DeskError):
        unassign(session, AssignmentKind.REPORT, report, by="dima")
    with desk.store.session() as session:
        assert possible_assignees(session) == ["dima", "lina"]


# --- users ----------------------------------------------------------------------------


def _session_of(store: Store, name: str) -> str:
    with store.session(write=True) as session:
        user = get_user(session, name)
        return start_session(session, user, stage=FULL, now=datetime.now(UTC))


def _live(store: Store, name: str) -> int:
    with store.session() as session:
        user = get_user(session, name)
        rows = session.scalars(
            select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        )
        return len(list(rows))


def test_a_change_of_roles_ends_the_users_sessions_and_the_audit_accepts_it(desk: Desk) -> None:
    # Given lina signed in, and the users page as the admin drew it
    _session_of(desk.store, "lina")
    with desk.store.session() as session:
        row = next(r for r in user_rows(session, now=NOW) if r.name == "lina")
    assert row.roles == (Role.ANALYST,) and row.live_sessions == 1
    # When the admin makes her a reviewer too
    with desk.store.session(write=True) as session:
        set_roles(session, row.id, {Role.ANALYST, Role.REVIEWER}, version=row.version, by="root")
    # Then her session is over, the ledger records the roles, and the audit agrees
    assert _live(desk.store, "lina") == 0
    last = _actions(desk.store)[-1]
    assert last["action"] == "user.roles" and last["roles"] == ["analyst", "reviewer"]
    with desk.store.session() as session:
        assert audit_desk_work(session).problems == []
    # And the same form sent again is stale: nothing is overwritten
    with desk.store.session(write=True) as session, pytest.raises(VersionConflict):
        set_roles(session, row.id, {Role.EDITOR}, version=row.version, by="root")


def test_a_removed_user_keeps_no_role_no_session_and_no_password(desk: Desk) -> None:
    # Given dima signed in
    _session_of(desk.store, "dima")
    with desk.store.session() as session:
        row = next(r for r in user_rows(session, now=NOW) if r.name == "dima")
    # When the admin removes her
    with desk.store.session(write=True) as session:
        remove_user(session, row.id, version=row.version, by="root")
    # Then she holds no role and no session; the ledger and the audit agree
    with desk.store.session() as session:
        after = next(r for r in user_rows(session, now=NOW) if r.name == "dima")
        assert after.roles == () and not after.enrolled and audit_desk_work(session).problems == []
    assert _live(desk.store, "dima") == 0
    assert _actions(desk.store)[-1]["roles"] == []


def test_the_desk_keeps_an_admin_and_only_admins_manage_users(desk: Desk) -> None:
    with desk.store.session() as session:
        rows = {r.name: r for r in user_rows(session, now=NOW)}
    root, sami = rows["root"], rows["sami"]
    with desk.store.session(write=True) as session, pytest.raises(DeskError, match="admin"):
        set_roles(session, root.id, {Role.EDITOR}, version=root.version, by="root")
    with desk.store.session(write=True) as session, pytest.raises(DeskError):
        remove_user(session, root.id, version=root.version, by="root")
    with desk.store.session(write=True) as session, pytest.raises(PermissionDenied):
        set_roles(session, sami.id, {Role.EDITOR}, version=sami.version, by="dima")
    with desk.store.session(write=True) as session, pytest.raises(UnknownCode):
        set_roles(session, 9999, {Role.EDITOR}, version=sami.version, by="root")


def test_adding_a_user_gives_a_code_and_logs_it(desk: Desk) -> None:
    with desk.store.session(write=True) as session:
        code = add_desk_user(session, "noor", {Role.REVIEWER}, by="root")
    with desk.store.session() as session:
        noor = next(r for r in user_rows(session, now=datetime.now(UTC)) if r.name == "noor")
    assert len(code) >= 20 and noor.code_pending and noor.roles == (Role.REVIEWER,)


# --- previews and marks ---------------------------------------------------------------


def test_a_thumbnail_is_a_small_jpeg_with_no_metadata() -> None:
    # Given a camera JPEG carrying make, model, serial, time and GPS
    original = camera_jpeg(1200, 900, seed=3)
    # When it is made a thumbnail
    small = make_thumbnail(original)
    # Then it is a fresh JPEG at most THUMB_EDGE long, with no EXIF
    with Image.open(io.BytesIO(small)) as image:
        assert image.format == "JPEG" and max(image.size) <= THUMB_EDGE
        assert not image.getexif() and "exif" not in image.info
    assert small != original and b"Exif" not in small


def test_what_is_not_an_image_gets_no_thumbnail() -> None:
    with pytest.raises(DeskError):
        make_thumbnail(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DeskError):
        make_thumbnail(b"<svg onload=alert(1)>")


def test_previews_come_from_the_vault_for_report_readers_only(desk: Desk) -> None:
    identity = desk.evidence.desk.home.unlock(PASSPHRASE)
    vault = desk.evidence.desk.home.open_vault(identity)
    with desk.store.session() as session:
        marks = report_marks(session, desk.reports)
        photo = next(a for r in desk.reports for a in marks[r].previews)
        shown = thumbnail(session, vault, frozenset({Role.ANALYST}), photo)
        stored = session.get(Attachment, photo)
        assert stored is not None
        original = vault.read_bytes(stored.sha256)
        with pytest.raises(PermissionDenied):
            thumbnail(session, vault, frozenset({Role.VIEWER}), photo)
        with pytest.raises(UnknownCode):
            thumbnail(session, vault, frozenset({Role.EDITOR}), 99999)
    # two of the three reports carry a photo
    assert sum(1 for r in desk.reports if marks[r].previews) == 2
    assert shown.media_type == "image/jpeg" and shown.data != original
    assert shown.filename.endswith(".jpg")


def test_a_revoked_correspondents_later_reports_are_marked(desk: Desk) -> None:
    # Given Raven's key revoked from before the reports arrived
    with desk.store.session(write=True) as session:
        _, marked = revoke(session, "Raven", since=NOW - timedelta(days=3650), reason="taken",
                           by="dima")  # fmt: skip
    # When the inbox asks for the marks
    with desk.store.session() as session:
        marks = report_marks(session, desk.reports)
    # Then every report carries the flag
    assert marked == 3
    assert {marks[r].flag for r in desk.reports} == {ReportFlagKind.POSSIBLY_COERCED}


def test_an_assigned_incident_waits_with_its_code_and_title(desk: Desk) -> None:
    with desk.store.session(write=True) as session:
        made = create_incident(session, title_ar="قصف السوق", title_en="Market shelling",
                               incident_type="shelling", start=NOW, at="35.95,39.01",
                               by="dima")  # fmt: skip
        assign(session, AssignmentKind.INCIDENT, made.id, to="lina", by="dima", clock=lambda: NOW)
        number, code = made.id, made.code
    with desk.store.session() as session:
        waiting = waiting_for(session, get_user(session, "lina").id)
        assert incident_code(session, number) == code
        with pytest.raises(UnknownCode):
            incident_code(session, 999_999)
    assert [(w.kind, w.id, w.label, w.title_en) for w in waiting] == [
        ("incident", number, code, "Market shelling")
    ]
