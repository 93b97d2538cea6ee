"""A captured correspondent (issue 17 item 4): revocation marks exactly what came after.

On SQLite and PostgreSQL: reports signed or received from the revocation time on
are flagged "possibly coerced" (kept, listed, never counted in the track record,
never publishable without two people); replies stop; every revocation is a
custody-ledger entry and ``sijil verify`` still passes.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from capture_helpers import carry, desk_users, flags_by_title, write
from conftest import CliResult, DeskFixture
from sijil.desk.reply import send_reply
from sijil.desk.reports import list_reports
from sijil.desk.revocation import clear_for_publication, publication_blockers, revoke
from sijil.desk.source_view import list_sources, show_source
from sijil.errors import DeskError, PermissionDenied, UnknownCode
from sijil.field.home import FieldSession
from sijil.store import LedgerEntry, Report

Factory = Callable[..., DeskFixture]
Enrol = Callable[[DeskFixture, str], FieldSession]
COERCED = "possibly coerced"


def _revoke(desk: DeskFixture, since: datetime, *, by: str = "amal", name: str = "Raven") -> int:
    with desk.home.open_store() as store, store.session(write=True) as s:
        _, marked = revoke(s, name, since=since, reason="arrested at a checkpoint", by=by)
    return marked


@pytest.fixture
def captured(
    make_desk: Factory, make_correspondent: Enrol, store_url: str, tmp_path: Path
) -> DeskFixture:
    """Raven sends a and b, is captured at t1, then b-c and c-d arrive; the desk revokes from t1.

    c is backdated to before t1 by its (coerced) signer but arrives after it.
    """
    desk = make_desk(store_url)
    desk_users(desk)
    raven = make_correspondent(desk, "Raven")
    write(raven, "a")
    write(raven, "b")
    carry(desk, raven, tmp_path / "stick1")
    t1 = datetime.now(UTC)
    write(raven, "c", clock=lambda: t1 - timedelta(days=2))
    write(raven, "d")
    carry(desk, raven, tmp_path / "stick2")
    assert _revoke(desk, t1) == 2
    write(raven, "e")  # arrives after the revocation: flagged at registration
    carry(desk, raven, tmp_path / "stick3")
    return desk


def test_revocation_marks_exactly_the_reports_after_its_time(captured: DeskFixture) -> None:
    # Given a desk that revoked Raven from t1 (the fixture)
    # When its reports are listed
    flags = flags_by_title(captured)
    # Then those before t1 are clean and every one after it is possibly coerced
    assert flags == {"a": None, "b": None, "c": COERCED, "d": COERCED, "e": COERCED}
    with captured.home.open_store() as store:
        listed = {row.title: row.flag for row in list_reports(store)}
    assert listed == flags


def test_revocation_is_a_ledger_entry_and_verify_passes(
    captured: DeskFixture, run_cli: Callable[..., CliResult]
) -> None:
    # Given the revoked desk
    # When its ledger is read and the desk verified
    with captured.home.open_store() as store, store.session() as s:
        bodies = [e.body for e in s.scalars(select(LedgerEntry))]
    actions = [json.loads(body)["data"].get("action") for body in bodies]
    result = run_cli("verify", *captured.args)
    # Then the revocation is an entry, and nothing in the audit objects to it
    assert actions.count("correspondent.revoked") == 1
    assert result.code == 0, result.out + result.err


def test_flagged_reports_never_count_in_the_track_record(captured: DeskFixture) -> None:
    # Given Raven with two clean and three flagged reports
    with captured.home.open_store() as store, store.session() as s:
        # When the track record is shown, in the list and alone
        listed = {x["id"]: x for x in list_sources(s)}["Raven"]
        shown = show_source(s, "Raven")
    # Then only the clean reports count, and the others are named apart
    for view in (listed, shown):
        assert view["track_record"]["reports"] == 2
        assert view["flagged_reports"] == 3


def test_replies_to_a_revoked_mailbox_are_refused(captured: DeskFixture) -> None:
    # Given the revoked correspondent
    identity = captured.home.unlock("test passphrase, not secret")
    # When the desk tries to answer (the relay is never contacted)
    with (
        captured.home.open_store() as store,
        pytest.raises(DeskError, match="replies to 'Raven' have stopped"),
    ):
        send_reply(identity, store, relay="http://127.0.0.1:9", codename="Raven", text="hi")


def test_a_flagged_report_needs_two_people_to_publish(captured: DeskFixture) -> None:
    with captured.home.open_store() as store, store.session() as s:
        ids = {r.title: r.id for r in s.scalars(select(Report))}
    flagged, clean = ids["d"], ids["a"]

    def blockers(report_id: int) -> list[str]:
        with captured.home.open_store() as store, store.session() as s:
            return publication_blockers(s, report_id)

    def clear(report_id: int, by: str) -> None:
        with captured.home.open_store() as store, store.session(write=True) as s:
            clear_for_publication(s, report_id, by=by)

    # Given a clean and a flagged report: only the flagged one is blocked
    assert blockers(clean) == []
    assert blockers(flagged) == [
        f"report {flagged} is {COERCED}: publishing it needs two people to decide"
    ]
    # When one person decides, then the same person again: still blocked, refused
    clear(flagged, "amal")
    with pytest.raises(DeskError, match="another person"):
        clear(flagged, "amal")
    assert blockers(flagged)
    # Then a second person's decision clears it
    clear(flagged, "basil")
    assert blockers(flagged) == []
    with pytest.raises(DeskError, match="not flagged"):
        clear(clean, "basil")


def test_revoking_needs_a_known_name_a_reason_a_zone_and_a_desk_user(
    make_desk: Factory, make_correspondent: Enrol, store_url: str
) -> None:
    desk = make_desk(store_url)
    desk_users(desk)
    make_correspondent(desk, "Raven")
    now = datetime.now(UTC)
    with pytest.raises(UnknownCode, match="no correspondent called 'Nobody'"):
        _revoke(desk, now, name="Nobody")
    with pytest.raises(PermissionDenied):
        _revoke(desk, now, by="basil")  # a reviewer may not revoke
    with desk.home.open_store() as store, store.session(write=True) as s:
        with pytest.raises(DeskError, match="say why"):
            revoke(s, "Raven", since=now, reason="  ", by="amal")
        with pytest.raises(DeskError, match="zone"):
            revoke(s, "Raven", since=now.replace(tzinfo=None), reason="x", by="amal")


def test_cli_revoke_then_listing_shows_the_flag(
    make_desk: Factory,
    make_correspondent: Enrol,
    store_url: str,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a desk with one report from Raven
    desk = make_desk(store_url)
    desk_users(desk)
    raven = make_correspondent(desk, "Raven")
    write(raven, "before")
    carry(desk, raven, tmp_path / "stick1")
    # When an editor revokes Raven from a minute ago on the command line
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    args = ["--as", "amal", "Raven", "--since", since, "--reason", "phone seized"]
    done = run_cli("desk", "correspondent", "revoke", *desk.args, *args)
    listing = run_cli("desk", "reports", *desk.args)
    unknown = run_cli("desk", "correspondent", "revoke", *desk.args, "--as", "amal", "Nobody",
                      "--since", since, "--reason", "x")  # fmt: skip
    naive = run_cli("desk", "correspondent", "revoke", *desk.args, *args[:3], "--since",
                    "2016-11-22T03:00", "--reason", "x")  # fmt: skip
    # Then the report (received after that minute) is marked in the listing
    assert done.code == 0, done.err
    assert "1 report(s) marked possibly coerced" in done.out
    assert "[POSSIBLY COERCED]" in listing.out
    # and bad input is one line, no traceback
    assert unknown.code != 0 and unknown.err.strip().count("\n") == 0
    assert "no correspondent called 'Nobody'" in unknown.err
    assert naive.code != 0 and "zone" in naive.err


def test_an_evidence_package_names_the_flag_and_still_verifies(
    captured: DeskFixture, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # Given a clean report (a) and a possibly coerced one (d)
    with captured.home.open_store() as store, store.session() as s:
        ids = {r.title: r.id for r in s.scalars(select(Report))}
    out = tmp_path / "package.zip"
    # When both are exported and the package verified with the desk's public key
    made = run_cli("export", "package", *captured.args, "--report", str(ids["a"]),
                   "--report", str(ids["d"]), "--out", str(out))  # fmt: skip
    checked = run_cli("verify-package", str(out), "--desk-key", str(captured.home.public_file))
    # Then evidence.json carries each report's flag, and the package verifies
    assert made.code == 0, made.err
    with zipfile.ZipFile(out) as archive:
        [name] = [n for n in archive.namelist() if n.endswith("data/evidence.json")]
        evidence = json.loads(archive.read(name))
    assert {r["report"]: r["flag"] for r in evidence["reports"]} == {
        ids["a"]: None,
        ids["d"]: COERCED,
    }
    assert checked.code == 0, checked.out + checked.err
