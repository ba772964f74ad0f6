"""Issue #19 item 6 on PostgreSQL: a rotated deployment token stops working on the very next request.

SQLite has ``PRAGMA data_version`` to notice a commit at once; PostgreSQL has nothing as cheap, so the facade tells
the serving target before ``issue_token`` returns, and writers that bypass the facade are noticed through
``LISTEN/NOTIFY``. Real components throughout: a PostgreSQL cluster (the team
suite's helper), MLflow on SQLite, our store on PostgreSQL, and the serving daemon started by ``LocalTarget``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.core.governance.tokens import DeploymentTokens
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import auth
from tests.serving.conftest import serving_config_for
from tests.team.services import Postgres, postgres_available

pytestmark = pytest.mark.slow

NAME = "pg-rotation"
ISOLATED = "pg-rotation-iso"  # served by its own worker process, behind the daemon's token check


@dataclass(frozen=True)
class PgInstallation:
    """A facade whose store is PostgreSQL, with tokens required, and the daemon serving its deployments."""

    mlops: MLOps
    daemon_url: str


@pytest.fixture(scope="module")
def pg_installation(
    tmp_path_factory: pytest.TempPathFactory,
    trained_model: GradientBoostingClassifier,
    iris: tuple[pd.DataFrame, pd.Series],
) -> Iterator[PgInstallation]:
    """Register and deploy ``pg-rotation`` in the daemon and ``pg-rotation-iso`` in a worker process (tokens on),
    with our store on a throwaway PostgreSQL cluster."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    data_dir: Path = tmp_path_factory.mktemp("pg-rotation")
    with Postgres.running() as pg:
        config = serving_config_for(data_dir, store_url=pg.create_database("mlops"), require_deployment_token=True)
        mlops = MLOps(config, user="alice")
        try:
            X, y = iris
            mlops.register(trained_model, NAME, X, y)
            mlops.deploy(f"{NAME}/1", NAME)
            mlops.deploy(f"{NAME}/1", ISOLATED, isolated=True)
            target = mlops.targets["local"]
            assert isinstance(target, LocalTarget)
            info = target.running_daemon()
            assert info is not None
            yield PgInstallation(mlops, info.url)
        finally:
            target = (mlops.built_targets or {}).get("local")
            if isinstance(target, LocalTarget):
                target.stop_daemon()
            mlops.close()


@pytest.mark.parametrize("name", [NAME, ISOLATED])
def test_a_rotated_token_stops_working_at_once_on_postgresql(pg_installation: PgInstallation, name: str) -> None:
    mlops, url = pg_installation.mlops, f"{pg_installation.daemon_url}/v2/models/{name}"
    assert mlops.store.engine.url.get_backend_name() == "postgresql"
    with httpx.Client(trust_env=False, timeout=30) as http:
        # Given a deployment that requires its token, answering its owner's current token
        first = mlops.issue_token(name)
        assert http.get(url).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {first}"}).status_code == 200
        # (the daemon has the digest cached now: the next checks are served from memory)
        assert http.get(url, headers={"Authorization": f"Bearer {first}"}).status_code == 200
        # When the owner rotates it
        second = mlops.issue_token(name)
        # Then the very next request with the old token is refused, and the new one answers, with no wait between
        refused = http.get(url, headers={"Authorization": f"Bearer {first}"})
        assert refused.status_code == 403, refused.text
        assert http.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 200
        # and a second rotation in a row behaves the same (nothing left cached from the first)
        third = mlops.issue_token(name)
        for old in (first, second):
            assert http.get(url, headers={"Authorization": f"Bearer {old}"}).status_code == 403
        assert http.get(url, headers={"Authorization": f"Bearer {third}"}).status_code == 200


def _refused_within(http: httpx.Client, url: str, token: str, seconds: float) -> float:
    """Seconds until ``token`` is refused on ``url``, polled against a deadline (AssertionError past it)."""
    started = time.monotonic()
    while http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code != 403:
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"the old token still worked {elapsed:.2f} s after the rotation"
    return time.monotonic() - started


def test_a_token_changed_outside_the_facade_is_noticed_through_postgresql_notifications(
    pg_installation: PgInstallation,
) -> None:
    mlops, url = pg_installation.mlops, f"{pg_installation.daemon_url}/v2/models/{NAME}"
    tokens = DeploymentTokens(mlops.store)  # another writer: nothing tells the daemon but the store itself
    with httpx.Client(trust_env=False, timeout=30) as http:
        first = mlops.issue_token(NAME)
        assert http.get(url, headers={"Authorization": f"Bearer {first}"}).status_code == 200  # cached now
        # When the token is rotated straight in the store
        second = tokens.issue(NAME)
        # Then the daemon drops the old one well before its timed re-read (REFRESH_SECONDS) would
        assert _refused_within(http, url, first, auth.REFRESH_SECONDS / 2) < auth.REFRESH_SECONDS / 2
        assert http.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 200
        # and a revocation straight in the store opens the endpoint as quickly
        tokens.revoke(NAME)
        started = time.monotonic()
        while http.get(url).status_code != 200:
            assert time.monotonic() - started < auth.REFRESH_SECONDS / 2, "the revoked token is still required"
        mlops.issue_token(NAME)  # locked again, as the installation requires
