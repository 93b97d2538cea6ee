"""Desk intake on SQLite and PostgreSQL: enrol, dedupe, shards, quarantine.

The error boundary, quarantine retry and exit statuses are in test_quarantine.py.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import DeskFixture
from media import camera_jpeg
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.desk.intake import ImportOutcome, ImportStatus, import_paths, open_intake
from sijil.desk.reports import list_reports
from sijil.envelope import shards
from sijil.envelope.invite import Invite
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldHome, FieldSession
from sijil.store import Correspondent, Envelope, QuarantineItem

Correspondent_ = Callable[[DeskFixture, str], FieldSession]


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


def _import(desk: DeskFixture, *paths: Path, channel: str = "file") -> list[ImportOutcome]:
    identity = desk.home.unlock("test passphrase, not secret")
    with desk.home.open_store() as store:
        return import_paths(desk.home, identity, store, list(paths), channel=channel)


def _kept(desk: DeskFixture) -> dict[str, bytes]:
    """Every quarantined input's bytes, read back from the vault, by source name."""
    vault = desk.home.open_vault(desk.home.unlock("test passphrase, not secret"))
    with desk.home.open_store() as store, store.session() as session:
        items = session.scalars(select(QuarantineItem)).all()
    return {item.source_name: vault.read_bytes(item.sha256) for item in items}


def _seal(
    session: FieldSession, tmp_path: Path, title: str, *, photo: bool = True, large: bool = False
) -> str:
    files = []
    if photo:
        path = tmp_path / f"{title}.jpg"
        # a str seed, not hash(title): the same photo whatever PYTHONHASHSEED is;
        # a large one spans several of the envelope's 64 KiB chunks
        size = (640, 480) if large else (160, 120)
        path.write_bytes(camera_jpeg(*size, seed=title))
        files.append(path)
    return compose(session, Draft(title=title, body="نص التقرير", lang="ar"), files).envelope_id


