"""MLflow registry and tracking facade: the only module that talks to MLflow's client APIs.

MLflow is the system of record for models, versions, aliases, metrics and artifacts; this module reads its
records into our typed views and logs models through MLflow's own flavors. Aliases, never stages.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from . import validation
from .errors import Conflict, InvalidRequest, MLOpsError, NotFound, Unavailable
from .models import ModelRef, ModelVersion, Page, RegisteredModel

log = logging.getLogger(__name__)

# MLflow's fluent API (log_model, start_run) reads process-global URIs: serialise our use of it.
_FLUENT_LOCK = threading.RLock()
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter value

# Catalog paging: names per `name IN (...)` version query (SQLite's bound-parameter limit is far above) and
# versions per page of that query.
_NAMES_PER_QUERY = 200
_VERSIONS_PER_QUERY = 10_000

# Module prefix of a model's class -> MLflow flavor module that can log it.
_FLAVORS: tuple[tuple[str, str], ...] = (
    ("sklearn", "mlflow.sklearn"),
    ("xgboost", "mlflow.xgboost"),
    ("lightgbm", "mlflow.lightgbm"),
    ("catboost", "mlflow.catboost"),
    ("statsmodels", "mlflow.statsmodels"),
    ("torch", "mlflow.pytorch"),
    ("keras", "mlflow.keras"),
    ("tensorflow", "mlflow.tensorflow"),
)


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


def _quoted(value: str) -> str:
    """A string literal for MLflow's filter syntax, which has no escapes: pick the quote the value lacks."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def translate_mlflow_error(exc: MlflowException, what: str) -> MLOpsError:
    """Map an MLflow error onto our family, keeping MLflow's message (it names the problem well)."""
    code = getattr(exc, "error_code", "")
    message = getattr(exc, "message", str(exc))
    if code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
        return NotFound(f"{what} was not found in the MLflow registry. {message}")
    if code in ("RESOURCE_ALREADY_EXISTS",):
        return Conflict(message)
    if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"):
        return InvalidRequest(message)
    if isinstance(exc, RestException) or code in ("TEMPORARILY_UNAVAILABLE", "ENDPOINT_NOT_FOUND"):
        return Unavailable(f"The MLflow server did not answer as expected: {message}")
    return MLOpsError(f"MLflow failed on {what}: {message}")


# MLflow inspects a PythonModel subclass's ``predict`` when the class is defined and warns (UserWarning) that it
# has no type hints, or that ``Any`` hints validate nothing: neither helps a user who imports jupyter_mlops.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from mlflow.pyfunc import PythonModel  # importing it inspects MLflow's own models: the same warnings

    class _CallableModel(PythonModel):
        """Wraps a plain Python callable so any function of a DataFrame can be registered and served."""

        def __init__(self, fn: Callable[[Any], Any]) -> None:
            self.fn = fn

        # No type hints on purpose: MLflow reads them as a schema and validates inputs against it.
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return self.fn(model_input)


