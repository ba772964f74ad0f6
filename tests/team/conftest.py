"""Team-scale fixtures: our store on PostgreSQL and MLflow behind a remote ``mlflow server`` on PostgreSQL.

Started once per session (about 10 s): Debian's PostgreSQL as the postgres user, one database for MLflow and one
for our store, and ``mlflow server --serve-artifacts``. The MLOps facade and its serving daemon talk to them
exactly as a team installation (JupyterHub + MLflow server + PostgreSQL) would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_mlops.config import MLOpsConfig

from .services import MlflowServer, Postgres, postgres_available


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_settings() -> Iterator[None]:
    """Settings that earlier tests exported (the server extension exports JUPYTER_MLOPS_* for its kernels) must
    not leak into these installations."""
    leaked = [v for v in os.environ if v.startswith(("JUPYTER_MLOPS_", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))]
    with pytest.MonkeyPatch.context() as patch:
        for var in leaked:
            patch.delenv(var)
        yield


@dataclass
class TeamServices:
    postgres: Postgres
    mlflow: MlflowServer
    store_url: str
    artifacts: Path


@pytest.fixture(scope="session")
def team_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServices]:
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("team")
    with Postgres.running() as pg:
        mlflow_db = pg.create_database("mlflow")
        store_url = pg.create_database("mlops")
        with MlflowServer.running(mlflow_db, folder) as server:
            yield TeamServices(pg, server, store_url, folder / "artifacts")


@pytest.fixture(scope="session")
def team_config(team_services: TeamServices, tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    """A user's settings in a team installation: remote tracking server, shared PostgreSQL store."""
    return MLOpsConfig(
        data_dir=str(tmp_path_factory.mktemp("team-user")),
        tracking_uri=team_services.mlflow.url,
        store_url=team_services.store_url,
    )


@pytest.fixture(scope="session")
def team_mlops(team_config: MLOpsConfig) -> Iterator[object]:
    from jupyter_mlops.core.service import MLOps
    from jupyter_mlops.core.targets.local import LocalTarget

    service = MLOps(team_config, user="alice")
    yield service
    target = service.targets.get("local")
    if isinstance(target, LocalTarget):
        target.stop_daemon()
    service.close()
