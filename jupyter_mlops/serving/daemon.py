"""Run the serving daemon: bind, publish daemon.json, bring back every local deployment, serve until told to stop.

One process (uvicorn with uvloop and httptools when installed). The socket is bound before anything else so the
port is known (port 0 = a free one) and connections queue in the backlog until the app is up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
import socket
import time
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
from .host import ModelHost
from .isolated import WORKER_TOKEN_ENV, WorkerLaunch, announce_port, require_bearer, watch_parent
from .loader import MLflowLoader
from .log_writer import start_for_daemon
from .supervisor import RestartPolicy

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


class DaemonError(Exception):
    """The daemon cannot start (non-loopback host without permission, port in use)."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; port 0 lets the OS choose a free port."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    return sock


BIND_RETRY = 5.0  # seconds a persisted port is retried while its holder (e.g. a daemon shutting down) exits
ALLOWED_HOSTS_ENV = "JUPYTER_MLOPS_SERVING_ALLOWED_HOSTS"  # comma-separated extra Host header names


def port_holder(port: int) -> str | None:
    """``pid N (command)`` of the process listening on TCP ``port`` here, when /proc says (None otherwise)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    return f"pid {proc.name} ({command[:120]})"
        except OSError:
            continue
    return None


def bind_persisted(host: str, data_dir: Path, port: int) -> socket.socket:
    """Bind the daemon's port: ``port`` when configured; else the port persisted in ``{data_dir}/serving/port`` (so
    every URL handed out stays valid across crashes and restarts), else a free one, which is then persisted. A
    persisted port held by another process is retried for ``BIND_RETRY`` s, then refused naming that process."""
    if port:
        return bind(host, port)
    remembered = daemon_file.read_port(data_dir)
    if remembered is None:
        sock = bind(host, 0)
        daemon_file.write_port(data_dir, sock.getsockname()[1])
        return sock
    deadline = time.monotonic() + BIND_RETRY
    while True:
        try:
            return bind(host, remembered)
        except DaemonError:
            if time.monotonic() >= deadline:
                holder = port_holder(remembered) or "another process"
                raise DaemonError(
                    f"Cannot serve on port {remembered}, the port of this data dir's endpoints "
                    f"({daemon_file.port_path(data_dir)}): it is held by {holder}. Stop that process, or delete "
                    "that file to let the daemon pick a new port (deployment URLs then change)."
                ) from None
            time.sleep(0.1)


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
    """Serve until SIGTERM/SIGINT or ``POST /admin/shutdown``; returns the process exit code."""
    if not settings.allow_remote and not is_loopback(settings.host):
        raise DaemonError(
            f"Refusing to serve on {settings.host!r}: the serving API is not authenticated. Bind a loopback "
            "address, or set MLOpsConfig.allow_remote_serving = True behind an authenticating proxy."
        )
    worker = settings.worker_for
    parent = os.getppid()  # a worker's daemon: it exits when that process is gone
    worker_token = os.environ.pop(WORKER_TOKEN_ENV, None) if worker is not None else None  # hidden from models
    if worker is not None and not worker_token:
        raise DaemonError(f"A worker needs its token in ${WORKER_TOKEN_ENV} (workers are started by the daemon).")
    if worker is None:
        sock = bind_persisted(settings.host, settings.data_dir, settings.port)
    else:
        sock = bind(settings.host, settings.port)  # a worker is reached through its daemon only
    host, port, url = _url(sock)
    if worker is not None:
        # Now, before any child process (the inference log writer) could inherit the pipe to the daemon.
        announce_port(port)
    # Child processes and lazily imported MLflow code read these, so every part of the daemon agrees.
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    os.environ["MLFLOW_REGISTRY_URI"] = settings.registry_uri

    store = Store(settings.store_url)
    launch = WorkerLaunch(
        str(settings.data_dir), settings.store_url, settings.tracking_uri, settings.registry_uri,
        settings.max_request_bytes, RestartPolicy.from_env(),
    )  # fmt: skip
    model_host = ModelHost(
        store,
        url,
        loader=MLflowLoader(
            settings.tracking_uri, settings.registry_uri, str(settings.data_dir / "serving" / "model-cache")
        ),
        only=worker,
        spawner=launch.runtime if worker is None else None,
        owner=settings.owner,
        memory_budget_mb=settings.memory_budget_mb,
    )
    info = daemon_file.DaemonInfo(
        pid=os.getpid(),
        host=host,
        port=port,
        url=url,
        token=worker_token or secrets.token_urlsafe(32),
        version=__version__,
        started_at=datetime.now(timezone.utc).isoformat(),
    )
    info_path = daemon_file.path_in(settings.data_dir)
    server: uvicorn.Server | None = None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    ctx = ServingContext(
        host=model_host,
        token=info.token,
        version=info.version,
        url=url,
        started_at=info.started_at,
        max_request_bytes=settings.max_request_bytes,
        request_shutdown=request_shutdown,
    )
    # monitoring: completed requests -> bounded buffer -> writer process -> store; the daemon's writer also runs
    # the alert scheduler (an isolated deployment's worker leaves that to its daemon)
    inference_log = start_for_daemon(store.engine, alerts=worker is None)
    ctx.on_request.append(inference_log)
    model_host.metrics.log_lost.set_function(lambda: float(getattr(inference_log, "lost", 0)))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        model_host.preload()
        if worker is None:
            daemon_file.write(info_path, info)
            log.info("Serving on %s (pid %s); discovery file %s", url, info.pid, info_path)
            watch = _watch_discovery_file(info_path, info.pid, request_shutdown)
        else:
            log.info("Worker of deployment %s serving on %s (pid %s)", worker, url, info.pid)
            watch = watch_parent(parent, request_shutdown)
        tasks = [
            asyncio.create_task(_restore(model_host)),
            asyncio.create_task(watch),
            asyncio.create_task(_watch_rollouts(model_host)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            daemon_file.remove_if_owned(info_path, info.pid)
            model_host.close()
            await asyncio.to_thread(inference_log.close)
            store.close()
            log.info("Stopped")

    app = create_app(ctx, lifespan=lifespan, allowed_hosts=allowed_hosts(settings))
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
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


async def _restore(model_host: ModelHost) -> None:
    """Bring back every local deployment from the Store (the daemon may be a restart)."""
    try:
        statuses = await model_host.reconcile()
        log.info("Restoring %d deployment(s) from the store", len(statuses))
    except Exception:
        log.exception("Could not read deployments from the store; POST /admin/reconcile retries")


async def _watch_rollouts(model_host: ModelHost) -> None:
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
