"""LocalTarget: deployments served by the local serving daemon (``python -m jupyter_mlops.serving``).

The daemon is a separate process in its own session, so it outlives the Jupyter server and kernels that use it.
It runs under a supervisor process (``serving/supervisor.py``) that restarts it with backoff when it crashes and
records a crash loop in ``supervisor.json``, which ``status``/``statuses`` then report as the deployments' state.
Any process with the same ``data_dir`` finds it through ``{data_dir}/serving/daemon.json``; the first one that
needs it starts it, under an exclusive file lock so two processes never start two daemons.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ...config import ENV_PREFIX, MLOpsConfig
from ..errors import DeploymentFailed, NotFound, Unavailable
from ..models import DeploymentState, RuntimeStatus, StepStatus
from ..store import Store
from . import daemon_state
from .base import ProgressCallback, Target
from .daemon_state import DaemonInfo, SupervisorStatus, pid_alive

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 20
MAX_LOG_BYTES = 10 * 1024 * 1024


def _store_env(config: MLOpsConfig) -> dict[str, str]:
    """The daemon's store and MLflow settings as the environment variables its ``MLOpsConfig`` reads."""
    return {
        ENV_PREFIX + "STORE_URL": config.store_url,
        ENV_PREFIX + "TRACKING_URI": config.tracking_uri,
        ENV_PREFIX + "REGISTRY_URI": config.registry_uri,
    }


