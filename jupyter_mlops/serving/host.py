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
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..core.deployments.config import DeploymentConfig
from ..core.errors import InvalidRequest, Unavailable
from ..core.models import (
    DeploymentState,
    RuntimeStatus,
    Variant,
    VariantRole,
)
from ..core.monitoring import baseline
from ..core.store import Store
from . import compiled, heap, parity
from .batching import MicroBatcher
from .loader import describe_error, model_size_bytes, release_memory
from .metrics import ServingMetrics
from .protocol import (
    ArrayPredict,
    Scored,
    ScoringInput,
    ScoringModel,
    parse_request,
    predict,
    predictions_to_json,
    score,
)
from .runtime import (
    DeploymentRuntime,
    DesiredDeployment,
    ServedVariant,
    ServingSet,
    read_desired,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_PENDING_RELOADS = 32  # reloads of evicted models queued at once; more get 503 + Retry-After
# Seconds between two returns of freed heap to the OS after evictions: malloc_trim walks the whole heap with the
# allocator's locks held, which stalls every thread that allocates (the event loop too) while evictions churn.
TRIM_INTERVAL = 2.0

Loader = Callable[[str], Any]
# Makes the runtime of a deployment whose settings say ``isolated`` (the daemon passes isolated.WorkerLaunch).
Spawner = Callable[["DesiredDeployment", str], "DeploymentRuntime"]


class LoadQueueFull(Unavailable):
    """Too many evicted models are being reloaded at once: answer 503 + Retry-After rather than queue forever."""

    code = "OVERLOADED"
    retry_after = "1"


class ModelTooLarge(InvalidRequest):
    """A model version needs more memory than one serving worker's share of the budget: it could never be served."""


# --- the host --------------------------------------------------------------------------------------------------


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
        workers: int = 1,
        compiled_dir: str | None = None,
    ) -> None:
        self.metrics = metrics or ServingMetrics()
        # Where compiled tree ensembles are cached (compiled.py); None: this host serves scikit-learn's predict only.
        self.compiled_dir = compiled_dir if compiled_dir and compiled.enabled() else None
        # The budget is the daemon's: each of its ``workers`` serving processes (every one loads every deployment)
        # keeps its models within an equal share, so together they stay within it. Beyond its share a worker evicts
        # the least recently used idle ones (None: no limit). Isolated deployments are outside it: their own
        # processes hold their models.
        self.workers = max(1, workers)
        self.daemon_budget = memory_budget_mb * MiB if memory_budget_mb else None
        self.memory_budget = self.daemon_budget // self.workers if self.daemon_budget else None
        self._budget_lock = threading.Lock()
        self._trimmed_at = 0.0  # monotonic time of the last release_memory
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
                share = self.memory_budget / MiB
                log.info("Evicted idle deployment %s (this worker's budget share: %.1f MiB)", runtime.name, share)
            self.metrics.loaded_bytes.set(total)
        if evicted:
            heap.thaw()  # the evicted models' reference cycles, if any, are for the collector to free
        now = time.monotonic()
        if evicted and now - self._trimmed_at >= TRIM_INTERVAL:
            self._trimmed_at = now
            release_memory()
        return evicted

    def _too_large(self, uri: str, size: int) -> str:
        """Why ``uri`` (``size`` bytes) cannot be served within the budget, with both sizes and what to change."""
        budget = self.daemon_budget or 0
        if self.workers == 1:
            within = f"more than the serving daemon's whole memory budget of {budget / MiB:.0f} MiB"
            raise_to = "Raise serving_memory_budget_mb"
        else:
            within = (
                f"more than one serving worker's share of the memory budget: the budget of {budget / MiB:.0f} MiB is "
                f"split over {self.workers} workers (each loads every deployment), {budget / self.workers / MiB:.1f} "
                "MiB each"
            )
            needed = -(-size * self.workers // MiB)  # ceil: the budget that would give one worker this model
            raise_to = f"Raise serving_memory_budget_mb to at least {needed}, lower serving_workers"
        return (
            f"{uri} needs about {size / MiB:.1f} MiB, {within}. {raise_to}, or deploy it isolated (its own "
            "process, outside the budget)."
        )

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
        if runtime.active is not None:
            heap.thaw()  # its models' reference cycles, if any, are for the collector to free
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

    def preload(self) -> Future[Any] | None:
        """Import MLflow in the background now, so the first deployment does not wait for it; the import's future
        (None when the loader has nothing to prepare)."""
        prepare = getattr(self._loader, "prepare", None)
        if callable(prepare):
            return self._load_pool.submit(prepare)
        return None

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
                        raise ModelTooLarge(self._too_large(uri, size))
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
                if current is not None and {v.variant.model_uri for v in current.variants} - loaded.keys():
                    heap.thaw()  # a model was replaced: its reference cycles, if any, are for the collector to free
                if not self.enforce_budget(keep=runtime):
                    heap.settle()  # the model (and what its flavor imported) lives until it is replaced or evicted
                for uri, (model, pyfunc) in loaded.items():
                    if pyfunc is not None and self.compiled_dir is not None:
                        self._load_pool.submit(self._compile, runtime.name, uri, model, pyfunc)
        except Exception as exc:
            message = describe_error(exc)
            log.warning("Deployment %s generation %s failed while %s: %s", runtime.name, generation, step, message)
            runtime.fail(generation, step, message)
        finally:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                    loop.call_soon_threadsafe(runtime.notify)

    def _compile(self, deployment: str, uri: str, model: ScoringModel, pyfunc: Any) -> None:
        """Swap a compiled predictor into ``model``'s fast path once it has passed the compiled parity gate (in the
        background: the deployment answers with scikit-learn meanwhile, and keeps doing so if it fails)."""
        fast = model.fast_predict
        if not isinstance(fast, ArrayPredict) or fast.compiled is not None or self.compiled_dir is None:
            return
        try:
            rows = gate_rows(pyfunc, model.fast_columns or ())
            outcome = compiled.compile_model(fast.estimator, Path(self.compiled_dir), rows)
        except Exception as exc:  # never let the background job take anything down
            outcome = compiled.Outcome(None, f"failed: {describe_error(exc)}")
        if outcome.model is not None:
            fast.compiled = outcome.model
            self.metrics.compiled.labels("served").inc()
            log.info("Deployment %s: %s answers with a compiled predictor (%s)", deployment, uri, outcome.detail)
        else:
            self.metrics.compiled.labels("kept").inc()
            log.info("Deployment %s: %s keeps scikit-learn's predict: %s", deployment, uri, outcome.detail)


def gate_rows(pyfunc: Any, columns: tuple[str, ...]) -> list[Any]:
    """The rows the compiled parity gate replays, as the fast path's float arrays: the input example and the
    stored training rows (the deployment's parity gate replays the same ones)."""
    import numpy as np

    rows = []
    sources = [getattr(pyfunc, "input_example", None)]
    sample = parity.load_sample(pyfunc)
    if sample is not None:
        sources.append(baseline.sample_input(sample))
    for frame in sources:
        if frame is None or not hasattr(frame, "columns") or not set(columns) <= set(frame.columns):
            continue
        try:
            rows.append(np.ascontiguousarray(frame[list(columns)].to_numpy(dtype=np.float64)))
        except (TypeError, ValueError):  # not all numbers: the fast path never sees such rows either
            continue
    return rows


def warm_up(model: ScoringModel, input_example: Any) -> str:
    """Predict once on the model's saved input example, so the first request pays no lazy initialisation."""
    if input_example is None:
        return "no input example; skipped"
    started = time.perf_counter()
    model.predict(input_example, None)
    rows = getattr(input_example, "shape", None)
    size = f" ({rows[0]} rows)" if rows else ""
    return f"predicted on the input example{size} in {(time.perf_counter() - started) * 1000:.1f} ms"