def test_an_envelope_by_usb_is_registered_to_the_invited_correspondent(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    # Given Raven, enrolled by invite, sealing a report with a photo
    raven = make_correspondent(desk, "Raven")
    envelope_id = _seal(raven, tmp_path, "bakery")
    export_outbox(raven, tmp_path / "usb")
    # When the desk imports the USB folder
    outcomes = _import(desk, tmp_path / "usb", channel="usb")
    # Then the report is linked to Raven and the photo is kept by its hash
    assert [(o.status, o.correspondent) for o in outcomes] == [("imported", "Raven")]
    with desk.home.open_store() as store:
        (row,) = list_reports(store)
        with store.session() as session:
            envelope = session.get(Envelope, envelope_id)
            assert envelope is not None and envelope.channel == "usb"
            raven_row = session.scalar(select(Correspondent).filter_by(codename="Raven"))
            assert raven_row is not None and raven_row.sign_key is not None
    assert row.correspondent == "Raven" and row.enrolled
    sha = row.attachments[0]["sha256"]
    vault = desk.home.open_vault(desk.home.unlock("test passphrase, not secret"))
    assert vault.check(sha) is None and vault.check(envelope_id) is None
    assert vault.read_bytes(envelope_id) == (tmp_path / "usb" / f"{envelope_id}.age").read_bytes()


def test_the_same_envelope_twice_is_stored_once(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    raven = make_correspondent(desk, "Raven")
    _seal(raven, tmp_path, "bridge")
    export_outbox(raven, tmp_path / "usb")
    export_outbox(raven, tmp_path / "chat", text=True)
    first = _import(desk, tmp_path / "usb")
    second = _import(desk, tmp_path / "usb", tmp_path / "chat")
    assert [o.status for o in first] == ["imported"]
    assert [o.status for o in second] == ["duplicate", "duplicate"]
    with desk.home.open_store() as store:
        assert len(list_reports(store)) == 1


def test_an_unknown_key_becomes_an_unenrolled_source(
    desk: DeskFixture, tmp_path: Path, fast_kdf: object
) -> None:
    # Given a device set up with the desk's public keys but a token the desk never issued
    invite = Invite(codename="Ghost", desk=desk.home.public(), token="ab" * 32)
    home = FieldHome(tmp_path / "ghost")
    home.init(invite, "pw-pw-pw-pw", fast_kdf)  # type: ignore[arg-type]
    ghost = home.unlock("pw-pw-pw-pw")
    _seal(ghost, tmp_path, "claim", photo=False)
    export_outbox(ghost, tmp_path / "usb")
    # When imported, then it is kept under an unenrolled codename
    (outcome,) = _import(desk, tmp_path / "usb")
    assert outcome.status == "imported"
    assert outcome.correspondent is not None and outcome.correspondent.startswith("unenrolled-")
    with desk.home.open_store() as store:
        (row,) = list_reports(store)
    assert not row.enrolled


def test_a_used_invite_presented_by_another_key_does_not_inherit_the_codename(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path, fast_kdf: object
) -> None:
    raven = make_correspondent(desk, "Raven")
    _seal(raven, tmp_path, "first", photo=False)
    export_outbox(raven, tmp_path / "a")
    _import(desk, tmp_path / "a")
    # Given a second device that copied Raven's invite (token included)
    thief = FieldHome(tmp_path / "thief")
    stolen = Invite(codename="Raven", desk=raven.desk, token=str(raven.enrol_token))
    thief.init(stolen, "pw-pw-pw-pw", fast_kdf)  # type: ignore[arg-type]
    session = thief.unlock("pw-pw-pw-pw")
    _seal(session, tmp_path, "fake", photo=False)
    export_outbox(session, tmp_path / "b")
    (outcome,) = _import(desk, tmp_path / "b")
    assert outcome.correspondent != "Raven"


def test_shards_lost_shuffled_duplicated_and_buried_in_chat_still_rebuild(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    # Given a report exported as text shards, pasted through a messenger
    olive = make_correspondent(desk, "Olive")
    envelope_id = _seal(olive, tmp_path, "cafe")
    (export,) = export_outbox(olive, tmp_path / "chat", text=True)
    texts = [p.read_text() for p in export.paths]
    first = shards.parse_text(texts[0])[0][0]
    spare = first.n - first.k
    rng = random.Random(5)
    kept = rng.sample(texts, len(texts) - spare)  # lose every spare shard
    kept += kept[:2]  # and deliver two twice
    rng.shuffle(kept)
    chat = []
    for i, text in enumerate(kept):
        chat.append(f"[22/11/2016, 03:{i % 60:02d}:15] Olive: {text}")
        chat.append(rng.choice(["", "ok", "وصلت؟", "received?"]))
    export_file = tmp_path / "WhatsApp Chat with Olive.txt"
    export_file.write_text("\r\n".join(chat), encoding="utf-8")
    # When the desk imports the chat export
    outcomes = _import(desk, export_file)
    # Then the envelope is rebuilt and registered
    assert [(o.status, o.envelope_id) for o in outcomes] == [("imported", envelope_id)]


def test_too_few_shards_wait_for_more_and_complete_later(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    olive = make_correspondent(desk, "Olive")
    _seal(olive, tmp_path, "strike")
    (export,) = export_outbox(olive, tmp_path / "chat", text=True)
    k = shards.parse_text(export.paths[0].read_text())[0][0].k
    early, late = tmp_path / "early.txt", tmp_path / "late.txt"
    early.write_text("\n".join(p.read_text() for p in export.paths[: k - 1]))
    late.write_text("\n".join(p.read_text() for p in export.paths[k - 1 : k]))
    # When too few arrive, then the desk keeps them and waits
    (waiting,) = _import(desk, early)
    assert waiting.status == "waiting" and f"have {k - 1} of the {k}" in waiting.detail
    # When the missing one arrives later, then the envelope completes
    (done,) = _import(desk, late)
    assert done.status == "imported"
    assert not any(desk.home.pending_shards.iterdir())


def _staging_files(staging: Path) -> list[str]:
    """Every file in every process's staging folder (``staging/run-<pid>-<hex>/``)."""
    return sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())


def test_a_tampered_envelope_is_quarantined_with_its_reason_never_deleted(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    # Given an envelope with a photo of several chunks, damaged in its last chunk: the
    # photo's first chunks are decrypted into staging before the damage is found
    raven = make_correspondent(desk, "Raven")
    envelope_id = _seal(raven, tmp_path, "tampered", large=True)
    (export,) = export_outbox(raven, tmp_path / "usb")
    damaged = bytearray(export.paths[0].read_bytes())
    damaged[-100] ^= 0x20
    export.paths[0].write_bytes(bytes(damaged))
    # When it is imported, looking into this run's own staging folder at the moment
    # the envelope is handed to quarantine (after its opening failed)
    seen: dict[str, list[str]] = {}

    def look(point: str) -> None:
        if point == "intake.quarantine":
            runs = [p.name for p in desk.home.staging.iterdir() if p.name.startswith("run-")]
            seen["runs"], seen["files"] = runs, _staging_files(desk.home.staging)

    desk = DeskFixture(home=dataclasses.replace(desk.home, faults=look))
    (outcome,) = _import(desk, tmp_path / "usb")
    # Then it is quarantined with its reason, kept byte for byte in the vault
    assert outcome.status is ImportStatus.QUARANTINED and "damaged" in outcome.detail
    with desk.home.open_store() as store, store.session() as session:
        (item,) = session.scalars(select(QuarantineItem)).all()
        assert item.error_type == "TamperedEnvelope" and item.stored_path is None
        envelope = session.get(Envelope, outcome.envelope_id)
        assert envelope is not None and envelope.status == "quarantined"
    assert _kept(desk) == {export.paths[0].name: bytes(damaged)}
    assert outcome.envelope_id != envelope_id  # the id is of what arrived
    # and the run's staging folder held no decrypted photo once opening had failed
    assert len(seen["runs"]) == 1 and seen["files"] == []


def test_an_envelope_for_another_desk_and_junk_files_are_quarantined(
    desk: DeskFixture, tmp_path: Path
) -> None:
    from envelope_helpers import seal_bytes

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    other = DeskIdentity.generate()
    (inbox / "x.age").write_bytes(seal_bytes(CorrespondentIdentity.generate(), other.public))
    (inbox / "notes.docx").write_bytes(b"PK\x03\x04 a document")
    outcomes = _import(desk, inbox)
    assert sorted(o.status for o in outcomes) == ["quarantined", "quarantined"]
    reasons = " ".join(o.detail for o in outcomes)
    assert "not sealed to this desk" in reasons and "neither a sijil envelope" in reasons
    # both kept byte for byte in the vault; nothing in a clear folder
    assert _kept(desk) == {p.name: p.read_bytes() for p in inbox.iterdir()}
    assert not desk.home.quarantine.exists()


def test_shards_of_two_envelopes_in_one_chat_rebuild_both(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    olive = make_correspondent(desk, "Olive")
    _seal(olive, tmp_path, "one", photo=False)
    _seal(olive, tmp_path, "two", photo=False)
    exports = export_outbox(olive, tmp_path / "chat", text=True)
    mixed = [p.read_text() for e in exports for p in e.paths]
    random.Random(1).shuffle(mixed)
    chat = tmp_path / "chat.txt"
    chat.write_text("\n\n".join(mixed))
    outcomes = _import(desk, chat)
    assert sorted(o.status for o in outcomes) == ["imported", "imported"]


def test_two_shard_exports_of_one_envelope_with_different_sizes_still_rebuild(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    # Given the same envelope exported twice as text, with different shard sizes
    olive = make_correspondent(desk, "Olive")
    envelope_id = _seal(olive, tmp_path, "twice")
    (first,) = export_outbox(olive, tmp_path / "a", text=True)
    (second,) = export_outbox(olive, tmp_path / "b", text=True, shard_bytes=2000)
    chat = tmp_path / "both.txt"
    chat.write_text("\n".join(p.read_text() for p in (*first.paths, *second.paths)))
    # When both sets arrive in one chat file, then the envelope is imported once
    outcomes = _import(desk, chat)
    assert [(o.status, o.envelope_id) for o in outcomes] == [("imported", envelope_id)]


def test_poisoned_envelopes_are_quarantined_and_intake_goes_on(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    from envelope_helpers import raw_envelope, sign
    from sijil.crypto.canonical import canonical_json
    from sijil.crypto.identity import b64, raw_public

    # Given, sorted first in the folder, envelopes a hostile sender crafted with a
    # valid signature of their own, and after them a good report
    stranger = CorrespondentIdentity.generate()
    base = {
        "v": 1,
        "type": "report",
        "nonce": "00" * 16,
        "created_at": "2016-11-22T03:14:15Z",
        "report": {"title": "t", "body": "", "lang": "en", "location": None},
        "attachments": [],
        "sender": {
            "sign_key": b64(raw_public(stranger.sign.public_key())),
            "reply_key": "AAAA",
            "enrol_token": None,
        },
    }
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    manifest = canonical_json(base)
    (inbox / "0-poison.age").write_bytes(
        raw_envelope(desk.home.public(), manifest, sign(stranger, manifest))
    )
    escaped = manifest.replace(b'"title":"t"', b'"title":"\\ud800"')
    assert b"\\ud800" in escaped
    (inbox / "1-poison.age").write_bytes(
        raw_envelope(desk.home.public(), escaped, sign(stranger, escaped))
    )
    raven = make_correspondent(desk, "Raven")
    _seal(raven, tmp_path, "good", photo=False)
    export_outbox(raven, inbox)
    # When the folder is imported
    outcomes = _import(desk, inbox)
    # Then the poison is quarantined with its reason and the good report still arrives
    statuses = sorted(o.status for o in outcomes)
    assert statuses == ["imported", "quarantined", "quarantined"]


def test_symlinks_and_special_files_are_skipped_not_followed(
    desk: DeskFixture, tmp_path: Path
) -> None:
    import os as _os

    secret = tmp_path / "desk-secret.txt"
    secret.write_text("not for the quarantine")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "link.age").symlink_to(secret)
    _os.mkfifo(inbox / "pipe.age")
    outcomes = _import(desk, inbox)
    assert sorted(o.status for o in outcomes) == ["skipped", "skipped"]
    assert _kept(desk) == {}


def test_a_path_swapped_for_a_link_after_the_walk_is_skipped_not_read(
    desk: DeskFixture, tmp_path: Path
) -> None:
    # Given a path that was a file when the folder was walked but is now a link to a secret
    secret = tmp_path / "desk-secret.txt"
    secret.write_text("SIJIL-SHARD/ not for the quarantine")
    swapped = tmp_path / "swapped.age"
    swapped.symlink_to(secret)
    outcomes: list[ImportOutcome] = []
    identity = desk.home.unlock("test passphrase, not secret")
    # When intake takes that path directly (as it does after the walk)
    with (
        desk.home.open_store() as store,
        open_intake(desk.home, identity, store, channel="file", emit=outcomes.append) as intake,
    ):
        touched = intake.take(swapped, source=str(swapped), channel="file")
    # Then it is skipped with the reason, nothing is quarantined and no shard was read
    assert touched == set()
    assert [o.status for o in outcomes] == ["skipped"]
    assert "link" in outcomes[0].detail
    assert _kept(desk) == {}


def test_a_report_re_sealed_into_a_new_envelope_is_quarantined_not_duplicated(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    import io

    from sijil.envelope.age import AgeReader, AgeWriter

    # Given a report received once
    raven = make_correspondent(desk, "Raven")
    envelope_id = _seal(raven, tmp_path, "once", photo=False)
    (export,) = export_outbox(raven, tmp_path / "usb")
    _import(desk, tmp_path / "usb")
    # And the same plaintext re-encrypted (only the desk's key can do this)
    identity = desk.home.unlock("test passphrase, not secret")
    with export.paths[0].open("rb") as handle:
        plain = AgeReader(handle, identity.age).read()
    out = io.BytesIO()
    writer = AgeWriter(out, identity.age.public_key())
    writer.write(plain)
    writer.close()
    again = tmp_path / "again"
    again.mkdir()
    (again / "copy.age").write_bytes(out.getvalue())
    # When it is imported, then it is kept in quarantine, not registered twice
    (outcome,) = _import(desk, again)
    assert outcome.status == "quarantined" and "re-sealed" in outcome.detail
    assert outcome.envelope_id != envelope_id
    with desk.home.open_store() as store:
        assert len(list_reports(store)) == 1


def test_the_audit_passes_after_poison_and_re_sealed_copies_were_quarantined(
    desk: DeskFixture,
    make_correspondent: Correspondent_,
    tmp_path: Path,
    run_cli: Callable[..., object],
) -> None:
    test_a_report_re_sealed_into_a_new_envelope_is_quarantined_not_duplicated(
        desk, make_correspondent, tmp_path
    )
    result = run_cli("verify", *desk.args)
    assert result.code == 0, result.out + result.err  # type: ignore[attr-defined]


def test_hidden_files_are_ignored_and_linked_folders_skipped_neither_silently(
    desk: DeskFixture, tmp_path: Path
) -> None:
    # Given a stick a Mac wrote to: .DS_Store, ._ twins, a .Trashes folder, and a link
    inbox = tmp_path / "inbox"
    (inbox / ".Trashes" / "501").mkdir(parents=True)
    (inbox / ".Trashes" / "501" / "deleted.age").write_bytes(b"age-encryption.org/v1\n")
    (inbox / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (inbox / "._report.age").write_bytes(b"\0\5\x16\7")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (inbox / "linked").symlink_to(elsewhere, target_is_directory=True)
    # When it is imported
    outcomes = _import(desk, inbox)
    # Then the hidden ones are ignored (not read, not walked into), the link skipped
    details = sorted((o.status, Path(o.source).name, o.detail.split(";")[0]) for o in outcomes)
    assert details == [
        ("ignored", ".DS_Store", "a hidden file"),
        ("ignored", ".Trashes", "a hidden folder"),
        ("ignored", "._report.age", "a hidden file"),
        ("skipped", "linked", "a linked folder"),
    ]
    assert _kept(desk) == {}


def test_plaintext_left_in_staging_by_a_killed_import_is_removed_by_the_next(
    desk: DeskFixture, tmp_path: Path
) -> None:
    # Given what a kill -9 in the middle of opening leaves: a dead process's folder
    staging = desk.home.staging
    dead = staging / "run-999999999-abcd"
    dead.mkdir(parents=True)
    (dead / ".open-x").write_bytes(b"\xff\xd8 decrypted photo")
    (staging / ".open-old-layout").write_bytes(b"plaintext")
    # When the next import runs (even with nothing to import)
    empty = tmp_path / "empty"
    empty.mkdir()
    _import(desk, empty)
    # Then no plaintext is left behind, neither theirs nor its own
    assert list(staging.iterdir()) == []