class LocalTarget(Target):
    """Deploy to the local serving daemon, starting it on first use.

    Desired state is read by the daemon from the Store; this client only tells it when to converge, reads
    statuses back, and forwards scoring requests. Methods raise ``Unavailable`` with an actionable message when
    the daemon cannot be reached or started.
    """

    name = "local"

    def __init__(self, config: MLOpsConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.serving_dir = daemon_state.serving_dir(config.data_dir)
        self.info_path = daemon_state.path_in(config.data_dir)
        self.log_path = self.serving_dir / daemon_state.LOG_NAME
        self.lock_path = self.serving_dir / daemon_state.LOCK_NAME
        self.supervisor_path = daemon_state.status_path(config.data_dir)
        self._info: DaemonInfo | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(30.0, connect=2.0), trust_env=False)

    # --- the daemon ------------------------------------------------------------------------------------------

    def running_daemon(self) -> DaemonInfo | None:
        """The daemon described by daemon.json if it is alive and answers with our token; never starts one."""
        info = daemon_state.read(self.info_path)
        if info is None or not pid_alive(info.pid):
            return None
        try:
            response = self._client.get(
                f"{info.url}/admin/status", headers=self._auth(info), timeout=httpx.Timeout(5.0, connect=1.0)
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200 or response.json().get("pid") != info.pid:
            return None
        self._info = info
        return info

    def ensure_daemon(self) -> DaemonInfo:
        """The running daemon, started first if there is none (idempotent, safe across processes)."""
        # The known daemon when its file still names it (no request): asking /admin/status on every deploy costs
        # O(deployments) each, O(N^2) to deploy N. A daemon gone wrong fails the next admin call, which forgets it.
        info = self._current() if self._info is not None else self.running_daemon()
        if info is not None:
            return info
        with self._start_lock():
            # Another process may have started it while we waited for the lock.
            info = self.running_daemon()
            if info is not None:
                return info
            return self._start()

    def stop_daemon(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the supervisor, then the daemon, and wait for both processes to exit.

        The supervisor goes first so that it does not restart the daemon. False when neither was running.
        """
        watcher = self.supervisor_status(live=True)
        if watcher is not None:
            # SIGTERM: the supervisor stops restarting and forwards it to the daemon (a graceful shutdown).
            with contextlib.suppress(ProcessLookupError):
                os.kill(watcher.supervisor_pid, signal.SIGTERM)
        stopped = self._stop_process(timeout)
        if watcher is not None:
            # It gives its workers (and a standby still importing) up to its own STOP_TIMEOUT (15 s) to stop
            # gracefully before SIGKILL: waiting less called a busy machine's orderly stop a failure.
            if not self._wait_exit(watcher.supervisor_pid, max(timeout, STOP_TIMEOUT) + 5.0):
                pid = watcher.supervisor_pid
                raise Unavailable(f"The serving supervisor (pid {pid}) does not stop; end it with kill {pid}.")
            stopped = True
        return stopped

    def supervisor_status(self, *, live: bool = False) -> SupervisorStatus | None:
        """What supervisor.json says (restarts, last exit code, crash loop); with ``live``, only a running one."""
        status = daemon_state.read_status(self.supervisor_path)
        if status is None or not live:
            return status
        pid = status.supervisor_pid
        if status.state in ("running", "restarting") and pid_alive(pid) and daemon_state.is_supervisor(pid):
            return status
        return None

    def _stop_process(self, timeout: float) -> bool:
        info = daemon_state.read(self.info_path)
        self._info = None
        if info is None or not pid_alive(info.pid):
            if info is not None:
                daemon_state.remove_if_owned(self.info_path, info.pid)
            return False
        with contextlib.suppress(httpx.HTTPError):
            self._client.post(f"{info.url}/admin/shutdown", headers=self._auth(info))
        if not self._wait_exit(info.pid, timeout):
            log.warning("Serving daemon %s did not stop in %.0f s; sending SIGTERM", info.pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)
            if not self._wait_exit(info.pid, 5.0):
                raise Unavailable(f"The serving daemon (pid {info.pid}) does not stop; end it with kill {info.pid}.")
        daemon_state.remove_if_owned(self.info_path, info.pid)
        return True

    def _start(self) -> DaemonInfo:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        watcher = self.supervisor_status(live=True)
        if watcher is not None:
            # Its daemon crashed and is being restarted: wait for it rather than start a second one.
            return self._await_daemon(watcher.supervisor_pid, None, offset)
        config = self.config
        self.serving_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        command = [
            sys.executable, "-m", daemon_state.SUPERVISOR_MODULE,
            "--data-dir", str(config.data_dir),
            "--host", config.serving_host,
            "--port", str(config.serving_port),
            "--memory-budget-mb", str(config.serving_memory_budget_mb),
            "--workers", str(config.serving_workers),
        ]  # fmt: skip
        if config.allow_remote_serving:
            command.append("--allow-remote")
        owner = os.environ.get("JUPYTERHUB_USER") if config.isolate_users else None
        if owner:
            command += ["--owner", owner]  # a hub user's daemon serves only that user's deployments
        if self.log_path.exists() and self.log_path.stat().st_size > MAX_LOG_BYTES:
            os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))  # keep one old log
            offset = 0
        with open(self.log_path, "ab") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # The store and MLflow URIs (a PostgreSQL URL carries its password) in the environment, which only
                # this user can read, never on argv (/proc/PID/cmdline is readable by every local user).
                env={**os.environ, **config.to_env(), **_store_env(config)},
                cwd=str(self.serving_dir),
                start_new_session=True,  # outlives the Jupyter server and kernels; not hit by their Ctrl-C
                close_fds=True,
            )
        # Reap the child when it exits, so a stopped daemon does not linger as a zombie of a long-lived server.
        threading.Thread(target=process.wait, name="mlops-daemon-reaper", daemon=True).start()
        log.info("Started the serving supervisor (pid %s); log: %s", process.pid, self.log_path)
        return self._await_daemon(process.pid, process, offset)

    def _await_daemon(self, supervisor_pid: int, process: subprocess.Popen[bytes] | None, offset: int) -> DaemonInfo:
        """Wait until the daemon of supervisor ``supervisor_pid`` answers.

        Raises with the log's tail if the supervisor gives up (the daemon refused to start, or crashed in a loop)
        or it takes too long.
        """
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if (process.poll() is not None) if process is not None else not pid_alive(supervisor_pid):
                state = self.supervisor_status()
                gave_up = state is not None and state.supervisor_pid == supervisor_pid and state.state == "crash_loop"
                why = f" {state.message}" if gave_up and state is not None else ""
                code = process.returncode if process is not None else "unknown"
                raise Unavailable(
                    f"The serving daemon exited during startup (code {code}).{why} "
                    f"Last lines of {self.log_path}:\n{self._log_tail(offset)}"
                )
            state = self.supervisor_status()
            info = daemon_state.read(self.info_path)
            if (
                state is not None and info is not None and state.supervisor_pid == supervisor_pid
                and info.pid == state.child_pid and self.running_daemon() is not None
            ):  # fmt: skip
                return info
            time.sleep(POLL_INTERVAL)
        if process is not None:
            process.terminate()  # ours, and useless to anyone: do not leave it (or its daemon) behind
        raise Unavailable(
            f"The serving daemon (supervisor pid {supervisor_pid}) did not come up within {START_TIMEOUT:.0f} s. "
            f"Last lines of {self.log_path}:\n{self._log_tail(offset)}"
        )

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        self.serving_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.lock_path, "a+b") as handle:
            deadline = time.monotonic() + START_TIMEOUT + 5
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Unavailable(
                            f"Another process holds {self.lock_path} while starting the serving daemon; "
                            "retry, or remove the lock file if no Jupyter process is running."
                        ) from None
                    time.sleep(POLL_INTERVAL)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _log_tail(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"

    @staticmethod
    def _wait_exit(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL_INTERVAL)
        return True

    # --- Target contract -------------------------------------------------------------------------------------

    def apply(self, deployment_name: str) -> RuntimeStatus:
        """Tell the daemon (started if needed) to converge ``deployment_name``; returns without waiting."""
        statuses = self._reconcile(self.ensure_daemon(), deployment_name)
        if statuses:
            return statuses[0]
        return RuntimeStatus(name=deployment_name, state=DeploymentState.stopped, message="not in the store")

    def remove(self, deployment_name: str) -> None:
        """Unload ``deployment_name`` (its store row is already gone). Without a running daemon: nothing to do."""
        info = self._current()
        if info is not None:
            self._reconcile(info, deployment_name)

    def status(self, deployment_name: str) -> RuntimeStatus | None:
        info = self._current()
        if info is None:
            return self._without_daemon(deployment_name)
        response = self._admin(info, "GET", f"/admin/deployments/{deployment_name}")
        if response.status_code == 404:
            return None
        return RuntimeStatus.model_validate(response.json())

    def statuses(self) -> dict[str, RuntimeStatus]:
        """Statuses of everything the daemon serves; {} when no daemon runs (this never starts one)."""
        info = self._current()
        if info is None:
            names = (d.name for d in self.store.list_deployments(target=self.name))
            return {s.name: s for s in map(self._without_daemon, names) if s is not None}
        items = self._admin(info, "GET", "/admin/status").json().get("deployments", [])
        return {s.name: s for s in (RuntimeStatus.model_validate(item) for item in items)}

    def wait_ready(
        self, deployment_name: str, timeout: float, on_progress: ProgressCallback | None = None
    ) -> RuntimeStatus:
        """Poll until the Store's current generation of the deployment is ready (return) or failed (raise)."""
        deadline = time.monotonic() + timeout
        last: RuntimeStatus | None = None
        last_seen: dict[str, Any] | None = None
        missing_since: float | None = None
        while True:
            wanted = self.store.generation(deployment_name)
            if wanted is None:
                raise NotFound(f"Deployment {deployment_name!r} was removed while waiting for it.")
            status = self.status(deployment_name)
            now = time.monotonic()
            if status is None:
                # The daemon may have missed the apply (restarted in between): ask again once a second.
                if missing_since is None or now - missing_since > 1.0:
                    missing_since = now
                    self.apply(deployment_name)
            else:
                missing_since = None
                seen = status.model_dump(exclude={"updated_at"})
                if on_progress is not None and seen != last_seen:
                    on_progress(status)
                last, last_seen = status, seen
                if status.generation == wanted:
                    if status.state == DeploymentState.ready:
                        return status
                    if status.state == DeploymentState.failed:
                        raise DeploymentFailed(_failure_message(status))
            if now > deadline:
                state = last.state.value if last else "unknown"
                raise Unavailable(
                    f"Deployment {deployment_name!r} was not ready after {timeout:.0f} s (state: {state}). "
                    f"It may still become ready; check its status, or the daemon log {self.log_path}."
                )
            time.sleep(POLL_INTERVAL)

    def invoke(self, deployment_name: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        """POST one scoring request to the deployment's invocations endpoint; returns it as received."""
        for attempt in (1, 2):
            info = self._info or self.ensure_daemon()
            try:
                response = self._client.post(
                    f"{info.url}/deployments/{deployment_name}/invocations",
                    content=body,
                    headers={"Content-Type": content_type, **self._auth(info)},  # passes deployment tokens
                )
            except httpx.ConnectError:
                # The daemon restarted (new port) or stopped: find or start it, then retry once.
                self._info = None
                if attempt == 2:
                    raise Unavailable(self._unreachable(info)) from None
                continue
            except httpx.HTTPError as exc:
                raise Unavailable(f"Scoring request to {deployment_name!r} failed: {type(exc).__name__}.") from None
            return response.status_code, dict(response.headers), response.content
        raise AssertionError("unreachable")

    def endpoint_url(self, deployment_name: str) -> str | None:
        """The deployment's scoring URL on the running daemon, or None when no daemon runs."""
        info = self._current()
        return f"{info.url}/deployments/{deployment_name}/invocations" if info else None

    def credentials_changed(self, deployment_name: str) -> None:
        """Have the running daemon drop its cached token of ``deployment_name`` now (nothing runs: nothing cached).

        Never raises: the new token is committed and must reach its owner. A daemon that cannot be reached re-reads
        tokens on its own (SQLite at once, other stores within ``serving.auth.REFRESH_SECONDS``).
        """
        info = self._current()
        if info is None:
            return
        try:
            self._reconcile(info, deployment_name)
        except Unavailable as exc:
            log.warning("Could not tell the serving daemon that %s's token changed: %s", deployment_name, exc)

    def close(self) -> None:
        self._client.close()

    # --- helpers ---------------------------------------------------------------------------------------------

    def _without_daemon(self, deployment_name: str) -> RuntimeStatus | None:
        """The status of a deployment while no daemon answers.

        Failed during a crash loop, pending while the supervisor restarts the daemon, else None (not running).
        """
        state = self.supervisor_status()
        if state is None or state.state not in ("crash_loop", "restarting"):
            return None
        if state.state == "restarting" and not pid_alive(state.supervisor_pid):
            return None
        generation = self.store.generation(deployment_name)
        if generation is None:
            return None
        if state.state == "crash_loop":  # with the wanted generation, so wait_ready fails at once
            return RuntimeStatus(
                name=deployment_name, state=DeploymentState.failed, message=state.message, generation=generation
            )
        return RuntimeStatus(name=deployment_name, state=DeploymentState.pending, message=state.message)

    def _current(self) -> DaemonInfo | None:
        """The daemon to talk to without starting one: the cached one if its file still names it."""
        info = daemon_state.read(self.info_path)
        if info is not None and self._info is not None and info == self._info and pid_alive(info.pid):
            return info
        return self.running_daemon()

    def _reconcile(self, info: DaemonInfo, name: str) -> list[RuntimeStatus]:
        items = self._admin(info, "POST", "/admin/reconcile", json={"name": name}).json().get("deployments", [])
        return [RuntimeStatus.model_validate(item) for item in items]

    def _admin(self, info: DaemonInfo, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, f"{info.url}{path}", headers=self._auth(info), **kwargs)
        except httpx.HTTPError:
            self._info = None
            raise Unavailable(self._unreachable(info)) from None
        if response.status_code >= 400 and response.status_code != 404:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise Unavailable(f"The serving daemon answered {response.status_code} to {path}: {message}")
        return response

    def _unreachable(self, info: DaemonInfo) -> str:
        return (
            f"Cannot reach the serving daemon at {info.url} (pid {info.pid}). It may have stopped: deploy again "
            f"to restart it, or see {self.log_path}."
        )

    @staticmethod
    def _auth(info: DaemonInfo) -> dict[str, str]:
        return {"Authorization": f"Bearer {info.token}"}


def _failure_message(status: RuntimeStatus) -> str:
    step = next((s for s in status.steps if s.status == StepStatus.failed), None)
    if step is None:
        return f"Deployment {status.name!r} failed: {status.message or 'no reason given'}"
    return f"Deployment {status.name!r} failed at step {step.name!r}: {step.message or status.message}"
