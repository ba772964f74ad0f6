"""Store: the desired state of deployments, shared by the Jupyter server, kernels and the serving daemon.

Several processes open the same SQLite file, so it runs in WAL mode with a busy timeout; on PostgreSQL the
same code runs unchanged (``store_url = "postgresql+psycopg://..."``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..errors import Conflict, NotFound
from ..models import Deployment, Variant, VariantRole
from . import schema
from .tables import DeploymentRow, VariantRow, utcnow

log = logging.getLogger(__name__)


# Page size of a new SQLite store (an existing one keeps its own: SQLite changes it only by a VACUUM out of WAL).
# The inference log writes a blob of ~16 KB per logged 100-row request; at 4 KiB a page SQLite builds, journals
# and checkpoints it as a chain of overflow pages, a page at a time: 90 us of the writer's CPU per such request,
# against 40 us at 64 KiB. A one-row transaction costs ~140 us instead of ~30: nothing at the control plane's rates.
SQLITE_PAGE_SIZE = 65536


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL mode creates the file; else a no-op
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for our store (SQLite with WAL and a busy timeout, or PostgreSQL)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def variant_of(row: VariantRow) -> Variant:
    """The typed variant of a variant row."""
    return Variant(
        name=row.name,
        model_name=row.model_name,
        model_version=row.model_version,
        weight=row.weight,
        role=VariantRole(row.role),
    )


def _to_record(row: DeploymentRow) -> Deployment:
    primary = next((v for v in row.variants if v.role == VariantRole.primary.value), None)
    primary = primary or (row.variants[0] if row.variants else None)
    return Deployment(
        name=row.name,
        owner=row.owner,
        target=row.target,
        model_ref=row.model_ref,
        model_name=primary.model_name if primary else "",
        model_version=primary.model_version if primary else "",
        variants=[variant_of(v) for v in row.variants],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class Store:
    """Desired state of deployments. Methods return typed records, never ORM rows."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        schema.upgrade(self.engine)  # the Alembic migrations, under a lock
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._unit = threading.local()  # the session of this thread's open transaction(), if any

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error (inside ``transaction()``: that one's)."""
        shared = getattr(self._unit, "session", None)
        if shared is not None:
            yield shared
            return
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every ``session()`` this thread opens in the block joins one transaction: all of it commits, or none."""
        if getattr(self._unit, "session", None) is not None:
            yield
            return
        with self._sessions() as session, session.begin():
            self._unit.session = session
            try:
                yield
            finally:
                self._unit.session = None

    def in_transaction(self) -> bool:
        """Whether this thread is inside ``transaction()``."""
        return getattr(self._unit, "session", None) is not None

    def create_deployment(
        self,
        name: str,
        *,
        owner: str | None,
        target: str,
        model_ref: str,
        variants: list[Variant],
        config: dict[str, Any] | None = None,
    ) -> Deployment:
        """Create a deployment's desired state (Conflict if the name is taken)."""
        with self.session() as s:
            if s.get(DeploymentRow, name) is not None:
                raise Conflict(
                    f"A deployment named {name!r} already exists: choose another name, or update it "
                    "(deploy with replace=True / PUT) or undeploy it first."
                )
            row = DeploymentRow(name=name, owner=owner, target=target, model_ref=model_ref, config=config or {})
            row.variants = [VariantRow(**v.model_dump(mode="json")) for v in variants]
            s.add(row)
            s.flush()
            return _to_record(row)

    def replace_variants(
        self, name: str, *, model_ref: str, variants: list[Variant], config: dict[str, Any] | None = None
    ) -> Deployment:
        """Replace a deployment's variants and bump its generation."""
        with self.session() as s:
            row = s.get(DeploymentRow, name)
            if row is None:
                raise NotFound(f"No deployment named {name!r}.")
            row.model_ref = model_ref
            row.variants = [VariantRow(**v.model_dump(mode="json")) for v in variants]
            if config is not None:
                row.config = config
            row.generation += 1
            row.updated_at = utcnow()
            s.flush()
            return _to_record(row)

    def get_deployment(self, name: str) -> Deployment:
        """A deployment's desired state (NotFound naming how to list them)."""
        with self.session() as s:
            row = s.get(DeploymentRow, name)
            if row is None:
                raise NotFound(
                    f"No deployment named {name!r}. List deployments with %deployments or GET /mlops/api/deployments."
                )
            return _to_record(row)

    def generation(self, name: str) -> int | None:
        """The deployment's generation (bumped on each change), or None if there is none."""
        with self.session() as s:
            row = s.get(DeploymentRow, name)
            return None if row is None else row.generation

    def list_deployments(self, *, target: str | None = None, owner: str | None = None) -> list[Deployment]:
        """Deployments' desired state, optionally of one target or owner."""
        with self.session() as s:
            query = select(DeploymentRow).order_by(DeploymentRow.name)
            if target is not None:
                query = query.where(DeploymentRow.target == target)
            if owner is not None:
                query = query.where(DeploymentRow.owner == owner)
            return [_to_record(row) for row in s.scalars(query)]

    def delete_deployment(self, name: str) -> bool:
        """Remove a deployment's desired state; returns False when there was none (delete is idempotent)."""
        with self.session() as s:
            row = s.get(DeploymentRow, name)
            if row is None:
                return False
            s.delete(row)
            return True

    def close(self) -> None:
        """Dispose of the engine's connections."""
        self.engine.dispose()
