"""The ``mlflow.deployments`` plugin: ``mlflow deployments ... -t jupyter-mlops`` drives our deployments.

Target URIs: ``jupyter-mlops`` (the default target, usually the local serving daemon) or
``jupyter-mlops:/<target>`` (a target configured in ``c.MLOpsConfig.targets``, e.g. ``jupyter-mlops:/kserve``).
Settings come from the same place as everywhere else: Jupyter config and ``JUPYTER_MLOPS_*`` variables.
This door is thin: each method parses, calls one ``MLOps`` method, and renders a dict; domain errors become
``MlflowException`` with the matching MLflow error code and our actionable message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from mlflow.deployments import BaseDeploymentClient, PredictionsResponse
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from .core.errors import MLOpsError
from .core.models import Deployment

SCHEME = "jupyter-mlops"

# Our HTTP statuses -> MLflow's error codes (MlflowException maps those back to the same statuses).
_CODES = {
    400: databricks_pb2.INVALID_PARAMETER_VALUE,
    403: databricks_pb2.PERMISSION_DENIED,
    404: databricks_pb2.RESOURCE_DOES_NOT_EXIST,
    409: databricks_pb2.RESOURCE_ALREADY_EXISTS,
    415: databricks_pb2.INVALID_PARAMETER_VALUE,
    422: databricks_pb2.INVALID_STATE,
    503: databricks_pb2.TEMPORARILY_UNAVAILABLE,
}

_CONFIG_KEYS = {"wait"}


def target_help() -> str:
    """What ``mlflow deployments help -t jupyter-mlops`` prints."""
    return (
        "jupyter-mlops: deploy registered MLflow models as HTTP endpoints managed by jupyter_mlops.\n\n"
        "Target URI: 'jupyter-mlops' (the default target: the local serving daemon, started on first use) or\n"
        "'jupyter-mlops:/<target>' for a target named in c.MLOpsConfig.targets (e.g. 'jupyter-mlops:/kserve').\n"
        "Settings are read from Jupyter config and JUPYTER_MLOPS_* variables (e.g. JUPYTER_MLOPS_DATA_DIR,\n"
        "JUPYTER_MLOPS_TRACKING_URI, JUPYTER_MLOPS_STORE_URL), the same as the notebook magics use.\n\n"
        "Model URIs: models:/NAME/VERSION or models:/NAME@ALIAS (resolved once to a pinned version).\n"
        "Config (-C key=value): wait=true|false (default true: return when the deployment is ready).\n"
        "create fails if the name exists; update swaps the model without downtime; delete is idempotent."
    )


def run_local(target: str, name: str, model_uri: str, flavor: str | None = None, config: Any = None) -> None:
    """Deploy on this machine's serving daemon (whatever the target URI names) and wait until ready."""
    client = JupyterMLOpsDeploymentClient(SCHEME)
    client.create_deployment(name, model_uri, flavor=flavor, config=config)


@contextlib.contextmanager
def _mlflow_errors() -> Iterator[None]:
    try:
        yield
    except MLOpsError as exc:
        code = _CODES.get(exc.status, databricks_pb2.INTERNAL_ERROR)
        raise MlflowException(exc.message, error_code=code) from None


def _as_dict(deployment: Deployment) -> dict[str, Any]:
    """A deployment as MLflow plugins report one: a flat dict that always has ``name``."""
    return {
        "name": deployment.name,
        "flavor": "python_function",
        "model_uri": deployment.model_uri,
        "model_ref": deployment.model_ref,
        "target": deployment.target,
        "state": deployment.state.value,
        "endpoint_url": deployment.url,
        "owner": deployment.owner,
        "message": deployment.message,
        "variants": [v.model_dump(mode="json") for v in deployment.variants],
    }


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


