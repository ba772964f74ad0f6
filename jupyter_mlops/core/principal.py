"""Who acts: a principal bound to a facade by its door, never a keyword argument a caller could choose.

The embedded facade acts as the process's user (``JUPYTERHUB_USER`` under a hub, else the OS user); the REST door
builds one principal per request from the authenticated user (name, hub groups, hub scopes); a hub service takes it
from the caller's hub token. Role resolution (``core/governance/policy.py``) reads names, groups and the
``custom:mlops:*`` scopes a hub grants.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from . import lineage

# JupyterHub custom scopes that imply an MLOps role (granted through hub roles on users or groups).
SCOPE_DEPLOY = "custom:mlops:deploy"
SCOPE_APPROVE = "custom:mlops:approve"
SCOPE_ADMIN = "custom:mlops:admin"
SCOPE_READ = "custom:mlops:read"
SCOPE_VALIDATE = "custom:mlops:validate"  # the independent validator of model risk management (issue 17)
MLOPS_SCOPE_PREFIX = "custom:mlops:"


class Principal(BaseModel, frozen=True):
    """An authenticated identity: a user name, its hub groups and the hub scopes its authenticator asserted."""

    name: str = Field(min_length=1)
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()

    @classmethod
    def from_scopes(cls, name: str, scopes: Iterable[str], groups: Iterable[str] = ()) -> Principal:
        """A principal from a hub user model's scopes and groups, keeping only the MLOps scopes.

        Scopes may carry a filter (``custom:mlops:deploy!user=alice``); the filter is dropped since MLOps scopes
        name a role, not a resource.
        """
        kept = frozenset(s.split("!", 1)[0] for s in scopes if str(s).startswith(MLOPS_SCOPE_PREFIX))
        return cls(name=name, groups=tuple(str(g) for g in groups), scopes=kept)

    @classmethod
    def current(cls) -> Principal:
        """The process's user: ``JUPYTERHUB_USER`` when a hub started this process, else the OS user."""
        return cls(name=lineage.current_user())

    def __str__(self) -> str:
        return self.name
