"""Run the serving daemon: bind, publish daemon.json, bring back every local deployment, serve until told to stop.

One process (uvicorn with uvloop and httptools when installed). The socket is bound before anything else so the
port is known (port 0 = a free one) and connections queue in the backlog until the app is up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from .. import __version__
from ..core.deployments.rollout import auto_rollback
from ..core.store import Store
from . import daemon_file
from .app import DEFAULT_MAX_REQUEST_BYTES, ServingContext, create_app
from .balance import ConnectionBalance
from .host import ModelHost
from .isolated import (
    WorkerHost,
    WorkerLaunch,
    announce_port,
    assign_routes,
    read_token,
    require_bearer,
    watch_parent,
)
from .listen import BIND_RETRY, DaemonError, bind, bind_persisted, check_host, is_loopback, port_holder
from .loader import LocalLoader, MLflowLoader
from .log_writer import WriterProcessLog, for_daemon, start_after
from .runtime import DeploymentRuntime, DesiredDeployment
from .supervisor import RestartPolicy
from .worker_log import RecordPipe
from .workers import ForwardedRuntime, Seat, Siblings, record, seats_dir

__all__ = ["BIND_RETRY", "DaemonError", "DaemonSettings", "bind", "bind_persisted", "is_loopback", "port_holder", "run"]

log = logging.getLogger(__name__)

WATCH_INTERVAL = 2.0  # seconds between checks that daemon.json still names this process
ROLLOUT_INTERVAL = 1.0  # seconds between automatic-rollback checks


@dataclass(frozen=True)
class DaemonSettings:
    """Everything the daemon is started with (from the command line, defaulting to MLOpsConfig)."""

    data_dir: Path
    store_url: str
    tracking_uri: str
    registry_uri: str
    host: str = "127.0.0.1"
    port: int = 0
    allow_remote: bool = False
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # Serve only this deployment, as the worker process of an isolated deployment (see isolated.py).
    worker_for: str | None = None
    # Serve only the deployments this user owns (a hub user's daemon; None: every local deployment).
    owner: str | None = None
    # Models loaded in this process stay within this many MiB (least-recently-used idle ones are unloaded).
    memory_budget_mb: int | None = None
    # A pre-started standby interpreter: wait for the supervisor to hand it a worker seat, then serve.
    standby: bool = False


ALLOWED_HOSTS_ENV = "JUPYTER_MLOPS_SERVING_ALLOWED_HOSTS"  # comma-separated extra Host header names


def allowed_hosts(settings: DaemonSettings) -> frozenset[str]:
    """Host header names answered besides loopback: the bound host and ``$JUPYTER_MLOPS_SERVING_ALLOWED_HOSTS``."""
    names = {h.strip() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()}
    if settings.host not in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard is not a Host header name
        names.add(settings.host)
    if settings.allow_remote:
        names.add(socket.gethostname())
    return frozenset(names)


def _url(sock: socket.socket) -> tuple[str, int, str]:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return host, port, f"http://{shown}:{port}"


def run(settings: DaemonSettings) -> int:
    """Serve until SIGTERM/SIGINT or ``POST /admin/shutdown``; returns the process exit code.

    Under the supervisor this process is one serving worker (see workers.py): it accepts on the socket the
    supervisor bound, worker 0 writes daemon.json, and every worker reaches its siblings on their private ports."""
    check_host(settings.host, settings.allow_remote)
    worker = settings.worker_for
    parent = os.getppid()  # a worker's daemon: it exits when that process is gone
    worker_token = read_token() if worker is not None else None  # from the daemon's pipe: never argv or environ
    if worker is not None and not worker_token:
        raise DaemonError("A worker reads its token from stdin (workers are started by the daemon).")
    seat = Seat.from_env() if worker is None else Seat(pid=os.getpid())
    private: socket.socket | None = None
    if worker is not None:
        sock = bind(settings.host, settings.port)  # a worker is reached through its daemon only
    elif seat.listen_fd is not None:
        sock = socket.socket(fileno=seat.listen_fd)  # the supervisor's socket, shared by every serving worker
        # Inherited fds are inheritable: without this, processes we spawn (uvloop does not close other fds) would
        # hold, and accept on, the daemon's port.
        sock.set_inheritable(False)
        private = bind("127.0.0.1", 0)  # where the sibling workers reach this one
    else:
        sock = bind_persisted(settings.host, settings.data_dir, settings.port)
    host, port, url = _url(sock)
    # An isolated deployment's worker runs user code: no store, no registry, no credential (see isolated.py). It
    # serves what its daemon hands it and sends its inference records back on the pipe that announced its port.
    records_fd = announce_port(port) if worker is not None else None
    store: Store | None = None
    model_host: ModelHost
    launch: WorkerLaunch | None = None
    if worker is not None:
        model_host = WorkerHost(worker, url, LocalLoader(), memory_budget_mb=settings.memory_budget_mb)
    else:
        # Child processes and lazily imported MLflow code read these, so every part of the daemon agrees.
        os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
        os.environ["MLFLOW_REGISTRY_URI"] = settings.registry_uri
        store = Store(settings.store_url)
        loader = MLflowLoader(
            settings.tracking_uri, settings.registry_uri, str(settings.data_dir / "serving" / "model-cache")
        )
        launch = WorkerLaunch(settings.max_request_bytes, RestartPolicy.from_env(), fetch=loader.local_copy)

        def forwarded(desired: DesiredDeployment, endpoint: str) -> DeploymentRuntime:
            """An isolated deployment in a worker other than 0: worker 0 runs its one process; this one forwards."""
            return ForwardedRuntime(desired, endpoint, settings.data_dir, seat.supervisor_pid)

        model_host = ModelHost(
            store,
            url,
            loader=loader,
            spawner=launch.runtime if seat.primary else forwarded,
            owner=settings.owner,
            memory_budget_mb=settings.memory_budget_mb,
            workers=seat.workers,  # the budget is the daemon's: each serving worker keeps its share
            compiled_dir=str(settings.data_dir / "serving" / "compiled"),
        )
    info = daemon_file.DaemonInfo(
        pid=os.getpid(),
        host=host,
        port=port,
        url=url,
        token=worker_token or seat.token or secrets.token_urlsafe(32),
        version=__version__,
        started_at=datetime.now(timezone.utc).isoformat(),
    )
    info_path = daemon_file.path_in(settings.data_dir)
    server: uvicorn.Server | None = None
    siblings = Siblings(settings.data_dir, seat, info.token) if private is not None else None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    def daemon_pid() -> int:
        """The pid clients know the daemon by: worker 0's (daemon.json), whichever worker answers."""
        if seat.primary:
            return info.pid
        named = daemon_file.read(info_path)
        return named.pid if named is not None else info.pid

    ctx = ServingContext(
        host=model_host,
        token=info.token,
        version=info.version,
        url=url,
        started_at=info.started_at,
        max_request_bytes=settings.max_request_bytes,
        request_shutdown=request_shutdown,
        siblings=siblings,
        worker_index=seat.index,
        daemon_pid=daemon_pid,
    )
    if private is not None and seat.workers > 1:
        ctx.balance = ConnectionBalance(
            seats_dir(settings.data_dir), seat.index, seat.workers,
            lambda: len(server.server_state.connections) if server is not None else 0,
        )  # fmt: skip
        model_host.metrics.rebalanced.set_function(lambda: float(ctx.balance.rebalanced if ctx.balance else 0))
    # monitoring: completed requests -> bounded buffer -> writer process -> store; the daemon's writer also runs
    # the alert scheduler (only worker 0's). An isolated deployment's worker hands its records to its daemon, which
    # records them as its own requests (metrics, rollout windows, inference log).
    inference_log: RecordPipe | WriterProcessLog
    if records_fd is not None:
        inference_log = RecordPipe(records_fd).start()
    else:
        assert store is not None
        inference_log = for_daemon(store.engine, alerts=seat.primary)  # started once MLflow is imported
    if launch is not None:
        launch.observers.append(ctx.completed)
    ctx.on_request.append(inference_log)
    model_host.metrics.log_lost.set_function(lambda: float(getattr(inference_log, "lost", 0)))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        prepared = model_host.preload()
        if isinstance(inference_log, WriterProcessLog):
            # The writer's imports would take a core from this worker's (and its siblings') MLflow import on a
            # cold start; no request is answered (so none logged) before a model loads, which needs that import.
            start_after(prepared, inference_log)
        if private is not None:
            record(settings.data_dir, seat.model_copy(update={"port": private.getsockname()[1]}))
        if worker is not None:
            log.info("Worker of deployment %s serving on %s (pid %s)", worker, url, info.pid)
            watch = watch_parent(parent, request_shutdown)
        elif seat.primary:
            daemon_file.write(info_path, info)
            log.info("Serving on %s (pid %s); discovery file %s", url, info.pid, info_path)
            watch = _watch_discovery_file(info_path, info.pid, request_shutdown)
        else:
            log.info("Serving worker %d on %s (pid %s)", seat.index, url, info.pid)
            watch = watch_parent(seat.supervisor_pid or parent, request_shutdown)  # the supervisor holds the port
        # Read the desired state before taking connections (loads then go on in the background, and a request for
        # a deployment still loading waits for it): a worker that replaces a killed one must not answer 404 for
        # deployments it has not read yet while its siblings could have answered.
        await _restore(model_host)
        tasks = [asyncio.create_task(watch)]
        if store is not None:  # a worker has no store: its daemon rolls canaries back
            tasks.append(asyncio.create_task(_watch_rollouts(model_host, siblings)))
        if ctx.balance is not None:
            tasks.append(asyncio.create_task(ctx.balance.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if seat.primary and worker is None:
                daemon_file.remove_if_owned(info_path, info.pid)
            if siblings is not None:
                await siblings.close()
            if ctx.balance is not None:
                ctx.balance.close()
            model_host.close()
            await asyncio.to_thread(inference_log.close)
            if store is not None:
                store.close()
            log.info("Stopped")

    extra = assign_routes(model_host) if isinstance(model_host, WorkerHost) else []
    app = create_app(ctx, lifespan=lifespan, allowed_hosts=allowed_hosts(settings), extra_routes=extra)
    config = uvicorn.Config(
        app if worker_token is None else require_bearer(app, worker_token),
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        lifespan="on",
        access_log=False,  # the hot path does not log per request
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock] if private is None else [sock, private])
    finally:
        sock.close()
        if private is not None:
            private.close()
    return 0


async def _restore(model_host: ModelHost) -> None:
    """Bring back every local deployment from the Store (the daemon may be a restart)."""
    try:
        statuses = await model_host.reconcile()
        log.info("Restoring %d deployment(s) from the store", len(statuses))
    except Exception:
        log.exception("Could not read deployments from the store; POST /admin/reconcile retries")


async def _watch_rollouts(model_host: ModelHost, siblings: Siblings | None = None) -> None:
    """Automatic rollback: once a second, set canaries that do worse than their primary to weight 0 (in the
    store, with an event saying why) and converge. Store errors are logged and retried on the next tick."""
    while True:
        await asyncio.sleep(ROLLOUT_INTERVAL)
        for name, variant, reason in model_host.canaries_to_roll_back():
            try:
                changed = await asyncio.to_thread(auto_rollback, model_host.store, name, variant, reason)
                if changed:
                    log.warning("Auto-rollback of %s canary %s: %s", name, variant, reason)
                    await asyncio.to_thread(_audit_auto_rollback, model_host.store, name, variant, reason)
                    model_host.metrics.auto_rollbacks.labels(name, variant).inc()
                    await model_host.reconcile(name)
                    if siblings is not None:  # every worker serves the new weights, not only this one
                        await siblings.reconcile(name)
            except Exception:
                log.exception("Auto-rollback of %s failed; retrying", name)


def _audit_auto_rollback(store: Store, name: str, variant: str, reason: str) -> None:
    """An automatic rollback is a ledger entry too (actor ``auto-rollback``, with its reason) for auditors."""
    from ..core.governance.audit import AuditLedger

    record = store.get_deployment(name)
    after = {"variants": [{"name": v.name, "version": v.model_version, "weight": v.weight} for v in record.variants]}
    AuditLedger(store).record(
        "auto_rollback", "auto-rollback", record.owner, f"deployment/{name}", {"variant": variant}, after, detail=reason
    )


async def _watch_discovery_file(path: Path, pid: int, request_shutdown: Callable[[], None]) -> None:
    """Exit when daemon.json no longer names us (data dir deleted, or another daemon took over): no client can
    find this process any more, so it would only hold memory and a port forever."""
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        info = await asyncio.to_thread(daemon_file.read, path)
        if info is None or info.pid != pid:
            log.warning("%s no longer names this daemon (pid %s); shutting down", path, pid)
            request_shutdown()
            return
