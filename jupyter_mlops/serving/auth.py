"""Data-plane authentication: a deployment that has a token answers only requests bearing it.

Under JupyterHub every deployment gets a token (``MLOps.issue_token`` hands it out), so another hub user cannot
call it on its loopback port; in single-user mode tokens are off unless ``require_deployment_token`` is set. The
daemon's admin token (held by the owner's Jupyter server, which checks the Jupyter user first) is also accepted,
so the authenticated proxy route ``/mlops/api/deployments/NAME/predict`` keeps working. Every per-deployment route
(scoring, V2 metadata and readiness, ping) goes through ``require_token``; ``/metrics`` through
``require_metrics_token`` (the admin token or ``$JUPYTER_MLOPS_METRICS_TOKEN``).

Token hashes are cached, and a rotation or revocation takes effect at once:

* ``MLOps.issue_token`` tells the serving target after its commit and before it returns
  (``Target.credentials_changed``: the daemon's ``/admin/reconcile`` drops the deployment's entry), so no request
  that starts after ``issue_token`` returns can meet the old token, on any store. This is the guarantee: a store
  notification alone is delivered asynchronously, leaving a window after the commit in which the daemon would still
  trust the old digest. A read that began before an invalidation never refills the cache with what it read (an
  epoch check), so a request racing the rotation cannot put the old digest back.
* for writers that do not go through this daemon's facade (another user's facade on a shared store, a script on
  ``DeploymentTokens``): on SQLite the cache is keyed by the database's ``PRAGMA data_version`` (read on a
  dedicated connection, a few microseconds, changes whenever any other connection commits); on PostgreSQL the
  daemon ``LISTEN``s on ``mlops_tokens`` (sent by ``DeploymentTokens`` in the changing transaction) on a dedicated
  connection and drops the named entry within milliseconds of the commit. While that connection is down, entries
  are re-read every ``REFRESH_SECONDS`` (as on any other store).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.requests import Request

from ..core.errors import Forbidden, MLOpsError
from ..core.governance.tokens import CHANNEL
from ..core.store import Store
from ..core.store.governance_tables import DeploymentTokenRow
from ..core.store.schema import upgrade as ensure_tables

REFRESH_SECONDS = 1.0  # stores without a change signal (PostgreSQL while its LISTEN connection is down)
METRICS_TOKEN_ENV = "JUPYTER_MLOPS_METRICS_TOKEN"  # noqa: S105 - the name of a variable, not a secret

log = logging.getLogger(__name__)


class TokenRequired(MLOpsError):
    """The route needs a bearer token and none was given."""

    status = 401
    code = "UNAUTHENTICATED"


class TokenCache:
    """Deployment name -> (SHA-256 of its token or None, generation it was read for, when it was read).

    An entry is re-read when the store changed (SQLite ``data_version``), when it was invalidated (the facade's
    ``issue_token`` through the admin API, a PostgreSQL notification), when the served generation changes (a new
    deployment gets its token before it is applied), after ``REFRESH_SECONDS`` on stores without a change signal,
    and on a mismatching token (only refused requests pay this read).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store.engine)
        self.entries: dict[str, tuple[str | None, int | None, float]] = {}
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # made outside the server's loop (a tool, a test): notifications invalidate directly
            self._loop = None
        # Bumped by every invalidation: a read that started before one must not refill the cache with what it read.
        self._epoch = 0
        self._probe = _data_version_probe(store)
        self._seen: int | None = self._probe() if self._probe is not None else None
        self._listener = TokenChangeListener.start(store, self._notified)

    def _notified(self, name: str | None) -> None:
        """A notification (from the listener's thread): invalidate on the event loop that serves requests."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.invalidate, name)
        else:
            self.invalidate(name)

    def close(self) -> None:
        """Stop listening for notifications (the daemon's exit does this too)."""
        if self._listener is not None:
            self._listener.stop()

    def _read(self, name: str) -> str | None:
        with self.store.session() as s:
            row = s.scalars(select(DeploymentTokenRow).where(DeploymentTokenRow.name == name)).first()
            return row.token_hash if row is not None else None

    def invalidate(self, name: str | None = None) -> None:
        """Forget one deployment's cached token (or every one): the next request re-reads it."""
        self._epoch += 1
        if name is None:
            self.entries.clear()
        else:
            self.entries.pop(name, None)

    async def get(self, name: str, generation: int | None, *, recheck: bool = False) -> str | None:
        """The token digest of ``name`` as the store holds it now (None: the deployment needs no token)."""
        if self._probe is not None:
            version = self._probe()
            if version != self._seen:  # someone committed: tokens may have changed
                self._seen = version
                self.invalidate()
        entry = self.entries.get(name)
        now = time.monotonic()
        stale = entry is None or entry[1] != generation
        signalled = self._probe is not None or (self._listener is not None and self._listener.listening)
        if not signalled and entry is not None and now - entry[2] > REFRESH_SECONDS:
            stale = True
        if stale or recheck:
            epoch = self._epoch
            digest = await asyncio.to_thread(self._read, name)
            if epoch == self._epoch:  # else a rotation committed meanwhile: what we read may predate it
                self.entries[name] = (digest, generation, now)
            return digest
        return entry[0]  # type: ignore[index]


class TokenChangeListener:
    """``LISTEN mlops_tokens`` on a dedicated PostgreSQL connection, in a daemon thread.

    ``on_change(name)`` is called from that thread for each notification, and ``on_change(None)`` (forget every
    entry) whenever the connection is (re)established or lost: notifications sent meanwhile were missed.
    ``listening`` is True only while notifications can arrive; until then the cache re-reads on a timer.
    """

    def __init__(self, dsn: str, on_change: Callable[[str | None], None]) -> None:
        self.dsn, self.on_change = dsn, on_change
        self.listening = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-token-listener", daemon=True)

    @classmethod
    def start(cls, store: Store, on_change: Callable[[str | None], None]) -> TokenChangeListener | None:
        """A running listener for a PostgreSQL store; None for other databases."""
        url = store.engine.url
        if url.get_backend_name() != "postgresql":
            return None
        listener = cls(url.set(drivername="postgresql").render_as_string(hide_password=False), on_change)
        listener._thread.start()
        return listener

    def stop(self) -> None:
        """Stop after the current wait (at most a second)."""
        self._stopped.set()

    def _run(self) -> None:
        import psycopg

        while not self._stopped.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.on_change(None)  # whatever changed before LISTEN took effect
                    self.listening = True
                    while not self._stopped.is_set():
                        for note in connection.notifies(timeout=1.0):
                            self.on_change(note.payload or None)
            except Exception as exc:  # a lost connection: fall back to timed re-reads, then reconnect
                log.warning("Token change notifications interrupted (%s); re-reading tokens every %s s meanwhile",
                            type(exc).__name__, REFRESH_SECONDS)  # fmt: skip
            finally:
                if self.listening:
                    self.listening = False
                    self.on_change(None)
            self._stopped.wait(1.0)


def _data_version_probe(store: Store) -> Any:
    """A function returning SQLite's ``data_version`` for the store's file, or None for other databases."""
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    try:
        connection = sqlite3.connect(f"file:{os.path.abspath(url.database)}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return None

    def probe() -> int | None:
        try:
            return int(connection.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # a locked or vanished file: treated as a change (re-read)

    with contextlib.suppress(sqlite3.Error):
        connection.execute("PRAGMA data_version")
    return probe


def cache_of(ctx: Any) -> TokenCache:
    """The token cache of a serving context (created on first use)."""
    cache = getattr(ctx.host, "_mlops_token_cache", None)
    if cache is None:
        cache = TokenCache(ctx.host.store)
        ctx.host._mlops_token_cache = cache
    return cache


def _matches(given: str, digest: str, admin_token: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), digest) or hmac.compare_digest(
        given.encode(), admin_token.encode()
    )


def _bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


async def require_token(ctx: Any, request: Request, name: str) -> None:
    """Raise 401/403 unless the request may call deployment ``name`` (no-op for deployments without a token)."""
    runtime = ctx.host.get(name)
    active = getattr(runtime, "active", None)
    generation = getattr(active, "generation", None)
    if generation is None and runtime is not None:
        generation = getattr(getattr(runtime, "desired", None), "generation", None)
    cache = cache_of(ctx)
    expected = await cache.get(name, generation)
    if expected is None:
        return
    given = _bearer(request)
    if given is None:
        raise TokenRequired(
            f"Deployment {name!r} requires 'Authorization: Bearer <token>'; its owner gets one with "
            "mlops.issue_token(NAME) or POST /mlops/api/deployments/NAME/token."
        )
    if _matches(given, expected, ctx.token):
        return
    expected = await cache.get(name, generation, recheck=True)
    if expected is None or _matches(given, expected, ctx.token):
        return
    raise Forbidden(f"The token does not grant access to deployment {name!r}.")


def require_metrics_token(ctx: Any, request: Request) -> None:
    """Raise 401/403 unless the request bears the admin token or the configured metrics token."""
    given = _bearer(request)
    if given is None:
        raise TokenRequired(
            "GET /metrics requires 'Authorization: Bearer <token>': the admin token from "
            f"{{data_dir}}/serving/daemon.json, or the token set in ${METRICS_TOKEN_ENV} for a Prometheus scraper."
        )
    allowed = [ctx.token, os.environ.get(METRICS_TOKEN_ENV, "")]
    if not any(token and hmac.compare_digest(given.encode(), token.encode()) for token in allowed):
        raise Forbidden("The token does not grant access to /metrics.")
