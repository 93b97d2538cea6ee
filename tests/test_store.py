"""The store: schema, migrations and behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from sijil.errors import ConfigError, StoreError
from sijil.store import (
    MIGRATIONS_DIR,
    SEARCH_INDEX_OBJECTS,
    Attachment,
    Base,
    Correspondent,
    Envelope,
    QuarantineItem,
    Report,
    Store,
    alembic_config,
    head_revision,
)

MODEL_TABLES = {"correspondents", "envelopes", "reports", "attachments", "quarantine_items"}
T0 = datetime(2017, 6, 6, 4, 30, tzinfo=UTC)


def _envelope(envelope_id: str = "ab" * 32) -> Envelope:
    return Envelope(id=envelope_id, size=1234, channel="usb", status="opened", received_at=T0)


def _correspondent(codename: str = "heron") -> Correspondent:
    return Correspondent(codename=codename, enrolled=True, created_at=T0)


def _report(envelope: Envelope, correspondent: Correspondent) -> Report:
    return Report(
        envelope=envelope,
        correspondent=correspondent,
        title="Market shelled",
        body="Three shells at dawn.",
        lang="en",
        created_at=T0,
        received_at=T0,
        manifest="{}",
        signature="c2ln",
    )


def _count(store: Store, model: type[Base]) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_migrations_create_every_table(store_url: str) -> None:
    # Given an empty database
    # When the store is opened
    with Store.open(store_url) as store:
        # Then every model table exists and the schema is at the newest revision
        tables = set(inspect(store.engine).get_table_names())
        assert tables >= MODEL_TABLES | {"alembic_version"}
        # the newest migration file on disk is the head the store reaches
        newest = max(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
        assert store.revision() == head_revision() == newest


def test_opening_twice_is_idempotent_and_keeps_data(store_url: str) -> None:
    # Given a migrated store holding a correspondent
    with Store.open(store_url) as first, first.session() as session:
        session.add(_correspondent())
    # When it is opened (and so migrated) again
    with Store.open(store_url) as second:
        # Then nothing is recreated or lost
        assert second.revision() == head_revision()
        assert _count(second, Correspondent) == 1


def test_models_and_migrated_schema_agree(store: Store) -> None:
    # Given a store migrated by the checked-in migrations
    # When autogenerate compares the database with the models
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, *_: name not in SEARCH_INDEX_OBJECTS}
        )
        diffs = compare_metadata(context, Base.metadata)
    # Then there is nothing a new migration would have to do (the search index's
    # full-text part is made by hand for each backend, outside the models)
    assert diffs == []


def test_migrations_downgrade_and_upgrade_again(store: Store) -> None:
    # Given a migrated store
    # When every migration is undone
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    # Then only Alembic's bookkeeping is left, and upgrading restores the schema
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.migrate()
    assert set(inspect(store.engine).get_table_names()) >= MODEL_TABLES


def test_aware_datetimes_round_trip_as_utc(store: Store) -> None:
    # Given a time written with a +03:00 offset (Syria)
    local = datetime(2016, 3, 1, 9, 15, 30, 123456, tzinfo=timezone(timedelta(hours=3)))
    with store.session() as session:
        session.add(
            Envelope(id="cd" * 32, size=1, channel="text", status="opened", received_at=local)
        )
    # When it is read back in another session
    with store.session() as session:
        got = session.scalars(select(Envelope.received_at)).one()
    # Then it is the same instant, as an aware UTC datetime
    assert got == local
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    assert got.replace(tzinfo=None) == datetime(2016, 3, 1, 6, 15, 30, 123456)


def test_naive_datetimes_are_refused(store: Store) -> None:
    # Given a naive timestamp
    naive = datetime(2016, 3, 1, 9, 15)
    # When it is stored, then the store refuses and keeps nothing
    with pytest.raises(StoreError, match="naive"), store.session() as session:
        session.add(_correspondent())
        session.add(
            Envelope(id="ef" * 32, size=1, channel="file", status="opened", received_at=naive)
        )
    assert _count(store, Correspondent) == 0


def test_same_envelope_twice_is_a_store_error(store: Store) -> None:
    # Given a stored envelope
    with store.session() as session:
        session.add(_envelope())
    # When the same envelope id is stored again
    with pytest.raises(StoreError) as caught, store.session() as session:
        session.add(_envelope())
    # Then a one-line StoreError names the refusal, and one envelope remains
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the database refused the change")
    assert _count(store, Envelope) == 1


def test_duplicate_codename_is_a_store_error_without_the_codename(store: Store) -> None:
    # Given a correspondent with a distinctive codename
    codename = "nightjar-7f3a9c"
    with store.session() as session:
        session.add(_correspondent(codename))
    # When a second correspondent takes the same codename
    with pytest.raises(StoreError) as caught, store.session() as session:
        session.add(_correspondent(codename))
    # Then the error is refused but does not repeat the statement's values
    message = str(caught.value)
    assert "codename" in message
    assert codename not in message
    assert "\n" not in message


def test_foreign_keys_are_enforced(store: Store) -> None:
    # Given an envelope but no correspondent 999
    with store.session() as session:
        session.add(_envelope())
    # When a report points at that correspondent
    orphan = _report(_envelope(), _correspondent())
    with pytest.raises(StoreError, match="refused"), store.session() as session:
        session.add(
            Report(
                envelope_id="ab" * 32,
                correspondent_id=999,
                title=orphan.title,
                body=orphan.body,
                lang=orphan.lang,
                created_at=T0,
                manifest=orphan.manifest,
                signature=orphan.signature,
            )
        )
    # Then the database refuses it, on SQLite just as on PostgreSQL
    assert _count(store, Report) == 0


def test_constraint_names_are_explicit_on_every_backend(store: Store) -> None:
    # Given a migrated store
    insp = inspect(store.engine)
    # When its constraints and indexes are listed by name
    checks = {c["name"] for c in insp.get_check_constraints("envelopes")}
    uniques = {c["name"] for c in insp.get_unique_constraints("correspondents")}
    foreign = {c["name"] for c in insp.get_foreign_keys("reports")}
    indexes = {i["name"] for i in insp.get_indexes("attachments")}
    # Then they carry the naming convention's names, identical on both backends
    assert checks == {"ck_envelopes_channel", "ck_envelopes_status"}
    assert uniques == {
        "uq_correspondents_codename",
        "uq_correspondents_sign_key",
        "uq_correspondents_invite_token_hash",
    }
    assert foreign == {
        "fk_reports_envelope_id_envelopes",
        "fk_reports_correspondent_id_correspondents",
    }
    assert "ix_attachments_sha256" in indexes


def test_error_rolls_back_the_whole_session(store: Store) -> None:
    # Given a session that adds a correspondent and then hits a duplicate envelope
    with store.session() as session:
        session.add(_envelope())
    with pytest.raises(StoreError), store.session() as session:
        session.add(_correspondent("kestrel"))
        session.flush()
        session.add(_envelope())
    # When a session's block raises an error of its own
    with pytest.raises(RuntimeError, match="boom"), store.session() as session:
        session.add(_correspondent("osprey"))
        session.flush()
        raise RuntimeError("boom")
    # Then neither correspondent was kept, and non-database errors pass unchanged
    assert _count(store, Correspondent) == 0


def test_report_attachments_come_in_position_order(store: Store) -> None:
    # Given a report whose attachments were added out of order
    with store.session(write=True) as session:
        report = _report(_envelope(), _correspondent())
        for position in (2, 0, 1):
            report.attachments.append(
                Attachment(
                    position=position,
                    name=f"p{position}.jpg",
                    media_type="image/jpeg",
                    size=5_000_000_000,
                    sha256=f"{position:064x}",
                )
            )
        session.add(report)
    # When it is read back
    with store.session() as session:
        loaded = session.scalars(select(Report)).one()
        positions = [a.position for a in loaded.attachments]
        big = loaded.attachments[0].size
        codename = loaded.correspondent.codename
    # Then the attachments are ordered, sizes over 4 GiB survive, links resolve
    assert positions == [0, 1, 2]
    assert big == 5_000_000_000
    assert codename == "heron"


def test_quarantine_item_is_kept(store: Store) -> None:
    # Given an input that could not be parsed
    with store.session() as session:
        session.add(
            QuarantineItem(
                source_name="broken.age",
                reason="the envelope ends early",
                error_type="TruncatedEnvelope",
                stored_path="quarantine/0001.bin",
                sha256="0" * 64,
            )
        )
    # When it is read back, then it carries its reason and a default UTC time
    with store.session() as session:
        item = session.scalars(select(QuarantineItem)).one()
    assert item.reason == "the envelope ends early"
    assert item.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - item.created_at) < timedelta(minutes=5)


def test_unknown_channel_is_refused(store: Store) -> None:
    # Given a channel that is not one of usb/text/file/relay
    # When an envelope claims it, then the database refuses by the check's name
    with pytest.raises(StoreError, match="ck_envelopes_channel"), store.session() as session:
        session.add(Envelope(id="12" * 32, size=1, channel="pigeon", status="opened"))


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    # Given a store on a SQLite file
    path = tmp_path / "desk.db"
    with Store.open(Store.sqlite_url(path)) as store, store.engine.connect() as conn:
        # When a connection is asked for its settings
        foreign_keys = conn.execute(text("PRAGMA foreign_keys")).scalar()
        busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
    # Then foreign keys are on, writers wait, and the file itself is in WAL mode
    assert foreign_keys == 1
    assert busy == 5000
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()


def test_sqlite_url_survives_awkward_paths(tmp_path: Path) -> None:
    # Given a folder name with characters that mean something in a URL
    path = tmp_path / "a b?c#d%20e" / "desk.db"
    path.parent.mkdir()
    # When a store is opened on it, then the file is created exactly there
    with Store.open(Store.sqlite_url(path)):
        pass
    assert path.exists()


def test_connection_errors_do_not_leak_the_password_or_host() -> None:
    # Given a URL with a password, to a port where nothing listens
    url = "postgresql+psycopg://u:s3cret@127.0.0.1:1/x?connect_timeout=2"
    # When the store is opened
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    # Then the one-line message holds neither the password nor the address
    message = str(caught.value)
    assert message.startswith("cannot connect to the database")
    assert "s3cret" not in message
    assert "127.0.0.1" not in message
    assert "\n" not in message


def test_bad_urls_are_config_errors_without_the_password() -> None:
    # Given URLs that cannot be used, one carrying a password
    # When they are opened, then each is a ConfigError that does not quote them
    with pytest.raises(ConfigError) as caught:
        Store.open("postgresql+psycopg://u:s3cret@host:notaport/x")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError, match="unsupported"):
        Store.open("mysql://u:s3cret@127.0.0.1/x")


def test_newer_schema_than_this_sijil_is_a_store_error(store: Store) -> None:
    # Given a database stamped by a future sijil
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    # When it is opened, then migration stops with a StoreError
    with pytest.raises(StoreError, match="cannot be migrated"):
        store.migrate()


def test_migrations_ship_inside_the_package() -> None:
    # Given the installed package, then its Alembic scripts sit inside it
    assert MIGRATIONS_DIR.parent == Path(__file__).resolve().parents[1] / "src/sijil/store"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
