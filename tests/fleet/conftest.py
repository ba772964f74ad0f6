"""A real JupyterHub (tests/hub's harness, no single-user servers needed) with the one MLOps service
(``python -m jupyter_mlops.hub``, hub-managed) on a shared SQLite store, seeded with alice's, bob's and carol's
deployments (``seed.py``); its fleet view is under ``/services/mlops/fleet/``.

carol is in the group ``fleet-viewers``, whose role grants ``custom:mlops:fleet``; every user may reach the
service (``access:services!service=mlops`` is added to the default ``user`` role) so that refusals are
the service's own 403 with its reason, not the hub's.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.store import Store
from tests.hub.conftest import Hub, free_port, running_hub
from tests.waiting import wait_until

from .seed import seed

SERVICE = "mlops"
INTERVAL = 2  # seconds between the service's rollup runs


def fleet_config(store_url: str, port: int, interval: float = INTERVAL, data_dir: Path | None = None) -> str:
    """The lines an administrator adds to jupyterhub_config.py (README "Fleet view"), for this test hub."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="mlfleet-service-"))
    return f"""
c.JupyterHub.custom_scopes = {{
    "custom:mlops:fleet": {{"description": "See every user's models and deployments in the MLOps fleet view."}},
}}
c.JupyterHub.load_groups["fleet-viewers"] = {{"users": ["carol"]}}
c.JupyterHub.load_roles += [
    {{"name": "mlops-fleet-viewer", "scopes": ["custom:mlops:fleet", "access:services!service={SERVICE}"],
      "groups": ["fleet-viewers"]}},
    {{"name": "user", "scopes": ["self", "access:services!service={SERVICE}"]}},
]
c.JupyterHub.services += [
    {{
        "name": "{SERVICE}",
        "url": "http://127.0.0.1:{port}",
        "command": ["{sys.executable}", "-m", "jupyter_mlops.hub", "--fleet-interval", "{interval}",
                    "--fleet-without-mlflow", "--no-reconcile"],
        "environment": {{"JUPYTER_MLOPS_STORE_URL": "{store_url}", "JUPYTER_MLOPS_DATA_DIR": "{folder}",
                        "MLOPS_HUB_TEST": "@MARKER@"}},
        "oauth_client_allowed_scopes": ["custom:mlops:fleet"],
        "oauth_no_confirm": True,
    }},
]
"""


@dataclass
class Fleet:
    hub: Hub
    store: Store
    url: str  # the service's public URL through the hub's proxy

    def get(self, user: str, path: str, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"token {self.hub.tokens[user]}"}
        return httpx.get(f"{self.url}{path}", headers=headers, trust_env=False, timeout=30, **kw)


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    folder = Path(tempfile.mkdtemp(prefix="mlfleet-"))
    store_url = f"sqlite:///{folder}/mlops.db"
    store = seed(MLOpsConfig(data_dir=str(folder), store_url=store_url))
    text = fleet_config(store_url, free_port(), data_dir=folder)
    with running_hub(lambda marker: text.replace("@MARKER@", marker), spawn=False) as hub:
        fleet = Fleet(hub, store, f"{hub.url}/services/{SERVICE}/fleet/")

        def first_rollup() -> bool:  # the managed service starts with the hub; wait for its first rollup run
            response = fleet.get("carol", "api/summary")
            return response.status_code == 200 and bool(response.json()["deployments"])

        wait_until(
            first_rollup, 60, lambda: f"The fleet service did not come up:\n{hub.log.read_text()[-4000:]}", 0.3,
            ignore=(httpx.HTTPError,),
        )  # fmt: skip
        yield fleet
    store.close()
    shutil.rmtree(folder, ignore_errors=True)
