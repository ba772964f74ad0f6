"""KServeTarget: each deployment is a KServe InferenceService on a Kubernetes cluster.

The manifest serves the pinned MLflow model (``modelFormat: mlflow``, Open Inference Protocol V2) from the
version's artifact storage URI, with resources, autoscaling and a canary traffic percent. Manifests are
checked before they are sent: against the InferenceService CRD's openAPIV3Schema when a copy of the CRD is
configured (``crd_path``), and always against KServe's admission rules that the schema does not carry (name
format, traffic bounds, replica bounds, storage URI schemes). They are applied with the ``kubernetes`` client
through the configured kubeconfig, and the status is read back from the cluster.

Settings: ``c.MLOpsConfig.target_options = {"kserve": {...}}`` with the fields of ``KServeSettings``.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...config import MLOpsConfig
from ..errors import InvalidRequest, MLOpsError, Unavailable, UnsupportedMediaType
from ..models import (
    DEPLOY_STEPS,
    Deployment,
    DeploymentState,
    DeploymentStep,
    RuntimeStatus,
    StepStatus,
    Variant,
    VariantRole,
    VariantStatus,
)
from ..store import Store
from .base import ProgressCallback, Target, poll_until_ready

log = logging.getLogger(__name__)

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
GENERATION_ANNOTATION = "mlops.jupyter.org/generation"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "jupyter-mlops"

# KServe's admission webhook (not the CRD schema) enforces these.
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 63
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://", "https://", "http://", "hdfs://", "webhdfs://", "oci://", "hf://")
SCALE_METRICS = ("cpu", "memory", "concurrency", "rps")
# Condition reasons after which waiting longer does not help.
FAILED_REASONS = {"RevisionFailed", "ModelLoadFailed", "InvalidSpec", "RuntimeNotRecognized", "NoSupportingRuntime"}
POLL_INTERVAL = 0.2


class KServeSettings(BaseModel):
    """Options of the KServe target (``c.MLOpsConfig.target_options["kserve"]``)."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = "default"
    kubeconfig: str | None = Field(default=None, description="Path of a kubeconfig; default: in-cluster or ~/.kube")
    context: str | None = None
    crd_path: str | None = Field(default=None, description="InferenceService CRD YAML to validate manifests against")
    # Rewrites of the artifact URI MLflow reports (e.g. "mlflow-artifacts:/" -> "s3://bucket/mlartifacts/").
    storage_uri_prefixes: dict[str, str] = {}
    protocol_version: str = "v2"
    runtime: str | None = None
    service_account: str | None = None
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    min_replicas: int = 1
    max_replicas: int = 3
    scale_metric: str = "concurrency"
    scale_target: int = 4
    request_timeout: float = 30.0


# --- manifests ------------------------------------------------------------------------------------------------


def build_manifest(
    deployment: Deployment, storage_uris: dict[str, str], settings: KServeSettings, generation: int
) -> dict[str, Any]:
    """The InferenceService for ``deployment``: the primary variant's model, or the canary's with its percent.

    KServe splits traffic between the latest revision and the previous ready one, so a canary deployment sends
    the canary's model with ``canaryTrafficPercent`` = its weight; the primary keeps serving the rest.
    """
    primary = _variant(deployment, VariantRole.primary) or (deployment.variants[0] if deployment.variants else None)
    if primary is None:
        raise InvalidRequest(f"Deployment {deployment.name!r} has no model variant to serve.")
    if _variant(deployment, VariantRole.shadow) is not None:
        raise InvalidRequest("The kserve target does not mirror traffic to shadow variants; use the local target.")
    canary = _variant(deployment, VariantRole.canary)
    served = canary or primary
    model: dict[str, Any] = {
        "modelFormat": {"name": "mlflow"},
        "protocolVersion": settings.protocol_version,
        "storageUri": storage_uris[served.model_uri],
        "resources": copy.deepcopy(settings.resources),
    }
    if settings.runtime:
        model["runtime"] = settings.runtime
    predictor: dict[str, Any] = {
        "model": model,
        "minReplicas": settings.min_replicas,
        "maxReplicas": settings.max_replicas,
        "scaleMetric": settings.scale_metric,
        "scaleTarget": settings.scale_target,
    }
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary.weight
    if settings.service_account:
        predictor["serviceAccountName"] = settings.service_account
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {
            "name": deployment.name,
            "namespace": settings.namespace,
            "labels": {MANAGED_LABEL: MANAGER},
            "annotations": {
                GENERATION_ANNOTATION: str(generation),
                "mlops.jupyter.org/model-uri": served.model_uri,
                "mlops.jupyter.org/primary-model-uri": primary.model_uri,
            },
        },
        "spec": {"predictor": predictor},
    }


