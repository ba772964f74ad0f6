"""Team mode with a real trust boundary: a real JupyterHub (configurable-http-proxy, DummyAuthenticator,
local-process spawner) whose users alice and bob (deployers), carol (approver through a custom scope granted to her
group) and erin (admin) each get their own single-user server process and HOME; the MLOps hub service
(``python -m jupyter_mlops.hub``) as an external hub service holding the only PostgreSQL password; PostgreSQL with
password logins for everyone (the superuser too); MLflow on SQLite in the service's private folder.

The hub configuration written here is the one README's team setup shows. Every process carries the marker
``MLOPS_HUB_TEST=<uuid>`` so teardown can end whatever a crash left behind, by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hub.conftest import CHP, VENV_BIN, _end, _marked_pids, _ready, _wait, free_port
from tests.team.services import Postgres, postgres_available
from tests.waiting import wait_until

USERS = ("alice", "bob", "carol", "erin")
SERVICE = "mlops"
MAX_UPLOAD_MB = 4  # the service's cap on a packed model (512 by default): small, so the 413 test sends little


def hub_config(folder: Path, ports: dict[str, int], service_token: str, driver_token: str, marker: str) -> str:
    """jupyterhub_config.py of a team installation (README, "Team setup")."""
    return f"""
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
# Users' servers get the service's URL and nothing else of MLOps: no store URL, no password, no MLflow database.
c.Spawner.environment = {{
    "MLOPS_HUB_TEST": "{marker}",
    "JUPYTER_MLOPS_SERVICE_URL": "http://127.0.0.1:{ports["public"]}/services/{SERVICE}/",
    "PATH": "{VENV_BIN}:/usr/bin:/bin",
}}

# MLOps permissions are hub permissions: custom scopes, granted through roles on groups and users.
# a server's token (and so its kernels') may reach the MLOps service and carries the owner's MLOps scopes (the hub
# gives each token only the subset its owner holds)
c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user", "access:services!service={SERVICE}",
                                 "custom:mlops:deploy", "custom:mlops:approve", "custom:mlops:admin"]
