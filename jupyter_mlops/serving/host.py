"""The model host: which deployments this daemon serves, and loading, warming and swapping them off the event loop.

Desired state comes from the Store; ``ModelHost.reconcile`` converges onto it. Each deployment is a
``DeploymentRuntime`` holding the ``ServingSet`` that answers requests now (replaced by one reference assignment,
so a new generation goes live atomically and the old one keeps answering until then) and the status of the
generation being applied. The hot path reads ``runtime.active`` and nothing else: no store, no MLflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from ..core.models import (
    DEPLOY_STEPS,
    DeploymentState,
    DeploymentStep,
    RuntimeStatus,
    StepStatus,
    Variant,
    VariantRole,
    VariantStatus,
)
from ..core.store import Store
from ..core.store.tables import DeploymentRow
from .protocol import ScoringModel, invocations

log = logging.getLogger(__name__)

TARGET = "local"
MAX_ERROR_LENGTH = 500
Loader = Callable[[str], Any]


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- desired state ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredDeployment:
    """One deployment as the Store wants it, at one generation."""

    name: str
    generation: int
    variants: tuple[Variant, ...]

    @property
    def primary(self) -> Variant | None:
        primary = next((v for v in self.variants if v.role == VariantRole.primary), None)
        return primary or (self.variants[0] if self.variants else None)


def read_desired(store: Store, name: str | None = None) -> dict[str, DesiredDeployment]:
    """Desired state of local deployments (one, or all), read in one transaction so variants match generation."""
    with store.session() as session:
        query = select(DeploymentRow).where(DeploymentRow.target == TARGET)
        if name is not None:
            query = query.where(DeploymentRow.name == name)
        return {
            row.name: DesiredDeployment(
                name=row.name,
                generation=row.generation,
                variants=tuple(
                    Variant(
                        name=v.name,
                        model_name=v.model_name,
                        model_version=v.model_version,
                        weight=v.weight,
                        role=VariantRole(v.role),
                    )
                    for v in row.variants
                ),
            )
            for row in session.scalars(query)
        }


# --- what answers requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedVariant:
    """A loaded, warmed model version behind a deployment."""

    variant: Variant
    model: ScoringModel


@dataclass(frozen=True)
class ServingSet:
    """The variants of one generation that answer requests; replaced as a whole, never mutated."""

    generation: int
    variants: tuple[ServedVariant, ...]

    def route(self) -> ServedVariant:
        """The variant for the next request. Only the primary is loaded for now; traffic split chooses here."""
        return self.variants[0]


class DeploymentRuntime:
    """One deployment in the daemon: the serving set in use and the progress of the generation being applied.

    Status updates come from loader threads, so they go through a lock and ignore stale generations; ``active``
    is read without a lock by the hot path (a reference read is atomic).
    """

    def __init__(self, desired: DesiredDeployment, url: str) -> None:
        self.name = desired.name
        self.url = url
        self.active: ServingSet | None = None
        self.removed = False
        self._lock = threading.Lock()
        self.desired = desired
        self._status = self._initial_status(desired)

    # -- reading

    def status(self) -> RuntimeStatus:
        with self._lock:
            return self._status.model_copy(deep=True)

    @property
    def state(self) -> DeploymentState:
        return self._status.state

    def needs_load(self, desired: DesiredDeployment) -> bool:
        """True when ``desired`` differs from what is applied, or when the last attempt failed (retry)."""
        with self._lock:
            return (
                desired.generation != self.desired.generation
                or desired.variants != self.desired.variants
                or self._status.state == DeploymentState.failed
            )

    # -- transitions

    def begin(self, desired: DesiredDeployment) -> None:
        """Start applying ``desired``; the current serving set keeps answering until the new one is ready."""
        with self._lock:
            self.desired = desired
            self._status = self._initial_status(desired)

    def step_started(self, generation: int, step: str) -> bool:
        """Mark ``step`` running; False when this generation is no longer wanted (the caller should stop)."""
        with self._lock:
            if not self._current(generation):
                return False
            entry = self._step(step)
            entry.status, entry.started_at = StepStatus.running, _now()
            self._set_state(DeploymentState(step), None)
            return True

    def step_done(self, generation: int, step: str, message: str) -> None:
        with self._lock:
            if self._current(generation):
                entry = self._step(step)
                entry.status, entry.message, entry.finished_at = StepStatus.done, message, _now()
                self._status.updated_at = entry.finished_at

    def fail(self, generation: int, step: str, message: str) -> None:
        """Record a failure; whatever served before keeps serving, and the message says so."""
        with self._lock:
            if not self._current(generation):
                return
            entry = self._step(step)
            entry.status, entry.message, entry.finished_at = StepStatus.failed, message, _now()
            summary = f"{step} failed: {message}"
            if self.active is not None:
                served = ", ".join(v.variant.model_uri for v in self.active.variants)
                summary += f" (still serving generation {self.active.generation}: {served})"
            self._set_state(DeploymentState.failed, summary)

    def activate(self, serving: ServingSet) -> bool:
        """Swap ``serving`` in if its generation is still the wanted one; returns whether it went live."""
        with self._lock:
            if not self._current(serving.generation):
                return False
            self.active = serving
            entry = self._step("ready")
            entry.status, entry.started_at, entry.finished_at = StepStatus.done, _now(), _now()
            served = ", ".join(v.variant.model_uri for v in serving.variants)
            entry.message = f"serving {served}"
            self._set_state(DeploymentState.ready, entry.message)
            return True

    # -- helpers (lock held)

    def _current(self, generation: int) -> bool:
        return not self.removed and generation == self.desired.generation

    def _step(self, name: str) -> DeploymentStep:
        return next(step for step in self._status.steps if step.name == name)

    def _set_state(self, state: DeploymentState, message: str | None) -> None:
        self._status.state, self._status.message, self._status.updated_at = state, message, _now()
        served = self.desired.primary
        for variant in self._status.variants:
            if served is not None and variant.name == served.name:
                variant.state, variant.message = state, message

    def _initial_status(self, desired: DesiredDeployment) -> RuntimeStatus:
        now = _now()
        primary = desired.primary
        steps = [DeploymentStep(name=name) for name in DEPLOY_STEPS]
        # Resolving (alias or "latest" to a version) happens in the caller before the Store write.
        steps[0].status, steps[0].finished_at = StepStatus.done, now
        steps[0].message = primary.model_uri if primary else None
        return RuntimeStatus(
            name=desired.name,
            state=DeploymentState.pending,
            steps=steps,
            url=self.url,
            variants=[
                VariantStatus(
                    name=v.name,
                    model_uri=v.model_uri,
                    message=None if v is primary else "not served yet: only the primary variant is served",
                )
                for v in desired.variants
            ],
            updated_at=now,
            generation=desired.generation,
        )


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line, bounded; never a traceback."""
    message = getattr(exc, "message", None)
    text = " ".join((message if isinstance(message, str) else str(exc)).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


# --- the host --------------------------------------------------------------------------------------------------


class MLflowLoader:
    """Loads pyfunc models from the registry; configures and imports MLflow once, off the event loop."""

    def __init__(self, tracking_uri: str | None, registry_uri: str | None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self._ready = False
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Import MLflow and point it at the configured servers (about a second; done once per process)."""
        with self._lock:
            if self._ready:
                return
            import mlflow
            import mlflow.pyfunc  # imported now so the first deploy does not pay for it

            if self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
            if self.registry_uri:
                mlflow.set_registry_uri(self.registry_uri)
            self._warm_caches()
            self._ready = True

    def _warm_caches(self) -> None:
        """Pay once, at startup, what the first load would: the registry store (about 0.7 s on SQLite, schema
        checks) and scikit-learn (our own dependency and the most common flavor, about 0.5 s)."""
        import mlflow

        if _registry_initialised(self.registry_uri or mlflow.get_registry_uri()):
            try:
                mlflow.MlflowClient().search_registered_models(max_results=1)
            except Exception as exc:  # the registry may be down now and up by the first deploy
                log.warning("MLflow registry not reachable yet: %s", describe_error(exc))
        with contextlib.suppress(ImportError):
            import sklearn.base  # noqa: F401

    def __call__(self, model_uri: str) -> Any:
        self.prepare()
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(model_uri)


def _registry_initialised(uri: str) -> bool:
    """False for a SQLite registry that no process has created yet: the warm-up must not be the one that creates
    it, because two processes creating MLflow's tables at once make one of them fail (alembic race)."""
    if not uri.startswith("sqlite:///"):
        return True
    path = uri[len("sqlite:///") :]
    if not os.path.exists(path):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


class ModelHost:
    """The deployments served by this process. ``reconcile`` and lookups run on the event loop; loads and
    predictions run in their own thread pools so neither blocks the loop nor waits for the other."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        *,
        loader: Loader,
        load_workers: int = 2,
        predict_workers: int | None = None,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._loader = loader
        self._deployments: dict[str, DeploymentRuntime] = {}
        self._reconcile_lock = asyncio.Lock()
        self._load_pool = ThreadPoolExecutor(load_workers, thread_name_prefix="mlops-load")
        workers = predict_workers or min(8, (os.cpu_count() or 1) + 2)
        self._predict_pool = ThreadPoolExecutor(workers, thread_name_prefix="mlops-predict")

    def endpoint_url(self, name: str) -> str:
        return f"{self.base_url}/deployments/{name}/invocations"

    def get(self, name: str) -> DeploymentRuntime | None:
        return self._deployments.get(name)

    def statuses(self) -> list[RuntimeStatus]:
        return [self._deployments[name].status() for name in sorted(self._deployments)]

    async def score(self, served: ServedVariant, body: bytes, content_type: str | None) -> bytes:
        """Parse, predict and serialise in the prediction pool; returns the JSON body or raises MLOpsError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._predict_pool, invocations, served.model, body, content_type)

    async def reconcile(self, name: str | None = None) -> list[RuntimeStatus]:
        """Re-read desired state (one deployment or all) and start converging; returns at once with statuses."""
        async with self._reconcile_lock:  # serialises read + converge, so an older read never wins
            desired = await asyncio.to_thread(read_desired, self.store, name)
            self.converge(desired, None if name is None else [name])
        if name is None:
            return self.statuses()
        runtime = self._deployments.get(name)
        return [runtime.status()] if runtime else []

    def converge(self, desired: dict[str, DesiredDeployment], scope: Iterable[str] | None = None) -> None:
        """Load new deployments, reload changed or failed ones, unload those no longer desired (within scope)."""
        for name in list(self._deployments if scope is None else scope):
            if name not in desired and name in self._deployments:
                runtime = self._deployments.pop(name)
                runtime.removed = True  # in-flight loads see this and discard their result
                log.info("Unloaded deployment %s", name)
        for name, want in desired.items():
            current = self._deployments.get(name)
            if current is None:
                runtime = self._deployments[name] = DeploymentRuntime(want, self.endpoint_url(name))
            elif current.needs_load(want):
                runtime = current
                runtime.begin(want)
            else:
                continue
            log.info("Applying deployment %s generation %s", name, want.generation)
            self._load_pool.submit(self._load, runtime, want)

    def preload(self) -> None:
        """Import MLflow in the background now, so the first deployment does not wait for it."""
        prepare = getattr(self._loader, "prepare", None)
        if callable(prepare):
            self._load_pool.submit(prepare)

    def close(self) -> None:
        self._load_pool.shutdown(wait=False, cancel_futures=True)
        self._predict_pool.shutdown(wait=False, cancel_futures=True)

    # -- loading (worker threads)

    def _load(self, runtime: DeploymentRuntime, desired: DesiredDeployment) -> None:
        generation, variant = desired.generation, desired.primary
        step = "loading"
        try:
            if not runtime.step_started(generation, step):
                return  # superseded before we started
            if variant is None:
                raise ValueError("the deployment has no variants")
            started = time.perf_counter()
            pyfunc = self._loader(variant.model_uri)
            runtime.step_done(generation, step, f"loaded {variant.model_uri} in {time.perf_counter() - started:.2f} s")
            step = "warming"
            if not runtime.step_started(generation, step):
                return
            model = ScoringModel.from_pyfunc(pyfunc)
            runtime.step_done(generation, step, warm_up(model, getattr(pyfunc, "input_example", None)))
            if runtime.activate(ServingSet(generation, (ServedVariant(variant, model),))):
                log.info("Deployment %s generation %s is ready", runtime.name, generation)
        except Exception as exc:
            message = describe_error(exc)
            log.warning("Deployment %s generation %s failed while %s: %s", runtime.name, generation, step, message)
            runtime.fail(generation, step, message)


def warm_up(model: ScoringModel, input_example: Any) -> str:
    """Predict once on the model's saved input example, so the first request pays no lazy initialisation."""
    if input_example is None:
        return "no input example; skipped"
    started = time.perf_counter()
    model.predict(input_example, None)
    rows = getattr(input_example, "shape", None)
    size = f" ({rows[0]} rows)" if rows else ""
    return f"predicted on the input example{size} in {(time.perf_counter() - started) * 1000:.1f} ms"
