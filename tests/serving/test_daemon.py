"""The daemon as a process: discovery file, admin API auth, loopback only, restart from the Store, start errors."""

from __future__ import annotations

import stat
import threading

import orjson
import psutil
import pytest

from jupyter_mlops.core.errors import Unavailable
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget, pid_alive
from jupyter_mlops.serving import daemon_file

from ..waiting import wait_until
from .conftest import daemon_url, serving_config_for


def test_discovery_file_is_private_and_describes_the_daemon(serving_daemon, local_target) -> None:
    info = daemon_file.read(local_target.info_path)
    assert info is not None
    assert stat.S_IMODE(local_target.info_path.stat().st_mode) == 0o600
    assert pid_alive(info.pid)
    assert info.host == "127.0.0.1"
    assert info.url == f"http://127.0.0.1:{info.port}"
    assert len(info.token) >= 40


def test_ensure_daemon_reuses_the_running_one(serving_daemon, local_target, serving_config, store) -> None:
    other_client = LocalTarget(serving_config, store)  # e.g. a kernel next to the Jupyter server
    try:
        assert other_client.ensure_daemon().pid == local_target.ensure_daemon().pid
    finally:
        other_client.close()


def test_the_daemon_listens_on_loopback_only(serving_daemon, local_target) -> None:
    info = daemon_file.read(local_target.info_path)
    assert info is not None
    listening = [c for c in psutil.Process(info.pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc", "Bearer"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/status"),
        ("POST", "/admin/reconcile"),
        ("GET", "/admin/deployments/x"),
        ("POST", "/admin/shutdown"),
    ],
)
def test_the_admin_api_requires_the_token(serving_daemon, local_target, http, header, method, path) -> None:
    headers = {"Authorization": header} if header else {}
    response = http.request(method, daemon_url(local_target) + path, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    info = daemon_file.read(local_target.info_path)
    assert info is not None
    assert pid_alive(info.pid)  # an unauthenticated shutdown did nothing


def test_admin_status_and_reconcile_with_the_token(serving_daemon, local_target, http) -> None:
    info = daemon_file.read(local_target.info_path)
    assert info is not None
    auth = {"Authorization": f"Bearer {info.token}"}
    status = http.get(f"{info.url}/admin/status", headers=auth).json()
    assert status["pid"] == info.pid
    assert isinstance(status["deployments"], list)
    accepted = http.post(f"{info.url}/admin/reconcile", headers=auth, content=orjson.dumps({"name": "absent"}))
    assert accepted.status_code == 202
    assert accepted.json() == {"deployments": []}
    assert http.get(f"{info.url}/admin/deployments/absent", headers=auth).status_code == 404
    assert http.post(f"{info.url}/admin/reconcile", headers=auth, content=b"{").status_code == 400


def test_a_non_loopback_host_is_refused_with_the_reason(tmp_path, store) -> None:
    config = serving_config_for(tmp_path, serving_host="0.0.0.0")
    target = LocalTarget(config, store)
    try:
        with pytest.raises(Unavailable) as refused:
            target.ensure_daemon()
    finally:
        target.close()
    assert "exited during startup" in refused.value.message
    assert "Refusing to serve on '0.0.0.0'" in refused.value.message
    assert daemon_file.read(target.info_path) is None


def test_a_restarted_daemon_brings_deployments_back(deploy, local_target, http, registered_model) -> None:
    # Given a ready deployment
    deploy("comeback")
    old = daemon_file.read(local_target.info_path)
    assert old is not None

    # When the daemon stops
    assert local_target.stop_daemon()
    assert not pid_alive(old.pid)
    assert daemon_file.read(local_target.info_path) is None
    # reading statuses does not start it
    assert local_target.statuses() == {}
    assert local_target.status("comeback") is None
    assert daemon_file.read(local_target.info_path) is None

    # and two clients race to start it again, only one daemon starts
    started: list[int] = []
    clients = [LocalTarget(local_target.config, local_target.store) for _ in range(2)]
    threads = [threading.Thread(target=lambda c=c: started.append(c.ensure_daemon().pid)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert len(started) == 2
    assert len(set(started)) == 1
    assert started[0] != old.pid

    # Then the deployment comes back from the Store, ready, and answers
    status = local_target.wait_ready("comeback", 60)
    assert status.state == DeploymentState.ready
    rows = registered_model.X.head(5)
    body = orjson.dumps({"dataframe_split": rows.to_dict(orient="split")})
    code, _headers, content = local_target.invoke("comeback", body, "application/json")
    assert code == 200
    assert orjson.loads(content) == {"predictions": registered_model.expected(rows)}


def test_a_daemon_whose_discovery_file_is_gone_exits(tmp_path) -> None:
    # Given a daemon of a data dir that then disappears (a deleted temp folder, or a newer daemon took over)
    config = serving_config_for(tmp_path)
    store = Store(config.store_url)
    target = LocalTarget(config, store)
    try:
        info = target.ensure_daemon()
        target.info_path.unlink()
        # Then it shuts itself down rather than holding a port nobody can find
        # (within its graceful shutdown: its inference log writer may still be starting on a busy machine, and
        # the daemon waits up to 10 s for it to write what it was handed)
        wait_until(lambda: not pid_alive(info.pid), 30, "the daemon without a discovery file exits")
    finally:
        target.stop_daemon()
        target.close()
        store.close()
