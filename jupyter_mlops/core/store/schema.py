"""Our store's schema: created and upgraded by the Alembic migrations in ``migrations/``, never by ``create_all``.

Every process that opens the store (Jupyter, kernels, the serving daemon, the fleet service) calls ``upgrade``:
one ``SELECT`` when the store is at the head revision; otherwise the migrations run under a lock (a file lock
beside a SQLite database, an advisory lock on PostgreSQL) so two processes never migrate at once, and under one
process-wide lock (``locks.MIGRATION_LOCK``, which MLflow's store creation holds too) so two threads never do:
Alembic's proxies are process-global. The version table is ours
(``mlops_alembic_version``), so a store inside MLflow's own database never meets MLflow's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

from ..locks import MIGRATION_LOCK, file_lock

log = logging.getLogger(__name__)

VERSION_TABLE = "mlops_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x6D6C6F7073  # "mlops": one advisory lock for our migrations in the database


def metadata() -> MetaData:
    """Every table of ours (importing the table modules registers them on the shared ``Base``)."""
    from . import fleet_tables, governance_tables, monitoring_tables, risk_tables, tables  # noqa: F401

    return tables.Base.metadata


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision shipped with this version of the package."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"The store migrations have {len(heads)} heads ({heads}); merge them.")
    return heads[0]


def current(connection: Connection) -> str | None:
    """The store's revision, or None for a new (or pre-migration) store."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the store to the head revision; cheap when it is there already."""
    with MIGRATION_LOCK:  # the first call imports Alembic: not while another thread's MLflow store imports it
        newest = head()
    with engine.connect() as connection:
        if current(connection) == newest:
            return
    with MIGRATION_LOCK, _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if current(connection) == newest:  # another process migrated while we waited
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        log.info("Upgrading the store to revision %s", head())
        command.upgrade(config, "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """A file lock beside a SQLite database (PostgreSQL locks inside the transaction instead)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with file_lock(Path(database).with_name(Path(database).name + ".migrate.lock")):
        yield
