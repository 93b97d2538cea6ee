"""``sijil field rekey`` (issue 17 item 4): a new pseudonym key, signed by the old one.

On SQLite and PostgreSQL: the desk links the new key to the same correspondent
(codename and track record carry over, whichever envelope arrives first), and
refuses a rekey signed by a key after its revocation, keeping the envelope.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from capture_helpers import carry, deliver, desk_users, flags_by_title, write
from conftest import PASSPHRASE, DeskFixture
from sijil.crypto.identity import CorrespondentIdentity, b64
from sijil.crypto.kdf import KdfParams
from sijil.desk.revocation import revoke
from sijil.envelope.manifest import Rekey
from sijil.envelope.sealing import Draft, seal
from sijil.field.duress import rekey
from sijil.field.home import FieldSession
from sijil.store import Correspondent, Report

Factory = Callable[..., DeskFixture]
Enrol = Callable[[DeskFixture, str], FieldSession]


def _owners(desk: DeskFixture) -> dict[str, str]:
    with desk.home.open_store() as store, store.session() as s:
        rows = s.execute(
            select(Report.title, Correspondent.codename).join(
                Correspondent, Correspondent.id == Report.correspondent_id
            )
        )
        return {title: codename for title, codename in rows}


def _key_of(desk: DeskFixture, codename: str) -> str | None:
    with desk.home.open_store() as store, store.session() as s:
        return s.scalar(select(Correspondent.sign_key).filter_by(codename=codename))


@pytest.mark.parametrize("new_key_first", [False, True])
def test_a_rekey_keeps_the_correspondents_continuity(
    make_desk: Factory,
    make_correspondent: Enrol,
    store_url: str,
    tmp_path: Path,
    fast_kdf: KdfParams,
    new_key_first: bool,
) -> None:
    # Given Raven, known to the desk by one report
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    write(raven, "old key")
    carry(desk, raven, tmp_path / "s1")
    old_key = _key_of(desk, "Raven")
    # When Raven moves to a new key and reports with it (the statement may arrive last)
    moved = rekey(raven.home, PASSPHRASE, fast_kdf)
    renewed = raven.home.unlock(PASSPHRASE)
    statement = renewed.envelope_path(moved.envelope_id)
    held = tmp_path / "held"
    held.mkdir()
    if new_key_first:
        (held / statement.name).write_bytes(statement.read_bytes())
        statement.unlink()
    write(renewed, "new key")
    outcomes = carry(desk, renewed, tmp_path / "s2")
    if new_key_first:
        outcomes += deliver(desk, held)
    # Then every report is Raven's, and Raven's key is the new one
    assert moved.old_fingerprint != moved.new_fingerprint
    assert _owners(desk) == {"old key": "Raven", "key change": "Raven", "new key": "Raven"}
    assert _key_of(desk, "Raven") not in (None, old_key)
    assert any("moved to a new key" in o.detail for o in outcomes)
    # and the old key still finds its owner
    assert flags_by_title(desk) == dict.fromkeys(("old key", "key change", "new key"))


def test_a_rekey_signed_after_revocation_is_refused_and_kept(
    make_desk: Factory,
    make_correspondent: Enrol,
    store_url: str,
    tmp_path: Path,
    fast_kdf: KdfParams,
) -> None:
    # Given Raven, revoked (captured) after one report
    desk = make_desk(store_url)
    desk_users(desk)
    raven = make_correspondent(desk, "Raven")
    write(raven, "before")
    carry(desk, raven, tmp_path / "s1")
    old_key = _key_of(desk, "Raven")
    with desk.home.open_store() as store, store.session(write=True) as s:
        revoke(s, "Raven", since=datetime.now(UTC), reason="phone taken", by="amal")
    # When the captured key tries to hand Raven's trust to a new key
    rekey(raven.home, PASSPHRASE, fast_kdf)
    outcomes = carry(desk, raven.home.unlock(PASSPHRASE), tmp_path / "s2")
    # Then the statement is kept but refused: Raven keeps the old key
    assert any("rekey refused: signed by a revoked key" in o.detail for o in outcomes)
    assert _key_of(desk, "Raven") == old_key
    assert flags_by_title(desk) == {"before": None, "key change": "possibly coerced"}


def test_a_rekey_whose_proof_fails_is_refused(
    make_desk: Factory, make_correspondent: Enrol, store_url: str, tmp_path: Path
) -> None:
    # Given Raven known to the desk
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    write(raven, "before")
    carry(desk, raven, tmp_path / "s1")
    # When a statement names a key whose owner never signed it
    stranger = CorrespondentIdentity.generate()
    forged = Rekey(
        sign_key=b64(stranger.sign.public_key().public_bytes_raw()),
        reply_key=b64(stranger.box.public_key().public_bytes_raw()),
        proof=b64(bytes(64)),
    )
    out = io.BytesIO()
    seal(Draft(title="forged", body=""), [], sender=raven.identity, desk=raven.desk, out=out,
         rekey=forged)  # fmt: skip
    stick = tmp_path / "s2"
    stick.mkdir()
    (stick / "forged.age").write_bytes(out.getvalue())
    outcomes = deliver(desk, stick)
    # Then it is kept, and nothing moved
    assert "rekey refused: the new key's proof does not verify" in outcomes[0].detail
    assert _owners(desk) == {"before": "Raven", "forged": "Raven"}
