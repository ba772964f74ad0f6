"""Register -> deploy -> predict -> monitor -> audit against a team installation: a remote MLflow tracking server
(PostgreSQL backend, proxied artifacts) and our store on PostgreSQL, both real processes."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core import payloads
from jupyter_mlops.core.models import DeploymentState
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def test_team_settings_leave_artifacts_to_the_server(team_config: MLOpsConfig) -> None:
    # A file:// artifact root would bypass --serve-artifacts and only work on the machine that wrote it.
    assert team_config.artifact_root == ""
    assert team_config.registry_uri == team_config.tracking_uri


def test_register_deploy_predict_observe(team_mlops, team_services, iris, trained_model) -> None:
    X, y = iris
    # Given a model registered through the remote tracking server
    version = team_mlops.register(trained_model, "team-iris", X, y, alias="champion")
    assert version.version == "1"
    found = httpx.get(
        f"{team_services.mlflow.url}/api/2.0/mlflow/registered-models/get-latest-versions",
        params={"name": "team-iris"},
        trust_env=False,
    ).json()
    assert found["model_versions"][0]["version"] == "1"
    # its files went through the server into its artifact destination, not into the user's data dir
    assert any(p.name == "MLmodel" for p in team_services.artifacts.rglob("MLmodel"))
    assert not list(Path(team_mlops.config.data_dir).rglob("MLmodel"))

    # When it is deployed by alias
    deployment = team_mlops.deploy("team-iris@champion", "team-iris")
    try:
        assert deployment.state == DeploymentState.ready
        assert deployment.model_version == "1"
        # the desired state is a row in the shared PostgreSQL store
        with psycopg.connect(team_services.store_url.replace("postgresql+psycopg", "postgresql")) as conn:
            rows = conn.execute("SELECT name, owner, model_ref FROM mlops_deployments").fetchall()
        assert ("team-iris", "alice", "team-iris@champion") in rows

        # Then it predicts what the estimator predicts (the daemon loaded it through the tracking server)
        rows = X.sample(10, random_state=1)
        assert team_mlops.predict("team-iris", rows) == trained_model.predict(rows).tolist()

        # Monitoring: the daemon's inference log lands in the PostgreSQL store and the report counts it
        status, headers, _ = team_mlops.invoke("team-iris", payloads.scoring_request(rows))
        assert status == 200
        request_id = {k.lower(): v for k, v in headers.items()}["x-mlops-request-id"]
        wait_until(
            lambda: team_mlops.monitoring.store.known_requests("team-iris", [request_id]),
            20, "the inference log to reach the PostgreSQL store", 0.2,
        )  # fmt: skip
        report = team_mlops.monitor("team-iris", "1h")
        assert report.data["summary"]["requests"] >= 1
        # Audit: the deploy is in the ledger, by alice
        deploys = [e for e in team_mlops.audit_events("deployment/team-iris") if e.action == "deploy"]
        assert deploys and deploys[-1].actor == "alice"

        # and is observed ready by another user's facade on the same team services
        from jupyter_mlops.core.service import MLOps

        bob = MLOps(team_mlops.config, user="bob", targets=team_mlops.targets)
        listed = {d.name: d for d in bob.deployments()}
        assert listed["team-iris"].state == DeploymentState.ready
        assert listed["team-iris"].owner == "alice"
    finally:
        assert team_mlops.undeploy("team-iris") is True
    assert team_mlops.undeploy("team-iris") is False
