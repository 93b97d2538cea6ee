"""Honest intake on SQLite and PostgreSQL: the error boundary, quarantine in the vault,
``sijil desk quarantine list/retry``, exit statuses, and desks from before 0005.

The rule under test: an error caused by an item's own content quarantines that item
and the batch goes on; a failure of the machine or a service aborts the run with
one line and leaves the input untouched for the next import.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text, update

from conftest import PASSPHRASE, CliResult, DeskFixture
from sijil.desk.boundary import aborted, input_name, machine_failure
from sijil.desk.home import DeskHome
from sijil.desk.intake import ImportOutcome, ImportStatus, import_paths
from sijil.desk.retry import retry_quarantined
from sijil.envelope.invite import Invite
from sijil.envelope.sealing import Draft
from sijil.errors import (
    AlreadyRegistered,
    IntakeAborted,
    MalformedEnvelope,
    StoreError,
    VaultError,
)
from sijil.faults import FaultHook
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldHome, FieldSession
from sijil.ledger import log as ledger_log
from sijil.ledger.entries import EntryKind, NewEntry, digest, parse_entry
from sijil.ledger.heads import issue_head
from sijil.store import Envelope, LedgerEntry, QuarantineItem, Report, Store, store_error

JUNK = b"PK\x03\x04 a document, not an envelope"


# --- factories ----------------------------------------------------------------------------


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


@pytest.fixture
def stick(
    desk: DeskFixture,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    tmp_path: Path,
) -> Callable[..., Path]:
    """Factory: a folder holding ``reports`` envelopes of Raven's (and ``junk`` if asked)."""
    raven = make_correspondent(desk, "Raven")
    made = 0

    def make(
        reports: int = 1, *, junk: bool = False, name: str = "stick", text: bool = False
    ) -> Path:
        nonlocal made
        folder = tmp_path / name
        for _ in range(reports):
            made += 1
            # as text, a body long enough to need several shards
            body = "نص " * (3000 if text else 1)
            compose(raven, Draft(title=f"report {made}", body=body, lang="ar"), [])
        export_outbox(raven, folder, text=text, only_new=True)
        if junk:
            (folder / "notes.docx").write_bytes(JUNK)
        return folder

    return make


@pytest.fixture
def importer(desk: DeskFixture) -> Callable[..., list[ImportOutcome]]:
    """Import ``paths`` into ``desk``, through ``faults`` if given."""

    def run(*paths: Path, faults: FaultHook | None = None) -> list[ImportOutcome]:
        home = desk.home if faults is None else dataclasses.replace(desk.home, faults=faults)
        with home.open_store() as store:
            return import_paths(home, home.unlock(PASSPHRASE), store, list(paths))

    return run


def failing_at(point: str, error: BaseException) -> FaultHook:
    """A fault hook that raises ``error`` each time the code passes ``point``."""

    def hook(passed: str) -> None:
        if passed == point:
            raise error

    return hook


def counts(desk: DeskFixture) -> dict[str, int]:
    """How many envelope, report and quarantine rows the desk holds."""
    with desk.home.open_store() as store, store.session() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Envelope, Report, QuarantineItem)
        }


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def ledger_kinds(desk: DeskFixture) -> list[str]:
    with desk.home.open_store() as store, store.session() as session:
        return list(session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.seq)))


# --- whose fault: the classifier -------------------------------------------------------------


def _translated(cause: Exception) -> StoreError:
    error = store_error(cause)
    error.__cause__ = cause  # as Store.session raises it: "raise store_error(exc) from exc"
    return error


