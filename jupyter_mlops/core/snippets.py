"""Ready-to-paste calls of a deployment (curl, Python ``requests``, ``jupyter_mlops.predict``).

The request body is the model's own serving input example (``serving_input_example.json``, which MLflow writes
when a model is logged with an input example), else one row built from its signature, so that a pasted snippet
answers 200 rather than "Model is missing inputs". Shared by the magics, the CLI and the sidebar's REST door.
"""

from __future__ import annotations

import json
import logging
import shlex
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# A placeholder value per MLflow column type, for bodies built from a signature.
_PLACEHOLDERS: dict[str, Any] = {
    "double": 0.0,
    "float": 0.0,
    "long": 0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "binary": "",
    "datetime": "2026-01-01T00:00:00",
}


def body_from_signature(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    """One placeholder row in ``dataframe_split`` form from a column-based signature, or None without one."""
    inputs = (signature or {}).get("inputs")
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            return None
    if not isinstance(inputs, list) or not inputs or not all(isinstance(c, dict) and c.get("name") for c in inputs):
        return None
    columns = [str(c["name"]) for c in inputs]
    row = [_PLACEHOLDERS.get(str(c.get("type")), 0.0) for c in inputs]
    return {"dataframe_split": {"columns": columns, "data": [row]}}


def serving_example(client: Any, model_name: str, version: str) -> dict[str, Any] | None:
    """The version's stored serving input example (a valid ``/invocations`` body), or None when absent.

    Args:
        client: an ``MlflowClient`` on the registry holding the version.
        model_name: registered model name.
        version: version number.
    """
    try:
        from mlflow.artifacts import download_artifacts

        source = client.get_model_version_download_uri(model_name, version)
        with tempfile.TemporaryDirectory() as tmp:
            path = download_artifacts(
                artifact_uri=f"{source.rstrip('/')}/serving_input_example.json",
                dst_path=tmp,
                tracking_uri=getattr(client, "_tracking_client", None) and client._tracking_client.tracking_uri,
            )
            body = json.loads(Path(path).read_text())
        return body if isinstance(body, dict) else None
    except Exception as exc:  # no example stored (or unreadable): callers fall back to the signature
        log.debug("no serving input example for %s/%s: %s", model_name, version, exc)
        return None


def example_body(mlops: Any, model_name: str, version: str) -> dict[str, Any]:
    """The body the snippets send: the serving example, else a signature row, else a generic two-column row."""
    registry = getattr(mlops, "registry", None)
    client = getattr(registry, "client", None)
    if client is not None:
        body = serving_example(client, model_name, version)
        if body is not None:
            return body
    try:
        signature = mlops.version(model_name, version).signature
    except Exception:  # a snippet is a convenience: never fail the deploy that shows it
        signature = None
    return body_from_signature(signature) or {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0]]}}


def snippets(url: str, name: str, body: dict[str, Any], *, token_env: str | None = None) -> dict[str, str]:
    """curl, Python ``requests`` and ``jupyter_mlops.predict`` calls of ``url`` sending ``body``.

    Args:
        url: the deployment's ``/invocations`` URL.
        name: the deployment's name (for ``jupyter_mlops.predict``).
        body: a scoring request in one of MLflow's formats.
        token_env: name of an environment variable holding the endpoint's bearer token, when tokens are required.
    """
    text = json.dumps(body)
    auth_curl = f' -H "Authorization: Bearer ${token_env}"' if token_env else ""
    auth_py = f', headers={{"Authorization": "Bearer " + os.environ["{token_env}"]}}' if token_env else ""
    return {
        "curl": (
            f"curl -s -X POST {shlex.quote(url)} -H 'Content-Type: application/json'{auth_curl} -d {shlex.quote(text)}"
        ),
        "Python requests": (
            "import os, requests\n"
            f"body = {body!r}\n"
            f"response = requests.post({url!r}, json=body{auth_py}, timeout=30)\n"
            "print(response.json())"
        ),
        "jupyter_mlops": f"import jupyter_mlops\nprint(jupyter_mlops.predict({name!r}, {body!r}))",
    }
