"""Isolated deployments: a deployment served by a worker process of its own, started and supervised by the daemon.

``deploy(..., isolated=True)`` keeps the deployment's public routes on the daemon (``/deployments/NAME/...``, the
V2 routes, the Jupyter proxy route); the daemon forwards them to the worker, a daemon process started with
``--worker NAME`` that serves only that deployment on a free 127.0.0.1 port and answers only requests bearing its
own token. A model that crashes its process (a native library, memory) then takes down only itself.

The worker is the same program as the daemon (same loading, warm-up, batching, limits, inference log), so an
isolated deployment answers exactly as an in-process one. Readiness is the worker's: loaded and warmed. When the
worker dies, requests fail at once with 503 + Retry-After and it is restarted with backoff (``supervisor.py``);
too many crashes in a row are a crash loop, shown as the deployment's failed status until it is deployed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ENV_PREFIX
from ..core.deployments.config import DeploymentConfig
from ..core.errors import Unavailable
from ..core.models import DeploymentState, RuntimeStatus
from .runtime import DeploymentRuntime, DesiredDeployment
from .supervisor import Backoff, RestartPolicy

log = logging.getLogger(__name__)

WORKER_TOKEN_ENV = ENV_PREFIX + "WORKER_TOKEN"  # the environment, not argv: other local users can read argv
START_TIMEOUT = 60.0  # seconds for a worker to bind and announce its port
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL when a worker is stopped
PARENT_CHECK_INTERVAL = 1.0
POLL_BUSY, POLL_IDLE = 0.1, 1.0  # status polling while a generation is being applied / once it is settled
# Request headers the worker needs; its own token replaces the caller's Authorization (checked by the daemon).
FORWARDED = ("content-type", "inference-header-content-length", "accept")
HOP_BY_HOP = frozenset({"content-length", "connection", "keep-alive", "transfer-encoding", "date", "server"})


class WorkerUnavailable(Unavailable):
    """The isolated deployment's worker process is not running (starting, restarting, or crash-looping)."""

    code = "WORKER_UNAVAILABLE"
    retry_after = "1"


async def relay(
    client: httpx.AsyncClient,
    name: str,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float | httpx.Timeout,
) -> Response:
    """Send a request to the process serving deployment ``name`` and return its answer as is (hop-by-hop headers
    dropped); a process that is down or dies mid-request gives 503 + Retry-After at once, never a hang."""
    try:
        answer = await client.request(method, url, content=body, headers=headers, timeout=timeout)
    except httpx.TransportError as exc:
        raise WorkerUnavailable(
            f"Deployment {name!r} runs in its own process, which did not answer ({type(exc).__name__}); "
            "it is restarted automatically."
        ) from None
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
    return Response(answer.content, status_code=answer.status_code, headers=kept)


@dataclass(frozen=True)
class WorkerLaunch:
    """How the daemon starts workers: with its own settings, so they read the same store and registry."""

    data_dir: str
    store_url: str
    tracking_uri: str
    registry_uri: str
    max_request_bytes: int
    policy: RestartPolicy

    def command(self, name: str) -> list[str]:
        return [
            sys.executable, "-m", "jupyter_mlops.serving", "--worker", name,
            "--data-dir", self.data_dir, "--store-url", self.store_url,
            "--tracking-uri", self.tracking_uri, "--registry-uri", self.registry_uri,
            "--host", "127.0.0.1", "--port", "0", "--max-request-bytes", str(self.max_request_bytes),
        ]  # fmt: skip

    def runtime(self, desired: DesiredDeployment, url: str) -> IsolatedRuntime:
        """The spawner ``ModelHost`` calls for a deployment whose settings say ``isolated``."""
        return IsolatedRuntime(desired, url, self)


