"""Per-deployment bearer tokens: what keeps one hub user from calling another user's endpoint on its port.

Only the SHA-256 of a token is stored; the token is returned once when issued (or rotated).
"""

from __future__ import annotations

import hashlib
import secrets

from ..store import Store
from ..store.governance_tables import DeploymentTokenRow
from ..store.schema import upgrade as ensure_tables
from .audit import now_iso


def token_hash(token: str) -> str:
    """The SHA-256 we keep of a token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class DeploymentTokens:
    """Bearer tokens of deployment endpoints: issued, checked by hash, revoked with the deployment."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store.engine)

    def issue(self, name: str) -> str:
        """A new token for ``name`` (replacing any previous one, which stops working at once)."""
        token = "mlops_" + secrets.token_urlsafe(32)
        with self.store.session() as s:
            row = s.get(DeploymentTokenRow, name)
            if row is None:
                s.add(DeploymentTokenRow(name=name, token_hash=token_hash(token), created_at=now_iso()))
            else:
                row.token_hash = token_hash(token)
                row.created_at = now_iso()
        return token

    def has_token(self, name: str) -> bool:
        """True when the deployment's endpoint requires a token."""
        with self.store.session() as s:
            return s.get(DeploymentTokenRow, name) is not None

    def revoke(self, name: str) -> None:
        """Forget the deployment's token (its endpoint is then open again, or gone)."""
        with self.store.session() as s:
            row = s.get(DeploymentTokenRow, name)
            if row is not None:
                s.delete(row)
