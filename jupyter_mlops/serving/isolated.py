"""Isolated deployments: a deployment served by a worker process of its own, started and supervised by the daemon.

``deploy(..., isolated=True)`` keeps the deployment's public routes on the daemon (``/deployments/NAME/...``, the
V2 routes, the Jupyter proxy route); the daemon forwards them to the worker, a daemon process started with
``--worker NAME`` that serves only that deployment on a free 127.0.0.1 port and answers only requests bearing its
own token. A model that crashes its process (a native library, memory) then takes down only itself.

The worker is the same program as the daemon (same loading, warm-up, batching, limits), so an isolated deployment
answers exactly as an in-process one. Readiness is the worker's: loaded and warmed. When the worker dies, requests
fail at once with 503 + Retry-After and it is restarted with backoff (``supervisor.py``); too many crashes in a row
are a crash loop, shown as the deployment's failed status until it is deployed again.

The worker runs user code, so it holds no credential and opens no store: its command line names only the
deployment, its environment is an allow-list (``worker_environment``), and its bearer token comes in the
environment and is removed from it before any model loads. The daemon (which has the credentials) resolves and
downloads the model versions into its model cache and hands the worker the desired state and the local paths over
the worker's authenticated admin API (``POST /admin/assign``); the worker loads them with MLflow from those paths.
Its completed requests go back to the daemon over a pipe in a format decoded without running code
(``worker_log.py``), and the daemon records them as its own: metrics, automatic-rollback windows, inference log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ENV_PREFIX
from ..core.deployments.config import DeploymentConfig
from ..core.errors import InvalidRequest, Unavailable
from ..core.models import DeploymentState, RuntimeStatus, Variant
from ..core.store import Store
from .host import ModelHost
from .loader import LocalLoader, describe_error
from .protocol import ScoringModel
from .records import RequestRecord
from .runtime import DeploymentRuntime, DesiredDeployment, ServedVariant, ServingSet
from .supervisor import Backoff, RestartPolicy
from .worker_log import MAX_FRAME_BYTES, BadRecord, decode_record

log = logging.getLogger(__name__)

# The worker's bearer token travels on its stdin (one line, then end of input): never argv (/proc/PID/cmdline is
# readable by every local user) nor the environment (/proc/PID/environ keeps the initial environment for good).
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


RecordObserver = Callable[[DeploymentRuntime, RequestRecord], None]


@dataclass
class WorkerLaunch:
    """How the daemon starts workers: no store, registry or credential on their command line or in their environment.

    ``fetch`` (the daemon's ``MLflowLoader.local_copy``) turns a model URI into a local folder of its artifacts;
    ``observers`` (the daemon's ``ServingContext.completed``) record the requests a worker answered."""

    max_request_bytes: int
    policy: RestartPolicy
    fetch: Callable[[str], str]
    observers: list[RecordObserver] = field(default_factory=list)

    def command(self, name: str) -> list[str]:
        """The worker's argv (readable by every local user in /proc): the deployment's name and listening limits."""
        return [
            sys.executable, "-m", "jupyter_mlops.serving", "--worker", name,
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
        self._assigning = asyncio.Lock()  # one hand-over at a time, each sending the latest desired state
        self._bad_records = 0
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
            self._spawn(self._assign(self.base_url))
        # else: a worker being (re)started is handed the desired state once it listens

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
                    stdin=asyncio.subprocess.PIPE,  # its token, then end of input
                    stdout=asyncio.subprocess.PIPE,  # one line: the port; then its inference records
                    env=worker_environment(),
                )
                assert process.stdin is not None
                process.stdin.write(self.token.encode() + b"\n")
                with contextlib.suppress(ConnectionError):
                    await process.stdin.drain()
                process.stdin.close()
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
            assert process.stdout is not None
            self._spawn(self._read_records(process.stdout))  # ends with the process (end of the pipe)
            poller = self._spawn(self._poll(self.base_url))
            self._spawn(self._assign(self.base_url))
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
            self._route_view(status.generation)

    def _route_view(self, generation: int | None) -> None:
        """What the worker serves, without its models: the daemon routes nothing with it (requests are forwarded)
        but judges canaries on it (automatic rollback reads ``active``'s variants, settings and the windows the
        worker's records fill)."""
        desired, current = self.desired, self.active
        if generation != desired.generation or (current is not None and current.generation == generation):
            return
        variants = tuple(ServedVariant(v, cast(ScoringModel, None)) for v in desired.variants)
        self.active = ServingSet(desired.generation, variants, dict(desired.config))
        self.windows = {}  # a new generation is judged on its own requests

    async def _assign(self, base: str) -> None:
        """Hand the worker the desired state: the daemon downloads the versions (it has the registry's credentials)
        and tells the worker where their artifacts are; the worker never reaches the registry or the store."""
        async with self._assigning:
            desired = self.desired
            if base != self.base_url or self.removed:
                return
            try:
                paths = {}
                for uri in dict.fromkeys(v.model_uri for v in desired.variants):
                    paths[uri] = await asyncio.to_thread(self.launch.fetch, uri)
            except Exception as exc:
                message = f"could not fetch the model for its worker: {describe_error(exc)}"
                log.warning("Deployment %s generation %s: %s", self.name, desired.generation, message)
                self.fail(desired.generation, "loading", message)
                return
            body = {"desired": desired_to_json(desired), "paths": paths}
            for attempt in range(3):
                try:
                    answer = await self._client.post(f"{base}/admin/assign", json=body, timeout=30.0)
                    answer.raise_for_status()
                    statuses = answer.json().get("deployments", [])
                    if statuses:
                        self._observe(base, RuntimeStatus.model_validate(statuses[0]))
                    return
                except (httpx.HTTPError, ValueError) as exc:
                    if base != self.base_url or attempt == 2:
                        log.warning("Could not hand deployment %s to its worker (%s)", self.name, exc)
                        return
                    await asyncio.sleep(1.0)

    async def _read_records(self, stream: asyncio.StreamReader) -> None:
        """Record the requests the worker answered (its stdout after the port line) until the pipe ends. The worker
        is not trusted: frames are bounded and checked, and logged under this deployment whatever they say."""
        while True:
            try:
                size = int.from_bytes(await stream.readexactly(4), "little")
                if size > MAX_FRAME_BYTES:
                    raise BadRecord(f"a frame of {size} bytes")
                body = await stream.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except BadRecord as exc:
                log.warning("Worker of %s wrote %s; its records are no longer read", self.name, exc)
                await _drain(stream)
                return
            try:
                record = decode_record(body, self.name)
            except BadRecord as exc:
                self._bad_records += 1
                if self._bad_records in (1, 10, 100, 1000):
                    log.warning("Worker of %s: unreadable record (%s; %d so far)", self.name, exc, self._bad_records)
                continue
            for observer in self.launch.observers:
                observer(self, record)


# What a worker inherits from its daemon: an allow-list, never a copy of the daemon's environment. The daemon of the
# MLOps service runs with the store's password, the MLflow credentials, the checkpoint key's location and the hub's
# tokens in its environment; the worker runs user code (the model), which must see none of them.
WORKER_ENV_ALLOWED = frozenset(
    {
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "PYTHONPATH", "PYTHONHASHSEED",
        "VIRTUAL_ENV", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
        "MLFLOW_ENABLE_ASYNC_LOGGING", "MLOPS_HUB_TEST",
    }
)  # fmt: skip
# Prefixes never passed even if a name above matched a pattern one day (belt and braces for the review).
WORKER_ENV_REFUSED = ("JUPYTERHUB_", "MLFLOW_TRACKING_", "AWS_", "AZURE_", "GOOGLE_", "PG")


# Our own settings a worker reads (serving tunables); none other reaches it (the data dir, roles, grants, ... are
# the daemon's business).
WORKER_SETTINGS_ALLOWED = frozenset(
    ENV_PREFIX + name
    for name in ("SERVING_ALLOWED_HOSTS", "SERVING_MAX_REQUEST_BYTES", "PARITY_TOLERANCE", "PARITY_SAMPLE_ROWS")
)
# Never, even if a name above matched one day (belt and braces for the review).
WORKER_SETTINGS_REFUSED = frozenset(
    ENV_PREFIX + name for name in ("STORE_URL", "AUDIT_KEY_FILE", "AUDIT_CHECKPOINT_DIR", "TRACKING_URI",
                                   "REGISTRY_URI", "HUB_MAX_UPLOAD_MB")
)  # fmt: skip


SECRET_WORDS = ("STORE", "URL", "URI", "TOKEN", "PASSWORD", "SECRET", "KEY", "AUDIT", "CHECKPOINT", "CREDENTIAL")


def _passes(name: str) -> bool:
    if name.startswith(WORKER_ENV_REFUSED) or name in WORKER_SETTINGS_REFUSED:
        return False
    if name.startswith(ENV_PREFIX):
        return name in WORKER_SETTINGS_ALLOWED and not any(word in name[len(ENV_PREFIX) :] for word in SECRET_WORDS)
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


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read and discard the rest of a stream (a worker writing what it should not must not block on its pipe)."""
    while await stream.read(1 << 16):
        pass


def desired_to_json(desired: DesiredDeployment) -> dict[str, Any]:
    """A deployment's desired state as the daemon hands it to its worker."""
    return {
        "name": desired.name,
        "generation": desired.generation,
        "variants": [v.model_dump(mode="json") for v in desired.variants],
        "config": desired.config,
    }


def desired_from_json(data: Any) -> DesiredDeployment:
    """The desired state a daemon handed over; InvalidRequest (400) for anything else."""
    try:
        if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
            raise TypeError
        return DesiredDeployment(
            name=str(data["name"]),
            generation=int(data["generation"]),
            variants=tuple(Variant.model_validate(v) for v in data["variants"]),
            config=dict(data.get("config") or {}),
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        raise InvalidRequest(
            "'desired' must be {name, generation, variants: [Variant], config} as the daemon sends it."
        ) from None


async def _reap(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


# --- the worker's side -----------------------------------------------------------------------------------------


def read_token() -> str:
    """The worker's bearer token, from the first line of stdin (its daemon writes it there and closes the pipe)."""
    token = sys.stdin.readline().strip()
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, sys.stdin.fileno())  # nothing else comes from the daemon this way
        os.close(devnull)
    return token


def announce_port(port: int) -> int:
    """Tell the daemon our port (first stdout line); returns a private descriptor of that pipe for the inference
    records (``worker_log.RecordPipe``, not inherited by child processes), and sends stdout to stderr (the daemon's
    log) so that nothing printed later mixes with the records."""
    sys.stdout.write(orjson.dumps({"port": port}).decode() + "\n")
    sys.stdout.flush()
    records = os.dup(sys.stdout.fileno())  # non-inheritable, as every descriptor Python creates
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return records


class NoTokens:
    """The token cache of a worker (``auth.cache_of`` finds it on the host): every deployment is open here because
    only the daemon can call the worker (``require_bearer``), and it checked the caller's token before forwarding.
    The worker has no store to read tokens from."""

    async def get(self, name: str, generation: int | None, *, recheck: bool = False) -> None:
        """No token is required by the worker itself."""
        return None

    def invalidate(self, name: str | None = None) -> None:
        """Nothing is cached."""


class WorkerHost(ModelHost):
    """The model host of an isolated worker: its one deployment's desired state and the local paths of its models
    come from the daemon (``POST /admin/assign``), never from a store or a registry (it has neither)."""

    def __init__(self, name: str, base_url: str, loader: LocalLoader, memory_budget_mb: int | None = None) -> None:
        super().__init__(cast(Store, None), base_url, loader=loader, only=name, memory_budget_mb=memory_budget_mb)
        self.local_loader = loader
        self.assigned: DesiredDeployment | None = None
        self._mlops_token_cache = NoTokens()  # read by auth.cache_of

    async def reconcile(self, name: str | None = None) -> list[RuntimeStatus]:
        """Converge onto the last state the daemon handed over (nothing until it has)."""
        only = cast(str, self.only)
        if name not in (None, only):
            return []
        self._loop = asyncio.get_running_loop()
        if self.assigned is not None:
            self.converge({only: self.assigned}, [only])
        runtime = self.get(only)
        return [runtime.status()] if runtime is not None else []

    async def assign(self, desired: DesiredDeployment, paths: dict[str, str]) -> list[RuntimeStatus]:
        """Take a new desired state from the daemon (an older generation than the one held is ignored)."""
        if desired.name != self.only:
            raise InvalidRequest(f"This worker serves deployment {self.only!r}, not {desired.name!r}.")
        if self.assigned is None or desired.generation >= self.assigned.generation:
            self.local_loader.paths.update(paths)
            self.assigned = desired
        return await self.reconcile(desired.name)


def assign_routes(host: WorkerHost) -> list[BaseRoute]:
    """``POST /admin/assign {"desired": ..., "paths": {model_uri: folder}}``: the daemon hands its worker what to
    serve (the whole worker app requires the daemon's bearer token, ``require_bearer``)."""

    async def assign(request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidRequest('The body must be JSON: {"desired": {...}, "paths": {...}}.') from None
        paths = payload.get("paths") if isinstance(payload, dict) else None
        if not isinstance(paths, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items()):
            raise InvalidRequest("'paths' must map model URIs to local folders (strings).")
        statuses = await host.assign(desired_from_json(payload.get("desired")), paths)
        content = orjson.dumps({"deployments": [s.model_dump(mode="json") for s in statuses]})
        return Response(content, status_code=202, media_type="application/json")

    return [Route("/admin/assign", assign, methods=["POST"])]


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
