"""The mlflow.deployments plugin: MLflow's own CLI and get_deploy_client drive our deployments.

The CLI runs as a real subprocess (``python -m mlflow deployments ...``) found through the entry point, against
the session's embedded installation (same data dir, so the same serving daemon, stopped by the root fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow.deployments
import pytest
from click.testing import CliRunner
from mlflow.deployments.cli import commands
from mlflow.exceptions import MlflowException

from jupyter_mlops import mlflow_plugin

pytestmark = pytest.mark.slow


def _cli(config, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "MLFLOW_"))}
    env.update(config.to_env())
    result = subprocess.run(
        [sys.executable, "-m", "mlflow", "deployments", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_the_entry_point_is_registered() -> None:
    from mlflow.deployments.plugin_manager import DeploymentPlugins

    plugins = DeploymentPlugins()
    assert plugins["jupyter-mlops"] is mlflow_plugin


def test_mlflow_cli_creates_gets_predicts_and_deletes(mlops, iris_version, iris, trained_model, tmp_path) -> None:
    config = mlops.config
    X, _ = iris
    # When MLflow's CLI creates a deployment on our target
    _cli(config, "create", "-t", "jupyter-mlops", "--name", "cli-iris", "-m", f"models:/iris/{iris_version.version}")
    try:
        # then our facade sees it ready, owned by whoever ran the CLI
        assert mlops.deployment("cli-iris").state.value == "ready"

        # (in-process from here: each CLI process costs seconds of imports) MLflow's CLI predicts through it
        # what the estimator predicts
        runner = CliRunner(env=config.to_env())
        rows = X.sample(6, random_state=3)
        input_path = tmp_path / "input.json"
        rows.to_json(input_path, orient="records")
        out = runner.invoke(commands, ["predict", "-t", "jupyter-mlops", "--name", "cli-iris", "-I", str(input_path)])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["predictions"] == trained_model.predict(rows).tolist()

        # get shows it; a second create with the same name is refused with our message as MLflow's error
        shown = runner.invoke(commands, ["get", "-t", "jupyter-mlops", "--name", "cli-iris"])
        assert shown.exit_code == 0, shown.output
        assert f"model_uri: models:/iris/{iris_version.version}" in shown.output.splitlines()
        again = runner.invoke(commands, ["create", "-t", "jupyter-mlops", "--name", "cli-iris", "-m", "models:/iris/1"])
        assert again.exit_code != 0
        assert isinstance(again.exception, MlflowException)
        assert again.exception.message.startswith("A deployment named 'cli-iris' already exists")
    finally:
        _cli(config, "delete", "-t", "jupyter-mlops", "--name", "cli-iris")
    assert "cli-iris" not in {d.name for d in mlops.deployments()}


def test_get_deploy_client_drives_the_facade(mlops, iris_version, iris, trained_model) -> None:
    client = mlflow.deployments.get_deploy_client("jupyter-mlops")
    assert isinstance(client, mlflow_plugin.JupyterMLOpsDeploymentClient)
    client._mlops = mlops  # the same installation as the session's (a new client would read the environment)
    X, _ = iris
    created = client.create_deployment("py-iris", "models:/iris@champion")
    try:
        assert created["state"] == "ready"
        assert "py-iris" in {d["name"] for d in client.list_deployments()}
        assert client.get_deployment("py-iris")["model_uri"] == f"models:/iris/{iris_version.version}"
        predictions = client.predict("py-iris", X.head(4))
        assert (
            predictions.get_predictions(predictions_format="ndarray").tolist()
            == trained_model.predict(X.head(4)).tolist()
        )
        updated = client.update_deployment("py-iris", f"models:/iris/{iris_version.version}", config={"wait": "true"})
        assert updated["state"] == "ready"
        with pytest.raises(MlflowException, match="not supported"):
            client.explain("py-iris", X.head(1))
        with pytest.raises(MlflowException, match="Unknown config keys"):
            client.update_deployment("py-iris", "models:/iris/1", config={"replicas": "3"})
    finally:
        client.delete_deployment("py-iris")
    client.delete_deployment("py-iris")
    with pytest.raises(MlflowException) as missing:
        client.get_deployment("py-iris")
    assert missing.value.get_http_status_code() == 404
    with pytest.raises(MlflowException) as bad:
        client.create_deployment("py-iris", "runs:/abc/model")
    assert bad.value.get_http_status_code() == 400


def test_target_uri_names_a_configured_target(mlops) -> None:
    client = mlflow_plugin.JupyterMLOpsDeploymentClient("jupyter-mlops:/nowhere", mlops=mlops)
    with pytest.raises(MlflowException, match="Unknown target 'nowhere'"):
        client.create_deployment("x-iris", "models:/iris/1")
    assert "jupyter-mlops:/<target>" in mlflow_plugin.target_help()
