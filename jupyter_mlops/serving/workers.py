"""Serving workers: N processes of one daemon accept on the one listening socket and behave as one daemon.

The supervisor binds the port once and starts ``serving_workers`` processes that inherit the socket (its file
descriptor number in ``$JUPYTER_MLOPS_SERVING_LISTEN_FD``); the kernel hands each new connection to whichever worker
accepts it first, so a busy worker takes fewer. Every worker hosts every deployment and reconciles the same desired
state from the store. Worker 0 is "the daemon" clients know: daemon.json names its pid, supervisor.json its
``child_pid``. Each worker also listens on a private loopback port, recorded in ``{data_dir}/serving/workers/
{index}.json``, where its siblings reach it with the admin token, so that the daemon answers as one process
whichever worker a request lands on:

- ``POST /admin/reconcile`` (and an automatic rollback) is applied by the worker that got it, then sent to every
  sibling before the answer, so a status read afterwards from any worker sees the new generation;
- a deployment's status is the least advanced of the workers' (an older generation, then failed, then still
  loading), so "ready" means ready in every worker and a swap is visible to every connection once it is;
- ``GET /metrics`` sums every worker's samples by name and labels (counters, histogram buckets, gauges such as
  queue depth and loaded bytes). A restarted worker starts its counters from zero, which Prometheus reads as a
  counter reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..core.deployments.config import DeploymentConfig
from ..core.models import DeploymentState, RuntimeStatus
from ..core.targets.daemon_state import pid_alive
from . import daemon_file
from .listen import INDEX_ENV, LISTEN_FD_ENV, SUPERVISOR_ENV, TOKEN_ENV
from .runtime import DeploymentRuntime, DesiredDeployment
from .supervisor import WORKER_COUNT_ENV

log = logging.getLogger(__name__)

SIBLING_HEADER = "X-MLOps-Sibling"  # set on calls between workers: answer for this worker alone
WORKER_HEADER = "X-MLOps-Worker"  # the index of the worker that answered a scoring request
SIBLING_TIMEOUT = 5.0
DIR_NAME = "workers"


class Seat(BaseModel):
    """Where one worker of this daemon is: its index, pid, private port, and the supervisor that started it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    index: int = 0
    pid: int = 0
    port: int = 0
    supervisor_pid: int | None = None
    listen_fd: int | None = None
    token: str | None = None
    workers: int = 1  # serving workers of this daemon: each holds 1/workers of the memory budget

    @classmethod
    def from_env(cls) -> Seat:
        """This process's seat, taken out of the environment (models and child processes never see the token)."""
        fd = os.environ.pop(LISTEN_FD_ENV, None)
        supervisor = os.environ.pop(SUPERVISOR_ENV, None)
        try:
            workers = max(1, int(os.environ.pop(WORKER_COUNT_ENV, "1") or 1))
        except ValueError:
            workers = 1
        return cls(
            index=int(os.environ.pop(INDEX_ENV, "0") or 0),
            pid=os.getpid(),
            supervisor_pid=int(supervisor) if supervisor else None,
            listen_fd=int(fd) if fd else None,
            token=os.environ.pop(TOKEN_ENV, None) or None,
            workers=workers,
        )

    @property
    def primary(self) -> bool:
        return self.index == 0


def seats_dir(data_dir: str | Path) -> Path:
    """The folder where each worker records its seat."""
    return daemon_file.serving_dir(data_dir) / DIR_NAME


def record(data_dir: str | Path, seat: Seat) -> Path:
    """Write this worker's seat (pid and private port; never the token) for its siblings to find."""
    path = seats_dir(data_dir) / f"{seat.index}.json"
    daemon_file.write(path, seat.model_copy(update={"token": None, "listen_fd": None}))
    return path


def read_seats(data_dir: str | Path, supervisor_pid: int | None = None) -> list[Seat]:
    """The live workers' seats (of ``supervisor_pid``'s daemon when given), by index."""
    seats = []
    folder = seats_dir(data_dir)
    with contextlib.suppress(OSError):
        for path in folder.glob("*.json"):
            try:
                seat = Seat.model_validate_json(path.read_bytes())
            except (OSError, ValidationError, ValueError):
                continue
            if supervisor_pid is not None and seat.supervisor_pid != supervisor_pid:
                continue
            if pid_alive(seat.pid):
                seats.append(seat)
    return sorted(seats, key=lambda s: s.index)


STANDBY_NAME = "standby"


def announce_standby(data_dir: str | Path) -> None:
    """Record that this process is the standby, its imports done (benchmarks wait for it before a kill)."""
    path = seats_dir(data_dir) / STANDBY_NAME
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(str(os.getpid()))


