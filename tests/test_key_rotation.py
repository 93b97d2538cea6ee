"""Rotating the desk's keys (issue 17 item 3): one history before and after the handover.

On SQLite and PostgreSQL: envelopes sealed to the old and the new age key arrive in
mixed order and all open; the ledger's heads before and after the handover verify as
one history in ``sijil verify``; an evidence package spanning the handover verifies
with the standalone verifier, given the old desk.pub or the new; correspondents
adopt the new key from the announcement signed by the key they trust; and forged or
stale keys are refused.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from conftest import PASSPHRASE, DeskFixture, RelayHandle, seal_reports
from sijil.crypto.handover import ANNOUNCE_MARK, make_handover, parse_handover
from sijil.crypto.identity import DeskPublic, age_recipient_string, raw_public
from sijil.desk.audit import audit_desk
from sijil.desk.intake import import_paths
from sijil.desk.key_rotation import announce_rotation, rotate_desk_key
from sijil.envelope.sealing import open_envelope
from sijil.errors import KeyFileError, LedgerError, PassphraseError
from sijil.export import verifier
from sijil.export.package import export_package
from sijil.export.verifier import verify_package
from sijil.field.compose import export_outbox
from sijil.field.home import FieldSession
from sijil.field.inbox import fetch_inbox
from sijil.ledger.entries import EntryKind
from sijil.ledger.heads import SignedHead, issue_head
from sijil.store import LedgerEntry, LedgerHead, Report


@dataclass
class RotatedDesk:
    desk: DeskFixture
    old_pub: Path  # desk.pub as it was before the rotation
    raven: FieldSession  # enrolled before, still sealing to the old key
    owl: FieldSession  # invited after: sealing to the new key
    inbox: Path  # raven's old-key and owl's new-key envelopes, not yet imported
    before: int  # reports imported before the rotation


@pytest.fixture
def make_rotated(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> Callable[[], RotatedDesk]:
    """Factory: a desk that imported Raven's reports, rotated its keys, invited Owl;
    more envelopes from both wait in a folder."""

    def make() -> RotatedDesk:
        desk = make_desk(store_url)
        raven = make_correspondent(desk, "Raven")
        (tmp_path / "photos").mkdir()
        seal_reports(raven, tmp_path / "photos", 2, tag="a")
        first = tmp_path / "first"
        export_outbox(raven, first)
        identity = desk.home.unlock(PASSPHRASE)
        with desk.home.open_store() as store:
            import_paths(desk.home, identity, store, [first], channel="usb")
        seal_reports(raven, tmp_path / "photos", 2, tag="bb")  # sealed to the old key
        old_pub = tmp_path / "old-desk.pub"
        old_pub.write_bytes(desk.home.public_file.read_bytes())
        rotate_desk_key(desk.home, PASSPHRASE)
        owl = make_correspondent(desk, "Owl")  # the invite carries the new key
        seal_reports(owl, tmp_path / "photos", 2, tag="ccc")
        inbox = tmp_path / "inbox"
        export_outbox(owl, inbox)
        export_outbox(raven, inbox, only_new=True)
        return RotatedDesk(desk, old_pub, raven, owl, inbox, before=2)

    return make


def _audit(desk: DeskFixture) -> list[str]:
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        audit = audit_desk(store, desk.home.open_vault(identity), identity.sign.public_key())
    return audit.problems


def test_envelopes_to_old_and_new_keys_in_mixed_order_all_open_and_the_history_is_one(
    make_rotated: Callable[[], RotatedDesk],
) -> None:
    # Given a rotated desk, Raven still sealing to the old key and Owl to the new one
    rotated = make_rotated()
    desk = rotated.desk
    old = DeskPublic.from_bytes(rotated.old_pub.read_bytes())
    new = desk.home.public()
    assert new.fingerprint != old.fingerprint
    assert rotated.owl.desk.fingerprint == new.fingerprint
    assert rotated.raven.desk.fingerprint == old.fingerprint
    identity = desk.home.unlock(PASSPHRASE)
    # When their envelopes arrive one by one, new and old keys interleaved
    files = sorted(rotated.inbox.glob("*.age"))
    assert len(files) == 4
    with desk.home.open_store() as store:
        for path in files:
            outcomes = import_paths(desk.home, identity, store, [path], channel="usb")
            assert [o.status for o in outcomes] == ["imported"], outcomes
        with store.session() as session:
            reports = session.scalars(select(Report)).all()
            kinds = session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.seq)).all()
            heads = session.scalars(select(LedgerHead).order_by(LedgerHead.id)).all()
    # Then every report is in, the ledger holds one handover, and the audit passes
    assert len(reports) == rotated.before + 4
    assert kinds.count(EntryKind.KEY_ROTATED) == 1
    keys = {json.loads(h.body)["log_key"] for h in heads}
    assert len(keys) == 2  # heads signed before and after the handover
    assert _audit(desk) == []


def test_a_head_signed_by_the_retired_key_after_the_handover_is_refused_and_named(
    make_rotated: Callable[[], RotatedDesk],
) -> None:
    # Given a rotated desk and a process that unlocked before the rotation
    rotated = make_rotated()
    desk = rotated.desk
    identity = desk.home.unlock(PASSPHRASE)
    stale = identity.retired[0].sign
    with desk.home.open_store() as store:
        # When it tries to sign a head, Then it is refused in one line
        with pytest.raises(LedgerError, match="retired desk key"), store.session(write=True) as s:
            issue_head(s, stale)
        # And a head forged with the retired key after the handover is named by the audit
        with store.session(write=True) as session:
            good = session.scalars(select(LedgerHead).order_by(LedgerHead.id.desc())).first()
            assert good is not None
            head = SignedHead.of_row(good)
            body = head.body.replace(
                json.loads(head.body)["log_key"].encode(),
                base64.b64encode(raw_public(stale.public_key())),
            )
            session.add(
                LedgerHead(
                    tree_size=good.tree_size,
                    root_hash=good.root_hash,
                    issued_at=good.issued_at,
                    body=body.decode(),
                    signature=stale.sign(body).hex(),
                )
            )
    problems = _audit(desk)
    assert any("names another desk's key" in p for p in problems), problems


def test_an_evidence_package_spanning_the_handover_verifies_with_the_old_or_new_desk_pub(
    make_rotated: Callable[[], RotatedDesk], tmp_path: Path
) -> None:
    # Given a rotated desk that imported reports sealed to both keys
    rotated = make_rotated()
    desk = rotated.desk
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        import_paths(desk.home, identity, store, [rotated.inbox], channel="usb")
        with store.session() as session:
            ids = list(session.scalars(select(Report.id).order_by(Report.id)))
        # When a package of reports from before and after the rotation is exported
        out = tmp_path / "case.zip"
        export_package(desk.home, identity, store, report_ids=ids, out=out)
    # Then the standalone verifier accepts it with the new desk.pub, and with the old one
    # (following the handover signed by both keys)
    for pub in (desk.home.public_file, rotated.old_pub):
        report = verify_package(out, pub)
        assert report.problems == [], (pub, report.problems)
    assert any(
        "handed over from yours" in line for line in verify_package(out, rotated.old_pub).lines
    )
    # And run alone, isolated from sijil, the same
    copy = tmp_path / "verify_package.py"
    copy.write_text(Path(verifier.__file__).read_text())
    done = subprocess.run(
        [sys.executable, "-I", str(copy), str(out), "--desk-key", str(rotated.old_pub)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # But another desk's key is not led to by any handover
    other = tmp_path / "other.pub"
    other.write_bytes(
        DeskPublic(
            age=identity.age.public_key(), sign=Ed25519PrivateKey.generate().public_key()
        ).to_bytes()
    )
    problems = verify_package(out, other).problems
    assert any("no key handover in the package leads to it" in p for p in problems), problems


def test_a_forged_handover_does_not_parse(make_rotated: Callable[[], RotatedDesk]) -> None:
    # Given a handover made by a key that is not the desk's
    rotated = make_rotated()
    identity = rotated.desk.home.unlock(PASSPHRASE)
    thief = Ed25519PrivateKey.generate()
    doc = make_handover(
        identity.sign,
        thief,
        new_age_recipient=age_recipient_string(identity.age.public_key()),
        at="2026-12-01T00:00:00.000000Z",
        tree_size=3,
        root_hash="00" * 32,
    )
    assert parse_handover(doc).new_sign == raw_public(thief.public_key())
    # When any signed field is changed, Then the handover is refused
    for name, value in (("tree_size", 4), ("new_sign_key", doc["old_sign_key"])):
        with pytest.raises(KeyFileError):
            parse_handover({**doc, name: value})
    # And a field session refuses a handover that does not start from its desk key
    with pytest.raises(KeyFileError, match="does not start from the desk key"):
        rotated.raven.adopt_desk_key(doc)


def test_correspondents_adopt_the_announced_key_and_their_next_envelopes_use_it(
    make_rotated: Callable[[], RotatedDesk],
    make_relay: Callable[..., RelayHandle],
    tmp_path: Path,
) -> None:
    # Given a rotated desk that knows Raven's reply key (Raven's first reports were
    # imported), and a relay that still has the old desk.pub
    rotated = make_rotated()
    desk = rotated.desk
    identity = desk.home.unlock(PASSPHRASE)
    old = DeskPublic.from_bytes(rotated.old_pub.read_bytes())
    relay = make_relay(old.sign)
    # When the desk announces the rotation
    with desk.home.open_store() as store:
        done = announce_rotation(desk.home, identity, store, relay=relay.url)
    assert done.sent == ["Raven"] and done.failed == [], done
    assert done.skipped == ["Owl"]  # no report from Owl yet, so no reply key
    # Then Raven's sijil checks it against the old key it trusts and adopts the new one
    items = fetch_inbox(rotated.raven, relay=relay.url)
    assert [i.problem for i in items] == [""]
    assert ANNOUNCE_MARK in items[0].text
    assert rotated.raven.desk.fingerprint == desk.home.public().fingerprint
    # And Raven's next envelope is sealed to the new key: it opens without the retired one
    seal_reports(rotated.raven, tmp_path / "photos", 1, tag="dddd")
    newest = export_outbox(rotated.raven, tmp_path / "after", only_new=True)
    assert len(newest) == 1
    with newest[0].paths[0].open("rb") as handle:
        opened = open_envelope(handle, identity=identity.age, staging=tmp_path)
    assert opened.manifest.title.startswith("dddd")
    # And a second fetch adopts nothing twice
    fetch_inbox(rotated.raven, relay=relay.url)
    assert len(rotated.raven.adopted_handovers()) == 1


def test_cli_rotate_prints_both_fingerprints_and_a_wrong_passphrase_changes_nothing(
    make_desk: Callable[..., DeskFixture],
    store_url: str,
    run_cli: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk(store_url)
    before = (desk.home.key_file.read_bytes(), desk.home.public_file.read_bytes())
    # When the passphrase is wrong
    monkeypatch.setenv("SIJIL_PASSPHRASE", "not the passphrase")
    result = run_cli("desk", "key", "rotate", *desk.args)
    # Then one line, and neither file changed
    assert result.code != 0  # type: ignore[attr-defined]
    assert result.err.count("\n") == 1 and "passphrase" in result.err  # type: ignore[attr-defined]
    assert (desk.home.key_file.read_bytes(), desk.home.public_file.read_bytes()) == before
    # When it is right
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    result = run_cli("desk", "key", "rotate", *desk.args)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert "new fingerprint: " + desk.home.public().fingerprint in result.out  # type: ignore[attr-defined]
    # And the desk audits clean across the handover
    assert _audit(desk) == []
    with pytest.raises(PassphraseError):
        desk.home.unlock("not the passphrase")


def test_the_verifiers_copy_of_the_handover_format_is_sijils() -> None:
    from sijil.crypto import handover

    assert verifier.HANDOVER_FORMAT == handover.HANDOVER_FORMAT
    assert verifier.HANDOVER_CONTEXT == handover.SIGN_CONTEXT
    assert verifier.HANDOVER_STATEMENT == handover.STATEMENT_FIELDS
    assert EntryKind.KEY_ROTATED.value == verifier._KEY_ROTATED
