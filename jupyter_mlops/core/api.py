"""The plain Python API: module-level functions on one shared ``MLOps`` built from the process's settings."""

from __future__ import annotations

import threading
from typing import Any

from .models import Deployment, ModelVersion, Page, RegisteredModel, RolloutEvent
from .service import MLOps

_default: MLOps | None = None
_lock = threading.Lock()


def client() -> MLOps:
    """The process-wide MLOps facade (created on first use from MLOpsConfig and JUPYTER_MLOPS_* variables)."""
    global _default
    with _lock:
        if _default is None:
            from ..config import MLOpsConfig

            config = MLOpsConfig()
            if config.service_url:  # team mode: act through the MLOps hub service with this user's hub token
                from ..hub.client import RemoteMLOps

                _default = RemoteMLOps.from_config(config)  # type: ignore[assignment]
            else:
                _default = MLOps(config)
        return _default


def reset_client(mlops: MLOps | None = None) -> None:
    """Replace the shared facade (tests and notebooks that change settings at run time)."""
    global _default
    with _lock:
        if _default is not None and _default is not mlops:
            _default.close()
        _default = mlops


def register(model: Any, name: str, X: Any = None, y: Any = None, **kwargs: Any) -> ModelVersion:
    return client().register(model, name, X, y, **kwargs)


def models(filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
    return client().models(filter, max_results=max_results, page_token=page_token)


def model(name: str) -> RegisteredModel:
    return client().model(name)


def versions(name: str) -> list[ModelVersion]:
    return client().versions(name)


def set_alias(name: str, alias: str, version: str | int) -> ModelVersion:
    return client().set_alias(name, alias, version)


def deploy(model: str, name: str | None = None, **kwargs: Any) -> Deployment:
    return client().deploy(model, name, **kwargs)


def deployments() -> list[Deployment]:
    return client().deployments()


def deployment(name: str) -> Deployment:
    return client().deployment(name)


def predict(name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
    return client().predict(name, data, params)


def undeploy(name: str) -> bool:
    return client().undeploy(name)


def set_traffic(name: str, weights: dict[str, int], **kwargs: Any) -> Deployment:
    return client().set_traffic(name, weights, **kwargs)


def promote(name: str, **kwargs: Any) -> Deployment:
    return client().promote(name, **kwargs)


def rollback(name: str, **kwargs: Any) -> Deployment:
    return client().rollback(name, **kwargs)


def sync(name: str, **kwargs: Any) -> Deployment:
    return client().sync(name, **kwargs)


def events(name: str, limit: int = 100) -> list[RolloutEvent]:
    return client().events(name, limit)


# --- monitoring -------------------------------------------------------------------------------------------------


def monitor(name: str, window: str | float = "1h") -> Any:
    """A MonitoringReport: ``.drift`` and ``.ops`` DataFrames, ``.performance``, ``.health``, ``.alerts``."""
    return client().monitor(name, window)


def feedback(name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
    """Ground-truth labels for logged requests (ids from the X-MLOps-Request-Id response header)."""
    return client().feedback(name, request_ids, labels)


def alerts(name: str | None = None) -> list[dict[str, Any]]:
    return client().alerts(name)


def acknowledge_alert(alert_id: int) -> dict[str, Any]:
    """Acknowledge a fired alert (recorded in the audit ledger)."""
    return client().acknowledge_alert(alert_id)


def alert_rules(name: str, rules: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return client().alert_rules(name, rules)


def health(name: str | None = None, window: str | float = "1h") -> dict[str, Any]:
    return client().health(name, window)


# --- governance (issue 6) ------------------------------------------------------------------------------------------


def audit(target: str | None = None, **kwargs: Any) -> list[Any]:
    """Audit ledger entries, oldest first (``target`` like ``deployment/NAME`` or ``model/NAME``)."""
    return client().audit_events(target, **kwargs)


def verify_audit() -> Any:
    return client().verify_audit()


def served_at(deployment: str, at: Any) -> Any:
    return client().served_at(deployment, at)


def request_approval(action: str, target: str, payload: dict[str, Any] | None = None) -> Any:
    return client().request_approval(action, target, payload)


def approvals(status: str | None = None) -> list[Any]:
    return client().approvals(status)


def grant(approval_id: int, comment: str | None = None) -> Any:
    return client().grant(approval_id, comment=comment)


def reject(approval_id: int, comment: str | None = None) -> Any:
    return client().reject(approval_id, comment=comment)


def card(name: str, version: str | None = None) -> Any:
    return client().card(name, version)


def update_card(name: str, version: str, **sections: str) -> Any:
    return client().update_card(name, version, sections)


def lineage(subject: str) -> Any:
    return client().lineage(subject)


def issue_token(name: str) -> str:
    return client().issue_token(name)
