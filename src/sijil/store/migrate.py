"""Run the Alembic migrations that ship inside this package, from code.

No ``alembic.ini`` is involved: the Config is built here and handed the
caller's open connection through ``config.attributes["connection"]``, so the
migration runs on exactly the engine the store uses (its pragmas, its
``search_path`` from a URL's ``options``) and the URL, password included, is
never copied into Alembic's configuration.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade"]

#: The Alembic script directory; shipped in the wheel as package data.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

# Any constant shared by every sijil process; it serialises concurrent
# migrations of one PostgreSQL database (the value spells "sijil").
_PG_MIGRATION_LOCK = 0x73696A696C


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for sijil's migrations, optionally bound to ``connection``."""
    cfg = Config()
    # ConfigParser interpolates "%", which a folder name may contain.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision this sijil knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database behind ``connection`` to ``revision``.

    The caller owns the transaction (``engine.begin()``): on PostgreSQL the whole
    upgrade then commits or rolls back as one, DDL included.
    """
    if connection.dialect.name == "postgresql":
        # held until the caller's transaction ends
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), revision)
