"""`sijil desk passphrase change` and `sijil field passphrase change`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import PASSPHRASE, CliResult, DeskFixture
from sijil.crypto.kdf import KdfParams
from sijil.desk.passphrase import change_desk_passphrase
from sijil.errors import PassphraseError
from sijil.field.home import FieldHome, FieldSession
from sijil.field.passphrase import change_field_passphrase

NEW = "a new passphrase, also not secret"


@pytest.fixture
def new_passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIJIL_NEW_PASSPHRASE", NEW)
    return NEW


def test_desk_passphrase_change_locks_out_the_old_one(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    new_passphrase: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a desk whose key opens with the old passphrase
    desk = make_desk()
    before = desk.home.unlock(PASSPHRASE)
    # When its passphrase is changed
    result = run_cli("desk", "passphrase", "change", "--home", str(desk.home.root))
    assert result.code == 0, result.err
    # Then the new passphrase opens the same key, and the old one opens nothing
    after = desk.home.unlock(new_passphrase)
    assert after.public.fingerprint == before.public.fingerprint
    assert after.vault == before.vault
    with pytest.raises(PassphraseError):
        desk.home.unlock(PASSPHRASE)
    # And the desk works on with the new passphrase (its database and vault open)
    monkeypatch.setenv("SIJIL_PASSPHRASE", new_passphrase)
    assert run_cli("verify", *desk.args).code == 0
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    refused = run_cli("verify", *desk.args)
    assert refused.code == 1 and "wrong passphrase" in refused.err


def test_field_passphrase_change_locks_out_the_old_one(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    new_passphrase: str,
) -> None:
    # Given a correspondent's keys locked with the old passphrase
    session = make_correspondent(make_desk(), "Raven")
    home = session.home
    # When the passphrase is changed
    result = run_cli("field", "passphrase", "change", "--home", str(home.root))
    assert result.code == 0, result.err
    # Then the new one opens the same identity with the same settings; the old one nothing
    reopened = home.unlock(new_passphrase)
    assert reopened.identity.public.fingerprint == session.identity.public.fingerprint
    assert reopened.settings == session.settings
    assert reopened.load_index() == session.load_index()
    with pytest.raises(PassphraseError):
        home.unlock(PASSPHRASE)


def test_a_wrong_old_passphrase_changes_nothing(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    new_passphrase: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a desk, and a wrong current passphrase
    desk = make_desk()
    key_file = desk.home.key_file.read_bytes()
    monkeypatch.setenv("SIJIL_PASSPHRASE", "not the passphrase")
    # When the change is asked for, Then it is refused with one line and the file is as it was
    result = run_cli("desk", "passphrase", "change", "--home", str(desk.home.root))
    assert result.code == 1 and result.err.count("\n") == 1 and "wrong passphrase" in result.err
    assert desk.home.key_file.read_bytes() == key_file


@pytest.mark.parametrize("new", ["short", PASSPHRASE], ids=["too-short", "unchanged"])
def test_a_weak_or_unchanged_new_passphrase_is_refused(
    run_cli: Callable[..., CliResult],
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    monkeypatch: pytest.MonkeyPatch,
    new: str,
) -> None:
    desk = make_desk()
    field_home = make_correspondent(desk, "Raven").home
    monkeypatch.setenv("SIJIL_NEW_PASSPHRASE", new)
    for side, home in (("desk", desk.home.root), ("field", field_home.root)):
        key_file = next(home.glob("*.key"))
        before = key_file.read_bytes()
        result = run_cli(side, "passphrase", "change", "--home", str(home))
        assert result.code == 1 and result.err.startswith("sijil: error: ")
        assert key_file.read_bytes() == before


def test_the_library_rewraps_with_the_given_costs(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    fast_kdf: KdfParams,
) -> None:
    # Given a desk and a correspondent
    desk = make_desk()
    field_home: FieldHome = make_correspondent(desk, "Raven").home
    # When both are re-locked through the library
    change_desk_passphrase(desk.home, PASSPHRASE, NEW, fast_kdf)
    change_field_passphrase(field_home, PASSPHRASE, NEW, fast_kdf)
    # Then no temporary file is left beside the key files
    assert not list(desk.home.root.glob(".tmp-*")) and not list(field_home.root.glob(".tmp-*"))
    assert desk.home.unlock(NEW) and field_home.unlock(NEW)
