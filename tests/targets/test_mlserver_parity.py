"""V2 parity with MLServer: the same registered model served by MLServer's MLflow runtime and by our daemon, both
called with the same off-the-shelf V2 client (``tritonclient[http]``); health, metadata and answers compared.

MLServer pins a fastapi that conflicts with ray[serve], so it lives in its own venv (``make mlserver-env``,
``.venv-mlserver``); the test skips with the reason when that venv is absent. Both servers are real processes on
127.0.0.1 free ports, started and stopped here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget

from ..team.services import free_port
from ..waiting import wait_until

pytestmark = pytest.mark.slow

MLSERVER_VENV = Path(__file__).resolve().parents[2] / ".venv-mlserver"
MLSERVER = MLSERVER_VENV / "bin" / "mlserver"
NO_MLSERVER = (
    f"MLServer's MLflow runtime is not installed in {MLSERVER_VENV} (its own venv: it conflicts with ray[serve] on "
    "fastapi); create it with `make mlserver-env`"
)
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
NAME = "iris-v2"


@dataclass
class Servers:
    mlops: MLOps
    ours: str  # host:port of our daemon
    mlserver: str  # host:port of MLServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, iris, trained_model) -> Iterator[Servers]:
    if not MLSERVER.exists():
        pytest.skip(NO_MLSERVER)
    data_dir = tmp_path_factory.mktemp("mlserver")
    mlops = MLOps(MLOpsConfig(data_dir=str(data_dir)), user="tester")
    mlserver: subprocess.Popen[bytes] | None = None
    log_path = data_dir / "mlserver.log"
    try:
        X, y = iris
        version = mlops.register(trained_model, "iris", X, y)
        deployment = mlops.deploy(f"iris/{version.version}", NAME, target="local")
        # MLServer gets the same registered version: its artifacts, fetched through MLflow's registry.
        import mlflow

        with mlops.registry.fluent():
            model_dir = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/iris/{version.version}", dst_path=str(data_dir / "artifact")
            )
        port = free_port()
        repository = _model_repository(data_dir / "repository", Path(model_dir), version.version, port)
        with log_path.open("wb") as log:
            mlserver = subprocess.Popen(
                [str(MLSERVER), "start", str(repository)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=repository,
                env={**os.environ, "MLFLOW_TRACKING_URI": mlops.config.tracking_uri},
                start_new_session=True,
            )
        _wait_model_ready(f"127.0.0.1:{port}", mlserver, log_path)
        yield Servers(mlops, urlsplit(deployment.url or "").netloc, f"127.0.0.1:{port}")
    finally:
        if mlserver is not None:
            mlserver.terminate()
            try:
                mlserver.wait(15)
            except subprocess.TimeoutExpired:
                mlserver.kill()
                mlserver.wait(5)
        local = mlops.targets.get("local")
        if isinstance(local, LocalTarget):
            local.stop_daemon()
        mlops.close()


def _model_repository(root: Path, model_dir: Path, version: str, port: int) -> Path:
    """MLServer's settings (loopback, free ports, no worker pool) and one model served by its MLflow runtime."""
    model = root / NAME
    model.mkdir(parents=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,  # one process: the worker pool needs uvloop<0.22 and doubles the memory
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": NAME,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(model_dir), "version": version},
    }
    (model / "model-settings.json").write_text(json.dumps(model_settings))
    return root


def _wait_model_ready(address: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    # /v2/health/ready answers 200 before the model is loaded (RECIPES): wait for the model itself.
    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"MLServer exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        return httpx.get(f"http://{address}/v2/models/{NAME}/ready", timeout=2, trust_env=False).status_code == 200

    wait_until(
        ready,
        timeout,
        lambda: f"MLServer did not load the model:\n{log_path.read_text()[-3000:]}",
        0.2,
        ignore=(httpx.HTTPError,),
    )


def _client(address: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=address)


def _columns(rows: np.ndarray) -> list[triton.InferInput]:
    """One FP64 tensor per column, as JSON (MLServer answers binary tensors with 422)."""
    inputs = []
    for index, column in enumerate(COLUMNS):
        tensor = triton.InferInput(column, [len(rows)], "FP64")
        tensor.set_data_from_numpy(rows[:, index].copy(), binary_data=False)
        inputs.append(tensor)
    return inputs


def test_both_servers_are_live_and_ready_for_the_same_client(servers: Servers) -> None:
    for address in (servers.ours, servers.mlserver):
        with _client(address) as client:
            assert client.is_server_live() and client.is_server_ready()
            assert client.is_model_ready(NAME)
            assert not client.is_model_ready("no-such-model")


def test_metadata_agrees_on_name_inputs_and_output_type(servers: Servers) -> None:
    """Both read the MLflow signature: same model name, input names and datatypes in the same order, batch axis
    first, and the same output datatype. Measured differences (not errors of either): MLServer shapes each column
    ``[-1, 1]`` (we ``[-1]``), names its output ``output-0`` (we ``predictions``, as MLflow's scoring server) and
    lists no ``versions`` (we list the pinned version)."""
    with _client(servers.ours) as ours, _client(servers.mlserver) as theirs:
        a, b = ours.get_model_metadata(NAME), theirs.get_model_metadata(NAME)
    assert a["name"] == b["name"] == NAME
    assert [(i["name"], i["datatype"]) for i in a["inputs"]] == [(i["name"], i["datatype"]) for i in b["inputs"]]
    assert [i["name"] for i in a["inputs"]] == COLUMNS
    assert all(i["shape"][0] == -1 for i in a["inputs"] + b["inputs"])
    assert [o["datatype"] for o in a["outputs"]] == [o["datatype"] for o in b["outputs"]] == ["INT64"]
    assert a["versions"] == ["1"]


def test_the_same_request_gets_the_same_predictions(servers: Servers, iris, trained_model) -> None:
    X, _ = iris
    rows = X.sample(25, random_state=1).to_numpy(dtype=np.float64)
    expected = trained_model.predict(rows).tolist()
    answers = {}
    for label, address in (("ours", servers.ours), ("mlserver", servers.mlserver)):
        with _client(address) as client:
            result = client.infer(NAME, _columns(rows), request_id="parity-1")
        response = result.get_response()
        assert response["model_name"] == NAME and response["id"] == "parity-1"
        assert response["model_version"] == "1"
        (output,) = response["outputs"]
        # MLServer shapes a column of predictions [N, 1], we [N]: the values must be the same.
        answers[label] = result.as_numpy(output["name"]).reshape(-1).tolist()
    assert answers["ours"] == answers["mlserver"] == expected
