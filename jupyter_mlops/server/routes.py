"""The one route table of /mlops/api."""

from __future__ import annotations

from typing import Any

from . import handlers

API = "/mlops/api"
_NAME = r"(?P<name>[^/]+)"


def route_table() -> list[tuple[str, Any]]:
    return [
        (rf"{API}/version", handlers.VersionHandler),
        (rf"{API}/models", handlers.ModelsHandler),
        (rf"{API}/models/{_NAME}", handlers.ModelHandler),
        (rf"{API}/models/{_NAME}/versions", handlers.VersionsHandler),
        (rf"{API}/models/{_NAME}/versions/(?P<version>[^/]+)", handlers.ModelVersionHandler),
        (rf"{API}/models/{_NAME}/aliases/(?P<alias>[^/]+)", handlers.AliasHandler),
        (rf"{API}/deployments", handlers.DeploymentsHandler),
        (rf"{API}/deployments/{_NAME}", handlers.DeploymentHandler),
        (rf"{API}/deployments/{_NAME}/predict", handlers.PredictHandler),
    ]
