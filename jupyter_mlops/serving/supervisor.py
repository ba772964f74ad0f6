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
import contextlib
import logging
import os
import secrets
import signal
import socket
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
from . import daemon_file, listen

log = logging.getLogger(__name__)

STATUS_NAME = daemon_state.STATUS_NAME
POLICY_ENV = ENV_PREFIX + "RESTART_POLICY"  # JSON object of RestartPolicy fields, e.g. {"max_crashes": 3}
EXIT_REFUSED = 2  # the daemon refused its configuration (DaemonError): restarting cannot help
STANDBY_ENV = ENV_PREFIX + "SERVING_STANDBY"  # "0": no pre-started standby interpreter (saves its memory)
# How many serving workers the supervisor runs (resolved, never 0): each worker takes this share of the memory budget.
WORKER_COUNT_ENV = ENV_PREFIX + "SERVING_WORKER_COUNT"
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


STOP_TIMEOUT = 15.0  # seconds the workers get to stop gracefully before SIGKILL
POLL_INTERVAL = 0.01  # seconds between two looks at the children (a crash is noticed within this)
STANDBY_RETRIES = 3  # standbys that died unused in a row before the supervisor stops preparing one


@dataclass
class _Slot:
    """One serving worker's place: the process in it now, and when a crashed one is due to be replaced."""

    index: int
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None
    backoff: Backoff | None = None  # this slot's own crash series: killing one healthy worker is not a crash loop


