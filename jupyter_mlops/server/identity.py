"""Who is acting on a REST request: the authenticated Jupyter user as a ``Principal`` (name, hub groups, scopes).

The server's own user (``JUPYTERHUB_USER``) owns what this server creates; another hub user reaching this server
(an admin, or someone with shared access) acts as themselves. Under JupyterHub the caller's groups and the
``custom:mlops:*`` scopes of their token come from the hub's user model (``current_user.hub_user``) and feed role
resolution in core, so ``c.MLOpsConfig.roles = {"group:reviewers": "approver"}`` and hub-granted scopes both work.
Identity is never read from the request body or query.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.principal import Principal


def actor_name(user: Any) -> str:
    """The user name of a jupyter_server ``current_user`` (``username`` for hub users, ``name`` otherwise)."""
    return getattr(user, "username", None) or getattr(user, "name", None) or "anonymous"


def hub_groups(user: Any) -> list[str] | None:
    """Groups from the hub's user model (``current_user.hub_user``), or None outside a hub."""
    hub_user = getattr(user, "hub_user", None)
    if not isinstance(hub_user, dict):
        return None
    groups = hub_user.get("groups")
    return [str(g) for g in groups] if isinstance(groups, list) else []


def hub_scopes(user: Any) -> list[str]:
    """Scopes of the caller's hub token (``current_user.hub_user["scopes"]``), or none outside a hub."""
    hub_user = getattr(user, "hub_user", None)
    scopes = hub_user.get("scopes") if isinstance(hub_user, dict) else None
    return [str(s) for s in scopes] if isinstance(scopes, list) else []


def is_anonymous(user: Any) -> bool:
    """jupyter_server's token/password login gives each client a throwaway "Anonymous <moon>" user."""
    return str(getattr(user, "name", "") or "").startswith("Anonymous ")


def principal_of(user: Any, server_owner: Principal) -> Principal:
    """The principal of an authenticated request.

    Outside a hub, an anonymous token/password login is the server's own user (whoever holds the server's token
    is its owner), so the ledger names a person rather than a random id that changes per client.
    """
    if is_anonymous(user) and not os.environ.get("JUPYTERHUB_USER"):
        return server_owner
    return Principal.from_scopes(actor_name(user), hub_scopes(user), hub_groups(user) or ())
