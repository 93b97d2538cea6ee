"""`sijil verify`: a clean desk passes; each single tampering is detected and named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import PASSPHRASE, CliResult, Evidence
from sijil.store import Attachment


def _verify(run_cli: Callable[..., CliResult], evidence: Evidence) -> CliResult:
    return run_cli("verify", *evidence.desk.args)


def _sql(evidence: Evidence, statement: str) -> None:
    with evidence.desk.home.open_store() as store, store.engine.begin() as conn:
        conn.exec_driver_sql(statement)


def _photo_sha(evidence: Evidence) -> tuple[int, str]:
    with evidence.desk.home.open_store() as store, store.session() as session:
        item = session.scalars(select(Attachment).order_by(Attachment.id)).first()
        assert item is not None
        return item.report_id, item.sha256


def _blob_path(evidence: Evidence, sha: str) -> Path:
    vault = evidence.desk.home.open_vault(evidence.desk.home.unlock(PASSPHRASE))
    path = evidence.desk.home.vault / vault.name_of(sha)[:2] / vault.name_of(sha)
    assert path.is_file()
    return path


def test_a_clean_desk_passes(run_cli: Callable[..., CliResult], evidence: Evidence) -> None:
    # Given a desk that imported reports and quarantined junk
    assert sorted(o.status for o in evidence.outcomes) == ["imported"] * 3 + ["quarantined"]
    # When audited, then every check passes
    result = _verify(run_cli, evidence)
    assert result.code == 0, result.out + result.err
    assert "OK: nothing lost, nothing altered" in result.out
    assert "10 ledger entries, 2 signed tree heads" in result.out  # init and import


def test_a_flipped_byte_in_a_blob_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    report_id, sha = _photo_sha(evidence)
    path = _blob_path(evidence, sha)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert (
        f"PROBLEM  attachment 1 of report #{report_id} (sha256 {sha[:12]}): altered" in result.out
    )
    assert result.err.startswith("sijil: error: 1 problem(s) found")


def test_a_deleted_blob_is_named(run_cli: Callable[..., CliResult], evidence: Evidence) -> None:
    report_id, sha = _photo_sha(evidence)
    _blob_path(evidence, sha).unlink()
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert f"attachment 1 of report #{report_id} (sha256 {sha[:12]}): missing" in result.out


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE reports SET title = 'a nicer title' WHERE id = 2", "field 'title' differs"),
        ("UPDATE envelopes SET channel = 'relay'", "field 'channel' differs"),
        ("UPDATE attachments SET name = 'other.jpg'", "field 'name' differs"),
        ("UPDATE quarantine_items SET reason = 'nothing wrong'", "field 'reason' differs"),
    ],
)
def test_a_changed_record_field_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence, statement: str, named: str
) -> None:
    _sql(evidence, statement)
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert named in result.out and "from its ledger entry #" in result.out


def test_a_changed_ledger_entry_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    _sql(
        evidence,
        "UPDATE ledger_entries SET body = replace(body, '\"usb\"', '\"file\"') WHERE seq = 0",
    )
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert (
        "ledger entries #0-#1: their stored subtree hash (level 1) no longer matches" in result.out
    )
    assert "field 'channel' differs from its ledger entry #0" in result.out
    assert "tree head #2 (size 10): the ledger no longer recomputes" in result.out  # #1: init


def test_an_altered_tree_head_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    _sql(
        evidence,
        "UPDATE ledger_heads SET body = replace(body, '\"tree_size\":10', '\"tree_size\":9')",
    )
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert "tree head #2 (size 10): the tree head's signature does not verify" in result.out


def test_a_deleted_ledger_row_is_named(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    _sql(evidence, "DELETE FROM ledger_entries WHERE seq = 3")
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert "ledger entry #3 is missing" in result.out


def test_a_deleted_last_entry_and_node_break_the_signed_head(
    run_cli: Callable[..., CliResult], evidence: Evidence
) -> None:
    # Given someone removes the newest entry, its nodes, and shrinks the size to hide it
    _sql(evidence, "DELETE FROM ledger_entries WHERE seq = 9")
    _sql(evidence, "DELETE FROM ledger_nodes WHERE id = 72057594037927940")  # node (1, 4)
    _sql(evidence, "UPDATE ledger_state SET size = 9")
    result = _verify(run_cli, evidence)
    assert result.code == 1
    assert "ledger entry #9 is missing" in result.out


def test_verify_needs_the_passphrase_and_says_so(
    run_cli: Callable[..., CliResult], evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIJIL_PASSPHRASE", "wrong passphrase")
    result = _verify(run_cli, evidence)
    assert result.code == 1 and result.err.startswith("sijil: error: wrong passphrase")
