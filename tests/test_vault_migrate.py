"""A desk on an object store: `sijil desk vault migrate`, intake and `sijil verify` over it.

The object store is a real S3 server (SeaweedFS on loopback, tests/s3_server.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import (
    PASSPHRASE,
    CliResult,
    DeskFixture,
    Evidence,
    desk_with_evidence,
    seal_reports,
)
from export_helpers import check_package, export_package
from s3_server import S3Server
from sijil.desk.vault_config import load_vault_url, open_blob_store, save_vault_url
from sijil.desk.vault_migrate import migrate_vault
from sijil.errors import ConfigError, VaultError
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.vault import FolderBlobStore, blob_store_from_url

MakeDesk = Callable[..., DeskFixture]
MakeCorrespondent = Callable[[DeskFixture, str], FieldSession]


def _folder_names(evidence: Evidence) -> set[str]:
    return set(FolderBlobStore(evidence.desk.home.vault).names())


def test_migrate_copies_verifies_and_switches_and_verify_works_over_it(
    run_cli: Callable[..., CliResult],
    evidence: Evidence,
    make_s3_url: Callable[[], str],
    tmp_path: Path,
) -> None:
    # Given a desk that imported reports into its folder vault
    home = evidence.desk.home
    before = _folder_names(evidence)
    audit_before = run_cli("verify", *evidence.desk.args)
    url = make_s3_url()
    # When its vault is migrated to the object store
    moved = run_cli("desk", "vault", "migrate", "--home", str(home.root), "--to", url)
    # Then every blob is there and verified, and the desk now uses it
    assert moved.code == 0, moved.err
    assert f"{len(before)} copied, 0 already there, {len(before)} verified" in moved.out
    assert f"{len(before)}/{len(before)} blobs" in moved.err
    assert "127.0.0.1" not in moved.out + moved.err
    assert json.loads(home.vault_config.read_text()) == {"url": url}
    assert set(blob_store_from_url(url).names()) == before
    assert _folder_names(evidence) == before  # the folder is kept as it was
    where = run_cli("desk", "vault", "where", "--home", str(home.root))
    assert where.out.strip() == url.split("?")[0]
    # and `sijil verify` passes over the object store, unchanged, checking as much as before
    verified = run_cli("verify", *evidence.desk.args)
    assert verified.code == 0, verified.out + verified.err
    assert verified.out == audit_before.out and "OK: nothing lost" in verified.out
    # and an evidence package is made from the object store and verifies, as before
    package = tmp_path / "case.zip"
    export_package(run_cli, evidence, package)
    assert check_package(run_cli, evidence, package).code == 0
    # and a second migration to the same place is refused
    again = run_cli("desk", "vault", "migrate", "--home", str(home.root), "--to", url)
    assert again.code == 1 and "already there" in again.err


@pytest.mark.slow
def test_a_migration_cut_by_an_outage_is_run_again(
    make_desk: MakeDesk,
    make_correspondent: MakeCorrespondent,
    make_s3_server: Callable[[], S3Server],
    s3_credentials: None,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a desk with evidence in its folder vault, and an object store
    evidence = desk_with_evidence(make_desk, make_correspondent, None, tmp_path)
    home = evidence.desk.home
    server = make_s3_server()
    url = server.url("desk")
    total = len(_folder_names(evidence))

    # When the store dies after the second blob
    def die_after_two(done: int, known: int, copied: int) -> None:
        if done == 2:
            server.stop()

    with pytest.raises(VaultError, match="could not be reached"):
        migrate_vault(home, home.unlock(PASSPHRASE), url, progress=die_after_two)
    # Then the desk stays on its folder
    assert not home.vault_config.exists()
    # When the store is back and the migration runs again
    server.start()
    moved = run_cli("desk", "vault", "migrate", "--home", str(home.root), "--to", url)
    # Then it copies the rest, verifies all, and switches
    assert moved.code == 0, moved.err
    assert f"{total - 2} copied, 2 already there, {total} verified" in moved.out
    assert run_cli("verify", *evidence.desk.args).code == 0


@pytest.mark.slow
def test_an_import_with_the_store_down_stops_and_completes_once_it_is_back(
    make_desk: MakeDesk,
    make_correspondent: MakeCorrespondent,
    make_s3_server: Callable[[], S3Server],
    s3_credentials: None,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    # Given a desk whose vault is an object store, and reports on a stick
    server = make_s3_server()
    desk = make_desk()
    desk.home.vault_config.write_text(json.dumps({"url": server.url("desk")}))
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", 3)
    inbox = tmp_path / "inbox"
    export_outbox(raven, inbox)
    inputs = sorted(p.name for p in inbox.iterdir())
    # When the store is down during the import
    server.stop()
    stopped = run_cli("desk", "import", "--channel", "usb", *desk.args, str(inbox))
    # Then the run stops with one line naming the cause, and the input is left as it was
    assert stopped.code == 1
    (line,) = [x for x in stopped.err.splitlines() if x.startswith("sijil: error:")]
    assert "import stopped" in line and "object store could not be reached" in line
    assert "127.0.0.1" not in stopped.out + stopped.err
    assert sorted(p.name for p in inbox.iterdir()) == inputs
    # When the store is back Then the same import completes and the desk verifies
    server.start()
    again = run_cli("desk", "import", "--channel", "usb", *desk.args, str(inbox))
    assert again.code == 0, again.out + again.err
    assert "done: 3 imported" in again.out
    verified = run_cli("verify", *desk.args)
    assert verified.code == 0, verified.out + verified.err


def test_vault_json_names_the_store_and_a_bad_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "vault.json"
    # Given no vault.json Then the desk keeps its folder
    assert load_vault_url(config) is None
    assert isinstance(open_blob_store(config, tmp_path / "vault"), FolderBlobStore)
    # Given a setting that is not one Then it is refused with its file's name
    for text in ["{not json", '{"url": 3}', "[]", '{"url": ""}']:
        config.write_text(text)
        with pytest.raises(ConfigError, match=r"vault\.json"):
            load_vault_url(config)
    # A URL with credentials in it is never saved
    config.unlink()
    with pytest.raises(ConfigError, match="never go in the vault URL"):
        save_vault_url(config, "s3://AKIA:secret@bucket/desk")
    assert not config.exists()
    # Folders are named by absolute paths, plain or file://
    other = tmp_path / "other"
    save_vault_url(config, f"file://{other}")
    store = open_blob_store(config, tmp_path / "vault")
    assert isinstance(store, FolderBlobStore) and store.root == other
    assert isinstance(blob_store_from_url(str(other)), FolderBlobStore)
    with pytest.raises(ConfigError, match="absolute path"):
        blob_store_from_url("relative/vault")
