"""The model host: which deployments this daemon serves, and loading, warming and swapping them off the event loop.

Desired state comes from the Store; ``ModelHost.reconcile`` converges onto it. Each deployment is a
``DeploymentRuntime`` holding the ``ServingSet`` that answers requests now (replaced by one reference assignment,
so a new generation goes live atomically and the old one keeps answering until then) and the status of the
generation being applied. The hot path reads ``runtime.active`` and nothing else: no store, no MLflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import select

from ..core.deployments.config import DeploymentConfig
from ..core.errors import InvalidRequest, Unavailable
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
from ..core.store.database import variant_of
from ..core.store.tables import DeploymentRow
from . import parity
from .batching import MicroBatcher
from .metrics import ServingMetrics
from .protocol import (
    Scored,
    ScoringInput,
    ScoringModel,
    parse_request,
    predict,
    predictions_to_json,
    score,
)
from .traffic import TrafficSplit

log = logging.getLogger(__name__)

MiB = 1024 * 1024
IDLE_MESSAGE = "idle (unloaded)"
# What a loaded model holds besides its estimator (PyFuncModel, metadata, signature, ScoringModel), measured with
# benchmarks/density.py on small scikit-learn models; added to each model's pickled size.
MODEL_OVERHEAD_BYTES = 1 * MiB
MAX_PENDING_RELOADS = 32  # reloads of evicted models queued at once; more get 503 + Retry-After

TARGET = "local"
MAX_ERROR_LENGTH = 500
Loader = Callable[[str], Any]
# Makes the runtime of a deployment whose settings say ``isolated`` (the daemon passes isolated.WorkerLaunch).
Spawner = Callable[["DesiredDeployment", str], "DeploymentRuntime"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- desired state ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredDeployment:
    """One deployment as the Store wants it, at one generation."""

    name: str
    generation: int
    variants: tuple[Variant, ...]
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def primary(self) -> Variant | None:
        primary = next((v for v in self.variants if v.role == VariantRole.primary), None)
        return primary or (self.variants[0] if self.variants else None)


def read_desired(store: Store, name: str | None = None, owner: str | None = None) -> dict[str, DesiredDeployment]:
    """Desired state of local deployments (one, or all), read in one transaction so variants match generation.

    With ``owner``, only that user's deployments: a user's daemon never loads another user's models from a shared
    store."""
    with store.session() as session:
        query = select(DeploymentRow).where(DeploymentRow.target == TARGET)
        if name is not None:
            query = query.where(DeploymentRow.name == name)
        if owner is not None:
            query = query.where(DeploymentRow.owner == owner)
        return {
            row.name: DesiredDeployment(
                name=row.name,
                generation=row.generation,
                variants=tuple(variant_of(v) for v in row.variants),
                config=dict(row.config or {}),
            )
            for row in session.scalars(query)
        }


# --- what answers requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedVariant:
    """A loaded, warmed model version behind a deployment (with its micro-batcher when batching is on)."""

    variant: Variant
    model: ScoringModel
    batcher: MicroBatcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ServingSet:
    """The variants of one generation that answer requests; replaced as a whole, never mutated.

    Answering variants (primary, canary) split traffic by weight; shadow variants get a mirrored copy of every
    request and their answers are never returned.
    """

    generation: int
    variants: tuple[ServedVariant, ...]
    config: dict[str, Any] = field(default_factory=dict)
    split: TrafficSplit[ServedVariant] = field(init=False, repr=False)
    shadows: tuple[ServedVariant, ...] = field(init=False)
    settings: DeploymentConfig = field(init=False)  # ``config`` parsed once, not per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", DeploymentConfig.load(self.config))
        split = TrafficSplit.of(self.variants, lambda v: v.variant.role, lambda v: v.variant.weight)
        object.__setattr__(self, "split", split)
        object.__setattr__(self, "shadows", split.shadows)

    def route(self) -> ServedVariant:
        """The variant for the next request: a weighted random choice among the answering variants."""
        return self.split.pick()

    def with_version(self, version: str) -> ServedVariant | None:
        """The variant serving model version ``version`` (V2's ``/versions/{v}/infer`` bypasses the split)."""
        return next((v for v in self.variants if v.variant.model_version == version), None)

    def find(self, model_uri: str) -> ServedVariant | None:
        return next((v for v in self.variants if v.variant.model_uri == model_uri), None)


@dataclass
class VariantWindow:
    """Sliding window of the last requests one variant answered: failures and latencies, for auto-rollback."""

    size: int = 200
    outcomes: deque[tuple[bool, float]] = field(default_factory=deque)

    def add(self, failed: bool, latency_ms: float) -> None:
        self.outcomes.append((failed, latency_ms))
        while len(self.outcomes) > self.size:
            self.outcomes.popleft()

    def summary(self) -> tuple[int, float, float]:
        """(requests, error rate, p95 latency in ms) over the window."""
        items = list(self.outcomes)
        if not items:
            return 0, 0.0, 0.0
        latencies = sorted(latency for _failed, latency in items)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        return len(items), sum(1 for failed, _ in items if failed) / len(items), p95


class DeploymentRuntime:
    """One deployment in the daemon: the serving set in use and the progress of the generation being applied.

    Status updates come from loader threads, so they go through a lock and ignore stale generations; ``active``
    is read without a lock by the hot path (a reference read is atomic).
    """

    isolated: ClassVar[bool] = False  # True for IsolatedRuntime (isolated.py): served by a worker process

    def __init__(self, desired: DesiredDeployment, url: str) -> None:
        self.name = desired.name
        self.url = url
        self.active: ServingSet | None = None
        self.removed = False
        self.in_flight = 0  # admitted requests not answered yet (event loop only: no lock)
        self.windows: dict[str, VariantWindow] = {}
        self.last_used = 0.0  # perf_counter of the last request (least-recently-used eviction)
        self.size_bytes = 0  # estimated memory of the active serving set's models
        self.evicted = False  # unloaded to stay within the memory budget; reloaded on the next request
        self.idle_settings: DeploymentConfig | None = None  # the evicted serving set's settings (timeout)
        self.reloading: asyncio.Future[None] | None = None  # the reload in progress (event loop only)
        self.changed: asyncio.Event | None = None  # set when a load ends (event loop only; see ModelHost.wait_loaded)
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

    def serving(self) -> bool:
        """Whether requests are answered now: loaded and warmed, or evicted (reloaded on the next request)."""
        return self.active is not None or self.evicted

    def notify(self) -> None:
        """Wake the requests waiting for a load of this deployment to end (call on the event loop)."""
        event, self.changed = self.changed, None
        if event is not None:
            event.set()

    def evict(self) -> bool:
        """Unload the serving set when no request is in progress; the status says idle (unloaded)."""
        with self._lock:
            serving = self.active
            if serving is None or self.in_flight or self.removed:
                return False
            self.idle_settings = serving.settings
            self.active = None
            self.evicted = True
            self.size_bytes = 0
            served = ", ".join(v.variant.model_uri for v in serving.variants)
            self._set_state(
                DeploymentState.ready,
                f"{IDLE_MESSAGE}: {served} was unloaded to keep the daemon within its memory budget; the next "
                "request loads it again",
            )
            return True

    def close(self) -> None:
        """Release what the runtime holds besides memory (an isolated deployment's worker); nothing here."""

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
            self.evicted = False
            self.windows = {}  # a new generation is judged on its own requests (auto-rollback)
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
        for variant in self._status.variants:
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
            variants=[VariantStatus(name=v.name, model_uri=v.model_uri) for v in desired.variants],
            updated_at=now,
            generation=desired.generation,
        )


