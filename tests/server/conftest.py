"""A real Jupyter server with the extension enabled, on the session's MLflow store and serving daemon."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def jp_server_config(session_config: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {"data_dir": session_config.data_dir},
    }


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """Call /mlops/api/... and return (status, decoded JSON or None)."""

    async def call(method: str, *parts: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
        response = await jp_fetch(
            "mlops",
            "api",
            *parts,
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
            **kw,
        )
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text.strip().startswith(("{", "[")) else text), response

    return call