def standby_ready(data_dir: str | Path) -> int | None:
    """The pid of the ready standby of ``data_dir``'s daemon, if one is waiting."""
    try:
        pid = int((seats_dir(data_dir) / STANDBY_NAME).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"--standby" in cmdline else None


class Siblings:
    """The other workers of this daemon, reached on their private ports with the shared admin token."""

    def __init__(self, data_dir: str | Path, seat: Seat, token: str) -> None:
        self.data_dir = data_dir
        self.seat = seat
        self._headers = {"Authorization": f"Bearer {token}", SIBLING_HEADER: "1"}
        self._client: httpx.AsyncClient | None = None

    def others(self) -> list[Seat]:
        return [s for s in read_seats(self.data_dir, self.seat.supervisor_pid) if s.index != self.seat.index]

    def absent(self, answered: int) -> int:
        """How many of this daemon's other workers gave no status: not started yet (a daemon's workers start one
        after the other), restarting, or not answering. A deployment is ready only once every worker serves it:
        a deploy that returned while worker 1 was still importing showed "loading" to the next reader."""
        return max(0, self.seat.workers - 1 - answered)

    async def call(self, method: str, path: str, *, content: bytes | None = None,
                   headers: dict[str, str] | None = None) -> list[tuple[Seat, httpx.Response]]:  # fmt: skip
        """The same request sent to every sibling at once; those that do not answer are left out (logged)."""
        seats = self.others()
        if not seats:
            return []
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=SIBLING_TIMEOUT, trust_env=False)
        client = self._client

        async def one(seat: Seat) -> tuple[Seat, httpx.Response] | None:
            try:
                response = await client.request(
                    method, f"http://127.0.0.1:{seat.port}{path}", content=content,
                    headers={**self._headers, **(headers or {})},
                )  # fmt: skip
            except httpx.HTTPError as exc:
                log.warning("Serving worker %s (pid %s) did not answer %s %s: %s", seat.index, seat.pid, method,
                            path, type(exc).__name__)  # fmt: skip
                return None
            return seat, response

        answers = await asyncio.gather(*(one(seat) for seat in seats))
        return [answer for answer in answers if answer is not None]

    async def reconcile(self, name: str | None) -> None:
        """Tell every sibling to converge ``name`` (or everything) too."""
        import orjson

        await self.call("POST", "/admin/reconcile", content=orjson.dumps({"name": name} if name else {}))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


# --- isolated deployments: one process for the daemon, owned by worker 0 --------------------------------------------

FORWARDED_MESSAGE = "served by serving worker 0 (its own process)"
FORWARD_HEADERS = ("content-type", "inference-header-content-length", "accept", "authorization")


class ForwardedRuntime(DeploymentRuntime):
    """An isolated deployment in a worker other than 0: worker 0 runs its one process (as with a single worker), and
    this worker forwards its requests to worker 0's private port, which forwards them to that process."""

    isolated = True

    def __init__(self, desired: DesiredDeployment, url: str, data_dir: str | Path, supervisor_pid: int | None) -> None:
        super().__init__(desired, url)
        self.data_dir, self.supervisor_pid = data_dir, supervisor_pid
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64), trust_env=False
        )

    def status(self) -> RuntimeStatus:
        own = super().status()
        return own.model_copy(update={"state": DeploymentState.pending, "message": FORWARDED_MESSAGE})

    def serving(self) -> bool:
        return True

    def close(self) -> None:
        self.removed = True
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._client.aclose())

    async def forward(self, request: Request, body: bytes | None) -> Response:
        """``request`` as worker 0 answers it (503 + Retry-After at once while worker 0 is restarting)."""
        from .isolated import WorkerUnavailable, relay

        primary = next((s for s in read_seats(self.data_dir, self.supervisor_pid) if s.index == 0), None)
        if primary is None:
            raise WorkerUnavailable(f"Deployment {self.name!r} runs in its own process, which is restarting.")
        headers = {name: value for name in FORWARD_HEADERS if (value := request.headers.get(name)) is not None}
        timeout = httpx.Timeout(DeploymentConfig.load(self.desired.config).timeout_ms / 1000 + 5, connect=2)
        url = f"http://127.0.0.1:{primary.port}{request.url.path}"
        return await relay(self._client, self.name, request.method, url, body, headers, timeout)


# --- one daemon's answer out of N workers' ------------------------------------------------------------------------

_PROGRESS = {
    DeploymentState.failed: 0,
    DeploymentState.unknown: 1,
    DeploymentState.stopped: 1,
    DeploymentState.pending: 2,
    DeploymentState.resolving: 3,
    DeploymentState.loading: 4,
    DeploymentState.warming: 5,
    DeploymentState.ready: 6,
}


def least_advanced(statuses: Iterable[RuntimeStatus]) -> RuntimeStatus:
    """The status of a deployment across workers: an older generation first, then failed, then still loading; the
    first given among equals. A forwarding worker's status counts only when no other is known (worker 0's is it)."""
    return min(
        statuses,
        key=lambda s: (s.message == FORWARDED_MESSAGE, s.generation or 0, _PROGRESS.get(s.state, 1)),
    )


def missing_in_sibling(status: RuntimeStatus) -> RuntimeStatus:
    """What to show for a deployment one worker has not picked up yet: pending."""
    return status.model_copy(
        update={"state": DeploymentState.pending, "message": "not yet applied by every serving worker"}
    )


def merge_metrics(texts: Iterable[str]) -> bytes:
    """Prometheus text from several workers, as one: samples with the same name and labels summed."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                values[family.name] = {}
            sums = values[family.name]
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # a creation time: not additive (and not needed to read a counter)
                key = (sample.name, tuple(sorted(sample.labels.items())))
                sums[key] = sums.get(key, 0.0) + sample.value

    class _Merged:
        def collect(self) -> list[Metric]:
            out = []
            for name, family in families.items():
                for (sample_name, labels), value in values[name].items():
                    family.add_sample(sample_name, dict(labels), value)
                out.append(family)
            return out

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry)
