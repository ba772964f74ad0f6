"""What the daemon serves, as data: the desired state read from the store, and each deployment's runtime (the
serving set answering now, the generation being applied, its steps and status, the windows automatic rollback
reads).

``host`` decides when to load, swap and evict; this module holds the state those decisions act on.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import select

from ..core.deployments.config import DeploymentConfig
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
from .batching import MicroBatcher
from .protocol import ScoringModel
from .traffic import TrafficSplit

IDLE_MESSAGE = "idle (unloaded)"
TARGET = "local"


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
