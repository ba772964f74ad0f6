"""jupyter_mlops: register, deploy and monitor ML models from JupyterLab, with MLflow as the registry."""

from __future__ import annotations

from typing import Any

from .core.about import __version__

_API = {
    "client",
    "configure",
    "deploy",
    "deployment",
    "deployments",
    "model",
    "models",
    "predict",
    "register",
    "reset_client",
    "set_alias",
    "undeploy",
    "versions",
    "version",
    "delete_alias",
    "export_audit",
    "whoami",
    "set_traffic",
    "promote",
    "rollback",
    "sync",
    "events",
    "monitor",
    "feedback",
    "alerts",
    "acknowledge_alert",
    "alert_rules",
    "health",
    # governance (issue 6)
    "audit",
    "verify_audit",
    "served_at",
    "request_approval",
    "approvals",
    "grant",
    "reject",
    "card",
    "update_card",
    "lineage",
    "issue_token",
    # model risk management (issue 17)
    *("inventory", "set_inventory", "validate_version", "validations", "check_reviews", "risk_summary"),
    *("set_retention", "inventory_report", "technical_documentation", "logging_evidence"),
}


def __getattr__(name: str) -> Any:
    # The API pulls in MLflow (over a second to import): load it on first use, not on `import jupyter_mlops`,
    # which JupyterLab does at start-up to discover extensions.
    if name in _API:
        from .core import api

        return getattr(api, name)
    if name == "MLOpsError":
        from .core.errors import MLOpsError

        return MLOpsError
    raise AttributeError(f"module 'jupyter_mlops' has no attribute {name!r}")


__all__ = [
    "MLOpsError",
    "__version__",
    "acknowledge_alert",
    "alert_rules",
    "alerts",
    "approvals",
    "audit",
    "card",
    "check_reviews",
    "client",
    "configure",
    "delete_alias",
    "deploy",
    "deployment",
    "deployments",
    "events",
    "export_audit",
    "feedback",
    "grant",
    "health",
    "inventory",
    "inventory_report",
    "issue_token",
    "lineage",
    "logging_evidence",
    "model",
    "models",
    "monitor",
    "predict",
    "promote",
    "register",
    "reject",
    "request_approval",
    "reset_client",
    "risk_summary",
    "rollback",
    "served_at",
    "set_alias",
    "set_inventory",
    "set_retention",
    "set_traffic",
    "sync",
    "technical_documentation",
    "undeploy",
    "update_card",
    "validate_version",
    "validations",
    "verify_audit",
    "version",
    "versions",
    "whoami",
]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter_mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.extension import MLOpsExtension

    return [{"module": "jupyter_mlops", "app": MLOpsExtension}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``: registers the %register, %deploy, ... magics."""
    from .magics import load_ipython_extension as load

    load(ipython)
