"""Shared pytest fixtures.

Database fixtures run each test on SQLite and on PostgreSQL. PostgreSQL is
expected at 127.0.0.1:5432, database ``test``, trust auth (override with
``SIJIL_TEST_POSTGRES_URL``); when it is missing those tests are skipped,
unless ``SIJIL_REQUIRE_POSTGRES=1`` makes that a failure (as in CI).

The suite runs in parallel (pytest-xdist, ``make unit``). Each test gets its own
temporary folder, SQLite file or PostgreSQL schema, named after the xdist worker
and a random suffix, so workers share no database object, file or module state;
each worker asks once whether PostgreSQL answers. Tests marked ``slow`` are
handed out first, and tests sharing an expensive module fixture carry an
``xdist_group`` mark so one worker builds it once (``--dist loadgroup``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from sijil.crypto.sealed_value import ValueSealer
from sijil.store import Store
from sijil.store.sealed import attach_sealer

# a real S3 server (SeaweedFS) for the object-store vault: s3_server, make_s3_url, ...;
# the desk web app over a desk: make_web (tests/web_helpers.py)
pytest_plugins = ["s3_server", "web_helpers", "browser_helpers"]

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# xdist's worker id ("gw0", "gw1", ...), or "main" when the suite runs in one process
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

_postgres_problem: dict[str, str | None] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, hand out the slow tests first so none is left to run alone at the end.

    Every worker sorts the same collection the same way (a stable sort on the mark),
    as xdist requires; a run in one process keeps the files' order.
    """
    if "PYTEST_XDIST_WORKER" in os.environ:
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _postgres_admin_url() -> URL:
    return make_url(os.environ.get("SIJIL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None; asked once per test process (xdist worker)."""
    if "reason" not in _postgres_problem:
        url = _postgres_admin_url()
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            reason = None
        except sa_exc.SQLAlchemyError as exc:
            lines = str(getattr(exc, "orig", exc)).strip().splitlines()
            reason = (lines[0] if lines else type(exc).__name__)[:200]
        finally:
            engine.dispose()
        _postgres_problem["reason"] = reason
    return _postgres_problem["reason"]


def _postgres_schema_url() -> Iterator[str]:
    admin_url = _postgres_admin_url()
    reason = _postgres_unreachable()
    if reason is not None:
        where = f"{admin_url.host or 'localhost'}:{admin_url.port or 5432}"
        message = f"PostgreSQL not reachable at {where}: {reason}"
        if os.environ.get("SIJIL_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # A fresh schema per test keeps tests independent without a database each, and
    # xdist workers apart (the worker id in the name only helps find a leftover);
    # search_path in the URL's options sends every connection there, including
    # those of a CLI started in a subprocess with the same URL.
    schema = f"sijil_test_{WORKER}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        query = dict(admin_url.query)
        query["options"] = f"-csearch_path={schema}"
        yield admin_url.set(query=query).render_as_string(hide_password=False)
        with admin.connect() as conn:
            # a connection a test forgot to close must fail the drop, not hang it
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


# the key of the sealed columns of a bare ``store`` (a desk derives its own)
TEST_DB_KEY = bytes(range(32))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield Store.sqlite_url(tmp_path / "sijil.db")
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated Store on ``store_url`` that seals values (a test key), closed after."""
    opened = Store.open(store_url)
    attach_sealer(opened.engine, ValueSealer(TEST_DB_KEY))
    try:
        yield opened
    finally:
        opened.close()


# --- identities, homes and the CLI -------------------------------------------------

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from sijil.crypto.kdf import KdfParams  # noqa: E402
from sijil.desk.encrypt_db import encrypt_database  # noqa: E402
from sijil.desk.home import DeskHome  # noqa: E402
from sijil.field.home import FieldHome, FieldSession  # noqa: E402

PASSPHRASE = "test passphrase, not secret"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture
def fast_kdf() -> KdfParams:
    """The cheapest scrypt the key files accept: tests need speed, not resistance."""
    return KdfParams(log_n=10, r=8, p=1)


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIJIL_PASSPHRASE", PASSPHRASE)
    return PASSPHRASE


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS}")
    return CORPUS


@dataclass
class DeskFixture:
    home: DeskHome

    @property
    def args(self) -> list[str]:
        return ["--home", str(self.home.root)] + (
            ["--db", self.home.db_url] if self.home.db_url else []
        )


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head by the real migrations, once per test process.

    ``make_desk`` copies it where a desk's new SQLite database goes, instead of
    migrating each one again (a tenth of a second, hundreds of times), and encrypts
    the copy under that desk's key (sijil.desk.encrypt_db). The file is
    left in rollback-journal mode so that it is whole without its WAL; the store
    turns WAL on again when it opens the copy, as it does for a new file. Migrations
    from nothing stay tested where tests open ``store_url`` themselves, by the
    ``store`` fixture, the CLI's ``desk init`` and on PostgreSQL.
    """
    path = tmp_path_factory.mktemp("migrated") / "sijil.db"
    Store.open(Store.sqlite_url(path)).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture
def make_desk(
    tmp_path: Path, fast_kdf: KdfParams, passphrase: str, migrated_sqlite: Path
) -> Callable[..., DeskFixture]:
    """Factory: a desk home with its keys and database, on the given store URL."""

    def make(db_url: str | None = None, name: str = "desk") -> DeskFixture:
        home = DeskHome(root=tmp_path / name, db_url=db_url)
        database = home.sqlite_file
        copied = database is not None and not database.exists()
        if database is not None and copied:  # a new database: a copy of the migrated one
            database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(migrated_sqlite, database)
        home.init(passphrase, fast_kdf)
        identity = home.unlock(passphrase)
        if copied:
            # the template is plaintext: encrypt the copy as 'desk migrate-encrypt' does
            encrypt_database(home, identity)
        # tests open the store without unlocking each time: the home holds the key
        return DeskFixture(home=home.with_key(identity))

    return make


@pytest.fixture
def make_correspondent(
    tmp_path: Path, fast_kdf: KdfParams, passphrase: str
) -> Callable[..., FieldSession]:
    """Factory: a correspondent enrolled by ``desk`` under ``codename``, unlocked."""

    def make(desk: DeskFixture, codename: str) -> FieldSession:
        with desk.home.open_store() as store:
            invite = desk.home.invite(store, codename=codename)
        home = FieldHome(tmp_path / "field" / codename)
        home.init(invite, passphrase, fast_kdf)
        return home.unlock(passphrase)

    return make


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``sijil ARGS`` in-process and return exit code, stdout and stderr."""
    from sijil.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return run


# --- a desk holding evidence (vault, ledger, verify, export and crash tests) ----------

from media import camera_jpeg  # noqa: E402
from sijil.desk.intake import ImportOutcome, import_paths  # noqa: E402
from sijil.envelope.sealing import Draft  # noqa: E402
from sijil.field.compose import compose, export_outbox  # noqa: E402


@dataclass
class Evidence:
    desk: DeskFixture
    inbox: Path
    outcomes: list[ImportOutcome]


def seal_reports(session: FieldSession, folder: Path, count: int, *, tag: str = "r") -> None:
    """Seal ``count`` Arabic reports into the outbox; two in three carry a photo."""
    for i in range(count):
        photo = folder / f"{tag}{i}.jpg"
        photo.write_bytes(camera_jpeg(seed=i + 7 * len(tag)))
        draft = Draft(title=f"{tag} report {i}", body="نص التقرير " * 3, lang="ar")
        compose(session, draft, [photo] if i % 3 != 2 else [])


def desk_with_evidence(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    *,
    reports: int = 3,
) -> Evidence:
    """A desk that imported Raven's reports by USB, plus one file that is not an envelope."""
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", reports)
    inbox = tmp_path / "inbox"
    export_outbox(raven, inbox)
    (inbox / "junk.bin").write_bytes(b"not an envelope at all")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, identity, store, [inbox], channel="usb")
    return Evidence(desk=desk, inbox=inbox, outcomes=outcomes)


@pytest.fixture
def evidence(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
) -> Evidence:
    """A desk with three imported reports (two with a photo) and one quarantined file."""
    return desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)


# --- relay ----------------------------------------------------------------------------

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402


@dataclass
class RelayHandle:
    url: str
    spool: Path


@pytest.fixture
def make_relay(tmp_path: Path) -> Iterator[Callable[..., RelayHandle]]:
    """Factory: a relay on a free 127.0.0.1 port in a thread, stopped after the test."""
    from sijil.relay.server.config import RelayConfig
    from sijil.relay.server.serve import running_relay

    with contextlib.ExitStack() as stack:

        def make(
            desk_key: Ed25519PublicKey,
            *,
            name: str = "relay",
            clock: Callable[[], float] | None = None,
            **settings: object,
        ) -> RelayHandle:
            spool = tmp_path / name
            config = RelayConfig(spool=spool, desk_key=desk_key, **settings)  # type: ignore[arg-type]
            extra = {} if clock is None else {"clock": clock}
            url = stack.enter_context(running_relay(config, **extra))  # type: ignore[arg-type]
            return RelayHandle(url=url, spool=spool)

        yield make
