"""`sijil verify` the other way round: every record the ledger names must still exist.

Each test removes or hides something the record-by-record checks cannot see
(a whole report, a quarantine record, a quarantined file, a status, the tree
heads) and checks the audit names it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from conftest import PASSPHRASE, CliResult, Evidence
from sijil.desk.audit import audit_desk
from sijil.ledger import log
from sijil.ledger.entries import EntryKind, NewEntry
from sijil.store import (
    Attachment,
    Envelope,
    LedgerHead,
    MediaMatch,
    MediaPrintRow,
    QuarantineItem,
    Report,
    VaultBlob,
    utcnow,
)


def _verify(run_cli: Callable[..., CliResult], evidence: Evidence) -> CliResult:
    return run_cli("verify", *evidence.desk.args)


def _report_with_photo(evidence: Evidence) -> tuple[int, str, str]:
    """(report id, envelope id, photo sha256) of the first report with a photo."""
    with evidence.desk.home.open_store() as store, store.session() as session:
        item = session.scalars(select(Attachment).order_by(Attachment.id)).first()
        assert item is not None
        report = session.get(Report, item.report_id)
        assert report is not None
        return report.id, report.envelope_id, item.sha256


def _quarantined(evidence: Evidence) -> tuple[int, str, Path]:
    """(id, sha256, the vault blob keeping its bytes) of the one quarantined input."""
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    with evidence.desk.home.open_store() as store, store.session() as session:
        kept = session.scalars(select(QuarantineItem)).one()
        name = vault.name_of(kept.sha256)
        path = evidence.desk.home.vault / name[:2] / name
        assert path.is_file()
        return kept.id, kept.sha256, path


def test_a_report_deleted_with_its_envelope_blobs_and_files_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given someone removes every trace of one report but its ledger entries
    report_id, envelope_id, photo = _report_with_photo(evidence)
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        items = select(Attachment.id).where(Attachment.report_id == report_id)
        session.execute(
            delete(MediaMatch).where(
                MediaMatch.attachment_id.in_(items) | MediaMatch.other_id.in_(items)
            )
        )
        session.execute(delete(MediaPrintRow).where(MediaPrintRow.attachment_id.in_(items)))
        session.execute(delete(Attachment).where(Attachment.report_id == report_id))
        session.execute(delete(Report).where(Report.id == report_id))
        session.execute(delete(Envelope).where(Envelope.id == envelope_id))
        session.execute(delete(VaultBlob).where(VaultBlob.sha256.in_([envelope_id, photo])))
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    for sha in (envelope_id, photo):
        (evidence.desk.home.vault / vault.name_of(sha)[:2] / vault.name_of(sha)).unlink()
    # When audited
    result = _verify(run_cli, evidence)
    # Then the envelope, the report and both blobs are named, one line each
    assert result.code == 1
    eid = envelope_id[:12]
    assert f"PROBLEM  envelope {eid}: its arrival is in ledger entry #" in result.out
    assert f"PROBLEM  report #{report_id} (envelope {eid}): registered in ledger entry #" in (
        result.out
    )
    assert (
        f"PROBLEM  sealed original of envelope {eid} (sha256 {eid}): no vault record, "
        "and missing from the vault" in result.out
    )
    # the ledger commits to the photo's address (salted) without naming it
    assert (
        f"PROBLEM  attachment 1 of report #{report_id}: registered in ledger entry #" in result.out
    )
    assert "no record names its file (the entry commits to its address" in result.out
    assert result.err.startswith("sijil: error: 4 problem(s) found")


def test_a_status_flip_does_not_hide_an_edited_report(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given an opened envelope marked quarantined, so its edited report looks unchecked
    report_id, envelope_id, _ = _report_with_photo(evidence)
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(
            update(Envelope).where(Envelope.id == envelope_id).values(status="quarantined")
        )
        session.execute(
            update(Report).where(Report.id == report_id).values(title="FORGED", body="forged")
        )
    result = _verify(run_cli, evidence)
    # Then the status and both edited fields are named
    assert result.code == 1
    where = f"report #{report_id} (envelope {envelope_id[:12]})"
    assert (
        f"envelope {envelope_id[:12]}: ledger entry #" in result.out
        and "records it opened, but its status is now 'quarantined'" in result.out
    )
    assert f"{where}: field 'title' differs from its ledger entry #" in result.out
    assert f"{where}: field 'body' differs from its ledger entry #" in result.out


def test_a_deleted_quarantine_record_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given the one quarantine row is deleted; its ledger entry commits to the input's hash
    item_id, sha, _ = _quarantined(evidence)
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(delete(QuarantineItem))
    # When the desk is verified
    result = _verify(run_cli, evidence)
    # Then the item is named by its salted commitment, never by the input's sha256
    assert result.code == 1
    assert (
        f"PROBLEM  quarantine item #{item_id} (commitment " in result.out
        and "): recorded in ledger entry #" in result.out
    )
    assert "but its record is missing" in result.out
    problem = next(line for line in result.out.splitlines() if "record is missing" in line)
    assert sha[:12] not in problem


def test_a_deleted_quarantined_file_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    item_id, _, path = _quarantined(evidence)
    path.unlink()
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert (
        f"PROBLEM  quarantine item #{item_id} (junk.bin): its stored file is missing" in result.out
    )


def test_an_altered_quarantined_file_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    item_id, _, path = _quarantined(evidence)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert (
        f"PROBLEM  quarantine item #{item_id} (junk.bin): its stored file no longer hashes"
        in result.out
    )


def test_deleting_every_tree_head_is_a_problem_at_once_even_in_the_desks_first_hour(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given a desk whose first import just ran (well inside its first hour)
    with evidence.desk.home.open_store() as store, store.session() as session:
        heads = session.scalars(select(LedgerHead.tree_size).order_by(LedgerHead.id)).all()
    # it holds the head signed at init (the empty ledger) and one signed by that import
    assert heads[0] == 0 and heads[-1] > 0
    # When every signed tree head is deleted
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(delete(LedgerHead))
    identity = evidence.desk.home.unlock(PASSPHRASE)
    vault = evidence.desk.home.open_vault(identity)
    with evidence.desk.home.open_store() as store:
        now = audit_desk(store, vault, identity.sign.public_key())
        later = audit_desk(
            store, vault, identity.sign.public_key(), now=utcnow() + timedelta(hours=2)
        )
    # Then it is a problem right away, not only once an hour has passed
    assert [p for p in now.problems if p.startswith("no signed tree head")] == [
        "no signed tree head, though the ledger has entries (its first is 0 minute(s) old): "
        "the heads were deleted, or no import ever finished (run 'sijil ledger head')"
    ]
    assert [p for p in later.problems if p.startswith("no signed tree head")] == [
        "no signed tree head, though the ledger has entries (its first is 2 hour(s) old): "
        "the heads were deleted, or no import ever finished (run 'sijil ledger head')"
    ]
    # and signing a head clears it
    assert run_cli("ledger", "head", *evidence.desk.args).code == 0
    assert _verify(run_cli, evidence).code == 0


def test_a_match_logged_before_media_matched_existed_still_verifies(
    run_cli: Callable[..., CliResult], evidence: Evidence, tmp_path: Path
) -> None:
    # Given a ledger that recorded a near-duplicate match as desks did before the
    # media.matched kind: derivative.made, with data.derived "media.match"
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        earlier, later = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        session.add(
            MediaMatch(
                attachment_id=later.id,
                other_id=earlier.id,
                kind="image",
                distance=9,
                transform="mirror",
            )
        )
        old_style = {
            "derived": "media.match",
            "attachment": later.sha256,
            "report": later.report_id,
            "other_attachment": earlier.sha256,
            "other_report": earlier.report_id,
            "kind": "image",
            "distance": 9,
            "transform": "mirror",
        }
        log.append(
            session,
            [NewEntry(kind=EntryKind.DERIVATIVE_MADE, subject=later.sha256, data=old_style)],
        )
        reports = [str(earlier.report_id), str(later.report_id)]
    # When the desk is audited
    result = _verify(run_cli, evidence)
    # Then the old entry counts as the match's record: nothing is wrong
    assert result.code == 0, result.out
    assert "OK: nothing lost, nothing altered" in result.out
    # and a package exported from that ledger verifies with the standalone verifier
    package = tmp_path / "case.zip"
    exported = run_cli(
        "export", "package", *evidence.desk.args, "--report", reports[0], "--report", reports[1],
        "--out", str(package),
    )  # fmt: skip
    assert exported.code == 0, exported.err
    key = str(evidence.desk.home.public_file)
    checked = run_cli("verify-package", str(package), "--desk-key", key)
    assert checked.code == 0 and "OK: the package verifies" in checked.out
    # and a match that no entry of either form records is named
    with evidence.desk.home.open_store() as store, store.session(write=True) as session:
        unlogged = MediaMatch(attachment_id=earlier.id, other_id=later.id, kind="image", distance=3)
        session.add(unlogged)
        session.flush()
        unlogged_id = unlogged.id
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert (
        f"PROBLEM  media match #{unlogged_id} (attachment 1 of report #{earlier.report_id} like "
        f"attachment 1 of report #{later.report_id}): no ledger entry records it" in result.out
    )
    assert result.err.startswith("sijil: error: 1 problem(s) found")
