"""RayServeTarget: each deployment is a Ray Serve application (``pip install 'jupyter_mlops[ray]'``).

The application is a router (traffic split by variant weight) in front of one Serve deployment per variant,
each wrapping its pinned MLflow model with autoscaling, bounded ongoing and queued requests (backpressure: Serve
answers 503 beyond them), a health check that runs a canned prediction, and micro-batching. The router mirrors
requests to shadow variants and writes the inference log to our store (``store_url``, which the Ray nodes must
reach), so monitoring works as on the local target. See ``serving/ray_app.py``.

Settings: ``c.MLOpsConfig.target_options = {"ray": {...}}`` with the fields of ``RaySettings``. With
``address="local"`` the target starts a Ray cluster inside this process (bound to loopback); otherwise it joins
the cluster at ``address`` (``"auto"``, ``"ray://head:10001"``).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from ...config import MLOpsConfig
from ..errors import InvalidRequest, NotFound, Unavailable
from ..models import (
    DEPLOY_STEPS,
    DeploymentState,
    DeploymentStep,
    RuntimeStatus,
    StepStatus,
    VariantStatus,
)
from ..store import Store
from .base import ProgressCallback, Target, poll_until_ready

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25
# Serve application states -> ours.
_STATES = {
    "RUNNING": DeploymentState.ready,
    "DEPLOYING": DeploymentState.loading,
    "NOT_STARTED": DeploymentState.pending,
    "DEPLOY_FAILED": DeploymentState.failed,
    "UNHEALTHY": DeploymentState.failed,
    "DELETING": DeploymentState.stopped,
}


class RaySettings(BaseModel):
    """Options of the Ray Serve target (``c.MLOpsConfig.target_options["ray"]``)."""

    model_config = ConfigDict(extra="forbid")

    address: str = "local"
    num_cpus: int | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    num_replicas: int = 1
    # e.g. {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2}; replaces num_replicas
    autoscaling: dict[str, Any] | None = None
    max_ongoing_requests: int = 8
    max_queued_requests: int = 64
    max_batch_size: int = 16
    batch_wait_s: float = 0.005
    health_check_period_s: float = 5.0
    health_check_timeout_s: float = 10.0
    replica_cpus: float = 0.25
    request_timeout: float = 30.0


class RayServeTarget(Target):
    """Deploy to Ray Serve; the Serve controller keeps replicas alive and replaces failed ones."""

    name = "ray"

    def __init__(self, config: MLOpsConfig, store: Store) -> None:
        self.config = config
        self.store = store
        try:
            self.settings = RaySettings.model_validate(config.target_options.get("ray", {}))
        except ValidationError as exc:
            raise InvalidRequest(f"Invalid c.MLOpsConfig.target_options['ray']: {exc}") from None
        self._lock = threading.Lock()
        self._started = False
        self._http = httpx.Client(timeout=self.settings.request_timeout, trust_env=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    def connect(self) -> Any:
        """Ray and Serve, started or joined once per process (the cluster outlives this object)."""
        with self._lock:
            if self._started:
                from ray import serve

                return serve
            # Without this Ray listens on every interface even with a loopback node address.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            try:
                import ray
                from ray import serve
            except ImportError:
                message = "The ray target needs Ray Serve: pip install 'jupyter_mlops[ray]'."
                raise Unavailable(message) from None
            try:
                if not ray.is_initialized():
                    kwargs: dict[str, Any] = {"address": self.settings.address, "include_dashboard": False}
                    if self.settings.address == "local":
                        kwargs.update(num_cpus=self.settings.num_cpus, _node_ip_address="127.0.0.1")
                    ray.init(**kwargs, log_to_driver=False)
                serve.start(http_options={"host": self.settings.http_host, "port": self.settings.http_port})
            except Exception as exc:
                raise Unavailable(f"Cannot start or join the Ray cluster: {type(exc).__name__}: {exc}") from None
            self._started = True
            return serve

    # --- Target contract -----------------------------------------------------------------------------------

    def apply(self, deployment_name: str) -> RuntimeStatus:
        """(Re)deploy the Serve application for the desired state without waiting; remove it when gone."""
        generation = self.store.generation(deployment_name)
        if generation is None:
            self.remove(deployment_name)
            return RuntimeStatus(name=deployment_name, state=DeploymentState.stopped, message="not in the store")
        deployment = self.store.get_deployment(deployment_name)
        serve = self.connect()
        ModelVariant, Router = _router_classes()

        s = self.settings
        scaling: dict[str, Any] = (
            {"autoscaling_config": s.autoscaling} if s.autoscaling else {"num_replicas": s.num_replicas}
        )
        bound = []
        for variant in deployment.variants:
            options: dict[str, Any] = dict(
                max_ongoing_requests=s.max_ongoing_requests,
                max_queued_requests=s.max_queued_requests,
                health_check_period_s=s.health_check_period_s,
                health_check_timeout_s=s.health_check_timeout_s,
                ray_actor_options={"num_cpus": s.replica_cpus},
                **scaling,
            )
            c = self.config
            args = (variant.model_uri, c.tracking_uri, c.registry_uri, s.max_batch_size, s.batch_wait_s)
            model = _stable(serve.deployment(ModelVariant, name=f"variant-{variant.name}", **options), args, options)
            app = model.bind(*args)
            bound.append((variant.name, variant.model_version, variant.role.value, variant.weight, app))
        router = serve.deployment(
            Router, name="router", ray_actor_options={"num_cpus": 0}, max_queued_requests=s.max_queued_requests
        ).bind(deployment_name, bound, generation, self._log_options())
        try:
            serve.run(router, name=deployment_name, route_prefix=f"/{deployment_name}", blocking=False)
        except Exception as exc:
            raise Unavailable(f"Ray Serve refused application {deployment_name!r}: {exc}") from None
        return self.status(deployment_name) or RuntimeStatus(name=deployment_name, state=DeploymentState.pending)

    def remove(self, deployment_name: str) -> None:
        """Delete the Serve application. Idempotent: an unknown one is not an error."""
        serve = self.connect()
        if deployment_name in serve.status().applications:
            serve.delete(deployment_name)

    def status(self, deployment_name: str) -> RuntimeStatus | None:
        app = self.connect().status().applications.get(deployment_name)
        return None if app is None else self._to_status(deployment_name, app)

    def statuses(self) -> dict[str, RuntimeStatus]:
        """Statuses of the Serve applications that are deployments in our store."""
        known = {d.name for d in self.store.list_deployments(target=self.name)}
        apps = self.connect().status().applications
        return {name: self._to_status(name, app) for name, app in apps.items() if name in known}

    def wait_ready(
        self, deployment_name: str, timeout: float, on_progress: ProgressCallback | None = None
    ) -> RuntimeStatus:
        """Poll until the application runs the store's current generation (return) or failed (raise)."""
        return poll_until_ready(
            deployment_name,
            lambda: self.status(deployment_name),
            lambda: self.store.generation(deployment_name),
            timeout,
            on_progress,
            what=f"Ray Serve application {deployment_name!r}",
            interval=POLL_INTERVAL,
        )

    def invoke(self, deployment_name: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        """POST to the application's route on the Serve proxy; returns the answer as received."""
        try:
            response = self._http.post(
                f"{self.base_url}/{deployment_name}", content=body, headers={"Content-Type": content_type}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"Scoring request to Ray Serve failed: {type(exc).__name__}.") from None
        return response.status_code, dict(response.headers), response.content

    def close(self) -> None:
        self._http.close()

    # --- helpers -------------------------------------------------------------------------------------------

    def _log_options(self) -> dict[str, Any] | None:
        """What the router needs to write the inference log to our store, as the local daemon does.

        None when logging is off. The store must be reachable from the Ray nodes (PostgreSQL for a real cluster).
        """
        c = self.config
        if not c.inference_log_enabled:
            return None
        settings = ("enabled", "sample_rate", "retention_days", "queue_size", "redact")
        names = [f"inference_log_{n}" for n in settings]
        return {"store_url": c.store_url, **{n: getattr(c, n) for n in names}}

    def _generation(self, deployment_name: str) -> int | None:
        try:
            handle = self.connect().get_app_handle(deployment_name)
            return int(handle.info.remote().result(timeout_s=5)["generation"])
        except Exception:
            return None

    def _to_status(self, name: str, app: Any) -> RuntimeStatus:
        state = _STATES.get(str(getattr(app.status, "value", app.status)), DeploymentState.unknown)
        message = app.message or None
        variants = self._variant_statuses(name, app)
        generation = self._generation(name) if state == DeploymentState.ready else None
        return RuntimeStatus(
            name=name,
            state=state,
            steps=_steps(state, message),
            message=message,
            url=f"{self.base_url}/{name}" if state == DeploymentState.ready else None,
            variants=variants,
            generation=generation,
        )

    def _variant_statuses(self, name: str, app: Any) -> list[VariantStatus]:
        """One status per variant Serve runs, with the pinned model URI from the store, in the store's order."""
        try:
            wanted = {v.name: v.model_uri for v in self.store.get_deployment(name).variants}
        except NotFound:
            wanted = {}
        order = list(wanted)
        variants = []
        for dep_name, dep in (app.deployments or {}).items():
            if not dep_name.startswith("variant-"):
                continue
            variant = dep_name[len("variant-") :]
            raw = str(getattr(dep.status, "value", dep.status))
            state = DeploymentState.ready if raw.endswith("HEALTHY") else _STATES.get(raw, DeploymentState.unknown)
            variants.append(VariantStatus(name=variant, model_uri=wanted.get(variant, ""), state=state))
        return sorted(variants, key=lambda v: order.index(v.name) if v.name in order else len(order))


# The Serve application's classes, named by import path: Ray Serve loads them in its workers, and core keeps no
# Python import of the data plane (serving/ray_app.py).
ROUTER_PATH = "jupyter_mlops.serving.ray_app:Router"
VARIANT_PATH = "jupyter_mlops.serving.ray_app:ModelVariant"


def _import_path(path: str) -> Any:
    """The object named by ``module:attribute`` (what Serve's application import paths look like)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _router_classes() -> tuple[Any, Any]:
    """(ModelVariant, Router) of the Serve application, resolved from their import paths."""
    return _import_path(VARIANT_PATH), _import_path(ROUTER_PATH)


def _stable(deployment: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """The Serve deployment with a version derived from what it runs.

    Re-applying an unchanged variant (apply again, a weight change, promote, rollback) then keeps its replicas
    instead of restarting them: without a version, ``serve.run`` gives each deployment a random one and replaces
    every replica on every apply.

    Serve keeps the ``version`` option for internal use only; should a Ray release refuse it, the deployment is
    returned as it is (correct, only slower to update).
    """
    from ..about import __version__

    digest = hashlib.sha256(repr((__version__, args, sorted(options.items()))).encode()).hexdigest()[:16]
    try:
        return deployment.options(version=digest, _internal=True)
    except (TypeError, ValueError) as exc:
        log.warning("Ray Serve refused a deployment version (%s): variants restart on every apply", exc)
        return deployment


def _steps(state: DeploymentState, message: str | None) -> list[DeploymentStep]:
    resolving = DeploymentStep(name="resolving", status=StepStatus.done)
    if state == DeploymentState.ready:
        return [resolving, *(DeploymentStep(name=n, status=StepStatus.done) for n in DEPLOY_STEPS[1:])]
    loading = StepStatus.failed if state == DeploymentState.failed else StepStatus.running
    return [
        resolving,
        DeploymentStep(name="loading", status=loading, message=message),
        *(DeploymentStep(name=n) for n in DEPLOY_STEPS[2:]),
    ]
