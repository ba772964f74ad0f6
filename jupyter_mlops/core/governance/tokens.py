"""Per-deployment bearer tokens: what keeps one hub user from calling another user's endpoint on its port.

Only the SHA-256 of a token is stored; the token is returned once when issued (or rotated). On PostgreSQL every
change also sends ``NOTIFY mlops_tokens, '<deployment>'`` in its transaction, so any serving daemon on the store
drops its cached digest within milliseconds of the commit, whoever wrote it (``serving/auth.py`` listens).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..store import Store
from ..store.governance_tables import DeploymentTokenRow
from ..store.schema import upgrade as ensure_tables
from .audit import now_iso

CHANNEL = "mlops_tokens"  # the PostgreSQL notification channel of token changes (payload: the deployment name)


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
            _announce(s, name)
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
                _announce(s, name)


def _announce(session: Session, name: str) -> None:
    """Notify listeners of a token change of ``name`` when the session commits (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :name)"), {"channel": CHANNEL, "name": name})