class JupyterMLOpsDeploymentClient(BaseDeploymentClient):
    """``mlflow.deployments`` client over the ``MLOps`` facade; the target URI picks our target by name."""

    def __init__(self, target_uri: str, mlops: Any = None) -> None:
        super().__init__(target_uri)
        parsed = urlparse(target_uri)
        if (parsed.scheme or target_uri) != SCHEME:
            raise MlflowException(f"Not a {SCHEME} target URI: {target_uri!r}.", databricks_pb2.INVALID_PARAMETER_VALUE)
        # "jupyter-mlops" -> the default target; "jupyter-mlops:/kserve" -> the target named kserve.
        self.target_name = (parsed.path or parsed.netloc).strip("/") if parsed.scheme else None
        self.target_name = self.target_name or None
        self._mlops = mlops

    @property
    def mlops(self) -> Any:
        if self._mlops is None:
            from .core.service import MLOps

            self._mlops = MLOps()
        return self._mlops

    def _options(self, flavor: str | None, config: dict[str, Any] | None) -> bool:
        if flavor not in (None, "python_function", "pyfunc"):
            raise MlflowException(
                f"Flavor {flavor!r} is not supported: jupyter-mlops serves the python_function flavor.",
                databricks_pb2.INVALID_PARAMETER_VALUE,
            )
        unknown = set(config or {}) - _CONFIG_KEYS
        if unknown:
            raise MlflowException(
                f"Unknown config keys {sorted(unknown)}: supported are {sorted(_CONFIG_KEYS)}.",
                databricks_pb2.INVALID_PARAMETER_VALUE,
            )
        return _truthy((config or {}).get("wait", True))

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Deploy ``model_uri`` as ``name``; fails (RESOURCE_ALREADY_EXISTS) if ``name`` is taken.
        Blocks until ready unless config ``wait=false``."""
        wait = self._options(flavor, config)
        with _mlflow_errors():
            return _as_dict(self.mlops.deploy(model_uri, name, target=self.target_name, wait=wait))

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Swap the model of an existing deployment without downtime (RESOURCE_DOES_NOT_EXIST if absent)."""
        wait = self._options(flavor, config)
        with _mlflow_errors():
            current = self.mlops.deployment(name)
            if model_uri is None:
                return _as_dict(current)
            return _as_dict(self.mlops.deploy(model_uri, name, target=current.target, wait=wait, replace=True))

    def delete_deployment(self, name: str, config: dict[str, Any] | None = None, endpoint: str | None = None) -> None:
        """Stop serving ``name``. Idempotent: deleting an unknown deployment is not an error."""
        with _mlflow_errors():
            self.mlops.undeploy(name)

    def list_deployments(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Every deployment (of this URI's target when it names one), each a dict with at least ``name``."""
        with _mlflow_errors():
            deployments = self.mlops.deployments()
        if self.target_name:
            deployments = [d for d in deployments if d.target == self.target_name]
        return [_as_dict(d) for d in deployments]

    def get_deployment(self, name: str, endpoint: str | None = None) -> dict[str, Any]:
        """One deployment with its observed state; RESOURCE_DOES_NOT_EXIST when there is none."""
        with _mlflow_errors():
            return _as_dict(self.mlops.deployment(name))

    def predict(
        self, deployment_name: str | None = None, inputs: Any = None, endpoint: str | None = None
    ) -> PredictionsResponse:
        """Score ``inputs`` (DataFrame, array, records or a scoring-protocol dict) on the deployment."""
        if not deployment_name:
            raise MlflowException("A deployment name is required.", databricks_pb2.INVALID_PARAMETER_VALUE)
        with _mlflow_errors():
            return PredictionsResponse({"predictions": self.mlops.predict(deployment_name, inputs)})

    def explain(self, deployment_name: str | None = None, df: Any = None, endpoint: str | None = None) -> Any:
        """Not supported: raises MlflowException (as MLflow's contract asks of targets without it)."""
        raise MlflowException(
            "explain is not supported by the jupyter-mlops target; log explanations with the model instead.",
            databricks_pb2.INVALID_PARAMETER_VALUE,
        )