def _variant(deployment: Deployment, role: VariantRole) -> Variant | None:
    return next((v for v in deployment.variants if v.role == role), None)


def admission_errors(manifest: dict[str, Any]) -> list[str]:
    """KServe's admission rules that the CRD schema lacks; empty when the manifest passes."""
    errors: list[str] = []
    name = str(manifest.get("metadata", {}).get("name", ""))
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_LENGTH:
        errors.append(
            f"metadata.name {name!r} must be at most {MAX_NAME_LENGTH} lower-case letters, digits or '-', "
            "start with a letter and end with a letter or digit"
        )
    predictor = manifest.get("spec", {}).get("predictor", {})
    percent = predictor.get("canaryTrafficPercent")
    if percent is not None and not (isinstance(percent, int) and 0 <= percent <= 100):
        errors.append(f"spec.predictor.canaryTrafficPercent must be between 0 and 100, not {percent!r}")
    low, high = predictor.get("minReplicas"), predictor.get("maxReplicas")
    if isinstance(low, int) and low < 0:
        errors.append("spec.predictor.minReplicas must be >= 0")
    if isinstance(high, int) and isinstance(low, int) and high != 0 and high < low:
        errors.append(f"spec.predictor.maxReplicas ({high}) must be >= minReplicas ({low})")
    metric = predictor.get("scaleMetric")
    if metric is not None and metric not in SCALE_METRICS:
        errors.append(f"spec.predictor.scaleMetric must be one of {', '.join(SCALE_METRICS)}")
    uri = str(predictor.get("model", {}).get("storageUri", ""))
    if not uri.startswith(STORAGE_SCHEMES):
        errors.append(
            f"spec.predictor.model.storageUri {uri!r} is not readable by KServe (supported: "
            f"{', '.join(STORAGE_SCHEMES)}); map the MLflow artifact location with "
            "c.MLOpsConfig.target_options['kserve']['storage_uri_prefixes']"
        )
    return errors


def load_crd_schema(path: str | Path) -> dict[str, Any]:
    """The openAPIV3Schema of the served version in an InferenceService CRD file, strict about unknown fields.

    The API server would silently prune unknown fields, so a typo would vanish instead of failing.
    """
    resolved = Path(path).expanduser().resolve()
    return copy.deepcopy(_crd_schema(str(resolved), resolved.stat().st_mtime))


