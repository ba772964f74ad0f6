"""Who is acting: the authenticated Jupyter user, and under JupyterHub their hub groups.

The server's own user (``JUPYTERHUB_USER``) is the owner of what it creates; another hub user reaching this server
(an admin, or someone with shared access) is the actor. Groups the hub reports for the caller feed role
resolution in core (``Governance.remember_groups``), so ``c.MLOpsConfig.roles = {"group:reviewers": "approver"}``
works without asking the hub on each request.
"""

from __future__ import annotations

import os
from typing import Any


def actor_name(user: Any) -> str:
    return getattr(user, "username", None) or getattr(user, "name", None) or "anonymous"


def hub_groups(user: Any) -> list[str] | None:
    """Groups from the hub's user model (``current_user.hub_user``), or None outside a hub."""
    hub_user = getattr(user, "hub_user", None)
    if not isinstance(hub_user, dict):
        return None
    groups = hub_user.get("groups")
    return [str(g) for g in groups] if isinstance(groups, list) else []


def is_anonymous(user: Any) -> bool:
    """jupyter_server's token/password login gives each client a throwaway "Anonymous <moon>" user."""
    return str(getattr(user, "name", "") or "").startswith("Anonymous ")


def actor_of(handler: Any) -> str:
    """The acting user's name; records their hub groups with the facade's governance as a side effect.

    Outside a hub, an anonymous token/password login is the server's own user (whoever holds the server's token
    is its owner), so the ledger names a person rather than a random id that changes per client.
    """
    user = handler.current_user
    if is_anonymous(user) and not os.environ.get("JUPYTERHUB_USER"):
        return str(handler.mlops.user)
    name = actor_name(user)
    groups = hub_groups(user)
    if groups is not None:
        handler.mlops.governance.remember_groups(name, groups)
    return name