c.JupyterHub.custom_scopes = {{
    "custom:mlops:deploy": {{"description": "Deploy models and change one's own deployments."}},
    "custom:mlops:approve": {{"description": "Grant or reject others' requests for protected changes."}},
    "custom:mlops:admin": {{"description": "Administer every deployment, approval and the audit ledger."}},
    "custom:mlops:fleet": {{"description": "See every user's models and deployments in the MLOps fleet view."}},
}}
c.JupyterHub.load_groups = {{"deployers": {{"users": ["alice", "bob"]}}, "approvers": {{"users": ["carol"]}}}}
c.JupyterHub.services = [
    # one service: the API and the fleet view (its browser login allowed the fleet scope)
    {{"name": "{SERVICE}", "url": "http://127.0.0.1:{ports["service"]}", "api_token": "{service_token}",
      "oauth_client_allowed_scopes": ["custom:mlops:fleet"], "oauth_no_confirm": True}},
    {{"name": "test-driver", "api_token": "{driver_token}"}},
]
c.JupyterHub.load_roles = [
    {{"name": "mlops-deployer", "scopes": ["custom:mlops:deploy", "access:services!service={SERVICE}"],
      "groups": ["deployers"]}},
    {{"name": "mlops-approver", "scopes": ["custom:mlops:approve", "access:services!service={SERVICE}"],
      "groups": ["approvers"]}},
    {{"name": "mlops-admin", "scopes": ["custom:mlops:admin", "access:services!service={SERVICE}"], "users": ["erin"]}},
    {{"name": "mlops-fleet-viewer", "scopes": ["custom:mlops:fleet", "access:services!service={SERVICE}"],
      "users": ["erin"]}},
    {{"name": "mlops-service", "scopes": ["read:users", "read:groups"], "services": ["{SERVICE}"]}},
    {{"name": "test-driver", "scopes": ["admin:users", "admin:servers", "tokens", "read:groups"],
      "services": ["test-driver"]}},
]
"""


@dataclass
class ServiceProcess:
    """The MLOps hub service, run as an external hub service (as systemd would run it)."""

    env: dict[str, str]
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mlops.hub"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def answering() -> bool:
            if self.process is None or self.process.poll() is not None:
                pytest.fail(f"The MLOps service exited:\n{self.log.read_text()[-4000:]}")
            return httpx.get(f"{self.url}api/v1/ping", timeout=2, trust_env=False).status_code == 200

        wait_until(
            answering,
            90,
            lambda: f"The MLOps service did not answer:\n{self.log.read_text()[-4000:]}",
            0.2,
            ignore=(httpx.HTTPError,),
        )

    def kill(self) -> None:
        """SIGKILL, as a crash would (its serving daemon runs in its own session and keeps serving)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class TeamHub:
    url: str
    driver_token: str
    folder: Path
    log: Path
    pg: Postgres
    store_url: str
    service: ServiceProcess
    service_config: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def service_url(self) -> str:
        return f"{self.url}/services/{SERVICE}/"

    def hub_api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.driver_token}"}
        return httpx.request(method, f"{self.url}/hub/api{path}", headers=headers, trust_env=False, timeout=30, **kw)

    def rest(self, user: str, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """``user``'s sidebar door: ``/user/<user>/mlops/api<path>`` through the proxy with their token."""
        headers = {"Authorization": f"token {token or self.tokens[user]}"}
        url = f"{self.url}/user/{user}/mlops/api{path}"
        return httpx.request(method, url, headers=headers, trust_env=False, timeout=180, **kw)

    def call(self, token: str | None, operation: str, *args: Any, **kwargs: Any) -> httpx.Response:
        """A raw call to the service (through the proxy), with any token or none."""
        headers = {"Authorization": f"token {token}"} if token is not None else {}
        return httpx.post(
            f"{self.service_url}api/v1/call/{operation}",
            json={"args": list(args), "kwargs": kwargs},
            headers=headers,
            trust_env=False,
            timeout=180,
        )

    def home(self, user: str) -> Path:
        return self.folder / "home" / user

    @contextlib.contextmanager
    def kernel(self, user: str) -> Iterator[Kernel]:
        """A kernel started by ``user``'s own server (``POST /user/<user>/api/kernels``), driven over its channels."""
        from jupyter_client import BlockingKernelClient

        headers = {"Authorization": f"token {self.tokens[user]}"}
        base = f"{self.url}/user/{user}/api/kernels"
        response = httpx.post(base, json={"name": "python3"}, headers=headers, trust_env=False, timeout=60)
        assert response.status_code == 201, response.text
        kernel_id = response.json()["id"]
        connection = next(self.home(user).rglob(f"kernel-{kernel_id}.json"))
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels(hb=False)  # a missed heartbeat on a loaded machine is no reason to fail
        try:
            client.wait_for_ready(timeout=60)
            yield Kernel(client)
        finally:
            client.stop_channels()
            httpx.delete(f"{base}/{kernel_id}", headers=headers, trust_env=False, timeout=30)


@dataclass
class Kernel:
    client: Any

    def run(self, code: str) -> tuple[str, str]:
        """Execute ``code``; returns (stdout, what the user sees as errors)."""
        out: list[str] = []
        err: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind == "error":
                err.append(f"{content['ename']}: {content['evalue']}")

        self.client.execute_interactive(code, output_hook=hook, timeout=180)
        return "".join(out), "".join(err)

    def json(self, code: str) -> Any:
        """Execute ``code`` whose last line of output is JSON, and decode it."""
        out, err = self.run(code)
        assert out.strip(), f"no output; errors: {err}"
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


@pytest.fixture(scope="session")
def trained_model(iris: tuple[Any, Any]) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = iris
    return GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def team_hub(trained_model: Any, iris: Any) -> Iterator[TeamHub]:
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: run `make hub-tools`.")
    with running_team_hub(trained_model, iris) as hub:
        yield hub


@contextlib.contextmanager
def running_team_hub(trained_model: Any, iris: Any) -> Iterator[TeamHub]:
    """The whole installation, with ``iris`` version 1 registered; ended (by PID) on exit.

    Also what ``benchmarks/team_mode.py`` runs, so its figures come from the installation these tests check.
    """
    folder = Path(tempfile.mkdtemp(prefix="mlteam-"))
    marker = uuid.uuid4().hex
    ports = {k: free_port() for k in ("public", "hub", "proxy_api", "service")}
    service_token, driver_token = secrets.token_hex(32), secrets.token_hex(32)
    (folder / "hub.py").write_text(hub_config(folder, ports, service_token, driver_token, marker))
    for user in USERS:
        (folder / "home" / user).mkdir(parents=True)
    log = folder / "hub.log"
    with Postgres.running(passwords=True) as pg:
        password = secrets.token_hex(16)
        pg.create_role("mlops", password)
        store_url = pg.create_database("mlops", owner="mlops").replace("postgres@", f"mlops:{password}@")
        service_dir = folder / "service"
        service_config = {
            "JUPYTER_MLOPS_DATA_DIR": str(service_dir),
            "JUPYTER_MLOPS_STORE_URL": store_url,
            "JUPYTER_MLOPS_PROTECTED_DEPLOYMENTS": '["*-prod"]',
            "JUPYTER_MLOPS_AUDIT_KEY_FILE": str(service_dir / "keys" / "ledger.key"),
        }
        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "JUPYTERHUB_", "MLFLOW_"))
        }
        service_env = {
            **base_env,
            **service_config,
            "MLOPS_HUB_TEST": marker,
            "HOME": str(service_dir),
            "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
            "JUPYTERHUB_API_TOKEN": service_token,
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{ports['hub']}/hub/api",
            "JUPYTERHUB_SERVICE_NAME": SERVICE,
            "JUPYTERHUB_SERVICE_PREFIX": f"/services/{SERVICE}/",
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{ports['service']}",
            "JUPYTER_MLOPS_HUB_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
            "JUPYTER_MLOPS_HUB_ALLOW_KERNEL_REGISTRATION": "1",  # off by default (README, Team mode)
        }
        service_dir.mkdir(mode=0o700)
        service = ServiceProcess(
            service_env, f"http://127.0.0.1:{ports['service']}/services/{SERVICE}/", folder / "service.log"
        )
        _register_model(service_config, trained_model, iris)
        hub_env = {**base_env, "MLOPS_HUB_TEST": marker, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(VENV_BIN / "jupyterhub"), "-f", str(folder / "hub.py")],
                cwd=folder,
                env=hub_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        hub = TeamHub(f"http://127.0.0.1:{ports['public']}", driver_token, folder, log, pg, store_url, service,
                      service_config)  # fmt: skip
        try:
            _wait(lambda: hub.hub_api("GET", "/").status_code == 200, 60, process, log, "the hub")
            service.start()
            for user in USERS:
                assert hub.hub_api("POST", f"/users/{user}/server").status_code in (201, 202)
            for user in USERS:
                _wait(lambda u=user: _ready(hub, u), 120, process, log, f"{user}'s server")
                token = hub.hub_api("POST", f"/users/{user}/tokens", json={"note": "mlops team test"})
                assert token.status_code == 201, token.text
                hub.tokens[user] = token.json()["token"]
            yield hub
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(30)
            service.kill()
            _stop_daemon(service_config)
            _end(_marked_pids(marker))


def _register_model(service_config: dict[str, str], model: Any, iris: Any) -> None:
    """The platform team registers ``iris`` version 1 (MLflow lives in the service's private folder)."""
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    config = MLOpsConfig(
        data_dir=service_config["JUPYTER_MLOPS_DATA_DIR"], store_url=service_config["JUPYTER_MLOPS_STORE_URL"]
    )
    mlops = MLOps(config)
    try:
        X, y = iris
        mlops.register(model, "iris", X, y)
    finally:
        mlops.close()


def _stop_daemon(service_config: dict[str, str]) -> None:
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.store import Store
    from jupyter_mlops.core.targets.local import LocalTarget

    config = MLOpsConfig(
        data_dir=service_config["JUPYTER_MLOPS_DATA_DIR"], store_url=service_config["JUPYTER_MLOPS_STORE_URL"]
    )
    if not config.serving_dir.exists():
        return
    store = Store(config.store_url)
    try:
        LocalTarget(config, store).stop_daemon()
    finally:
        store.close()
