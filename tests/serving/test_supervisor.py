"""The daemon's supervisor: the restart policy, a killed daemon comes back with its deployments (requests in the
gap are answered), a daemon that keeps crashing on start ends in a crash loop shown as the deployments' status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import orjson
import pytest

from jupyter_mlops.core.errors import DeploymentFailed, Unavailable
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget, pid_alive
from jupyter_mlops.serving import daemon_file
from jupyter_mlops.serving.__main__ import MAX_REQUEST_ENV
from jupyter_mlops.serving.listen import INDEX_ENV
from jupyter_mlops.serving.supervisor import POLICY_ENV, Backoff, RestartPolicy

from ..waiting import wait_until
from .conftest import daemon_url, put_deployment, serving_config_for


class Clock:
    """A settable clock for the restart policy (time is the only input it has besides exit codes)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_to_its_cap_and_a_crash_loop_stops_restarts() -> None:
    clock = Clock()
    policy = RestartPolicy(initial_delay=1, max_delay=5, factor=2, healthy_after=60, max_crashes=6, window=100)
    backoff = Backoff(policy, clock)
    delays = []
    for _ in range(5):
        backoff.started()
        clock.now += 1
        delays.append(backoff.exited(-9))
    assert delays == [1, 2, 4, 5, 5]
    assert backoff.restarts == 5 and backoff.last_exit_code == -9 and not backoff.crash_loop
    backoff.started()
    assert backoff.exited(1) is None  # the 6th crash within the window
    assert backoff.crash_loop
    assert "exited 6 times within 100 s (last exit code 1)" in backoff.describe("the daemon")
    backoff.reset()  # told to try again
    assert not backoff.crash_loop
    backoff.started()
    assert backoff.exited(1) == 1


def test_a_healthy_run_resets_the_backoff_and_old_crashes_leave_the_window() -> None:
    clock = Clock()
    backoff = Backoff(RestartPolicy(initial_delay=1, factor=2, healthy_after=30, max_crashes=3, window=10), clock)
    backoff.started()
    assert backoff.exited(1) == 1
    backoff.started()
    assert backoff.exited(1) == 2
    backoff.started()
    clock.now += 31  # ran long enough: a new series starts
    assert backoff.exited(1) == 1
    for _ in range(5):  # crashes 11 s apart never reach 3 within 10 s
        backoff.started()
        clock.now += 11
        assert backoff.exited(1) is not None
    assert not backoff.crash_loop


def test_the_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY_ENV, '{"initial_delay": 0.1, "max_crashes": 3, "unknown": 1}')
    assert RestartPolicy.from_env() == RestartPolicy(initial_delay=0.1, max_crashes=3)
    monkeypatch.setenv(POLICY_ENV, "not json")
    assert RestartPolicy.from_env() == RestartPolicy()


def test_a_killed_daemon_is_restarted_and_its_deployments_come_back(
    deploy, local_target, registered_model, http
) -> None:
    # Given a ready deployment on the supervised daemon
    deploy("phoenix")
    old = daemon_file.read(local_target.info_path)
    watcher = local_target.supervisor_status(live=True)
    assert old is not None and watcher is not None and watcher.child_pid == old.pid
    rows = registered_model.X.head(5)
    body = orjson.dumps({"dataframe_split": rows.to_dict(orient="split")})

    # When the daemon is killed
    os.kill(old.pid, signal.SIGKILL)

    # Then a request in the gap is answered all the same: the supervisor holds the port, so it waits in the
    # backlog for the restarted worker or goes to another worker (#18 items 0 and 5)
    gap = http.post(
        f"{old.url}/deployments/phoenix/invocations", content=body, headers={"Content-Type": "application/json"}
    )
    assert gap.status_code == 200 and gap.json() == {"predictions": registered_model.expected(rows)}

    # and the same supervisor starts a new daemon (ensure_daemon waits for it rather than starting another; a
    # SIGKILL is delivered asynchronously, and while the process tears down another worker still names it)
    wait_until(lambda: not pid_alive(old.pid), 10, "the killed daemon exits", 0.01)
    info = local_target.ensure_daemon()
    assert info.pid != old.pid
    after = local_target.supervisor_status(live=True)
    assert after is not None and after.supervisor_pid == watcher.supervisor_pid and after.child_pid == info.pid
    assert after.restarts >= 1 and after.last_exit_code == -signal.SIGKILL

    # and the deployment is back from the store and answers as before
    assert local_target.wait_ready("phoenix", 60).state == DeploymentState.ready
    answer = http.post(
        f"{daemon_url(local_target)}/deployments/phoenix/invocations",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"predictions": registered_model.expected(rows)}