class Registry:
    """Reads and writes MLflow's registry and tracking store through ``MlflowClient``."""

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str | None = None,
        *,
        artifact_root: str | None = None,
        experiment_name: str = "jupyter_mlops",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_root = artifact_root
        self.experiment_name = experiment_name
        # MlflowClient may open (and so create and migrate) the stores: do it under the creation lock too.
        with mlflow_store_lock(self.tracking_uri, self.registry_uri):
            self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        self._experiment_id: str | None = None
        self._prepared = False

    def prepare(self) -> None:
        """Create MLflow's tables once, safely when several processes share one SQLite file.

        Jupyter, its kernels and the serving daemon open the same embedded store; MLflow's schema migration
        is not safe to run concurrently ("duplicate column name"), so the first use is serialised by a file lock.
        """
        if self._prepared:
            return
        with mlflow_store_lock(self.tracking_uri, self.registry_uri), self._errors("The MLflow store"):
            self.client.search_experiments(max_results=1)
            self.client.search_registered_models(max_results=1)
        self._prepared = True

    # --- reading ----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        if not self._prepared and what != "The MLflow store":
            self.prepare()
        try:
            yield
        except MLOpsError:
            raise
        except MlflowException as exc:
            raise translate_mlflow_error(exc, what) from None

    def version(self, name: str, version: str, *, detail: bool = True) -> ModelVersion:
        """One version with its signature, metrics and parameters (NotFound otherwise)."""
        version = validation.version(version)  # beyond 64 bits: 400 here, not a 500 from the database
        with self._errors(f"Version {version} of model {name!r}"):
            mv = self.client.get_model_version(name, version)
            return self._to_version(mv, detail=detail)

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """Pin a reference to one version: NAME/VERSION as given, NAME@ALIAS through the alias, NAME = latest."""
        if ref.version:
            return self.version(ref.name, ref.version, detail=False)
        if ref.alias:
            return self._to_version(self._by_alias(ref.name, ref.alias), detail=False)
        with self._errors(f"Model {ref.name!r}"):
            self.client.get_registered_model(ref.name)
            found = self.client.search_model_versions(
                f"name = '{ref.name}'", max_results=1, order_by=["version_number DESC"]
            )
        if not found:
            raise NotFound(f"Model {ref.name!r} has no versions in the MLflow registry. Register one first.")
        return self._to_version(found[0], detail=False)

    def _by_alias(self, name: str, alias: str) -> Any:
        with self._errors(f"Model {name!r}"):
            self.client.get_registered_model(name)
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise NotFound(
                f"Model {name!r} has no alias {alias!r}. Point it at a version first: %alias or set_alias()."
            ) from None

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        with self._errors(f"Model {name!r}"):
            self.client.get_registered_model(name)
            found = self.client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"])
        return [self._to_version(mv, detail=True) for mv in found]

    def model(self, name: str) -> RegisteredModel:
        """A registered model with its aliases and latest versions."""
        with self._errors(f"Model {name!r}"):
            rm = self.client.get_registered_model(name)
        return self._to_model(rm, self.versions(name))

    def search(self, text: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
        """One page of registered models whose name contains ``text``, with their versions (newest first)."""
        filter_string = None
        if text:
            filter_string = f"name ILIKE {_quoted('%' + text + '%')}"
        with self._errors("The model search"):
            found = self.client.search_registered_models(
                filter_string=filter_string, max_results=max_results, order_by=["name ASC"], page_token=page_token
            )
            by_name = self._versions_of([rm.name for rm in found])
            items = [self._to_model(rm, by_name.get(rm.name, [])) for rm in found]
        return Page(items=items, next_page_token=found.token or None)

    def _versions_of(self, names: list[str]) -> dict[str, list[ModelVersion]]:
        """Versions (newest first) of a page of models in one query per chunk, not one query per model (N+1)."""
        by_name: dict[str, list[ModelVersion]] = {name: [] for name in names}
        for start in range(0, len(names), _NAMES_PER_QUERY):
            quoted = ", ".join(_quoted(n) for n in names[start : start + _NAMES_PER_QUERY])
            token: str | None = None
            while True:
                found = self.client.search_model_versions(
                    f"name IN ({quoted})",
                    max_results=_VERSIONS_PER_QUERY,
                    order_by=["name ASC", "version_number DESC"],
                    page_token=token,
                )
                for mv in found:
                    by_name.setdefault(mv.name, []).append(self._to_version(mv, detail=False))
                token = found.token or None
                if not token:
                    break
        return by_name

    def _to_version(self, mv: Any, *, detail: bool) -> ModelVersion:
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if detail and mv.run_id:
            with contextlib.suppress(MlflowException):
                run = self.client.get_run(mv.run_id)
                metrics = dict(run.data.metrics)
                params = dict(run.data.params)
        signature = None
        with contextlib.suppress(Exception):
            info = self._model_info(mv.name, str(mv.version)) if detail else None
            if info is not None and info.signature is not None:
                # MLflow encodes each half of the signature as a JSON string; expose plain objects.
                signature = {k: json.loads(v) if isinstance(v, str) else v for k, v in info.signature.to_dict().items()}
        return ModelVersion(
            name=mv.name,
            version=str(mv.version),
            aliases=list(getattr(mv, "aliases", []) or []),
            run_id=mv.run_id or None,
            source=mv.source,
            status=mv.status,
            description=mv.description or None,
            tags=dict(mv.tags or {}),
            created_at=_ms_to_datetime(mv.creation_timestamp),
            signature=signature,
            metrics=metrics,
            params=params,
        )

    def _model_info(self, name: str, version: str) -> Any:
        with self.fluent():
            return mlflow.models.get_model_info(f"models:/{name}/{version}")

    @staticmethod
    def _to_model(rm: Any, versions: list[ModelVersion]) -> RegisteredModel:
        # MLflow's version search leaves `aliases` empty: take each version's aliases from the model's map.
        by_version: dict[str, list[str]] = {}
        for alias, number in sorted((rm.aliases or {}).items()):
            by_version.setdefault(str(number), []).append(str(alias))
        versions = [
            v if v.aliases or v.version not in by_version else v.model_copy(update={"aliases": by_version[v.version]})
            for v in versions
        ]
        return RegisteredModel(
            name=rm.name,
            description=rm.description or None,
            tags=dict(rm.tags or {}),
            aliases={str(k): str(v) for k, v in (rm.aliases or {}).items()},
            latest_version=versions[0].version if versions else None,
            created_at=_ms_to_datetime(rm.creation_timestamp),
            updated_at=_ms_to_datetime(rm.last_updated_timestamp),
            versions=versions,
        )

    # --- writing ----------------------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> ModelVersion:
        """Point an alias at a version."""
        with self._errors(f"Version {version} of model {name!r}"):
            self.client.get_model_version(name, version)
            self.client.set_registered_model_alias(name, alias, version)
        return self.version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias (NotFound when there is none)."""
        self._by_alias(name, alias)
        with self._errors(f"Alias {alias!r} of model {name!r}"):
            self.client.delete_registered_model_alias(name, alias)

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        """Set tags on a model version."""
        with self._errors(f"Version {version} of model {name!r}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(name, version, key, value)

    # --- monitoring: baselines travel with the version's run; a monitoring run per deployment and version ----

    def log_run_json(self, run_id: str, artifact_file: str, data: dict[str, Any]) -> None:
        """Store a JSON document as an artifact of a run (the training baseline of a model version)."""
        with self._errors(f"Run {run_id}"):
            self.client.log_dict(run_id, data, artifact_file)

    def read_run_json(self, run_id: str, artifact_file: str) -> dict[str, Any] | None:
        """A JSON artifact of a run, or None when the run has none at that path."""
        import tempfile

        # NotFound: _errors translates MLflow's "no such artifact" into it; a missing document is None here.
        with tempfile.TemporaryDirectory() as tmp, contextlib.suppress(MlflowException, NotFound, OSError, ValueError):
            with self._errors(f"Run {run_id}"):
                local = self.client.download_artifacts(run_id, artifact_file, tmp)
            with open(local, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else None
        return None

    def monitoring_run(self, name: str, version: str, deployment: str) -> str:
        """The run that collects a deployment's monitoring metrics for one model version (created once).

        Its id is kept as the version tag ``mlops.monitoring_run.<deployment>``, which links the two both ways.
        """
        key = f"mlops.monitoring_run.{deployment}"
        current = self.version(name, version, detail=False).tags.get(key)
        if current:
            return current
        with self._errors(f"Monitoring run of {deployment!r}"):
            run = self.client.create_run(
                self.experiment_id(),
                run_name=f"monitoring-{deployment}",
                tags={
                    "mlops.kind": "monitoring",
                    "mlops.deployment": deployment,
                    "mlops.model_name": name,
                    "mlops.model_version": version,
                    "mlops.model_uri": f"models:/{name}/{version}",
                },
            )
            self.client.set_model_version_tag(name, version, key, run.info.run_id)
        return str(run.info.run_id)

    def log_run_metrics(self, run_id: str, metrics: dict[str, float], timestamp_ms: int, step: int = 0) -> None:
        """Log metrics at one timestamp to a run."""
        from mlflow.entities import Metric

        with self._errors(f"Run {run_id}"):
            self.client.log_batch(run_id, metrics=[Metric(k, float(v), timestamp_ms, step) for k, v in metrics.items()])

    def experiment_id(self) -> str:
        """Our experiment, created with its artifacts under ``artifact_root`` (never the process's cwd)."""
        if self._experiment_id is None:
            with self._errors("The MLflow experiment"):
                exp = self.client.get_experiment_by_name(self.experiment_name)
                if exp is None:
                    try:
                        self._experiment_id = self.client.create_experiment(
                            self.experiment_name, artifact_location=self.artifact_root
                        )
                    except MlflowException:  # created concurrently by another process
                        exp = self.client.get_experiment_by_name(self.experiment_name)
                        if exp is None:
                            raise
                        self._experiment_id = exp.experiment_id
                else:
                    self._experiment_id = exp.experiment_id
        return self._experiment_id

    @contextlib.contextmanager
    def fluent(self) -> Iterator[None]:
        """Point MLflow's process-global fluent API at our stores for the duration of a block.

        ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI into the environment, so the previous raw
        state (often "unset") and the environment are restored exactly: a notebook's own MLflow use, and
        settings read later from the environment, must not see our URIs or MLflow's defaults leak.
        """
        from mlflow.tracking._model_registry import utils as registry_state
        from mlflow.tracking._tracking_service import utils as tracking_state

        with _FLUENT_LOCK:
            saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
            previous_tracking = tracking_state._tracking_uri
            previous_registry = registry_state._registry_uri
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.registry_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(previous_tracking)  # type: ignore[arg-type]  # None means "unset"
                registry_state._registry_uri = previous_registry
                for key, value in saved_env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        signature: Any,
        input_example: Any,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        description: str | None,
    ) -> ModelVersion:
        """Log an in-memory model with its MLflow flavor into a run, then register it as a new version."""
        experiment_id = self.experiment_id()
        flavor, kwargs = self._flavor_for(model)
        with self.fluent(), self._errors(f"Logging model {name!r}"):
            active = mlflow.active_run()
            reuse = active is not None and mlflow.get_tracking_uri() == self.tracking_uri
            run_ctx = (
                contextlib.nullcontext(active)
                if reuse
                else mlflow.start_run(
                    experiment_id=experiment_id, run_name=f"register-{name}", nested=active is not None
                )
            )
            with run_ctx as run:
                assert run is not None
                self.log_run_values(run.info.run_id, params=params, metrics=metrics)
                mlflow.set_tags(tags)
                info = flavor.log_model(name="model", signature=signature, input_example=input_example, **kwargs)
                mv = self._register(info.model_uri, name, tags=tags, description=description)
                if mv.run_id != run.info.run_id:  # older servers drop the run link of logged models
                    log.debug("registered %s from logged model %s", name, info.model_uri)
        return self.version(name, str(mv.version))

    def log_run_values(self, run_id: str, *, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Log a registration run's parameters and metrics in one batch, the same way for every door.

        Parameters are stored as strings cut to MLflow's limit of 6,000 characters, metrics as floats (now, step 0).
        """
        if not params and not metrics:
            return
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        with self._errors(f"Run {run_id}"):
            self.client.log_batch(
                run_id,
                metrics=[Metric(key, float(number), now, 0) for key, number in metrics.items()],
                params=[Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in params.items()],
            )

    def register_uri(self, uri: str, name: str, *, tags: dict[str, str], description: str | None) -> ModelVersion:
        """Register an existing ``runs:/`` or ``models:/`` URI as a new version of ``name``."""
        if not uri.startswith(("runs:/", "models:/")):
            raise InvalidRequest(
                f"Unsupported model URI {uri!r}: use runs:/<run_id>/<path> or models:/<name>/<version> "
                "(or models:/<model_id> for a logged model)."
            )
        with self.fluent(), self._errors(f"Model URI {uri!r}"):
            mv = self._register(uri, name, tags=tags, description=description)
        return self.version(name, str(mv.version))

    def _register(self, uri: str, name: str, *, tags: dict[str, str], description: str | None) -> Any:
        """Register ``uri`` as a new version of ``name`` with its description (inside ``fluent`` and ``_errors``)."""
        mv = mlflow.register_model(uri, name, tags=tags)
        if description:
            self.client.update_model_version(name, mv.version, description=description)
        return mv

    @staticmethod
    def _flavor_for(model: Any) -> tuple[Any, dict[str, Any]]:
        """The MLflow flavor that can log ``model`` and the arguments it needs."""
        if isinstance(model, mlflow.pyfunc.PythonModel):
            return mlflow.pyfunc, {"python_model": model}
        module = type(model).__module__.split(".")[0]
        for prefix, flavor_name in _FLAVORS:
            if module == prefix:
                flavor = importlib.import_module(flavor_name)
                kwargs: dict[str, Any] = {}
                if flavor_name == "mlflow.sklearn":
                    kwargs = {"sk_model": model, **_sklearn_serialization(model)}
                else:
                    first = next(iter(inspect.signature(flavor.log_model).parameters))
                    kwargs = {first: model}
                if hasattr(flavor, "get_default_pip_requirements"):
                    # Skips MLflow's requirement inference, which re-imports the model in a subprocess (~3 s).
                    with contextlib.suppress(Exception):
                        kwargs["pip_requirements"] = [
                            *flavor.get_default_pip_requirements(),
                            f"mlflow=={mlflow.__version__}",
                        ]
                return flavor, kwargs
        if callable(model) and not isinstance(model, type):
            return mlflow.pyfunc, {"python_model": _CallableModel(model)}
        raise InvalidRequest(
            f"Cannot register an object of type {type(model).__name__}: pass a model of a framework MLflow can "
            "log (scikit-learn, XGBoost, LightGBM, PyTorch, ...), an mlflow.pyfunc.PythonModel, a Python "
            "function of a DataFrame, or a runs:/ or models:/ URI."
        )


@contextlib.contextmanager
def mlflow_store_lock(*uris: str | None) -> Iterator[None]:
    """Hold the creation lock of every SQLite store among ``uris`` (each once, in a fixed order).

    Every process of ours (Jupyter, kernels, the serving daemon) opens MLflow's embedded stores under it, since
    MLflow's schema creation is not safe to run concurrently on one SQLite file; and, within a process, under
    ``locks.MIGRATION_LOCK`` when a store is a database MLflow migrates here with Alembic, as our store does (not a
    tracking server, whose first call may take long and migrates nothing here).
    """
    from .locks import MIGRATION_LOCK

    remote = all(not u or u.startswith(("http://", "https://", "databricks")) for u in uris)
    with contextlib.nullcontext() if remote else MIGRATION_LOCK, contextlib.ExitStack() as stack:
        for uri in sorted({u for u in uris if u}):
            stack.enter_context(_sqlite_creation_lock(uri))
        yield


@contextlib.contextmanager
def _sqlite_creation_lock(uri: str) -> Iterator[None]:
    """An exclusive lock beside a SQLite database file (no-op for other stores)."""
    if not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
        yield
        return
    from pathlib import Path

    from .locks import file_lock

    with file_lock(Path(uri[len("sqlite:///") :] + ".lock")):
        yield


def _sklearn_serialization(model: Any) -> dict[str, Any]:
    """Save scikit-learn models with skops, trusting exactly the types of the model we are saving.

    MLflow refuses types skops does not trust by default (GradientBoosting's trees); these come from the
    user's own in-memory model, so trusting them is safe. Without skops, fall back to cloudpickle.
    """
    try:
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    except Exception:  # skops missing or unable to serialise this estimator
        return {"serialization_format": "cloudpickle"}
    return {"serialization_format": "skops", "skops_trusted_types": untrusted}
