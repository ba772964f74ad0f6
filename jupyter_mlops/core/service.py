"""MLOps: the one facade every door calls (Python API, magics, REST handlers, CLI).

It orchestrates; it does not store models (MLflow does) or serve them (targets do). A deploy pins a reference
to one version, writes the desired state to the Store, and lets the target converge onto it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from ..config import MLOpsConfig
from . import lineage, payloads, validation
from .errors import InvalidRequest, MLOpsError, NotFound, Unavailable
from .models import (
    Deployment,
    DeploymentSpec,
    DeploymentState,
    DeploymentStep,
    ModelRef,
    ModelVersion,
    Page,
    RegisteredModel,
    RuntimeStatus,
    StepStatus,
    Variant,
    VariantRole,
)
from .registry import Registry
from .store import Store
from .targets import ProgressCallback, Target

log = logging.getLogger(__name__)


def deployment_name_for(model_name: str) -> str:
    """A valid deployment name derived from a model name (``Churn_Model`` -> ``churn-model``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[: validation.MAX_NAME_LENGTH].strip("-")
    return name or "model"


class MLOps:
    """Register, catalog, deploy and call models. Thread-safe; one instance per process is enough."""

    def __init__(
        self,
        config: MLOpsConfig | None = None,
        *,
        user: str | None = None,
        registry: Registry | None = None,
        store: Store | None = None,
        targets: dict[str, Target] | None = None,
    ) -> None:
        self.config = config or MLOpsConfig()
        self.user = user or lineage.current_user()
        self.registry = registry or Registry(
            self.config.tracking_uri,
            self.config.registry_uri,
            artifact_root=self.config.artifact_root,
            experiment_name=self.config.experiment_name,
        )
        self.store = store or Store(self.config.store_url)
        self._targets = targets
        self._lock = threading.Lock()

    # --- targets ----------------------------------------------------------------------------------------------

    @property
    def targets(self) -> dict[str, Target]:
        with self._lock:
            if self._targets is None:
                from .targets.local import LocalTarget

                self._targets = {"local": LocalTarget(self.config, self.store)}
            return self._targets

    def target(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets))
            raise InvalidRequest(f"Unknown target {name!r}: configured targets are {known}.") from None

    # --- registry ---------------------------------------------------------------------------------------------

    def register(
        self,
        model: Any,
        name: str,
        X: Any = None,
        y: Any = None,
        *,
        alias: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        notebook: str | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register an in-memory model (or a ``runs:/``/``models:/`` URI) as a new version of ``name``.

        With ``X`` the signature is inferred from X and the model's predictions on it, and the first rows
        become the input example that deployments warm up on. ``alias`` (e.g. ``"champion"``) then points at
        the new version.
        """
        name = validation.model_name(name)
        alias = validation.alias(alias) if alias else None
        all_tags = {**lineage.capture(X, notebook=notebook, user=actor or self.user), **(tags or {})}
        if isinstance(model, str):
            version = self.registry.register_uri(model, name, tags=all_tags, description=description)
        else:
            signature, example = _signature_and_example(model, X)
            version = self.registry.log_model(
                model,
                name,
                signature=signature,
                input_example=example,
                params={**_model_params(model), **(params or {})},
                metrics={**_training_metrics(model, X, y), **(metrics or {})},
                tags=all_tags,
                description=description,
            )
        if alias:
            version = self.registry.set_alias(name, alias, version.version)
        return version

    def models(self, filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
        if not 1 <= max_results <= 1000:
            raise InvalidRequest("max_results must be between 1 and 1000.")
        return self.registry.search(filter, max_results=max_results, page_token=page_token)

    def model(self, name: str) -> RegisteredModel:
        return self.registry.model(validation.model_name(name))

    def versions(self, name: str) -> list[ModelVersion]:
        return self.registry.versions(validation.model_name(name))

    def version(self, name: str, version: str) -> ModelVersion:
        return self.registry.version(validation.model_name(name), validation.version(version))

    def set_alias(self, name: str, alias: str, version: str | int, *, actor: str | None = None) -> ModelVersion:
        return self.registry.set_alias(
            validation.model_name(name), validation.alias(alias), validation.version(version)
        )

    def delete_alias(self, name: str, alias: str, *, actor: str | None = None) -> None:
        self.registry.delete_alias(validation.model_name(name), validation.alias(alias))

    # --- deployments ------------------------------------------------------------------------------------------

    def deploy(
        self,
        model: str,
        name: str | None = None,
        *,
        target: str | None = None,
        wait: bool = True,
        replace: bool = False,
        on_progress: ProgressCallback | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Deploy ``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS`` as a live endpoint.

        The reference is resolved once to a pinned version. With ``wait`` this returns when the deployment is
        ready (or raises DeploymentFailed naming the failed step); otherwise it returns at once and the
        deployment's ``steps`` show progress. ``replace`` swaps the model of an existing deployment without
        downtime.
        """
        spec = DeploymentSpec(model=model, name=name, target=target or self.config.default_target, wait=wait)
        ref = ModelRef.parse(spec.model)
        deploy_target = self.target(spec.target)
        pinned = self.registry.resolve(ref)
        dep_name = spec.name or deployment_name_for(ref.name)
        variants = [Variant(model_name=pinned.name, model_version=pinned.version, role=VariantRole.primary)]
        if replace and self._exists(dep_name):
            self.store.replace_variants(dep_name, model_ref=str(ref), variants=variants)
        else:
            self.store.create_deployment(
                dep_name, owner=actor or self.user, target=spec.target, model_ref=str(ref), variants=variants
            )
        status = deploy_target.apply(dep_name)
        if on_progress is not None:
            on_progress(status)
        if spec.wait:
            status = deploy_target.wait_ready(dep_name, self.config.deploy_timeout, on_progress)
        return self._merge(self.store.get_deployment(dep_name), status)

    def deployments(self, owner: str | None = None) -> list[Deployment]:
        records = self.store.list_deployments(owner=owner)
        observed: dict[str, RuntimeStatus] = {}
        for target_name in {d.target for d in records}:
            try:
                observed.update(self.target(target_name).statuses())
            except MLOpsError as exc:
                log.warning("target %s did not report status: %s", target_name, exc.message)
        return [self._merge(d, observed.get(d.name)) for d in records]

    def deployment(self, name: str) -> Deployment:
        record = self.store.get_deployment(validation.deployment_name(name))
        try:
            status = self.target(record.target).status(record.name)
        except Unavailable:
            status = None
        return self._merge(record, status)

    def undeploy(self, name: str, *, actor: str | None = None) -> bool:
        """Stop and forget a deployment. Returns False if there was none (undeploy is idempotent)."""
        name = validation.deployment_name(name)
        try:
            record = self.store.get_deployment(name)
        except NotFound:
            return False
        self.store.delete_deployment(name)
        self.target(record.target).remove(name)
        return True

    def invoke(
        self, name: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send a raw scoring request to a deployment (the REST proxy route uses this)."""
        record = self.store.get_deployment(validation.deployment_name(name))
        return self.target(record.target).invoke(record.name, body, content_type)

    def predict(self, name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Call a deployment with notebook data and return its predictions (as MLflow's server gives them)."""
        status, _headers, body = self.invoke(name, payloads.scoring_request(data, params))
        if status >= 400:
            message = payloads.error_message(body, status)
            if status in (400, 413, 415, 422):
                raise InvalidRequest(message)
            if status == 404:
                raise NotFound(message)
            raise Unavailable(message)
        return payloads.predictions(body)

    def reconcile(self) -> int:
        """Bring every target up to the desired state (after a restart). Returns how many deployments."""
        records = self.store.list_deployments()
        for target_name in {d.target for d in records}:
            target = self.target(target_name)
            for record in records:
                if record.target == target_name:
                    target.apply(record.name)
        return len(records)

    def close(self) -> None:
        if self._targets:
            for target in self._targets.values():
                target.close()
        self.store.close()

    # --- helpers ----------------------------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return self.store.generation(name) is not None

    @staticmethod
    def _merge(record: Deployment, status: RuntimeStatus | None) -> Deployment:
        if status is None:
            return record.model_copy(
                update={
                    "state": DeploymentState.unknown,
                    "message": "Not running: the serving target does not report this deployment yet.",
                    "steps": [DeploymentStep(name="resolving", status=StepStatus.done, message=record.model_uri)],
                }
            )
        return record.model_copy(
            update={"state": status.state, "steps": status.steps, "message": status.message, "url": status.url}
        )


def _predict_fn(model: Any) -> Any:
    if hasattr(model, "predict"):
        return model.predict
    if callable(model):
        return model
    return None


def _signature_and_example(model: Any, X: Any) -> tuple[Any, Any]:
    if X is None:
        return None, None
    from mlflow.models import infer_signature

    example = X.head(5) if hasattr(X, "head") else X[:5]
    fn = _predict_fn(model)
    try:
        output = fn(X) if fn is not None and not _is_python_model(model) else None
    except Exception as exc:
        raise InvalidRequest(
            f"The model failed to predict on X ({type(exc).__name__}: {exc}); pass the features it was trained on."
        ) from None
    return infer_signature(X, output), example


def _is_python_model(model: Any) -> bool:
    import mlflow.pyfunc

    return isinstance(model, mlflow.pyfunc.PythonModel)


def _model_params(model: Any) -> dict[str, Any]:
    """Hyper-parameters of estimators that expose them (scikit-learn's get_params), primitives only."""
    getter = getattr(model, "get_params", None)
    if getter is None:
        return {}
    try:
        params = getter(deep=False)
    except Exception:
        return {}
    return {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _training_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    if X is None or y is None or not hasattr(model, "score"):
        return {}
    try:
        return {"training_score": float(model.score(X, y))}
    except Exception:
        return {}