@pytest.mark.parametrize(
    ("error", "machine"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (PermissionError(errno.EACCES, "Permission denied"), True),
        (MemoryError(), True),
        (VaultError("the object store did not answer"), True),
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed")), True),
        (_translated(sa_exc.InterfaceError("SELECT 1", {}, Exception("closed"))), True),
        (sqlite3.OperationalError("database is locked"), True),
        (psycopg.OperationalError("connection refused"), True),
        (MalformedEnvelope("structure that does not parse"), False),
        (AlreadyRegistered("registered meanwhile"), False),
        (_translated(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))), False),
        (_translated(sa_exc.DataError("INSERT", {}, Exception("value too long"))), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (ValueError("a bug hostile bytes provoked"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_machine_and_service_failures_are_told_from_content_errors(
    error: BaseException, machine: bool
) -> None:
    assert machine_failure(error) is machine


def test_an_abort_names_the_input_by_a_safe_basename_only() -> None:
    # Given a file name with a folder, a newline and an undecodable byte
    source = "/media/RAVEN-STICK/x\nsecret\udcff.age"
    # When the run is aborted while taking it
    message = str(aborted(OSError(errno.EIO, "Input/output error"), source))
    # Then the message is one line, without the folder, and says what failed
    assert "\n" not in message and "RAVEN-STICK" not in message
    assert message.startswith("import stopped while taking x\ufffdsecret\ufffd.age: ")
    assert "Input/output error" in message
    assert input_name(source) == "x\ufffdsecret\ufffd.age"


# --- a machine failure aborts and leaves the input ----------------------------------------

MACHINE_FAILURES = {
    "disk full while opening": ("intake.open", OSError(errno.ENOSPC, "No space left on device")),
    "input unreadable": ("intake.open", OSError(errno.EIO, "Input/output error")),
    "vault disk full": ("vault.before_commit", OSError(errno.ENOSPC, "No space left")),
    "object store down": ("vault.before_commit", VaultError("the object store did not answer")),
    "database down (SQLAlchemy)": (
        "intake.register",
        sa_exc.OperationalError("INSERT", {}, Exception("server closed the connection")),
    ),
    "database down (raw DB-API)": ("intake.register", sqlite3.OperationalError("disk I/O error")),
    "database down (translated)": (
        "intake.register",
        store_error(sa_exc.InterfaceError("SELECT", {}, Exception("connection closed"))),
    ),
}


@pytest.mark.parametrize("case", sorted(MACHINE_FAILURES))
def test_a_machine_failure_aborts_leaves_the_input_and_the_next_import_takes_it(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    case: str,
) -> None:
    # Given a stick with a good envelope and a machine that fails while taking it
    folder = stick()
    before = snapshot(folder)
    point, error = MACHINE_FAILURES[case]
    # When the desk imports it
    with pytest.raises(IntakeAborted) as aborted:
        importer(folder, faults=failing_at(point, error))
    # Then the run stops with one line naming the file only, and nothing was kept for it
    message = str(aborted.value)
    (name,) = before
    assert message.startswith(f"import stopped while taking {name}: ")
    assert "\n" not in message and str(folder) not in message
    assert snapshot(folder) == before
    assert counts(desk) == {"envelopes": 0, "reports": 0, "quarantine_items": 0}
    assert EntryKind.INPUT_QUARANTINED not in ledger_kinds(desk)
    # When the machine is mended and the same stick imported again
    (outcome,) = importer(folder)
    # Then it is imported, not answered "duplicate (quarantined)"
    assert outcome.status is ImportStatus.IMPORTED
    assert counts(desk) == {"envelopes": 1, "reports": 1, "quarantine_items": 0}


def test_a_full_disk_while_quarantining_junk_aborts_instead_of_dropping_it(
    desk: DeskFixture, stick: Callable[..., Path], importer: Callable[..., list[ImportOutcome]]
) -> None:
    # Given junk that must be quarantined, and no room for it
    folder = stick(0, junk=True)
    enospc = OSError(errno.ENOSPC, "No space left on device")
    # When imported, then the run stops and the junk stays where it was, not recorded
    with pytest.raises(IntakeAborted, match=r"notes\.docx: No space left on device"):
        importer(folder, faults=failing_at("intake.quarantine", enospc))
    assert (folder / "notes.docx").read_bytes() == JUNK
    assert counts(desk)["quarantine_items"] == 0
    # and the next import quarantines it
    (outcome,) = importer(folder)
    assert outcome.status is ImportStatus.QUARANTINED


def test_the_cli_says_one_line_and_exits_1_on_a_full_disk(
    desk: DeskFixture,
    stick: Callable[..., Path],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the CLI's desk home hands intake a hook that fills the disk at "intake.open"
    import sijil.cli.desk_cmds as desk_cmds
    from sijil.cli.options import desk_at

    folder = stick()
    enospc = failing_at("intake.open", OSError(errno.ENOSPC, "No space left on device"))

    def full_disk(home: Path, db_url: str | None = None) -> DeskHome:
        return DeskHome(root=home, db_url=db_url, faults=enospc)

    monkeypatch.setattr(desk_cmds, "desk_at", full_disk)
    # When imported
    result = run_cli("desk", "import", *desk.args, str(folder))
    # Then exit status 1 and one line on stderr; the envelope is left and not quarantined
    assert result.code == 1
    (line,) = result.err.splitlines()
    assert line.startswith("sijil: error: import stopped while taking ")
    assert "No space left on device" in line and str(folder) not in line
    assert len(list(folder.iterdir())) == 1
    assert counts(desk)["quarantine_items"] == 0
    # When the disk has room again, then the same command imports it (exit 0)
    monkeypatch.setattr(desk_cmds, "desk_at", desk_at)
    again = run_cli("desk", "import", *desk.args, str(folder))
    assert again.code == 0, again.err
    assert "done: 1 imported" in again.out


# --- content errors quarantine that item and the batch goes on ----------------------------


def test_a_value_the_database_refuses_quarantines_the_item_and_the_batch_goes_on(
    desk: DeskFixture, stick: Callable[..., Path], importer: Callable[..., list[ImportOutcome]]
) -> None:
    # Given two envelopes, the first of which the database refuses to register
    folder = stick(2)
    first = sorted(folder.iterdir())[0].name
    cause = sa_exc.DataError("INSERT", {}, Exception("value too long"))
    refused = store_error(cause)
    refused.__cause__ = cause  # as Store.session raises it: "raise store_error(exc) from exc"
    passes: list[str] = []

    def refuse_first(point: str) -> None:
        if point == "intake.register":
            passes.append(point)
            if len(passes) == 1:
                raise refused

    # When imported
    outcomes = importer(folder, faults=refuse_first)
    # Then that one is quarantined with the database's reason, and the other imported
    by_name = {Path(o.source).name: o for o in outcomes}
    assert by_name[first].status is ImportStatus.QUARANTINED
    assert by_name[first].detail.startswith("the database refused the change")
    assert sorted(o.status for o in outcomes) == ["imported", "quarantined"]


def test_a_nul_in_a_report_is_refused_when_parsed_and_quarantined(
    desk: DeskFixture,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    importer: Callable[..., list[ImportOutcome]],
    tmp_path: Path,
) -> None:
    from envelope_helpers import raw_envelope, sign

    # Given a validly signed report whose body holds a NUL (PostgreSQL text cannot
    # store one; a correspondent's own sijil refuses to seal it), and a good report
    raven = make_correspondent(desk, "Raven")
    with pytest.raises(MalformedEnvelope, match="control character"):
        compose(raven, Draft(title="nul", body="before\x00after", lang="en"), [])
    compose(raven, Draft(title="fine", body="text", lang="en"), [])
    folder = tmp_path / "stick"
    export_outbox(raven, folder)
    manifest = _nul_manifest(raven)
    (folder / "0-nul.age").write_bytes(
        raw_envelope(desk.home.public(), manifest, sign(raven.identity, manifest))
    )
    # When imported
    outcomes = importer(folder)
    # Then, on both databases, the NUL is refused when the manifest is parsed and
    # quarantined with that reason, and the other report still arrives
    assert sorted(o.status for o in outcomes) == ["imported", "quarantined"]
    (kept,) = [o for o in outcomes if o.status is ImportStatus.QUARANTINED]
    assert kept.detail == "the report's body contains a control character (U+0000)"


def _nul_manifest(session: FieldSession) -> bytes:
    from sijil.crypto.canonical import canonical_json
    from sijil.crypto.identity import b64, raw_public

    return canonical_json(
        {
            "v": 1,
            "type": "report",
            "nonce": "00" * 16,
            "created_at": "2016-11-22T03:14:15Z",
            "report": {"title": "nul", "body": "before\x00after", "lang": "en", "location": None},
            "attachments": [],
            "sender": {
                "sign_key": b64(raw_public(session.identity.sign.public_key())),
                "reply_key": b64(raw_public(session.identity.box.public_key())),
                "enrol_token": None,
            },
        }
    )


def test_an_input_over_the_quarantine_limit_is_skipped_and_left_in_place(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a quarantine limit smaller than the junk on the stick
    monkeypatch.setattr("sijil.desk.intake.MAX_QUARANTINE_BYTES", len(JUNK) - 1)
    folder = stick(0, junk=True)
    # When imported, then it is skipped with the reason, and nothing is copied
    (outcome,) = importer(folder)
    assert outcome.status is ImportStatus.SKIPPED
    assert "too large to quarantine" in outcome.detail and "left where it is" in outcome.detail
    assert (folder / "notes.docx").read_bytes() == JUNK
    assert counts(desk)["quarantine_items"] == 0


# --- exit statuses --------------------------------------------------------------------------


def test_exit_status_0_when_all_taken_or_duplicate_and_hidden_files_do_not_count(
    desk: DeskFixture, stick: Callable[..., Path], run_cli: Callable[..., CliResult]
) -> None:
    # Given a stick with one envelope and a Mac's hidden files
    folder = stick()
    (folder / ".DS_Store").write_bytes(b"Bud1")
    (folder / "._x.age").write_bytes(b"\0\5\x16\7")
    # When imported twice
    first = run_cli("desk", "import", *desk.args, str(folder))
    second = run_cli("desk", "import", *desk.args, "--verbose", str(folder))
    # Then both exit 0; hidden files are listed with --verbose only, never as skipped
    assert first.code == 0, first.out + first.err
    assert "done: 2 ignored (hidden; --verbose lists them), 1 imported" in first.out
    assert ".DS_Store" not in first.out
    assert second.code == 0, second.out + second.err
    assert "ignored     a hidden file; not read  [.DS_Store]" in second.out
    assert "done: 1 duplicate, 2 ignored" in second.out and "skipped" not in second.out


def test_exit_status_3_when_anything_was_quarantined_skipped_or_left_waiting(
    desk: DeskFixture, stick: Callable[..., Path], run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # Given one shard of a text export (too few to rebuild)
    shards = stick(name="chat", text=True)
    for extra in sorted(shards.iterdir())[1:]:
        extra.unlink()
    # When imported, then it waits, and the run exits 3
    waiting = run_cli("desk", "import", *desk.args, str(shards))
    assert waiting.code == 3, waiting.out + waiting.err
    assert "done: 1 waiting" in waiting.out
    # Given junk beside good envelopes; when imported, then exit 3
    folder = stick(junk=True)
    quarantined = run_cli("desk", "import", *desk.args, str(folder))
    assert quarantined.code == 3, quarantined.out + quarantined.err
    assert "done: 2 imported, 1 quarantined" in quarantined.out
    # Given a FIFO, which is never read; when imported, then exit 3
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "pipe.age")
    skipped = run_cli("desk", "import", *desk.args, str(fifo))
    assert skipped.code == 3 and "done: 1 skipped" in skipped.out


def test_the_help_of_import_pull_and_retry_documents_the_exit_statuses(
    run_cli: Callable[..., CliResult],
) -> None:
    for command in (["desk", "import"], ["desk", "pull"], ["desk", "quarantine", "retry"]):
        shown = run_cli(*command, "--help")
        assert shown.code == 0
        assert "Exit status:" in shown.out
        assert "  0  " in shown.out and "  3  " in shown.out and "  1  " in shown.out


# --- list and retry -------------------------------------------------------------------------


def test_list_shows_each_item_with_its_reason_size_arrival_and_channel(
    desk: DeskFixture, stick: Callable[..., Path], run_cli: Callable[..., CliResult]
) -> None:
    # Given junk quarantined from a USB stick
    folder = stick(0, junk=True)
    assert run_cli("desk", "import", *desk.args, "--channel", "usb", str(folder)).code == 3
    # When listed as JSON and as text
    listed = run_cli("desk", "quarantine", "list", *desk.args, "--json")
    text_out = run_cli("desk", "quarantine", "list", *desk.args)
    # Then each item carries at least id, reason, size, received_at, channel
    assert listed.code == 0, listed.err
    (item,) = json.loads(listed.out)
    assert item["reason"] == "neither a sijil envelope nor text shards"
    assert (item["size"], item["channel"], item["source"]) == (len(JUNK), "usb", "notes.docx")
    assert item["received_at"] and isinstance(item["id"], int)
    assert (item["state"], item["kept"]) == ("quarantined", "vault")
    assert f"#{item['id']}" in text_out.out and "notes.docx" in text_out.out


def test_the_ledger_names_a_quarantined_file_by_a_salted_commitment_not_its_hash(
    desk: DeskFixture, stick: Callable[..., Path], run_cli: Callable[..., CliResult]
) -> None:
    # Given a document dropped on a USB stick beside the envelopes, quarantined
    folder = stick(0, junk=True)
    assert run_cli("desk", "import", *desk.args, "--channel", "usb", str(folder)).code == 3
    known = hashlib.sha256(JUNK).hexdigest()
    # When the custody ledger is read (as someone with a copy of it would)
    with desk.home.open_store() as store, store.session() as session:
        (body,) = session.scalars(
            select(LedgerEntry.body).where(LedgerEntry.kind == EntryKind.INPUT_QUARANTINED)
        ).all()
    # Then the file's SHA-256 is nowhere in it: a known file cannot be confirmed
    assert known not in body
    assert parse_entry(body.encode()).data["salted"] is True
    assert run_cli("verify", *desk.args).code == 0
    # When the row's hash is altered, then the audit says the entry differs
    with desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(update(QuarantineItem).values(sha256="0" * 64))
    audit = run_cli("verify", *desk.args)
    assert audit.code == 1
    assert "field 'sha256' differs from its ledger entry #" in audit.out


def test_a_false_alarm_is_released_by_retry_once_and_the_ledger_records_it(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a good envelope quarantined by a bug (a false alarm)
    folder = stick()
    bug = failing_at("intake.open", RuntimeError("a bug, not the envelope"))
    (kept,) = importer(folder, faults=bug)
    assert kept.status is ImportStatus.QUARANTINED and kept.item is not None
    assert kept.detail == "could not be opened (RuntimeError)"
    # and importing it again only says it is already here
    (again,) = importer(folder)
    assert again.status is ImportStatus.DUPLICATE
    # When the item is retried
    retried = run_cli("desk", "quarantine", "retry", *desk.args, str(kept.item))
    # Then it is imported and released, once, and the audit passes
    assert retried.code == 0, retried.out + retried.err
    assert f"#{kept.item} " in retried.out and ": released: report " in retried.out
    assert counts(desk) == {"envelopes": 1, "reports": 1, "quarantine_items": 1}
    assert ledger_kinds(desk).count(EntryKind.INPUT_RELEASED) == 1
    assert ledger_kinds(desk).count(EntryKind.ENVELOPE_RECEIVED) == 1  # it arrived once
    assert json.loads(run_cli("desk", "quarantine", "list", *desk.args, "--json").out) == []
    (shown,) = json.loads(run_cli("desk", "quarantine", "list", *desk.args, "--all", "--json").out)
    assert shown["state"] == "released" and shown["released_at"]
    audit = run_cli("verify", *desk.args)
    assert audit.code == 0, audit.out + audit.err
    # When retried once more, then it is refused: it was released already
    twice = run_cli("desk", "quarantine", "retry", *desk.args, str(kept.item))
    assert twice.code == 1 and "was released already" in twice.err
    assert counts(desk)["reports"] == 1


def test_a_retry_of_what_is_already_registered_releases_it_as_a_duplicate(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a false alarm, and a retry stopped after registering it but before the
    # release was recorded (as a crash between the two commits would leave it)
    folder = stick()
    (kept,) = importer(folder, faults=failing_at("intake.open", RuntimeError("bug")))
    assert kept.item is not None

    def stop_after_import(outcome: ImportOutcome) -> None:
        if outcome.status is ImportStatus.IMPORTED:
            raise KeyboardInterrupt

    with desk.home.open_store() as store, pytest.raises(KeyboardInterrupt):
        retry_quarantined(
            desk.home, desk.home.unlock(PASSPHRASE), store, [kept.item], progress=stop_after_import
        )
    assert counts(desk)["reports"] == 1
    # When it is retried again
    result = run_cli("desk", "quarantine", "retry", *desk.args, "--all")
    # Then it is released as a duplicate: no second report
    assert result.code == 0, result.out + result.err
    assert "duplicate" in result.out and "done: 1 released, 0 still quarantined" in result.out
    assert counts(desk) == {"envelopes": 1, "reports": 1, "quarantine_items": 1}
    with desk.home.open_store() as store, store.session() as session:
        body = session.scalars(
            select(LedgerEntry.body).where(LedgerEntry.kind == EntryKind.INPUT_RELEASED)
        ).one()
    assert parse_entry(body.encode()).data["outcome"] == "duplicate"
    assert run_cli("verify", *desk.args).code == 0


def test_an_item_that_fails_again_stays_with_its_new_reason_and_exit_3(
    desk: DeskFixture,
    stick: Callable[..., Path],
    run_cli: Callable[..., CliResult],
    importer: Callable[..., list[ImportOutcome]],
) -> None:
    # Given junk in quarantine
    (kept,) = importer(stick(0, junk=True))
    assert kept.status is ImportStatus.QUARANTINED
    # When every item is retried
    result = run_cli("desk", "quarantine", "retry", *desk.args, "--all")
    # Then it stays quarantined (exit 3), logged again under the same item, and audits clean
    assert result.code == 3, result.out + result.err
    assert "still quarantined: neither a sijil envelope" in result.out
    assert counts(desk)["quarantine_items"] == 1
    assert ledger_kinds(desk).count(EntryKind.INPUT_QUARANTINED) == 2
    assert EntryKind.INPUT_RELEASED not in ledger_kinds(desk)
    assert run_cli("verify", *desk.args).code == 0
    # and retry needs an id or --all, not neither
    assert run_cli("desk", "quarantine", "retry", *desk.args).code == 2
    assert run_cli("desk", "quarantine", "retry", *desk.args, "999").code == 1


def test_the_audit_names_a_state_flipped_to_hide_or_fake_a_release(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given one released item and one still quarantined
    (released,) = importer(stick(), faults=failing_at("intake.open", RuntimeError("bug")))
    (stuck,) = importer(stick(0, junk=True, name="junk"))
    assert run_cli("desk", "quarantine", "retry", *desk.args, str(released.item)).code == 0
    # When someone flips both states in the database
    with desk.home.open_store() as store, store.session(write=True) as session:
        for item_id, state in ((released.item, "quarantined"), (stuck.item, "released")):
            session.execute(
                text("UPDATE quarantine_items SET state = :s WHERE id = :i"),
                {"s": state, "i": item_id},
            )
    # Then the audit names each
    result = run_cli("verify", *desk.args)
    assert result.code == 1
    assert f"quarantine item #{released.item} (" in result.out
    assert "records its release, but its state is now 'quarantined'" in result.out
    assert f"quarantine item #{stuck.item} (notes.docx): marked released" in result.out


def test_an_altered_or_deleted_quarantine_blob_is_named_by_the_audit(
    desk: DeskFixture,
    stick: Callable[..., Path],
    importer: Callable[..., list[ImportOutcome]],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given junk kept in the vault
    (kept,) = importer(stick(0, junk=True))
    vault = desk.home.open_vault(desk.home.unlock(PASSPHRASE))
    with desk.home.open_store() as store, store.session() as session:
        item = session.get(QuarantineItem, kept.item)
        assert item is not None
        sha = item.sha256
    name = vault.name_of(sha)
    blob = desk.home.vault / name[:2] / name
    assert JUNK not in blob.read_bytes()  # encrypted, under a keyed name
    assert sha not in str(blob)
    # When a byte of it is flipped, then the audit names the item
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    altered = run_cli("verify", *desk.args)
    assert altered.code == 1
    assert f"quarantine item #{kept.item} (notes.docx): its stored file no longer hashes" in (
        altered.out
    )
    # When it is deleted, then too
    blob.unlink()
    deleted = run_cli("verify", *desk.args)
    assert f"quarantine item #{kept.item} (notes.docx): its stored file is missing" in deleted.out


# --- the ledger's raw cursor ------------------------------------------------------------------


def test_a_database_error_in_the_ledgers_raw_cursor_is_a_one_line_store_error(
    store: Store,
) -> None:
    # Given a ledger of two entries whose node table has gone
    with store.session(write=True) as session:
        ledger_log.append(
            session, [NewEntry(kind=EntryKind.USER_ACTION, subject=f"s{i}") for i in range(2)]
        )
    with store.session(write=True) as session:
        session.execute(text("DROP TABLE ledger_nodes"))
    # When a root needing a stored node is read through the driver's own cursor
    with pytest.raises(StoreError) as raised, store.session() as session:
        ledger_log.root_at(session.connection(), 2)
    # Then sijil's StoreError says so in one line, the driver's error as its cause
    assert "ledger_nodes" in str(raised.value) and "\n" not in str(raised.value)
    assert type(raised.value.__cause__).__module__.split(".")[0] in ("sqlite3", "psycopg")


# --- a desk from before migration 0005 ----------------------------------------------------------


def test_an_older_desks_clear_quarantine_stays_listable_and_retry_moves_it_into_the_vault(
    store_url: str,
    tmp_path: Path,
    fast_kdf: object,
    passphrase: str,
    run_cli: Callable[..., CliResult],
) -> None:
    # Given desk keys, and an envelope from an unenrolled source that an older sijil
    # quarantined (a false alarm) in the clear quarantine/ folder, with a database at 0004
    root = tmp_path / "desk"
    keys = DeskHome(root=root, db_url=Store.sqlite_url(tmp_path / "keys.db"))
    keys.init(PASSPHRASE, fast_kdf)  # type: ignore[arg-type]
    ghost = FieldHome(tmp_path / "ghost")
    ghost.init(Invite(codename="Ghost", desk=keys.public(), token="ab" * 32), PASSPHRASE, fast_kdf)  # type: ignore[arg-type]
    session = ghost.unlock(PASSPHRASE)
    compose(session, Draft(title="old", body="kept by an older desk", lang="en"), [])
    (export,) = export_outbox(session, tmp_path / "stick")
    sealed = export.paths[0].read_bytes()
    envelope_id = export.paths[0].stem
    legacy = root / "quarantine" / f"{envelope_id}.bin"
    legacy.parent.mkdir()
    legacy.write_bytes(sealed)
    (root / "quarantine" / f"{envelope_id}.reason.txt").write_text("x.age: could not be opened\n")
    old = Store.open(store_url, migrate=False)
    try:
        old.migrate("0004")
        reason = "could not be opened (OSError)"
        with old.session(write=True) as db:
            db.execute(
                text(
                    "INSERT INTO envelopes (id, size, channel, received_at, status) "
                    "VALUES (:id, :size, 'usb', CURRENT_TIMESTAMP, 'quarantined')"
                ),
                {"id": envelope_id, "size": len(sealed)},
            )
            db.execute(
                text(
                    "INSERT INTO quarantine_items (id, created_at, source_name, reason, "
                    "error_type, stored_path, sha256) VALUES (1, CURRENT_TIMESTAMP, 'x.age', "
                    ":reason, 'OSError', :path, :sha)"
                ),
                {"reason": reason, "path": f"quarantine/{envelope_id}.bin", "sha": envelope_id},
            )
            facts = {"envelope": envelope_id, "size": len(sealed), "channel": "usb"}
            old_facts = {"item": 1, "sha256": envelope_id, "error_type": "OSError"}
            ledger_log.append(
                db,
                [
                    NewEntry(kind=EntryKind.ENVELOPE_RECEIVED, subject=envelope_id, data=facts),
                    NewEntry(
                        kind=EntryKind.INPUT_QUARANTINED,
                        subject=envelope_id,
                        data={**old_facts, "reason": digest(reason)},
                    ),
                ],
            )
    finally:
        old.close()
    desk = DeskFixture(home=DeskHome(root=root, db_url=store_url))
    # (the older sijil's import signed a tree head as it ended, as every import does)
    with Store.open(store_url) as current, current.session(write=True) as db:
        issue_head(db, keys.unlock(PASSPHRASE).sign)
    # When the current sijil opens it (migrated to the newest schema)
    listed = run_cli("desk", "quarantine", "list", *desk.args, "--json")
    # Then the item is listed, its size read from the clear file, and the audit passes
    assert listed.code == 0, listed.err
    (item,) = json.loads(listed.out)
    assert (item["id"], item["size"], item["channel"], item["kept"]) == (
        1,
        len(sealed),
        None,
        "folder",
    )
    assert run_cli("verify", *desk.args).code == 0
    # When it is retried
    retried = run_cli("desk", "quarantine", "retry", *desk.args, "1")
    # Then it is imported and released, the clear copy is gone, and the audit still passes
    assert retried.code == 0, retried.out + retried.err
    assert not legacy.exists() and not list((root / "quarantine").iterdir())
    assert counts(desk) == {"envelopes": 1, "reports": 1, "quarantine_items": 1}
    audit = run_cli("verify", *desk.args)
    assert audit.code == 0, audit.out + audit.err


# --- desk pull -------------------------------------------------------------------------------


@pytest.fixture
def relay_with(
    desk: DeskFixture, make_relay: Callable[..., object]
) -> Callable[[Path], tuple[str, Path]]:
    """Factory: a relay holding every envelope in ``folder``; returns (url, its envelopes)."""

    def make(folder: Path) -> tuple[str, Path]:
        relay = make_relay(desk.home.unlock(PASSPHRASE).public.sign)
        spool = relay.spool / "envelopes"  # type: ignore[attr-defined]
        spool.mkdir(parents=True, exist_ok=True)
        for envelope in folder.iterdir():
            data = envelope.read_bytes()
            (spool / f"{hashlib.sha256(data).hexdigest()}.age").write_bytes(data)
        return relay.url, spool  # type: ignore[attr-defined]

    return make


def test_pull_exits_3_when_it_quarantined_and_the_relay_lets_go_of_what_was_kept(
    desk: DeskFixture,
    stick: Callable[..., Path],
    relay_with: Callable[[Path], tuple[str, Path]],
    run_cli: Callable[..., CliResult],
) -> None:
    # Given a relay holding a good envelope and one damaged on the way
    folder = stick(2)
    damaged = sorted(folder.iterdir())[0]
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 1
    damaged.write_bytes(bytes(data))
    url, spool = relay_with(folder)
    # When the desk pulls
    pulled = run_cli("desk", "pull", *desk.args, "--relay", url)
    # Then exit 3: one imported, one quarantined, and the relay holds neither any more
    assert pulled.code == 3, pulled.out + pulled.err
    assert "done: 1 imported, 1 quarantined" in pulled.out
    assert list(spool.iterdir()) == []
    # When it pulls again, then nothing is waiting: exit 0
    again = run_cli("desk", "pull", *desk.args, "--relay", url)
    assert again.code == 0 and "nothing waiting at the relay" in again.out


def test_pull_exits_1_on_a_full_disk_and_the_relay_keeps_the_envelope(
    desk: DeskFixture,
    stick: Callable[..., Path],
    relay_with: Callable[[Path], tuple[str, Path]],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sijil.cli.relay_client_cmds as relay_cmds
    from sijil.cli.options import desk_at

    # Given a relay holding an envelope, and a desk whose disk fills while opening it
    url, spool = relay_with(stick())
    enospc = failing_at("intake.open", OSError(errno.ENOSPC, "No space left on device"))
    monkeypatch.setattr(
        relay_cmds,
        "desk_at",
        lambda home, db_url=None: DeskHome(root=home, db_url=db_url, faults=enospc),
    )
    # When the desk pulls
    pulled = run_cli("desk", "pull", *desk.args, "--relay", url)
    # Then exit 1 with one line, nothing quarantined, and the relay still holds it
    assert pulled.code == 1
    assert len(pulled.err.splitlines()) == 1 and "No space left on device" in pulled.err
    assert counts(desk)["quarantine_items"] == 0 and len(list(spool.iterdir())) == 1
    # When the disk has room again, then the next pull imports it: exit 0
    monkeypatch.setattr(relay_cmds, "desk_at", desk_at)
    again = run_cli("desk", "pull", *desk.args, "--relay", url)
    assert again.code == 0, again.out + again.err
    assert "done: 1 imported" in again.out and list(spool.iterdir()) == []
