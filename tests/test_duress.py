"""The duress passphrase (issue 17 item 5).

Unlocking with it looks like a normal unlock, wipes the real outbox and marks
every later envelope inside its encrypted, signed manifest only: sizes and the
age format are exactly a normal envelope's. The desk flags such envelopes and
revokes the key from that moment (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capture_helpers import carry, deliver, flags_by_title, write
from conftest import PASSPHRASE, CliResult, DeskFixture
from sijil.crypto.identity import age_identity_string
from sijil.crypto.kdf import KdfParams
from sijil.desk.home import DeskHome
from sijil.desk.reply import send_reply
from sijil.envelope.sealing import Draft
from sijil.errors import DeskError, PassphraseError
from sijil.field.compose import compose
from sijil.field.duress import set_duress
from sijil.field.home import FieldHome, FieldSession
from sijil.field.inbox import INBOX_FILE
from sijil.field.passphrase import change_field_passphrase

Factory = Callable[..., DeskFixture]
Enrol = Callable[[DeskFixture, str], FieldSession]
DURESS = "under duress, not secret"
SAMPLES = 200  # envelopes of each kind compared


@pytest.fixture
def raven(make_desk: Factory, make_correspondent: Enrol, fast_kdf: KdfParams) -> FieldSession:
    """Raven, on a SQLite desk, with a duress passphrase set."""
    session = make_correspondent(make_desk(), "Raven")
    set_duress(session.home, PASSPHRASE, DURESS, fast_kdf)
    return session


def test_a_duress_unlock_wipes_the_real_outbox_and_shows_an_empty_one(
    raven: FieldSession, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two unsent reports and a kept reply
    write(raven, "the real report one")
    write(raven, "the real report two")
    (raven.home.outbox / INBOX_FILE).write_bytes(b"a kept reply (stands in for age bytes)")
    assert len(list(raven.home.outbox.glob("*.age"))) == 2
    # When someone forces the duress passphrase and lists the outbox
    monkeypatch.setenv("SIJIL_PASSPHRASE", DURESS)
    listed = run_cli("field", "outbox", "--home", str(raven.home.root))
    # Then it works like any unlock, shows a plausible (empty) outbox, and the real one is gone
    assert listed.code == 0, listed.err
    assert listed.out.strip() == "The outbox is empty."
    assert sorted(p.name for p in raven.home.outbox.iterdir()) == ["index.sealed"]
    # and duress is latched: even the real passphrase now seals with the mark
    assert raven.home.unlock(DURESS).duress
    assert raven.home.unlock(PASSPHRASE).duress


def test_reports_sealed_under_duress_stay_listed(raven: FieldSession) -> None:
    # Given a duress unlock that wiped the outbox
    forced = raven.home.unlock(DURESS)
    # When the adversary makes the correspondent write reports
    write(forced, "everything is calm")
    again = raven.home.unlock(DURESS)
    # Then they stay in the outbox like any report: a second unlock wipes nothing more
    assert [e["title"] for e in again.load_index()] == ["everything is calm"]


def test_a_duress_passphrase_equal_to_the_real_one_is_refused(
    raven: FieldSession, fast_kdf: KdfParams, tmp_path: Path
) -> None:
    spare = raven.home.spare_file.read_bytes()
    with pytest.raises(PassphraseError, match="must differ"):
        set_duress(raven.home, PASSPHRASE, PASSPHRASE, fast_kdf)
    # under duress, setting it reads as a wrong passphrase and changes nothing
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        set_duress(raven.home, DURESS, "another one entirely", fast_kdf)
    assert raven.home.spare_file.read_bytes() == spare
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        raven.home.unlock("neither of them")


def test_the_spare_slot_looks_the_same_with_or_without_a_duress_passphrase(
    make_desk: Factory, make_correspondent: Enrol, fast_kdf: KdfParams
) -> None:
    # Given a home with only filler in its spare slot
    desk = make_desk()
    plain = make_correspondent(desk, "Heron")
    filler = plain.home.spare_file.read_bytes()
    # When a duress passphrase is set
    set_duress(plain.home, PASSPHRASE, DURESS, fast_kdf)
    real = plain.home.spare_file.read_bytes()
    # Then the file has the same size and the same clear header
    assert len(filler) == len(real)
    strip = [
        line for line in filler.splitlines() if b'"salt"' not in line and b'"nonce"' not in line
    ]
    assert [line for line in real.splitlines() if b'"salt"' not in line and b'"nonce"' not in line
            if not line.strip().startswith(b'"ciphertext"')] == [
        line for line in strip if not line.strip().startswith(b'"ciphertext"')
    ]  # fmt: skip
    # and a home from before the spare slot existed still unlocks
    plain.home.spare_file.unlink()
    assert not plain.home.unlock(PASSPHRASE).duress


def _seal_many(session: FieldSession, bodies: list[str]) -> list[int]:
    fixed = datetime(2016, 11, 22, 3, 14, 15, tzinfo=UTC)
    sizes = []
    for i, body in enumerate(bodies):
        draft = Draft(title=f"report {i}", body=body, lang="ar")
        sizes.append(compose(session, draft, [], clock=lambda: fixed).size)
    return sizes


def test_duress_envelopes_have_exactly_the_sizes_of_normal_ones(raven: FieldSession) -> None:
    # Given 200 report texts of random lengths (seeded)
    rng = random.Random(17)
    bodies = ["ن" * rng.randrange(0, 5000) for _ in range(SAMPLES)]
    # When each is sealed normally, then again after a duress unlock
    normal = _seal_many(raven, bodies)
    forced = _seal_many(raven.home.unlock(DURESS), bodies)
    # Then the two size distributions are identical, envelope for envelope
    assert Counter(normal) == Counter(forced)
    assert normal == forced
    assert len(set(normal)) > SAMPLES // 4  # the sizes do vary: the test can fail


def test_the_age_tool_opens_both_the_same_way(raven: FieldSession, tmp_path: Path) -> None:
    # Given a normal and a duress envelope of the same report, and the desk's age identity
    normal = write(raven, "same title")
    normal_file = tmp_path / "normal.age"
    normal_file.write_bytes(raven.envelope_path(normal).read_bytes())
    forced = raven.home.unlock(DURESS)
    duress_file = forced.envelope_path(write(forced, "same title"))
    desk = DeskHome(root=tmp_path / "desk")  # the desk the fixture enrolled Raven with
    key = tmp_path / "desk.agekey"
    key.write_text(age_identity_string(desk.unlock(PASSPHRASE).age) + "\n")
    # When the standard age tool decrypts both
    opened = [
        subprocess.run(["age", "-d", "-i", str(key), str(p)], capture_output=True, check=True)
        for p in (normal_file, duress_file)
    ]
    # Then both open the same way to plaintexts of one length, differing inside only
    assert [o.returncode for o in opened] == [0, 0]
    plain = [o.stdout for o in opened]
    assert all(p.startswith(b"SIJIL/1\n") for p in plain)
    assert len(plain[0]) == len(plain[1])
    assert b'"mode":"normal"' in plain[0] and b'"mode":"duress"' in plain[1]
    headers = [p.read_bytes().split(b"\n---")[0].splitlines() for p in (normal_file, duress_file)]
    assert [h[0] for h in headers] == [b"age-encryption.org/v1"] * 2
    assert [h[1].split()[:2] for h in headers] == [[b"->", b"X25519"]] * 2
    assert normal_file.stat().st_size == duress_file.stat().st_size


def test_the_desk_flags_duress_envelopes_and_revokes_from_that_moment(
    make_desk: Factory,
    make_correspondent: Enrol,
    store_url: str,
    tmp_path: Path,
    fast_kdf: KdfParams,
) -> None:
    # Given Raven with a clean report delivered, and one exported but not yet delivered
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    set_duress(raven.home, PASSPHRASE, DURESS, fast_kdf)
    write(raven, "clean")
    carry(desk, raven, tmp_path / "stick1")
    write(raven, "carried late")
    late = tmp_path / "late"
    carry_later = raven.envelope_path(raven.load_index()[-1]["id"]).read_bytes()
    # When Raven is caught, forced to unlock with the duress passphrase and to report
    forced = raven.home.unlock(DURESS)
    # (its signed time is a second or two on: manifests carry whole seconds, and the
    # clean report must have arrived before the duress moment, as it would in life)
    write(forced, "all quiet in the city", clock=lambda: datetime.now(UTC) + timedelta(seconds=2))
    outcomes = carry(desk, forced, tmp_path / "stick2")
    late.mkdir()
    (late / "x.age").write_bytes(carry_later)  # the stick exported before the capture
    deliver(desk, late)
    identity = desk.home.unlock(PASSPHRASE)
    # Then the import output alerts, the listing flags it, later arrivals are possibly coerced
    details = " ".join(o.detail for o in outcomes)
    assert "ALERT: SENT UNDER DURESS" in details
    assert flags_by_title(desk) == {
        "clean": None,
        "all quiet in the city": "sent under duress",
        "carried late": "possibly coerced",
    }
    # and replies to Raven stop
    with desk.home.open_store() as store, pytest.raises(DeskError, match="have stopped"):
        send_reply(identity, store, relay="http://127.0.0.1:9", codename="Raven", text="ok?")


def test_init_takes_a_duress_passphrase_from_the_environment(
    make_desk: Factory,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = make_desk()
    with desk.home.open_store() as store:
        invite = desk.home.invite(store, codename="Kite")
    path = tmp_path / "kite.invite"
    path.write_bytes(invite.to_bytes())
    home = tmp_path / "kite"
    # a duress passphrase equal to the real one is refused, nothing written
    monkeypatch.setenv("SIJIL_DURESS_PASSPHRASE", PASSPHRASE)
    same = run_cli("field", "init", "--home", str(home), "--invite", str(path))
    assert same.code != 0 and "must differ" in same.err
    assert not (home / "identity.key").exists()
    monkeypatch.setenv("SIJIL_DURESS_PASSPHRASE", DURESS)
    made = run_cli("field", "init", "--home", str(home), "--invite", str(path))
    assert made.code == 0, made.err
    assert FieldHome(home).unlock(DURESS).duress


def test_the_passphrase_cannot_be_changed_to_the_duress_one(
    raven: FieldSession, fast_kdf: KdfParams
) -> None:
    key = raven.home.key_file.read_bytes()
    with pytest.raises(PassphraseError, match="duress passphrase"):
        change_field_passphrase(raven.home, PASSPHRASE, DURESS, fast_kdf)
    assert raven.home.key_file.read_bytes() == key
