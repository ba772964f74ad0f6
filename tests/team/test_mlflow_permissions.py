"""MLflow's own permissions close the direct-write gap (issue 13 item 5): a real ``mlflow server --app-name
basic-auth``; the MLOps service's account creates and manages a protected registered model, a user's MLflow
credentials (what a kernel would hold) may read it but not move its alias, add or delete versions, delete it, or
raise their own permission. No PostgreSQL needed: MLflow's backend and its auth database are SQLite files."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from .services import MlflowServer

PASSWORDS = {name: secrets.token_urlsafe(18) for name in ("admin", "mlops-service", "alice")}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    folder = tmp_path_factory.mktemp("mlflow-auth")
    ini = folder / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder}/basic_auth.db\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORDS["admin"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    backend = f"sqlite:///{folder}/mlflow.db"
    with MlflowServer.running(backend, folder, app_name="basic-auth", extra_env=env) as server:
        yield server


def act_as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    """The MLflow credentials a process of ``user`` holds (MLflow reads them from the environment per request)."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORDS[user])


def refused(attempt: Callable[[], object]) -> str:
    with pytest.raises(MlflowException) as caught:
        attempt()
    return str(caught.value.error_code)


def test_service_account_manages_a_protected_model_and_users_cannot_write_it(
    auth_server: MlflowServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    uri = auth_server.url
    # no credentials: MLflow refuses before anything else
    anonymous = httpx.get(f"{uri}/api/2.0/mlflow/registered-models/search", trust_env=False, timeout=30)
    assert anonymous.status_code == 401
    # the platform team (MLflow admin) creates the service account and a user
    act_as(monkeypatch, "admin")
    admin = get_app_client("basic-auth", tracking_uri=uri)
    for user in ("mlops-service", "alice"):
        admin.create_user(user, PASSWORDS[user])
    # the service registers the protected model (its creator gets MANAGE), a version and the prod alias
    act_as(monkeypatch, "mlops-service")
    service = MlflowClient(uri, registry_uri=uri)
    service.create_registered_model("churn")
    run = service.create_run(service.create_experiment("churn-training"))
    source = f"runs:/{run.info.run_id}/model"
    version = service.create_model_version("churn", source, run_id=run.info.run_id).version
    service.set_registered_model_alias("churn", "prod", version)
    # MANAGE: it may set who else may do what on it (alice: read only, explicitly)
    service_auth = get_app_client("basic-auth", tracking_uri=uri)
    service_auth.grant_user_permission("alice", "registered_model", "churn", "READ")
    assert service.get_registered_model("churn").aliases == {"prod": version}

    # alice, with her own MLflow credentials (what a kernel holds), may read the model ...
    act_as(monkeypatch, "alice")
    alice = MlflowClient(uri, registry_uri=uri)
    alices_auth = get_app_client("basic-auth", tracking_uri=uri)
    assert alice.get_model_version_by_alias("churn", "prod").version == version
    # ... and may not write it in any way, nor raise her own permission
    attempts = {
        "move the alias": lambda: alice.set_registered_model_alias("churn", "prod", "1"),
        "delete the alias": lambda: alice.delete_registered_model_alias("churn", "prod"),
        "add a version": lambda: alice.create_model_version("churn", source, run_id=run.info.run_id),
        "delete the version": lambda: alice.delete_model_version("churn", version),
        "tag it": lambda: alice.set_registered_model_tag("churn", "approved", "yes"),
        "delete the model": lambda: alice.delete_registered_model("churn"),
        "self-grant MANAGE": lambda: alices_auth.grant_user_permission("alice", "registered_model", "churn", "MANAGE"),
    }
    codes = {what: refused(attempt) for what, attempt in attempts.items()}
    assert set(codes.values()) == {"PERMISSION_DENIED"}, codes

    # the model is as the service left it, and the service may still change it
    act_as(monkeypatch, "mlops-service")
    model = service.get_registered_model("churn")
    assert model.aliases == {"prod": version} and "approved" not in model.tags
    service.set_registered_model_tag("churn", "approved", "by-carol")
    assert service.get_registered_model("churn").tags["approved"] == "by-carol"