class IsolatedRuntime(DeploymentRuntime):
    """A deployment whose requests are forwarded to its worker process, which this object starts and restarts.

    Created on the daemon's event loop (by ``ModelHost.converge``). The status is the worker's own (polled from
    its admin API) once it describes the wanted generation; before that, or while the worker is down, it is this
    runtime's own status with a message saying what the worker is doing.
    """

    isolated = True

    def __init__(self, desired: DesiredDeployment, url: str, launch: WorkerLaunch) -> None:
        super().__init__(desired, url)
        self.launch = launch
        self.token = secrets.token_urlsafe(32)
        self.backoff = Backoff(launch.policy)
        self.process: asyncio.subprocess.Process | None = None
        self.base_url: str | None = None  # the worker's address once it listens
        self.live_url: str | None = None  # the same once it has served (ready once): requests go there
        self.observed: RuntimeStatus | None = None
        self.note = "starting its own worker process"
        self._timeout = _timeout_for(desired)
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {self.token}"},
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            trust_env=False,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._supervisor = self._spawn(self._supervise())

    # -- DeploymentRuntime

    def status(self) -> RuntimeStatus:
        observed = self.observed
        if (
            observed is not None and self.base_url is not None and not self.backoff.crash_loop
            and (observed.generation or 0) >= self.desired.generation  # the worker may be ahead (auto-rollback)
        ):  # fmt: skip
            pid = self.process.pid if self.process is not None else None
            message = f"{observed.message or observed.state.value} (own process, pid {pid})"
            return observed.model_copy(update={"url": self.url, "message": message})
        own = super().status()
        if own.state == DeploymentState.failed:  # a crash loop: its message says so
            return own
        return own.model_copy(update={"message": self.note})

    @property
    def state(self) -> DeploymentState:
        return self.status().state

    def serving(self) -> bool:
        return self.live_url is not None

    def needs_load(self, desired: DesiredDeployment) -> bool:
        """As in-process, and also when the worker reports a failed load (it retries when told to converge)."""
        observed = self.observed
        return super().needs_load(desired) or (observed is not None and observed.state == DeploymentState.failed)

    def begin(self, desired: DesiredDeployment) -> None:
        """Apply a new generation: tell the worker to converge, or start it again after a crash loop."""
        super().begin(desired)
        self._timeout = _timeout_for(desired)
        if self._supervisor.done():  # it had given up (crash loop): deploying again is the signal to retry
            self.backoff.reset()
            self._supervisor = self._spawn(self._supervise())
        elif self.base_url is not None:
            self._spawn(self._reconcile(self.base_url))
        # else: a worker being (re)started reads the desired state from the store when it comes up

    def close(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``); the supervisor loop then ends."""
        self.removed = True
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            self._spawn(_reap(process))
        self._spawn(self._client.aclose())

    # -- the data plane

    async def forward(self, request: Request, body: bytes | None) -> Response:
        """Send ``request`` (body already read and size-checked) to the worker; its answer is returned as is.
        A worker that is down, or dies mid-request, gives 503 + Retry-After at once (never a hang)."""
        base = self.live_url  # a worker still loading would answer 404: say 503 + Retry-After instead
        if base is None:
            reason = self.status().message if self.backoff.crash_loop else self.note
            raise WorkerUnavailable(f"Deployment {self.name!r} runs in its own process, which is not ready: {reason}")
        headers = {name: value for name in FORWARDED if (value := request.headers.get(name)) is not None}
        url = base + request.url.path
        return await relay(self._client, self.name, request.method, url, body, headers, self._timeout)

    # -- the worker process (event loop)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until done (the loop holds tasks weakly)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _supervise(self) -> None:
        """Run the worker; restart it with backoff when it exits, until removed or crash-looping."""
        while not self.removed:
            self.note = "starting its own worker process"
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.launch.command(self.name),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,  # one line: the port; then the worker logs to stderr
                    env={**worker_environment(), WORKER_TOKEN_ENV: self.token},
                )
            except OSError as exc:
                log.error("Cannot start the worker of %s: %s", self.name, exc)
                code = -1
            else:
                self.process = process
                self.backoff.started()
                code = await self._run(process)
                self.process = None
            if self.removed:
                return
            delay = self.backoff.exited(code)
            if delay is None:
                message = self.backoff.describe(f"the worker process of deployment {self.name!r}")
                log.error("%s", message)
                self.fail(self.desired.generation, "loading", message)
                return
            self.note = f"restarting (it exited with code {code}; restart {self.backoff.restarts} in {delay:.1f} s)"
            log.warning("Worker of %s exited with code %s; restarting in %.1f s", self.name, code, delay)
            await asyncio.sleep(delay)

    async def _run(self, process: asyncio.subprocess.Process) -> int:
        """Wait for the worker's port, watch its status while it runs; its exit code."""
        port = await _read_port(process)
        poller = None
        if port is not None and not self.removed:
            self.base_url = f"http://127.0.0.1:{port}"
            self.note = f"starting (pid {process.pid})"
            poller = self._spawn(self._poll(self.base_url))
        elif process.returncode is None:
            process.kill()  # no usable port (or removed meanwhile): this process can never serve
        try:
            return await process.wait()
        finally:
            self.base_url = self.live_url = self.observed = None
            if poller is not None:
                poller.cancel()

    async def _poll(self, base: str) -> None:
        """Keep ``observed`` current: often while a generation is being applied, rarely once it is settled."""
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = await self._client.get(f"{base}/admin/deployments/{self.name}", timeout=5.0)
                if answer.status_code == 200:
                    self._observe(base, RuntimeStatus.model_validate(answer.json()))
            observed = self.observed
            settled = (
                observed is not None and observed.generation == self.desired.generation
                and observed.state in (DeploymentState.ready, DeploymentState.failed)
            )  # fmt: skip
            await asyncio.sleep(POLL_IDLE if settled else POLL_BUSY)

    def _observe(self, base: str, status: RuntimeStatus) -> None:
        if base != self.base_url:
            return  # a late answer from a worker that has exited since
        self.observed = status
        if status.state == DeploymentState.ready:
            self.live_url = base

    async def _reconcile(self, base: str) -> None:
        try:
            answer = await self._client.post(f"{base}/admin/reconcile", json={"name": self.name}, timeout=10.0)
            statuses = answer.json().get("deployments", [])
            if statuses:
                self._observe(base, RuntimeStatus.model_validate(statuses[0]))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("Could not tell the worker of %s to converge (%s); it will on restart", self.name, exc)


