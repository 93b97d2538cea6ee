"""The Store: one engine and its sessions, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic.util import CommandError
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from sijil.crypto.sealed_value import ValueSealer
from sijil.errors import ConfigError, StoreError
from sijil.store import migrate as _migrate
from sijil.store import sqlcipher
from sijil.store.seal_existing import seal_existing as _seal_existing
from sijil.store.sealed import attach_sealer
from sijil.store.sqlcipher import SqliteFile
from sijil.store.translate import store_error

__all__ = ["BUSY_TIMEOUT_MS", "CONNECT_TIMEOUT_S", "Store", "sqlite_file"]

#: How long a SQLite writer waits for another one before giving up.
SQLITE_MMAP_BYTES = 1 << 30  # address space only; the page cache decides what is resident
BUSY_TIMEOUT_MS = 5000
#: How long to wait for a PostgreSQL server, unless the URL says otherwise;
#: libpq would otherwise wait forever on an unreachable host.
CONNECT_TIMEOUT_S = 10

# Execution option read by the SQLite "begin" listener below.
_SQLITE_BEGIN = "sijil_sqlite_begin"
_SQLITE_BEGIN_SQL = {"DEFERRED": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE"}


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling issues BEGIN lazily and not before
    # every statement kind; turn it off and let the "begin" listener do it, as
    # SQLAlchemy's SQLite notes advise. It also lets the PRAGMAs below run
    # outside any transaction, where journal_mode and foreign_keys must be set.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers do not block the writer, nor the writer readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite ignores REFERENCES unless told otherwise, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        # Ledger proofs read O(log n) scattered rows; memory-mapped reads keep a
        # cold 10M-entry proof near 100 µs instead of ~1 ms of read() calls.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES:d}")
        # synchronous stays FULL: a committed report must survive a power cut.
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
    conn.exec_driver_sql(_SQLITE_BEGIN_SQL[mode])


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = _parse_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: leave it to SQLite
        return None
    return Path(database)


def _parse_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        # never quote the URL back: it may hold a password
        raise ConfigError("the database URL cannot be parsed") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        # plain postgresql:// would ask for psycopg2, which sijil does not ship
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _keyed_connect(key: bytes) -> Callable[..., Any]:
    """A ``do_connect`` hook: every new SQLCipher connection is keyed before anything else."""

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
        sqlcipher.apply_key(connection, key)
        return connection

    return connect


def _create_engine(url: URL, key: bytes | None = None) -> Engine:
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite" and key is not None:
        # the pysqlite dialect over SQLCipher's fork of the same module
        kwargs["module"] = sqlcipher.sqlcipher()
    if backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in url.query:
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif backend != "sqlite":
        raise ConfigError(f"unsupported database {backend!r}; use sqlite or postgresql")
    try:
        engine = create_engine(url, **kwargs)
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"no database driver for {url.drivername!r}") from exc
    except sa_exc.ArgumentError as exc:
        raise ConfigError("the database URL has options the driver does not accept") from exc
    if backend == "sqlite" and key is not None:
        event.listen(engine, "do_connect", _keyed_connect(key))
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


class Store:
    """The desk's database.

    ``Store.open(url)`` connects and migrates to the newest schema; ``session()``
    gives an ORM session that commits on success and rolls back on error.
    Every database failure surfaces as a one-line :class:`StoreError`.
    ``Store.open(url, key=...)`` opens a SQLite file encrypted with SQLCipher
    (sijil.store.sqlcipher), creating it encrypted if it is new.
    """

    engine: Engine

    def __init__(self, engine: Engine, *, encrypted: bool = False) -> None:
        self.engine = engine
        self.encrypted = encrypted
        # expire_on_commit=False: objects read in a session stay readable after
        # it closed, which is how callers hand results to the CLI and web layer.
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = self._sessions
        if engine.dialect.name == "sqlite":
            immediate = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            self._write_sessions = sessionmaker(immediate, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | URL, *, key: bytes | None = None, migrate: bool = True) -> Self:
        """Connect to ``url`` and, unless ``migrate`` is False, migrate to head.

        ``key`` (32 raw bytes) opens a SQLite database encrypted with SQLCipher;
        a wrong key raises StoreError with one line. On every backend it also seals
        and opens the sealed columns (sijil.store.sealed); without it those fail.
        """
        parsed = _parse_url(url)
        path = sqlite_file(parsed)
        # a plaintext file of an older desk opens as it is (its values are sealed, below)
        encrypted = (
            key is not None
            and parsed.get_backend_name() == "sqlite"
            and (path is None or sqlcipher.file_state(path) is not SqliteFile.PLAIN)
        )
        if not encrypted and path and sqlcipher.file_state(path) is SqliteFile.ENCRYPTED:
            raise StoreError("the database is encrypted (or damaged): it needs its key")
        store = cls(_create_engine(parsed, key if encrypted else None), encrypted=encrypted)
        if key is not None:
            # the desk's key also seals single values on every backend (sijil.store.sealed)
            attach_sealer(store.engine, ValueSealer(key))
        try:
            if migrate:
                store.migrate()
                if key is not None:
                    store.seal_existing()
            else:
                store.ping()
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def sqlite_url(path: Path) -> str:
        """The URL of a SQLite database file at ``path`` (made absolute)."""
        return URL.create("sqlite+pysqlite", database=str(path.resolve())).render_as_string(
            hide_password=False
        )

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def ping(self) -> None:
        """Check that the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa_exc.SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc

    def seal_existing(self) -> int:
        """Seal values an older desk kept in the clear (sijil.store.seal_existing)."""
        from sijil.store.models import Base  # the mapped tables, imported once opened

        try:
            # IMMEDIATE on SQLite: two first opens at once must not both read then write
            engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            return _seal_existing(engine, Base.metadata.tables)
        except sa_exc.SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` in one transaction; a no-op when there."""
        # IMMEDIATE on SQLite: two processes opening a fresh file at once must
        # not both read "no schema" and then collide creating it.
        engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        try:
            with engine.begin() as conn:
                _migrate.upgrade(conn, revision)
        except sa_exc.SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc
        except CommandError as exc:
            # e.g. a database migrated by a newer sijil than this one
            raise StoreError(f"the database schema cannot be migrated: {exc}") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at (None before any migration)."""
        try:
            with self.engine.connect() as conn:
                return _migrate.current_revision(conn)
        except sa_exc.SQLAlchemyError as exc:
            raise store_error(exc, self.engine.url) from exc

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """An ORM session in one transaction: committed if the block succeeds.

        On any error the transaction is rolled back; database errors are raised
        as StoreError, others unchanged. ``write=True`` takes SQLite's write lock
        at the start, so a read-then-write block cannot fail half-way with
        "database is locked" when another process writes; PostgreSQL ignores it.
        """
        session = (self._write_sessions if write else self._sessions)()
        try:
            yield session
            session.commit()
        except sa_exc.SQLAlchemyError as exc:
            with suppress(sa_exc.SQLAlchemyError):
                session.rollback()
            raise store_error(exc, self.engine.url) from exc
        except BaseException:
            with suppress(sa_exc.SQLAlchemyError):
                session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        """Close every pooled connection; the Store is unusable afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