def test_a_daemon_crashing_on_start_ends_in_a_crash_loop_shown_as_status(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a misconfiguration that makes every daemon start crash (exit code 1), and a deployment in the store
    config = serving_config_for(tmp_path)
    store = Store(config.store_url)
    target = LocalTarget(config, store)
    put_deployment(store, "doomed", "1")
    monkeypatch.setenv(MAX_REQUEST_ENV, "not-a-number")
    monkeypatch.setenv(POLICY_ENV, '{"initial_delay": 0.05, "max_crashes": 3}')
    try:
        # When a client needs the daemon, the supervisor restarts it with backoff, then gives up
        with pytest.raises(Unavailable) as refused:
            target.ensure_daemon()
        assert "Crash loop: the serving daemon exited 3 times" in refused.value.message
        assert "ValueError" in refused.value.message  # the log's tail names the cause
        state = target.supervisor_status()
        assert state is not None and state.state == "crash_loop"
        # each worker crashes the same way (they start together): 2 restarts of the one that looped, and the
        # other's so far
        assert 2 <= state.restarts <= 4 and state.last_exit_code == 1
        assert not pid_alive(state.supervisor_pid)  # nothing left running
        assert target.supervisor_status(live=True) is None

        # Then every door shows the deployment failed with the reason, and waiting for it fails at once
        status = target.status("doomed")
        assert status is not None and status.state == DeploymentState.failed
        assert "Crash loop" in (status.message or "")
        assert target.statuses()["doomed"].state == DeploymentState.failed
        with pytest.raises(DeploymentFailed, match="Crash loop"):
            target.wait_ready("doomed", 5)
        mlops = MLOps(config, store=store, targets={"local": target})
        shown = mlops.deployment("doomed")
        assert shown.state == DeploymentState.failed and "Crash loop" in (shown.message or "")

        # and once the cause is fixed, the next start is the signal to try again
        monkeypatch.delenv(MAX_REQUEST_ENV)
        info = target.ensure_daemon()
        running = target.supervisor_status(live=True)
        assert running is not None and running.state == "running" and running.child_pid == info.pid
        assert target.stop_daemon()
        assert not pid_alive(info.pid) and not pid_alive(running.supervisor_pid)
        assert target.status("doomed") is None  # stopped on purpose: not a failure
    finally:
        target.stop_daemon()
        target.close()
        store.close()


# A serving worker stand-in: it says it started (its index and PID) and never serves, as a worker still importing.
_STARTS_AND_WAITS = (
    "import os, pathlib, signal, sys; "
    f"index = os.environ['{INDEX_ENV}']; "
    "pathlib.Path(sys.argv[1], f'started-{index}').write_text(str(os.getpid())); "
    "signal.pause()"
)


def test_every_worker_starts_at_once_without_waiting_for_worker_0(tmp_path) -> None:
    # A deploy is ready once every worker serves it, so the supervisor starts them together (they import in
    # parallel, a core each); it does not wait for worker 0 to serve first, which here it never does.
    script = (
        "import sys; from pathlib import Path; "
        "from jupyter_mlops.serving.supervisor import DaemonSupervisor, RestartPolicy; "
        f"sys.exit(DaemonSupervisor([sys.executable, '-c', {_STARTS_AND_WAITS!r}, sys.argv[1]], Path(sys.argv[1]), "
        "RestartPolicy(), workers=2, standby=False).run())"
    )
    supervisor = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    workers: list[int] = []
    try:
        started = [tmp_path / "started-0", tmp_path / "started-1"]
        wait_until(lambda: all(path.exists() for path in started), 20, "both workers start")
        workers = [int(path.read_text()) for path in started]
        assert all(pid_alive(pid) for pid in workers) and len(set(workers)) == 2
    finally:
        supervisor.terminate()  # stops every worker, then exits
        assert supervisor.wait(30) == 0
    wait_until(lambda: not any(pid_alive(pid) for pid in workers), 10, "the workers stop with the supervisor")
