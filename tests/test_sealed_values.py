"""Sealed values (issue 14, item 1): what a seized database shows, on both backends.

Exact places, manifests (with a first report's enrolment token), reply texts and
media fingerprints are sealed by the desk before they reach the database, so a
seized PostgreSQL server, or the plaintext of a SQLite desk whose key leaked, does
not show them; a position rounded to about a kilometre stays in the clear for
queries by place.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from conftest import PASSPHRASE, TEST_DB_KEY, DeskFixture
from media import camera_jpeg
from sijil.crypto.sealed_value import SealedValueError, ValueSealer
from sijil.desk.intake import import_paths
from sijil.desk.neardup.catalog import CLEAR_INDEX_FILE, INDEX_FILE, Catalog
from sijil.envelope.manifest import Location
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.store import LedgerSalt, MediaPrintRow, Report, Store
from sijil.store.models import Base
from sijil.store.models_relay import RelayReply
from sijil.store.sealed import LOCKED, DeskLocked, SealedFloat

LAT, LON = "35.95317", "39.00871"
REPLY = "Stay off the eastern road tonight; checkpoint moved."

# --- the sealing itself -------------------------------------------------------------

slots = st.text(min_size=1, max_size=40)


@given(value=st.binary(max_size=2048), slot=slots)
def test_a_sealed_value_opens_to_itself_in_its_own_slot(value: bytes, slot: str) -> None:
    sealer = ValueSealer(TEST_DB_KEY)
    sealed = sealer.seal(value, slot)
    assert sealer.open(sealed, slot) == value
    # and sealing twice gives different bytes (a fresh nonce), so equal values do not show
    assert sealer.seal(value, slot) != sealed


@given(value=st.binary(max_size=256), slot=slots, other=slots)
def test_a_sealed_value_moved_to_another_slot_does_not_open(
    value: bytes, slot: str, other: str
) -> None:
    sealer = ValueSealer(TEST_DB_KEY)
    sealed = sealer.seal(value, slot)
    if other != slot:
        with pytest.raises(SealedValueError, match="does not open"):
            sealer.open(sealed, other)


@given(value=st.binary(max_size=256), flip=st.integers(min_value=0))
def test_an_altered_or_foreign_sealed_value_does_not_open(value: bytes, flip: int) -> None:
    sealer = ValueSealer(TEST_DB_KEY)
    sealed = bytearray(sealer.seal(value, "reports.manifest"))
    foreign = ValueSealer(bytes(32)).seal(value, "reports.manifest")
    sealed[flip % len(sealed)] ^= 0x01
    with pytest.raises(SealedValueError):
        sealer.open(bytes(sealed), "reports.manifest")
    with pytest.raises(SealedValueError):
        sealer.open(foreign, "reports.manifest")


@given(number=st.floats(allow_nan=False))
def test_a_sealed_float_comes_back_exactly(number: float) -> None:
    column = SealedFloat("reports.latitude")
    assert column.decode(column.encode(number)) == number


# --- a desk's database, read raw ------------------------------------------------------


@dataclass
class Raw:
    strings: list[str]
    blobs: list[bytes]
    floats: list[float]


def _raw_values(store: Store) -> Raw:
    """Every value of every table as the database holds it (no column type applied)."""
    raw = Raw([], [], [])
    with store.engine.connect() as conn:
        for name in Base.metadata.tables:
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):  # noqa: S608 - our names
                for value in row:
                    if isinstance(value, str):
                        raw.strings.append(value)
                    elif isinstance(value, bytes | memoryview):
                        raw.blobs.append(bytes(value))
                    elif isinstance(value, float):
                        raw.floats.append(value)
    return raw


@pytest.fixture
def desk_with_a_located_photo(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> DeskFixture:
    """A desk (either backend) that imported a located photo report and sent a reply."""
    desk = make_desk(store_url)
    nightjar = make_correspondent(desk, "Nightjar")
    photo = tmp_path / "depot.jpg"
    photo.write_bytes(camera_jpeg(seed=14))
    where = Location(lat=LAT, lon=LON, precision_m=50)
    compose(nightjar, Draft(title="depot", body="shells", lang="en", location=where), [photo])
    export_outbox(nightjar, tmp_path / "usb")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        (outcome,) = import_paths(desk.home, identity, store, [tmp_path / "usb"], channel="usb")
        assert outcome.status == "imported"
        with store.session(write=True) as session:
            report = session.scalars(select(Report)).one()
            session.add(
                RelayReply(
                    correspondent_id=report.correspondent_id, text=REPLY, sealed_sha256="0" * 64
                )
            )
    return desk


def test_a_seized_database_shows_no_exact_place_manifest_reply_or_fingerprint(
    desk_with_a_located_photo: DeskFixture,
) -> None:
    desk = desk_with_a_located_photo
    with desk.home.open_store() as store:
        # Given what the desk holds, read with its key
        with store.session() as session:
            report = session.scalars(select(Report)).one()
            fingerprint = session.scalars(select(MediaPrintRow.pdq)).one()
            assert (report.latitude, report.longitude) == (float(LAT), float(LON))
            assert LAT in report.manifest and fingerprint
            # (the ledger's salts: with one, a rounded position gives the exact one by trial)
            salts = session.scalars(select(LedgerSalt.salt)).all()
            assert len(salts) > 5
        # When every table is read as the database holds it
        raw = _raw_values(store)
    # Then the exact coordinates are nowhere (not in the manifest text either), nor the
    # reply, nor the photo's fingerprint as text or bytes
    for needle in (LAT, LON, REPLY, report.manifest, fingerprint):
        assert not any(needle in s for s in raw.strings), needle
    assert float(LAT) not in raw.floats and float(LON) not in raw.floats
    packed = (struct.pack(">d", float(LAT)), bytes.fromhex(fingerprint), REPLY.encode(), *salts)
    assert not any(needle in blob for blob in raw.blobs for needle in packed)
    # and the position rounded to about a kilometre is, for queries by place
    assert round(float(LAT), 2) in raw.floats and round(float(LON), 2) in raw.floats
    # and the saved near-duplicate index holds no fingerprint in the clear
    with desk.home.open_store() as store:
        catalog = Catalog.open(store, desk.home.root)
        assert len(catalog.index) >= 1
        catalog.save()
        # (and it reads back: the next start loads it instead of the store)
        assert len(Catalog.open(store, desk.home.root).index) == len(catalog.index)
    index = desk.home.root / INDEX_FILE
    assert index.is_file() and not (desk.home.root / CLEAR_INDEX_FILE).exists()
    assert bytes.fromhex(fingerprint) not in index.read_bytes()


def test_postgresql_opened_without_the_key_reads_titles_but_no_sealed_value(
    make_desk: Callable[..., DeskFixture], store_url: str
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a SQLite desk opens only with its key")
    # Given a PostgreSQL desk with a located report, opened without the desk's key
    desk = make_desk(store_url)
    with desk.home.open_store() as keyed, keyed.session(write=True) as session:
        _report_row(session, latitude=float(LAT))
    with Store.open(store_url) as bare, bare.session() as session:
        # When the titles are read, then they are
        assert session.scalars(select(Report.title)).all() == ["a report"]
        # When the exact place is, then one line says the passphrase is needed
        with pytest.raises(DeskLocked) as refused:
            session.scalars(select(Report.latitude)).all()
    assert str(refused.value) == LOCKED


def _report_row(session: object, *, latitude: float) -> None:
    from datetime import UTC, datetime

    from sijil.store import Correspondent, Envelope

    now = datetime(2026, 1, 1, tzinfo=UTC)
    session.add(  # type: ignore[attr-defined]
        Report(
            envelope=Envelope(id="e" * 64, size=1, channel="usb", status="opened"),
            correspondent=Correspondent(codename="Finch", enrolled=True, created_at=now),
            title="a report",
            body="",
            lang="en",
            created_at=now,
            latitude=latitude,
            longitude=float(LON),
            manifest='{"lat":"35.95317"}',
            signature="a" * 128,
        )
    )


def test_values_an_older_desk_kept_in_the_clear_are_sealed_when_it_opens_with_its_key(
    store: Store,
) -> None:
    # Given a row written as an older desk did: exact place, manifest and fingerprint in
    # the clear, nothing in the sealed columns
    with store.session(write=True) as session:
        _report_row(session, latitude=float(LAT))
        session.flush()
        who = session.scalars(select(Report.correspondent_id)).one()
        session.add(RelayReply(correspondent_id=who, text="x", sealed_sha256="0" * 64))
    with store.engine.begin() as conn:
        conn.execute(
            update(Report.__table__).values(  # type: ignore[arg-type]
                latitude=float(LAT), longitude=float(LON), manifest='{"lat":"35.95317"}',
                latitude_sealed=None, longitude_sealed=None, manifest_sealed=None,
            )
        )  # fmt: skip
        conn.execute(
            update(RelayReply.__table__).values(text=REPLY, text_sealed=None)  # type: ignore[arg-type]
        )
    assert float(LAT) in _raw_values(store).floats
    # When the store is opened with the key (here: the step it runs)
    changed = store.seal_existing()
    # Then the values are sealed, the clear columns keep only the rounded place, and
    # the desk reads them as before
    assert changed == 2
    raw = _raw_values(store)
    assert float(LAT) not in raw.floats and round(float(LAT), 2) in raw.floats
    assert not any(LAT in s or REPLY in s for s in raw.strings)
    with store.session() as session:
        report = session.scalars(select(Report)).one()
        assert (report.latitude, report.longitude) == (float(LAT), float(LON))
        assert report.manifest == '{"lat":"35.95317"}' and report.clear_manifest == ""
        assert session.scalars(select(RelayReply.text)).one() == REPLY
    # and a second run finds nothing left to do
    assert store.seal_existing() == 0
