"""Restart a serving process that crashes: exponential backoff with a cap, and a crash loop that stops restarting.

Two users share ``RestartPolicy``/``Backoff``: ``python -m jupyter_mlops.serving.supervisor`` runs the serving
daemon as its child (started by ``LocalTarget``), and the daemon supervises the worker process of every isolated
deployment (``isolated.py``). A child that exits with code 0 stopped on purpose (shutdown, or daemon.json names
another daemon) and is not restarted; ``EXIT_REFUSED`` (the daemon refused its configuration, e.g. a public
host) would fail the same way again and is not restarted either. Any other exit is a crash.

The supervisor's state is kept in ``{data_dir}/serving/supervisor.json`` so clients can show it (a crash loop
becomes the deployments' status). This module imports only the standard library, pydantic and daemon_file, so
the supervisor process stays small (no MLflow, no web server).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from ..config import ENV_PREFIX
from ..core.targets import daemon_state
from . import daemon_file

log = logging.getLogger(__name__)

STATUS_NAME = daemon_state.STATUS_NAME
POLICY_ENV = ENV_PREFIX + "RESTART_POLICY"  # JSON object of RestartPolicy fields, e.g. {"max_crashes": 3}
EXIT_REFUSED = 2  # the daemon refused its configuration (DaemonError): restarting cannot help
EXIT_CRASH_LOOP = 3  # the supervisor gave up: too many crashes within the window
MODULE = daemon_state.SUPERVISOR_MODULE


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a crashed process, and when to give up.

    The first restart waits ``initial_delay`` seconds, each further one ``factor`` times longer, at most
    ``max_delay``. A run of ``healthy_after`` seconds or more forgets earlier crashes (the backoff starts over).
    ``max_crashes`` crashes within ``window`` seconds are a crash loop: no more restarts until told.
    """

    initial_delay: float = 0.05  # a crash is restarted at once (back within seconds); a loop still backs off
    max_delay: float = 30.0
    factor: float = 2.0
    healthy_after: float = 30.0
    max_crashes: int = 5
    window: float = 120.0

    @classmethod
    def from_env(cls) -> RestartPolicy:
        """The policy from ``$JUPYTER_MLOPS_RESTART_POLICY`` (JSON, unknown keys ignored); defaults otherwise."""
        raw = os.environ.get(POLICY_ENV)
        if not raw:
            return cls()
        try:
            given = orjson.loads(raw)
            known = {f.name: f.type for f in fields(cls)}
            values: dict[str, Any] = {
                k: int(v) if known[k] == "int" else float(v) for k, v in given.items() if k in known
            }
            return cls(**values)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            log.warning("Ignoring %s: not a JSON object of restart settings", POLICY_ENV)
            return cls()


class Backoff:
    """The restart state of one supervised process: feed it starts and exits, it says how long to wait."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.restarts = 0
        self.last_exit_code: int | None = None
        self.crash_loop = False
        self._crashes: deque[float] = deque()
        self._delay = policy.initial_delay
        self._started_at: float | None = None

    def started(self) -> None:
        self._started_at = self.clock()

    def exited(self, code: int) -> float | None:
        """Record a crash (non-zero exit); the delay before the restart, or None for a crash loop (give up)."""
        now = self.clock()
        self.last_exit_code = code
        if self._started_at is not None and now - self._started_at >= self.policy.healthy_after:
            self._crashes.clear()  # it ran long enough: this crash starts a new series
            self._delay = self.policy.initial_delay
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.policy.window:
            self._crashes.popleft()
        if len(self._crashes) >= self.policy.max_crashes:
            self.crash_loop = True
            return None
        delay = self._delay
        self._delay = min(self._delay * self.policy.factor, self.policy.max_delay)
        self.restarts += 1
        return delay

    def reset(self) -> None:
        """Forget the crash loop and the backoff (someone asked to try again)."""
        self.crash_loop = False
        self._crashes.clear()
        self._delay = self.policy.initial_delay

    def describe(self, what: str) -> str:
        """A readable sentence about a crash loop of ``what``."""
        return (
            f"Crash loop: {what} exited {len(self._crashes)} times within {self.policy.window:.0f} s "
            f"(last exit code {self.last_exit_code}) and is no longer restarted. Fix the cause (see daemon.log), "
            "then deploy again to retry."
        )


# --- the status file (its format is core's: core/targets/daemon_state.py) -------------------------------------

SupervisorState = daemon_state.SupervisorState
SupervisorStatus = daemon_state.SupervisorStatus
status_path = daemon_state.status_path
read_status = daemon_state.read_status
is_supervisor = daemon_state.is_supervisor


# --- the supervisor process ------------------------------------------------------------------------------------


class DaemonSupervisor:
    """Run ``command`` (the daemon) as a child, restart it after crashes per ``policy``, keep the status file."""

    def __init__(self, command: Sequence[str], data_dir: Path, policy: RestartPolicy) -> None:
        self.command = list(command)
        self.status_path = status_path(data_dir)
        self.info_path = daemon_file.path_in(data_dir)
        self.backoff = Backoff(policy)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()

    def run(self) -> int:
        """Supervise until the child stops on purpose, a signal asks us to stop, or a crash loop; the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        while not self.stopping.is_set():
            self.child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, close_fds=True)
            self.backoff.started()
            self._write("running", f"serving daemon pid {self.child.pid}")
            code = self.child.wait()
            child_pid, self.child = self.child.pid, None
            if self.stopping.is_set() or code == 0:
                break
            if code == EXIT_REFUSED:
                self._write("stopped", f"the serving daemon refused to start (exit code {code}); see daemon.log")
                return code
            if self._replaced(child_pid):
                log.info("Another serving daemon took over; not restarting")
                break
            delay = self.backoff.exited(code)
            if delay is None:
                message = self.backoff.describe("the serving daemon")
                log.error("%s", message)
                self._write("crash_loop", message)
                return EXIT_CRASH_LOOP
            log.warning(
                "Serving daemon pid %s exited with code %s; restart %d in %.1f s",
                child_pid, code, self.backoff.restarts, delay,
            )  # fmt: skip
            self._write("restarting", f"the serving daemon exited with code {code}; restarting in {delay:.1f} s")
            self.stopping.wait(delay)
        self._write("stopped", "stopped")
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully; we exit when it has

    def _replaced(self, child_pid: int) -> bool:
        """daemon.json names a live process other than our child: a second daemon runs, do not compete."""
        info = daemon_file.read(self.info_path)
        if info is None or info.pid == child_pid:
            return False
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _write(self, state: SupervisorState, message: str) -> None:
        status = SupervisorStatus(
            supervisor_pid=os.getpid(),
            child_pid=self.child.pid if self.child is not None else None,
            state=state,
            restarts=self.backoff.restarts,
            last_exit_code=self.backoff.last_exit_code,
            message=message,
            updated_at=datetime.now(timezone.utc).isoformat(),
        )
        try:
            daemon_file.write(self.status_path, status)
        except OSError as exc:
            log.warning("Cannot write %s: %s", self.status_path, exc)


def daemon_command(daemon_args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "jupyter_mlops.serving", *daemon_args]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_mlops.serving.supervisor DAEMON-ARGS...``: supervise the daemon started with them."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", add_help=False)
    parser.add_argument("--data-dir", required=True)
    known, _rest = parser.parse_known_args(args)
    supervisor = DaemonSupervisor(daemon_command(args), Path(known.data_dir), RestartPolicy.from_env())
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