class LoadQueueFull(Unavailable):
    """Too many evicted models are being reloaded at once: answer 503 + Retry-After rather than queue forever."""

    code = "OVERLOADED"
    retry_after = "1"


class ModelTooLarge(InvalidRequest):
    """A model version needs more memory than the daemon's whole budget: it could never be served."""


def model_size_bytes(pyfunc: Any) -> int:
    """Estimated memory of a loaded pyfunc model: its estimator's pickled size plus a fixed overhead.

    Pickled size tracks the arrays that dominate a model's memory (trees, coefficients) and costs one
    serialisation at load, never on the request path."""
    import cloudpickle

    for get in (lambda: pyfunc.get_raw_model(), lambda: pyfunc._model_impl):
        try:
            return len(cloudpickle.dumps(get())) + MODEL_OVERHEAD_BYTES
        except Exception:  # noqa: S112 - not every flavor exposes or pickles its raw model; try the next
            continue
    return 2 * MODEL_OVERHEAD_BYTES


def _release_memory() -> None:
    """Give freed heap back to the OS after an eviction (glibc keeps it otherwise, and RSS would not drop)."""
    import ctypes

    # No gc.collect(): it would hold the GIL for a fraction of a second in a process with MLflow loaded, and
    # reference counting already freed the evicted models.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line, bounded; never a traceback."""
    message = getattr(exc, "message", None)
    text = " ".join((message if isinstance(message, str) else str(exc)).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


# --- the host --------------------------------------------------------------------------------------------------


class MLflowLoader:
    """Loads pyfunc models from the registry; configures and imports MLflow once, off the event loop."""

    def __init__(self, tracking_uri: str | None, registry_uri: str | None, cache_dir: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        # Local copies of registered versions' artifacts: a reload after eviction or a restart reads them from
        # disk instead of downloading them again (None: always from the registry).
        self.cache_dir = cache_dir
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

        from ..core.registry import mlflow_store_lock

        if _registry_initialised(self.registry_uri or mlflow.get_registry_uri()):
            try:
                with mlflow_store_lock(self.tracking_uri, self.registry_uri):
                    mlflow.MlflowClient().search_registered_models(max_results=1)
            except Exception as exc:  # the registry may be down now and up by the first deploy
                log.warning("MLflow registry not reachable yet: %s", describe_error(exc))
        with contextlib.suppress(ImportError):
            import sklearn.base  # noqa: F401

    def __call__(self, model_uri: str) -> Any:
        self.prepare()
        import mlflow.pyfunc

        local = self._cached(model_uri) if self.cache_dir else None
        if local is None:
            return mlflow.pyfunc.load_model(model_uri)
        return self._from_snapshot(local)

    def _from_snapshot(self, local: str) -> Any:
        """The pyfunc model of the cached artifacts at ``local``, unpickled from a snapshot taken at its first load
        (milliseconds instead of MLflow's ~0.1 s load for a small model: what a reload after eviction or a restart
        pays). The snapshot is taken by this daemon, beside the artifacts it came from, and keyed by the Python
        and MLflow versions; any failure falls back to MLflow's loader."""
        import cloudpickle
        import mlflow
        import mlflow.pyfunc

        snapshot = f"{local}.{sys.version_info[0]}{sys.version_info[1]}-{mlflow.__version__}.pyfunc"
        with contextlib.suppress(OSError):
            with open(snapshot, "rb") as file:
                data = file.read()
            try:
                return cloudpickle.loads(data)
            except Exception as exc:
                log.warning("Model snapshot %s unreadable (%s); loading with MLflow", snapshot, describe_error(exc))
        pyfunc = mlflow.pyfunc.load_model(local)
        try:
            data = cloudpickle.dumps(pyfunc)
            fd, staging = tempfile.mkstemp(prefix=".snapshot-", dir=os.path.dirname(local))
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(staging, snapshot)
        except Exception as exc:
            log.info("No snapshot of %s: %s", local, describe_error(exc))
        return pyfunc

    def _cached(self, model_uri: str) -> str | None:
        """A local copy of ``models:/name/version``'s artifacts, downloaded once. Keyed by the version's creation
        time too, so a version number reused after its model was deleted and registered again is not confused
        with the old one. None for other URIs (aliases move: they are resolved by MLflow each time)."""
        match = re.fullmatch(r"models:/([^/@]+)/(\d+)", model_uri)
        if match is None or self.cache_dir is None:
            return None
        import mlflow
        import mlflow.artifacts

        name, version = match.groups()
        created = mlflow.MlflowClient().get_model_version(name, version).creation_timestamp
        key = hashlib.sha256(f"{name}\0{version}\0{created}".encode()).hexdigest()[:32]
        target = os.path.join(self.cache_dir, key)
        if os.path.isfile(os.path.join(target, "MLmodel")):
            return target
        os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{key}-", dir=self.cache_dir)
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=staging)
            if not os.path.exists(target):  # another load may have put it there meanwhile
                os.replace(path, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target if os.path.isfile(os.path.join(target, "MLmodel")) else None


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
        metrics: ServingMetrics | None = None,
        only: str | None = None,
        spawner: Spawner | None = None,
        owner: str | None = None,
        memory_budget_mb: int | None = None,
    ) -> None:
        self.metrics = metrics or ServingMetrics()
        # Models in this process stay within this many bytes, evicting the least recently used idle ones (None: no
        # limit). Isolated deployments are outside it: their own processes hold their models.
        self.memory_budget = memory_budget_mb * MiB if memory_budget_mb else None
        self._budget_lock = threading.Lock()
        self._pending_reloads = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # the event loop, for wake-ups from loader threads
        self._passed_parity: set[str] = set()  # versions that passed the gate in this process (reloads skip it)
        self.only = only  # an isolated deployment's worker serves this one deployment and nothing else
        self.spawner = spawner  # None: every deployment is served in this process (as a worker does)
        self.owner = owner  # serve only this user's deployments (None: every local deployment in the store)
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

    async def score(self, served: ServedVariant, body: bytes, content_type: str | None, max_rows: int) -> Scored:
        """Score an MLflow-protocol request: parse, predict (micro-batched with concurrent requests when the
        variant batches), serialise. Runs off the event loop; raises MLOpsError."""
        loop = asyncio.get_running_loop()
        batcher = served.batcher
        if batcher is None or not batcher.enabled:
            return await loop.run_in_executor(self._predict_pool, score, served.model, body, content_type, max_rows)
        started = time.perf_counter()
        scoring_input = await loop.run_in_executor(
            self._predict_pool, parse_request, body, content_type, served.model, max_rows
        )
        parsed = time.perf_counter()
        if scoring_input.params is None and type(scoring_input.data).__name__ == "DataFrame":
            outputs = await batcher.submit(scoring_input.data, scoring_input.fast)
        else:
            outputs = await loop.run_in_executor(self._predict_pool, predict, served.model, scoring_input)
        predicted = time.perf_counter()
        response = predictions_to_json(outputs)
        done = time.perf_counter()
        timings = {"parse": parsed - started, "predict": predicted - parsed, "serialize": done - predicted}
        return Scored(response, scoring_input.data, outputs, timings)

    async def wait_loaded(self, runtime: DeploymentRuntime, timeout: float) -> ServingSet | None:
        """Wait up to ``timeout`` seconds for a deployment that is still loading (after a restart, or its first
        deploy) to serve, so its first requests are answered once it is ready instead of refused; None if it
        failed or is still loading by then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiting = (DeploymentState.pending, DeploymentState.loading, DeploymentState.warming)
        while runtime.active is None and not runtime.removed and runtime.state in waiting:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if runtime.changed is None:
                runtime.changed = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(runtime.changed.wait(), remaining)
        return runtime.active

    async def ensure_loaded(self, runtime: DeploymentRuntime) -> ServingSet | None:
        """The runtime's serving set, reloading it first when it was evicted (one reload shared by every waiting
        request). Raises LoadQueueFull when too many reloads are queued already."""
        serving = runtime.active
        if serving is not None or not runtime.evicted:
            return serving
        future = runtime.reloading
        if future is None:
            if self._pending_reloads >= MAX_PENDING_RELOADS:
                raise LoadQueueFull(
                    f"{self._pending_reloads} idle deployments are being loaded again; deployment {runtime.name!r} "
                    "is next. Retry after the time in Retry-After."
                )
            self._pending_reloads += 1
            self.metrics.reloads.labels(runtime.name).inc()
            loop = asyncio.get_running_loop()
            future = runtime.reloading = loop.run_in_executor(self._load_pool, self._load, runtime, runtime.desired)

            def done(_future: asyncio.Future[None]) -> None:
                self._pending_reloads -= 1
                runtime.reloading = None

            future.add_done_callback(done)
        await asyncio.shield(future)
        return runtime.active

    def enforce_budget(self, keep: DeploymentRuntime | None = None) -> int:
        """Evict least-recently-used idle deployments until the loaded models fit the memory budget; returns how
        many were evicted. ``keep`` (the one just loaded) is evicted last of all: never."""
        if self.memory_budget is None:
            return 0
        evicted = 0
        with self._budget_lock:
            loaded = [r for r in list(self._deployments.values()) if r.active is not None and not r.isolated]
            total = sum(r.size_bytes for r in loaded)
            for runtime in sorted(loaded, key=lambda r: r.last_used):
                if total <= self.memory_budget:
                    break
                size = runtime.size_bytes
                if runtime is keep or not runtime.evict():
                    continue
                total -= size
                evicted += 1
                self.metrics.evictions.labels(runtime.name).inc()
                log.info("Evicted idle deployment %s (memory budget %d MiB)", runtime.name, self.memory_budget // MiB)
            self.metrics.loaded_bytes.set(total)
        if evicted:
            _release_memory()
        return evicted

    def batcher_for(
        self, deployment: str, variant: Variant, model: ScoringModel, config: DeploymentConfig
    ) -> MicroBatcher | None:
        """A micro-batcher for row-wise models (tabular input, no type-hinted ``inputs``) when batching is on."""
        settings = config.batching
        if not settings.enabled or model.inputs_as_is or settings.max_batch_size <= 1:
            return None
        schema = model.input_schema
        if schema is not None and schema.is_tensor_spec():
            return None  # tensors are not rows: leave them alone
        histogram = self.metrics.batch_size.labels(deployment, variant.name)
        return MicroBatcher(
            lambda frame, fast: predict(model, ScoringInput(frame, fast=fast)),
            self._predict_pool,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            observe=histogram.observe,
        )

    async def run(self, scorer: Callable[[ServedVariant, bytes, str], Scored], served: ServedVariant, body: bytes,
                  request_id: str) -> Scored:  # fmt: skip
        """Run a protocol's scorer (parse, predict, serialise) in the prediction pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._predict_pool, scorer, served, body, request_id)

    async def reconcile(self, name: str | None = None) -> list[RuntimeStatus]:
        """Re-read desired state (one deployment or all) and start converging; returns at once with statuses."""
        if self.only is not None:
            if name not in (None, self.only):
                return []
            name = self.only
        self._loop = asyncio.get_running_loop()
        async with self._reconcile_lock:  # serialises read + converge, so an older read never wins
            desired = await asyncio.to_thread(read_desired, self.store, name, self.owner)
            self.converge(desired, None if name is None else [name])
        if name is None:
            return self.statuses()
        runtime = self._deployments.get(name)
        return [runtime.status()] if runtime else []

    def converge(self, desired: dict[str, DesiredDeployment], scope: Iterable[str] | None = None) -> None:
        """Load new deployments, reload changed or failed ones, unload those no longer desired (within scope)."""
        for name in list(self._deployments if scope is None else scope):
            if name not in desired and name in self._deployments:
                self._unload(name)
        for name, want in desired.items():
            current = self._deployments.get(name)
            isolated = self.spawner is not None and bool(want.config.get("isolated"))
            if current is not None and current.isolated != isolated:
                self._unload(name)  # moving into or out of its own process: start over there
                current = None
            if current is None:
                url = self.endpoint_url(name)
                runtime = self._deployments[name] = (
                    self.spawner(want, url) if self.spawner is not None and isolated else DeploymentRuntime(want, url)
                )
            elif current.needs_load(want):
                runtime = current
                runtime.begin(want)
            else:
                continue
            log.info("Applying deployment %s generation %s", name, want.generation)
            if not runtime.isolated:  # an isolated runtime's worker loads it
                self._load_pool.submit(self._load, runtime, want)

    def _unload(self, name: str) -> None:
        runtime = self._deployments.pop(name)
        runtime.removed = True  # in-flight loads see this and discard their result
        runtime.close()
        log.info("Unloaded deployment %s", name)

    def canaries_to_roll_back(self) -> list[tuple[str, str, str]]:
        """(deployment, canary, reason) for every canary whose sliding window is worse than its primary's by more
        than the deployment's auto-rollback margins (error rate or p95 latency)."""
        found = []
        for name, runtime in list(self._deployments.items()):
            serving = runtime.active
            if serving is None or not any(v.variant.role == VariantRole.canary for v in serving.variants):
                continue
            policy = DeploymentConfig.load(serving.config).auto_rollback
            primary = next((v for v in serving.variants if v.variant.role == VariantRole.primary), None)
            if not policy.enabled or primary is None:
                continue
            base = runtime.windows.get(primary.variant.name)
            base_n, base_errors, base_p95 = base.summary() if base else (0, 0.0, 0.0)
            for served in serving.variants:
                variant = served.variant
                window = runtime.windows.get(variant.name)
                if variant.role != VariantRole.canary or variant.weight == 0 or window is None:
                    continue
                n, errors, p95 = window.summary()
                if n < policy.min_requests:
                    continue
                if errors > base_errors + policy.error_rate_margin:
                    reason = (
                        f"error rate {errors:.1%} over its last {n} requests vs {base_errors:.1%} for the primary "
                        f"(margin {policy.error_rate_margin:.1%})"
                    )
                elif base_n >= policy.min_requests and p95 > base_p95 + policy.p95_margin_ms:
                    reason = (
                        f"p95 latency {p95:.1f} ms over its last {n} requests vs {base_p95:.1f} ms for the primary "
                        f"(margin {policy.p95_margin_ms:.0f} ms)"
                    )
                else:
                    continue
                found.append((name, variant.name, reason))
        return found

    def preload(self) -> None:
        """Import MLflow in the background now, so the first deployment does not wait for it."""
        prepare = getattr(self._loader, "prepare", None)
        if callable(prepare):
            self._load_pool.submit(prepare)

    def close(self) -> None:
        for runtime in self._deployments.values():
            runtime.close()
        self._load_pool.shutdown(wait=False, cancel_futures=True)
        self._predict_pool.shutdown(wait=False, cancel_futures=True)

    # -- loading (worker threads)

    def _load(self, runtime: DeploymentRuntime, desired: DesiredDeployment) -> None:
        """Load and warm every variant of ``desired``, reusing versions already served (a weight change, a
        promote or a rollback loads nothing), then swap the new serving set in atomically."""
        generation = desired.generation
        step = "loading"
        try:
            if not runtime.step_started(generation, step):
                return  # superseded before we started
            if not desired.variants:
                raise ValueError("the deployment has no variants")
            current = runtime.active
            loaded: dict[str, tuple[ScoringModel, Any]] = {}
            sizes: dict[str, int] = {}
            messages: list[str] = []
            for variant in desired.variants:
                uri = variant.model_uri
                reused = current.find(uri) if current is not None else None
                if uri in loaded:
                    continue
                if reused is not None:
                    loaded[uri] = (reused.model, None)
                    served_uris = {v.variant.model_uri for v in current.variants} if current is not None else set()
                    sizes[uri] = runtime.size_bytes // max(1, len(served_uris))
                    messages.append(f"{uri} already loaded")
                    continue
                started = time.perf_counter()
                pyfunc = self._loader(uri)
                elapsed = time.perf_counter() - started
                self.metrics.load_seconds.labels(runtime.name, variant.name).observe(elapsed)
                if self.memory_budget is not None:
                    size = sizes[uri] = model_size_bytes(pyfunc)
                    if size > self.memory_budget:
                        raise ModelTooLarge(
                            f"{uri} needs about {size / MiB:.1f} MiB, more than the serving daemon's whole memory "
                            f"budget of {self.memory_budget // MiB} MiB. Raise serving_memory_budget_mb, or deploy "
                            "it isolated (its own process, outside the budget)."
                        )
                loaded[uri] = (ScoringModel.from_pyfunc(pyfunc), pyfunc)
                messages.append(f"loaded {uri} in {elapsed:.2f} s")
            runtime.step_done(generation, step, "; ".join(messages))
            step = "warming"
            if not runtime.step_started(generation, step):
                return
            warmed = [
                warm_up(model, getattr(pyfunc, "input_example", None))
                for model, pyfunc in loaded.values()
                if pyfunc is not None
            ]
            for uri, (model, pyfunc) in loaded.items():  # governance: parity gate, once per version and process
                if pyfunc is None:
                    continue
                if uri in self._passed_parity:
                    warmed.append(f"parity: {uri} passed when first loaded")
                    continue
                warmed.append(parity.check(model, pyfunc))
                self._passed_parity.add(uri)
            runtime.step_done(generation, step, "; ".join(warmed) or "already warm")
            config = DeploymentConfig.load(desired.config)
            serving = ServingSet(
                generation,
                tuple(
                    ServedVariant(
                        v,
                        loaded[v.model_uri][0],
                        self.batcher_for(runtime.name, v, loaded[v.model_uri][0], config),
                    )
                    for v in desired.variants
                ),
                dict(desired.config),
            )
            runtime.last_used = time.perf_counter()  # just loaded: the most recently used
            if runtime.activate(serving):
                runtime.size_bytes = sum(sizes.values())
                log.info("Deployment %s generation %s is ready", runtime.name, generation)
                self.enforce_budget(keep=runtime)
        except Exception as exc:
            message = describe_error(exc)
            log.warning("Deployment %s generation %s failed while %s: %s", runtime.name, generation, step, message)
            runtime.fail(generation, step, message)
        finally:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                    loop.call_soon_threadsafe(runtime.notify)


def warm_up(model: ScoringModel, input_example: Any) -> str:
    """Predict once on the model's saved input example, so the first request pays no lazy initialisation."""
    if input_example is None:
        return "no input example; skipped"
    started = time.perf_counter()
    model.predict(input_example, None)
    rows = getattr(input_example, "shape", None)
    size = f" ({rows[0]} rows)" if rows else ""
    return f"predicted on the input example{size} in {(time.perf_counter() - started) * 1000:.1f} ms"