class DaemonSupervisor:
    """Run the daemon as ``workers`` serving processes sharing one listening socket, restart the ones that crash
    per ``policy`` (from a pre-started standby interpreter when one is ready), keep the status file.

    The supervisor binds the port itself and holds it for its whole life: a crashed worker never closes it, so
    requests during a restart wait in the backlog or go to another worker instead of being refused.
    """

    def __init__(
        self,
        command: Sequence[str],
        data_dir: Path,
        policy: RestartPolicy,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        workers: int = 1,
        standby: bool = True,
    ) -> None:
        self.command = list(command)
        self.data_dir = data_dir
        self.status_path = status_path(data_dir)
        self.info_path = daemon_file.path_in(data_dir)
        self.backoff = Backoff(policy)
        self.host, self.port, self.allow_remote = host, port, allow_remote
        self.slots = [_Slot(i, backoff=Backoff(policy)) for i in range(max(1, workers))]
        self.use_standby = standby
        self.standby: subprocess.Popen[bytes] | None = None
        self._standby_failures = 0
        self.stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._env: dict[str, str] = {}

    @property
    def child(self) -> subprocess.Popen[bytes] | None:
        """Worker 0's process: the one daemon.json names."""
        return self.slots[0].process

    def run(self) -> int:
        """Supervise until the workers stop on purpose, a signal asks us to stop, or a crash loop; the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            listen.check_host(self.host, self.allow_remote)
            self._sock = listen.bind_persisted(self.host, self.data_dir, self.port)
        except listen.DaemonError as exc:
            log.error("%s", exc)
            self._write("stopped", f"the serving daemon refused to start: {exc}")
            return EXIT_REFUSED
        fd = self._sock.fileno()
        self._env = {
            **os.environ,
            listen.LISTEN_FD_ENV: str(fd),
            listen.TOKEN_ENV: secrets.token_urlsafe(32),
            listen.SUPERVISOR_ENV: str(os.getpid()),
            WORKER_COUNT_ENV: str(len(self.slots)),
        }
        try:
            return self._supervise()
        finally:
            self._stop_all()
            self._sock.close()

    def _supervise(self) -> int:
        # Every worker at once: a deploy is ready when every worker serves it (a worker that gives no status keeps
        # it pending), so a cold start waits for the last worker; started together they import and load in
        # parallel, one core each, instead of one after the other.
        for slot in self.slots:
            self._start(slot, fresh=True)
        self._write("running", self._running_message())
        while not self.stopping.is_set():
            self.stopping.wait(POLL_INTERVAL)
            now = time.monotonic()
            for slot in self.slots:
                process = slot.process
                if process is not None and (code := process.poll()) is not None:
                    slot.process = None
                    outcome = self._exited(slot, process.pid, code)
                    if outcome is not None:
                        return outcome
                if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
                    self._start(slot)
                    self._write("running", self._running_message())
            self._keep_standby()
        self._write("stopped", "stopped")
        return 0

    def _exited(self, slot: _Slot, pid: int, code: int) -> int | None:
        """Handle a worker's exit; an exit code for the supervisor when everything stops, else None (restarting)."""
        if self.stopping.is_set():
            return None
        if code == 0:  # shutdown asked for (admin API), or daemon.json names another daemon: all of us stop
            self.stopping.set()
            self._write("stopped", "stopped")
            return 0
        if code == EXIT_REFUSED:
            self._write("stopped", f"the serving daemon refused to start (exit code {code}); see daemon.log")
            return code
        if slot.index == 0 and self._replaced(pid):
            log.info("Another serving daemon took over; not restarting")
            self._write("stopped", "another serving daemon took over")
            return 0
        backoff = slot.backoff or self.backoff
        delay = backoff.exited(code)
        self.backoff.last_exit_code = code  # the daemon-wide figures the status file reports
        if delay is None:
            message = backoff.describe("the serving daemon")
            log.error("%s", message)
            self._write("crash_loop", message)
            return EXIT_CRASH_LOOP
        log.warning(
            "Serving worker %d (pid %s) exited with code %s; restart %d in %.2f s",
            slot.index, pid, code, self.backoff.restarts + 1, delay,
        )  # fmt: skip
        self.backoff.restarts += 1
        slot.restart_at = time.monotonic() + delay
        self._write("restarting", f"the serving daemon exited with code {code}; restarting in {delay:.1f} s")
        return None

    def _start(self, slot: _Slot, *, fresh: bool = False) -> None:
        """Put a worker in ``slot``: the standby (imports done, it only binds nothing and loads) or a new process."""
        slot.restart_at = None
        standby, self.standby = self.standby, None
        if not fresh and standby is not None and standby.poll() is None and standby.stdin is not None:
            try:
                standby.stdin.write(orjson.dumps({"index": slot.index}) + b"\n")
                standby.stdin.close()
                slot.process = standby
                self._standby_failures = 0
                log.info("Serving worker %d handed to the standby (pid %s)", slot.index, standby.pid)
                (slot.backoff or self.backoff).started()
                return
            except OSError:
                pass  # it died meanwhile: start a fresh one
        elif standby is not None:
            self.standby = standby
        fd = self._sock.fileno() if self._sock is not None else -1
        slot.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            close_fds=True,
            pass_fds=(fd,),
            env={**self._env, listen.INDEX_ENV: str(slot.index)},
        )
        (slot.backoff or self.backoff).started()

    def _keep_standby(self) -> None:
        """Keep one standby interpreter ready once the workers run (so a crash is replaced in about a second)."""
        if not self.use_standby or self._standby_failures >= STANDBY_RETRIES:
            return
        standby = self.standby
        if standby is not None:
            code = standby.poll()
            if code is None:
                return
            self.standby = None
            if code != 0:
                self._standby_failures += 1
                log.warning("The standby serving interpreter exited with code %s", code)
            return
        if any(slot.process is None for slot in self.slots) or not self._primary_up() or not self._settled():
            return  # the workers start first: they need the cores more than the standby does
        fd = self._sock.fileno() if self._sock is not None else -1
        self.standby = subprocess.Popen(
            [*self.command, "--standby"], stdin=subprocess.PIPE, close_fds=True, pass_fds=(fd,), env=self._env
        )

    def _settled(self) -> bool:
        """Every worker has announced its private port (it is up): the standby's imports no longer compete."""
        up = set(_seats(self.data_dir, os.getpid()))
        return all(slot.index in up for slot in self.slots)

    def _primary_up(self) -> bool:
        info = daemon_file.read(self.info_path)
        child = self.child
        return info is not None and child is not None and info.pid == child.pid

    def _running_message(self) -> str:
        pids = ", ".join(str(s.process.pid) for s in self.slots if s.process is not None)
        return f"serving daemon pid {self.child.pid if self.child else '-'} ({len(self.slots)} workers: {pids})"

    def _stop_all(self) -> None:
        """SIGTERM every worker (graceful), the standby too; SIGKILL what is left after ``STOP_TIMEOUT``."""
        processes = [s.process for s in self.slots if s.process is not None]
        if self.standby is not None:
            processes.append(self.standby)
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def _replaced(self, child_pid: int) -> bool:
        """daemon.json names a live process other than our child: a second daemon runs, do not compete."""
        info = daemon_file.read(self.info_path)
        if info is None or info.pid == child_pid or info.pid in {s.process.pid for s in self.slots if s.process}:
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


def _seats(data_dir: Path, supervisor_pid: int) -> list[int]:
    """Indexes of this supervisor's live workers that announced their seat (workers.py writes them; read here with
    orjson alone, so the supervisor stays free of httpx and the web stack)."""
    found = []
    for path in (daemon_file.serving_dir(data_dir) / "workers").glob("*.json"):
        try:
            seat = orjson.loads(path.read_bytes())
            if seat.get("supervisor_pid") == supervisor_pid:
                os.kill(int(seat["pid"]), 0)
                found.append(int(seat["index"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def daemon_command(daemon_args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "jupyter_mlops.serving", *daemon_args]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_mlops.serving.supervisor DAEMON-ARGS...``: supervise the daemon started with them."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", add_help=False)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--workers", default=os.environ.get(listen.WORKERS_ENV))
    known, _rest = parser.parse_known_args(args)
    supervisor = DaemonSupervisor(
        daemon_command(args),
        Path(known.data_dir),
        RestartPolicy.from_env(),
        host=known.host,
        port=known.port,
        allow_remote=known.allow_remote,
        workers=listen.worker_count(known.workers),
        standby=os.environ.get(STANDBY_ENV, "1") != "0",
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
