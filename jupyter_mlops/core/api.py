"""The plain Python API: module-level functions on one shared ``MLOps`` built from the process's settings."""

from __future__ import annotations

import threading
from typing import Any

from .models import Deployment, ModelVersion, Page, RegisteredModel
from .service import MLOps

_default: MLOps | None = None
_lock = threading.Lock()


def client() -> MLOps:
    """The process-wide MLOps facade (created on first use from MLOpsConfig and JUPYTER_MLOPS_* variables)."""
    global _default
    with _lock:
        if _default is None:
            _default = MLOps()
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
