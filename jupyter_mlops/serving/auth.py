"""Data-plane authentication: a deployment that has a token answers only requests bearing it.

Under JupyterHub every deployment gets a token (``MLOps.issue_token`` hands it out), so another hub user cannot
call it on its loopback port; in single-user mode tokens are off unless ``require_deployment_token`` is set. The
daemon's admin token (held by the owner's Jupyter server, which checks the Jupyter user first) is also accepted,
so the authenticated proxy route ``/mlops/api/deployments/NAME/predict`` keeps working.

Token hashes are cached and re-read from the store at most every ``REFRESH_SECONDS`` (off the event loop), so
the hot path costs one dict lookup and one SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

from sqlalchemy import select
from starlette.requests import Request

from ..core.errors import Forbidden, MLOpsError
from ..core.store import Store
from ..core.store.governance_tables import DeploymentTokenRow
from ..core.store.schema import upgrade as ensure_tables

REFRESH_SECONDS = 5.0


class TokenRequired(MLOpsError):
    status = 401
    code = "UNAUTHENTICATED"


class TokenCache:
    """Deployment name -> (SHA-256 of its token or None, generation it was read for, when it was read).

    An entry is re-read when the served generation changes (a new deployment gets its token before it is
    applied, so its first served request already sees it), after ``REFRESH_SECONDS`` (revocation), and on a
    mismatching token (a token just rotated by its owner; only refused requests pay this read).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store.engine)
        self.entries: dict[str, tuple[str | None, int | None, float]] = {}

    def _read(self, name: str) -> str | None:
        with self.store.session() as s:
            row = s.scalars(select(DeploymentTokenRow).where(DeploymentTokenRow.name == name)).first()
            return row.token_hash if row is not None else None

    async def get(self, name: str, generation: int | None, *, recheck: bool = False) -> str | None:
        entry = self.entries.get(name)
        now = time.monotonic()
        stale = entry is None or entry[1] != generation or now - entry[2] > REFRESH_SECONDS
        if stale or recheck:
            digest = await asyncio.to_thread(self._read, name)
            self.entries[name] = (digest, generation, now)
            return digest
        return entry[0]  # type: ignore[index]


def _cache(ctx: Any) -> TokenCache:
    cache = getattr(ctx.host, "_mlops_token_cache", None)
    if cache is None:
        cache = TokenCache(ctx.host.store)
        ctx.host._mlops_token_cache = cache
    return cache


def _matches(given: str, digest: str, admin_token: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), digest) or hmac.compare_digest(
        given.encode(), admin_token.encode()
    )


async def require_token(ctx: Any, request: Request, name: str) -> None:
    """Raise 401/403 unless the request may call deployment ``name`` (no-op for deployments without a token)."""
    runtime = ctx.host.get(name)
    active = getattr(runtime, "active", None)
    generation = getattr(active, "generation", None)
    cache = _cache(ctx)
    expected = await cache.get(name, generation)
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
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