# What a worker inherits from its daemon: an allow-list, never a copy of the daemon's environment. The daemon of the
# MLOps service runs with the store's password, the MLflow credentials, the checkpoint key's location and the hub's
# tokens in its environment; the worker runs user code (the model), which must see none of them.
WORKER_ENV_ALLOWED = frozenset(
    {
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "PYTHONPATH", "PYTHONHASHSEED",
        "VIRTUAL_ENV", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
        "MLFLOW_ENABLE_ASYNC_LOGGING", "MLOPS_HUB_TEST", ENV_PREFIX + "SERVING_ALLOWED_HOSTS",
    }
)  # fmt: skip
# Prefixes never passed even if a name above matched a pattern one day (belt and braces for the review).
WORKER_ENV_REFUSED = ("JUPYTERHUB_", "MLFLOW_TRACKING_", "AWS_", "AZURE_", "GOOGLE_", "PG")


# Our own settings reach the worker (serving tunables), except those naming a credential or a private file.
WORKER_SETTINGS_REFUSED = frozenset(
    ENV_PREFIX + name for name in ("STORE_URL", "AUDIT_KEY_FILE", "AUDIT_CHECKPOINT_DIR", "TRACKING_URI",
                                   "REGISTRY_URI", "HUB_MAX_UPLOAD_MB")
)  # fmt: skip


SECRET_WORDS = ("STORE", "URL", "URI", "TOKEN", "PASSWORD", "SECRET", "KEY", "AUDIT", "CHECKPOINT", "CREDENTIAL")


def _passes(name: str) -> bool:
    if name.startswith(WORKER_ENV_REFUSED) or name in WORKER_SETTINGS_REFUSED:
        return False
    if name.startswith(ENV_PREFIX):
        return not any(word in name[len(ENV_PREFIX) :] for word in SECRET_WORDS)
    return name in WORKER_ENV_ALLOWED


def worker_environment(source: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a worker starts with: the allow-listed variables of ``source`` (the daemon's), no secret."""
    env = dict(os.environ if source is None else source)
    return {k: v for k, v in env.items() if _passes(k)}


def _timeout_for(desired: DesiredDeployment) -> httpx.Timeout:
    """The worker answers 504 itself after the deployment's timeout; allow that answer a little longer."""
    seconds = DeploymentConfig.load(desired.config).timeout_ms / 1000 + 5.0
    return httpx.Timeout(seconds, connect=1.0)


async def _read_port(process: asyncio.subprocess.Process) -> int | None:
    """The port the worker announces on its first stdout line (``{"port": N}``); None if it never does."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        port = orjson.loads(line).get("port")
    except (asyncio.TimeoutError, orjson.JSONDecodeError, AttributeError):
        return None
    return port if isinstance(port, int) else None


async def _reap(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


# --- the worker's side -----------------------------------------------------------------------------------------


def announce_port(port: int) -> None:
    """Tell the daemon our port (first stdout line), then send stdout to stderr (the daemon's log) so the pipe
    closes and nothing printed later can block on it."""
    sys.stdout.write(orjson.dumps({"port": port}).decode() + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def require_bearer(app: ASGIApp, token: str) -> ASGIApp:
    """Wrap the worker's app: every HTTP request must carry the worker's token (only its daemon has it)."""
    expected = f"Bearer {token}".encode()
    refusal = orjson.dumps({"error_code": "UNAUTHENTICATED", "message": "This worker answers only its daemon."})

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = next((value for key, value in scope["headers"] if key == b"authorization"), b"")
            if not secrets.compare_digest(given, expected):
                await Response(refusal, status_code=401, media_type="application/json")(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


async def watch_parent(parent: int, request_shutdown: Callable[[], None]) -> None:
    """Exit when the daemon that started us is gone (even killed with -9): nobody forwards to us any more."""
    while True:
        await asyncio.sleep(PARENT_CHECK_INTERVAL)
        if os.getppid() != parent:
            log.warning("The serving daemon (pid %s) is gone; the worker shuts down", parent)
            request_shutdown()
            return
