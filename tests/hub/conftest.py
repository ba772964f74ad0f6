"""A real JupyterHub on 127.0.0.1: configurable-http-proxy, DummyAuthenticator, local-process spawner, and the
single-user servers of alice, bob and carol (carol is in the hub group ``approvers``).

Every process started here carries the environment marker ``MLOPS_HUB_TEST=<uuid>``; teardown stops the hub
(which stops the servers and the proxy), stops the serving daemon, then ends any process still carrying the marker
(by PID, found in /proc), so a crashed hub leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHP = ROOT / ".hub-tools" / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ("alice", "bob", "carol")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    url: str
    api_token: str
    folder: Path
    data_dir: Path
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def hub_api(self, method: str, path: str, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"token {self.api_token}"}
        return httpx.request(method, f"{self.url}/hub/api{path}", headers=headers, trust_env=False, timeout=30, **kw)

    def call(self, user: str, method: str, server_of: str, path: str, **kw: object) -> httpx.Response:
        """``user`` calls ``/user/<server_of>/mlops/api<path>`` through the hub's proxy with their own API token."""
        headers = {"Authorization": f"token {self.tokens[user]}"}
        url = f"{self.url}/user/{server_of}/mlops/api{path}"
        return httpx.request(method, url, headers=headers, trust_env=False, timeout=120, **kw)


def _marked_pids(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"MLOPS_HUB_TEST={marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _end(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(AssertionError):  # those still alive after 10 s are killed
        wait_until(lambda: not any(Path(f"/proc/{p}").exists() for p in pids), 10, "tagged processes ending", 0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _write_config(
    folder: Path, data_dir: Path, ports: dict[str, int], api_token: str, marker: str, extra: str = ""
) -> Path:
    # Settings every single-user server reads (a team installation: one shared store and serving daemon).
    etc = folder / "etc"
    etc.mkdir()
    (etc / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "MLOpsConfig": {
                    "data_dir": str(data_dir),
                    "roles": {"group:approvers": "approver"},
                    "protected_deployments": ["*-prod"],
                }
            }
        )
    )
    for user in USERS:
        (folder / "home" / user).mkdir(parents=True)
    config = folder / "jupyterhub_config.py"
    config.write_text(
        f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {ports["public"]}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports["hub"]}
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = ["{CHP}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.auth_token = "{secrets.token_hex(32)}"
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/home/{{username}}"
c.Spawner.cmd = ["{VENV_BIN / "jupyterhub-singleuser"}"]
c.Spawner.args = ["--allow-root"]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 90
c.Spawner.environment = {{
    "MLOPS_HUB_TEST": "{marker}",
    "JUPYTER_CONFIG_PATH": "{etc}",
    "PATH": "{VENV_BIN}:/usr/bin:/bin",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}}
c.JupyterHub.load_groups = {{"approvers": {{"users": ["carol"]}}}}
c.JupyterHub.services = [{{"name": "mlops-test", "api_token": "{api_token}"}}]
c.JupyterHub.load_roles = [
    {{"name": "mlops-test", "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:groups"],
      "services": ["mlops-test"]}},
    # bob may reach alice's server (shared access): our extension must still keep him off her deployments
    {{"name": "bob-visits-alice", "scopes": ["access:servers!user=alice"], "users": ["bob"]}},
]
"""
        + extra
    )
    return config


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    with running_hub() as started:
        yield started


@contextlib.contextmanager
def running_hub(extra_config: Callable[[str], str] | None = None, spawn: bool = True) -> Iterator[Hub]:
    """A hub with alice, bob and carol (their servers started when ``spawn``) and an API token each.

    ``extra_config(marker)`` returns lines appended to jupyterhub_config.py (e.g. a managed service, which must
    carry ``MLOPS_HUB_TEST=<marker>`` in its environment so teardown can end it if the hub dies).
    """
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: run `make hub-tools` (npm install configurable-http-proxy@5.2.0).")
    folder = Path(tempfile.mkdtemp(prefix="mlhub-"))
    data_dir = folder / "mlops"
    marker = uuid.uuid4().hex
    api_token = secrets.token_hex(32)
    ports = {"public": free_port(), "hub": free_port(), "proxy_api": free_port()}
    config = _write_config(folder, data_dir, ports, api_token, marker, extra_config(marker) if extra_config else "")
    log = folder / "hub.log"
    env = {**os.environ, "MLOPS_HUB_TEST": marker, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    for var in [v for v in env if v.startswith(("JUPYTER_MLOPS_", "JUPYTERHUB_", "MLFLOW_TRACKING"))]:
        del env[var]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(url=f"http://127.0.0.1:{ports['public']}", api_token=api_token, folder=folder, data_dir=data_dir, log=log)
    try:
        _wait(lambda: hub.hub_api("GET", "/").status_code == 200, 60, process, log, "the hub to answer")
        for user in USERS if spawn else ():
            response = hub.hub_api("POST", f"/users/{user}/server")
            assert response.status_code in (201, 202), response.text
        for user in USERS:
            if spawn:
                _wait(lambda u=user: _ready(hub, u), 120, process, log, f"{user}'s server")
            token = hub.hub_api("POST", f"/users/{user}/tokens", json={"note": "mlops hub test"})
            assert token.status_code == 201, token.text
            hub.tokens[user] = token.json()["token"]
        yield hub
    finally:
        _stop(process, marker, data_dir)


def _ready(hub: Any, user: str) -> bool:
    """Whether ``user``'s default server is ready (``hub``: anything with ``hub_api``, as Hub and TeamHub)."""
    model = hub.hub_api("GET", f"/users/{user}").json()
    return bool((model.get("servers") or {}).get("", {}).get("ready"))


def _wait(check: Callable[[], object], seconds: float, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    def met() -> object:
        if process.poll() is not None:
            pytest.fail(f"The hub exited while waiting for {what}:\n{log.read_text()[-4000:]}")
        return check()

    wait_until(
        met,
        seconds,
        lambda: f"Timed out waiting for {what}:\n{log.read_text()[-4000:]}",
        0.3,
        ignore=(httpx.HTTPError,),
    )


def _stop(process: subprocess.Popen, marker: str, data_dir: Path) -> None:  # type: ignore[type-arg]
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the hub stops the single-user servers and the proxy
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    if (data_dir / "serving").exists():
        from jupyter_mlops.config import MLOpsConfig
        from jupyter_mlops.core.store import Store
        from jupyter_mlops.core.targets.local import LocalTarget

        config = MLOpsConfig(data_dir=str(data_dir))
        store = Store(config.store_url)
        LocalTarget(config, store).stop_daemon()
        store.close()
    _end(_marked_pids(marker))