@functools.lru_cache(maxsize=4)
def _crd_schema(path: str, _mtime: float) -> dict[str, Any]:
    import yaml

    # The CRD is about 2 MB of YAML: the C loader reads it in under a second, the pure-Python one in about 8.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(Path(path).read_text(), Loader=loader)  # noqa: S506 - a safe loader
    versions = crd["spec"]["versions"]
    version = next((v for v in versions if v["name"] == VERSION), versions[0])
    return _closed(version["schema"]["openAPIV3Schema"])


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def schema_errors(manifest: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Violations of the CRD's structural schema, each with the path of the offending field."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]


# --- V2 protocol ----------------------------------------------------------------------------------------------


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def mlflow_to_v2(body: bytes) -> bytes:
    """An MLflow scoring request (dataframe_split or dataframe_records) as a V2 inference request.

    One tensor per column, which MLServer's MLflow runtime decodes back into a DataFrame.
    """
    try:
        decoded = json.loads(body)
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(decoded, dict):
        raise InvalidRequest("Expected a JSON object in MLflow's scoring format.")
    if "dataframe_split" in decoded:
        split = decoded["dataframe_split"]
        columns, rows = split.get("columns"), split.get("data")
    elif "dataframe_records" in decoded:
        records = decoded["dataframe_records"]
        columns = list(records[0]) if records else []
        rows = [[record.get(c) for c in columns] for record in records]
    else:
        raise UnsupportedMediaType(
            "The kserve target accepts dataframe_split or dataframe_records bodies (sent as V2 tensors)."
        )
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise InvalidRequest("dataframe_split needs 'columns' and 'data' lists.")
    inputs = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        inputs.append({"name": str(column), "shape": [len(values)], "datatype": _datatype(values), "data": values})
    return json.dumps({"inputs": inputs, "parameters": {"content_type": "pd"}}).encode()


def v2_to_mlflow(body: bytes) -> bytes:
    """A V2 inference response as MLflow's ``{"predictions": [...]}`` (a single output flattened)."""
    decoded = json.loads(body)
    outputs = decoded.get("outputs", [])
    if len(outputs) == 1:
        data = outputs[0].get("data", [])
        shape = outputs[0].get("shape", [len(data)])
        # MLServer returns [N, 1] for one prediction per row.
        predictions: Any = data if len(shape) < 2 or shape[1] == 1 else _reshape(data, shape)
    else:
        predictions = {o["name"]: o.get("data", []) for o in outputs}
    return json.dumps({"predictions": predictions}).encode()


def _reshape(data: list[Any], shape: list[int]) -> list[Any]:
    width = shape[1]
    return [data[i : i + width] for i in range(0, len(data), width)]


# --- the target -----------------------------------------------------------------------------------------------


class KServeTarget(Target):
    """Deployments as InferenceServices, applied through the ``kubernetes`` client.

    Needs ``pip install 'jupyter_mlops[kserve]'``. Calls raise ``Unavailable`` with an actionable message when the
    cluster cannot be reached, and ``InvalidRequest`` when a manifest would be refused.
    """

    name = "kserve"

    def __init__(self, config: MLOpsConfig, store: Store) -> None:
        self.config = config
        self.store = store
        try:
            self.settings = KServeSettings.model_validate(config.target_options.get("kserve", {}))
        except ValidationError as exc:
            raise InvalidRequest(f"Invalid c.MLOpsConfig.target_options['kserve']: {exc}") from None
        self._schema = load_crd_schema(self.settings.crd_path) if self.settings.crd_path else None
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=self.settings.request_timeout, trust_env=False)

    # --- clients -----------------------------------------------------------------------------------------------

    @cached_property
    def api(self) -> Any:
        """``CustomObjectsApi`` bound to the configured kubeconfig (or the in-cluster service account)."""
        try:
            from kubernetes import client
            from kubernetes import config as kube_config
        except ImportError:
            message = "The kserve target needs the kubernetes client: pip install 'jupyter_mlops[kserve]'."
            raise Unavailable(message) from None
        try:
            if self.settings.kubeconfig:
                api_client = kube_config.new_client_from_config(
                    config_file=str(Path(self.settings.kubeconfig).expanduser()), context=self.settings.context
                )
            else:
                kube_config.load_incluster_config()
                api_client = client.ApiClient()
        except Exception as exc:
            raise Unavailable(
                f"No Kubernetes configuration for the kserve target ({type(exc).__name__}: {exc}); set "
                "c.MLOpsConfig.target_options['kserve']['kubeconfig']."
            ) from None
        return client.CustomObjectsApi(api_client)

    @cached_property
    def _mlflow(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.config.tracking_uri, registry_uri=self.config.registry_uri)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One Kubernetes API call; 404 -> None, other failures -> Unavailable naming the call."""
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(GROUP, VERSION, self.settings.namespace, PLURAL, *args, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (400, 422):
                raise InvalidRequest(f"The cluster refused the InferenceService ({what}): {_reason(exc)}") from None
            raise Unavailable(f"Kubernetes API {what} failed with HTTP {exc.status}: {_reason(exc)}") from None
        except Exception as exc:  # urllib3 connection errors and the like
            raise Unavailable(f"Cannot reach the Kubernetes API for {what}: {type(exc).__name__}.") from None

    # --- manifests -----------------------------------------------------------------------------------------

    def storage_uri(self, variant: Variant) -> str:
        """Where KServe's storage initializer fetches the pinned version's files from."""
        try:
            uri = str(self._mlflow.get_model_version_download_uri(variant.model_name, variant.model_version))
        except Exception as exc:
            raise Unavailable(f"Cannot resolve the artifact location of {variant.model_uri}: {exc}") from None
        for prefix, replacement in sorted(self.settings.storage_uri_prefixes.items(), key=lambda kv: -len(kv[0])):
            if uri.startswith(prefix):
                return replacement + uri[len(prefix) :]
        return uri

    def manifest(self, deployment_name: str) -> dict[str, Any]:
        """The checked InferenceService for the deployment's desired state (raises InvalidRequest if refused)."""
        deployment = self.store.get_deployment(deployment_name)
        generation = self.store.generation(deployment_name) or 1
        uris = {v.model_uri: self.storage_uri(v) for v in deployment.variants}
        manifest = build_manifest(deployment, uris, self.settings, generation)
        self.check(manifest)
        return manifest

    def check(self, manifest: dict[str, Any]) -> None:
        """Refuse a manifest that the CRD schema (when configured) or KServe's admission rules would refuse."""
        errors = admission_errors(manifest)
        if self._schema is not None:
            errors += schema_errors(manifest, self._schema)
        if errors:
            raise InvalidRequest("The InferenceService would be refused: " + "; ".join(errors) + ".")

    # --- Target contract -----------------------------------------------------------------------------------

    def apply(self, deployment_name: str) -> RuntimeStatus:
        """Create or replace the InferenceService (optimistic concurrency on resourceVersion).

        Remove it when the desired state is gone. Returns at once with the status the cluster reports.
        """
        if self.store.generation(deployment_name) is None:
            self.remove(deployment_name)
            return RuntimeStatus(name=deployment_name, state=DeploymentState.stopped, message="not in the store")
        manifest = self.manifest(deployment_name)
        with self._lock:
            current = self._call("get", self.api.get_namespaced_custom_object, deployment_name)
            if current is None:
                applied = self._call("create", self.api.create_namespaced_custom_object, manifest)
            else:
                manifest["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
                applied = self._call("replace", self.api.replace_namespaced_custom_object, deployment_name, manifest)
        return self._to_status(applied or manifest)

    def remove(self, deployment_name: str) -> None:
        """Delete the InferenceService. Idempotent: an absent one is not an error."""
        self._call("delete", self.api.delete_namespaced_custom_object, deployment_name)

    def status(self, deployment_name: str) -> RuntimeStatus | None:
        """The InferenceService's state as a RuntimeStatus."""
        found = self._call("get", self.api.get_namespaced_custom_object, deployment_name)
        return None if found is None else self._to_status(found)

    def statuses(self) -> dict[str, RuntimeStatus]:
        """Statuses of the InferenceServices this tool manages in the namespace (label selector)."""
        listed = self._call("list", self.api.list_namespaced_custom_object, label_selector=f"{MANAGED_LABEL}={MANAGER}")
        items = (listed or {}).get("items", [])
        return {item["metadata"]["name"]: self._to_status(item) for item in items}

    def wait_ready(
        self, deployment_name: str, timeout: float, on_progress: ProgressCallback | None = None
    ) -> RuntimeStatus:
        """Poll until the cluster reports the store's current generation Ready (return) or failed (raise)."""
        return poll_until_ready(
            deployment_name,
            lambda: self.status(deployment_name),
            lambda: self.store.generation(deployment_name),
            timeout,
            on_progress,
            what=f"InferenceService {deployment_name!r}",
            hint=f"; see kubectl describe isvc {deployment_name} -n {self.settings.namespace}",
            interval=POLL_INTERVAL,
        )

    def invoke(self, deployment_name: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        """Send an MLflow scoring request as a V2 inference request to the service's URL; answer as MLflow's."""
        if not content_type.startswith("application/json"):
            error = UnsupportedMediaType("The kserve target accepts application/json scoring requests.")
            return error.status, {"content-type": "application/json"}, json.dumps(error.to_dict()).encode()
        status = self.status(deployment_name)
        if status is None or not status.url:
            raise Unavailable(f"InferenceService {deployment_name!r} has no URL yet: it is not ready.")
        url = f"{status.url.rstrip('/')}/v2/models/{deployment_name}/infer"
        try:
            request = mlflow_to_v2(body)
        except MLOpsError as exc:  # a bad body is the caller's answer (4xx), as the local daemon gives it
            return exc.status, {"content-type": "application/json"}, json.dumps(exc.to_dict()).encode()
        try:
            response = self._http.post(url, content=request, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise Unavailable(f"Scoring request to {url} failed: {type(exc).__name__}.") from None
        if response.status_code >= 400:
            return response.status_code, dict(response.headers), response.content
        return 200, {"content-type": "application/json"}, v2_to_mlflow(response.content)

    def close(self) -> None:
        """Close the Kubernetes and HTTP clients."""
        self._http.close()

    # --- helpers -------------------------------------------------------------------------------------------

    def _to_status(self, isvc: dict[str, Any]) -> RuntimeStatus:
        """RuntimeStatus from an InferenceService.

        Ready condition -> state; the store generation it serves is known only once the controller has observed the
        current spec (observedGeneration).
        """
        meta, status = isvc.get("metadata", {}), isvc.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions", [])}
        ready = conditions.get("Ready", {})
        observed = status.get("observedGeneration") is not None and status.get("observedGeneration") == meta.get(
            "generation"
        )
        reasons = {c.get("reason") for c in conditions.values() if c.get("status") == "False"}
        if observed and ready.get("status") == "True":
            state = DeploymentState.ready
        elif observed and reasons & FAILED_REASONS:
            state = DeploymentState.failed
        elif observed and conditions:
            state = DeploymentState.loading
        else:
            state = DeploymentState.pending
        message = ready.get("message") or next(
            (c.get("message") for c in conditions.values() if c.get("status") == "False" and c.get("message")), None
        )
        annotations = meta.get("annotations") or {}
        generation = annotations.get(GENERATION_ANNOTATION)
        model_uri = annotations.get("mlops.jupyter.org/model-uri", "")
        return RuntimeStatus(
            name=meta.get("name", ""),
            state=state,
            steps=_steps(state, model_uri, message),
            message=message,
            url=status.get("url") if state == DeploymentState.ready else None,
            variants=[VariantStatus(name="primary", model_uri=model_uri, state=state, message=message)],
            generation=int(generation) if observed and generation and generation.isdigit() else None,
        )


def _steps(state: DeploymentState, model_uri: str, message: str | None) -> list[DeploymentStep]:
    """The four deploy steps as seen from the cluster: resolved here; loading until Ready (or failed)."""
    resolving = DeploymentStep(name="resolving", status=StepStatus.done, message=model_uri)
    if state == DeploymentState.ready:
        rest = [DeploymentStep(name=n, status=StepStatus.done) for n in DEPLOY_STEPS[1:]]
        return [resolving, *rest]
    loading = StepStatus.failed if state == DeploymentState.failed else StepStatus.running
    return [
        resolving,
        DeploymentStep(name="loading", status=loading, message=message),
        *(DeploymentStep(name=n) for n in DEPLOY_STEPS[2:]),
    ]


def _reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
