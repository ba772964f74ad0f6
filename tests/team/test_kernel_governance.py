"""Single-user mode, one configuration for every door: a kernel started by a configured Jupyter server
(``POST /api/kernels``) enforces the same governance as the server's REST handlers, as the server's user.

Real components: a Jupyter server with the extension (pytest-jupyter), a real IPython kernel started by that server
and driven over its channels with jupyter_client, a real MLflow store and our store on SQLite.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from jupyter_mlops.config import GOVERNANCE_TRAITS, SERVICE_ONLY_TRAITS, MLOpsConfig

from ..server.conftest import api  # noqa: F401 - the /mlops/api caller of the server tests

GOVERNED = {
    "protected_deployments": ["*-prod"],
    "protected_aliases": ["production"],
    "roles": {"group:reviewers": "approver", "dave": "viewer"},
    "grants": {"bob": ["shared-*"]},
    "require_deployment_token": True,
}


@pytest.fixture(scope="module")
def kernel_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    return MLOpsConfig(data_dir=str(tmp_path_factory.mktemp("kernel-gov")), **GOVERNED)


@pytest.fixture(scope="module")
def kernel_iris(kernel_config: MLOpsConfig, trained_model: Any, iris: Any) -> str:
    """Version 1 of ``iris`` registered in this installation (before any server starts)."""
    from jupyter_mlops.core.service import MLOps

    X, y = iris
    service = MLOps(MLOpsConfig(data_dir=kernel_config.data_dir))
    try:
        return f"iris/{service.register(trained_model, 'iris', X, y).version}"
    finally:
        service.close()


@pytest.fixture
def jp_server_config(kernel_config: MLOpsConfig) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {"data_dir": kernel_config.data_dir, **GOVERNED},
    }


async def _run(jp_serverapp: Any, kernel_id: str, code: str) -> tuple[str, str]:
    """Execute ``code`` in the server's kernel; returns (stdout, error text shown to the user)."""
    manager = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        out: list[str] = []
        err: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind == "error":
                err.append(f"{content['ename']}: {content['evalue']}")

        await client.execute_interactive(code, output_hook=hook, timeout=120)
        return "".join(out), "".join(err)
    finally:
        client.stop_channels()


def test_every_setting_reaches_kernels_through_the_environment(kernel_config: MLOpsConfig) -> None:
    # Given the settings a server exports to its kernels
    env = kernel_config.to_env()
    # Then every governance trait is there, and a config built from that environment alone equals the server's
    for name in GOVERNANCE_TRAITS:
        assert "JUPYTER_MLOPS_" + name.upper() in env, name
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("JUPYTER_MLOPS_")}
    try:
        os.environ.update(env)
        rebuilt = MLOpsConfig()
    finally:
        for k in env:
            os.environ.pop(k, None)
        os.environ.update(saved)
    for name in kernel_config.trait_names(config=True):
        if name not in SERVICE_ONLY_TRAITS:
            assert getattr(rebuilt, name) == getattr(kernel_config, name), name


def test_team_mode_exports_no_store_credentials() -> None:
    config = MLOpsConfig(
        service_url="http://127.0.0.1:9/services/mlops/",
        store_url="postgresql+psycopg://mlops:secret@db/mlops",
        tracking_uri="http://mlflow:5000",
    )
    env = config.to_env()
    assert env["JUPYTER_MLOPS_SERVICE_URL"] == "http://127.0.0.1:9/services/mlops/"
    assert not any("secret" in v or "postgresql" in v for v in env.values()), env
    assert "JUPYTER_MLOPS_STORE_URL" not in env


async def test_kernel_refuses_protected_deploy_like_rest(jp_serverapp: Any, jp_fetch: Any, api, kernel_iris: str):  # noqa: F811
    # Given a server configured with protected deployments and roles, refusing a protected deploy over REST
    status, body, _ = await api("POST", "deployments", body={"model": kernel_iris, "name": "x-prod"})
    assert status == 403, body
    rest_message = body["message"]
    status, rest_whoami, _ = await api("GET", "whoami")
    assert status == 200

    # When a kernel started by that server deploys to a protected name through the Python API and the magic
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    try:
        out, err = await _run(
            jp_serverapp,
            kernel_id,
            "import json, jupyter_mlops\n"
            "from jupyter_mlops.core.errors import MLOpsError\n"
            "try:\n"
            f"    jupyter_mlops.deploy({kernel_iris!r}, name='x-prod')\n"
            "    print(json.dumps({'deployed': True}))\n"
            "except MLOpsError as exc:\n"
            "    print(json.dumps({'status': exc.status, 'message': exc.message,\n"
            "                      'whoami': jupyter_mlops.client().whoami().model_dump(mode='json')}))\n",
        )
        assert out.strip(), err
        result = json.loads(out.strip().splitlines()[-1])
        magic_out, magic_err = await _run(
            jp_serverapp, kernel_id, f"%load_ext jupyter_mlops\n%deploy {kernel_iris} --as y-prod"
        )
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")

    # Then both are refused with the REST door's message, as the server's user with the server's role
    assert result.get("status") == 403, result
    assert result["message"] == rest_message
    assert result["whoami"] == rest_whoami
    assert rest_message.replace("x-prod", "y-prod") in magic_err, (magic_out, magic_err)

    # and the ledger records all three as refused; no deployment exists afterwards
    status, events, _ = await api("GET", "audit", params={"target": "deployment/x-prod"})
    assert status == 200, events
    items = events["items"]
    refused = [e for e in items if e["target"] == "deployment/x-prod" and e["outcome"] == "refused"]
    assert len(refused) == 2, items
    assert {e["actor"] for e in refused} == {rest_whoami["user"]}
    status, events, _ = await api("GET", "audit", params={"target": "deployment/y-prod"})
    items = events["items"]
    assert [e["outcome"] for e in items if e["action"] == "deploy"] == ["refused"], items
    for name in ("x-prod", "y-prod"):
        status, body, _ = await api("GET", "deployments", name)
        assert status == 404, body
