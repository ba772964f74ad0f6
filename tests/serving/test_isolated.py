"""``isolated=True``: a deployment served by its own supervised worker process behind the daemon's usual routes.

The module runs its own installation and daemon (started with a fast restart policy, read from the environment
at daemon start) so crash loops take seconds; deployments go through the ``MLOps`` facade as users make them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator

import cloudpickle
import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
import psutil
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import DeploymentFailed
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget, pid_alive
from jupyter_mlops.serving.supervisor import POLICY_ENV

from ..waiting import holds_for, wait_until
from .conftest import MODEL_NAME, RegisteredVersion, daemon_url, mlflow_at, register, serving_config_for

cloudpickle.register_pickle_by_value(sys.modules[__name__])

JSON = {"Content-Type": "application/json"}
CRASHING = "crashes-on-load"


class CrashesOnLoad(mlflow.pyfunc.PythonModel):
    """A model whose loading kills its process (as a native library might); only inside a worker, so logging it
    here (MLflow may load it to check it) is safe."""

    def load_context(self, context):  # noqa: ANN001, ANN201 - pyfunc's signature
        if "--worker" in sys.argv:
            os._exit(70)

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        return np.zeros(len(model_input))


@pytest.fixture(scope="module")
def iso_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    return serving_config_for(tmp_path_factory.mktemp("isolated"))


@pytest.fixture(scope="module")
def iso_model(iso_config: MLOpsConfig, trained_model, iris) -> RegisteredVersion:
    """``iris-gb`` v1 (GradientBoosting) and ``crashes-on-load`` v1 in this module's MLflow."""
    with mlflow_at(iso_config):
        experiment = mlflow.create_experiment("isolated", artifact_location=iso_config.artifact_root)
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(name="model", python_model=CrashesOnLoad(), registered_model_name=CRASHING)
    return register(iso_config, experiment, trained_model, iris[0])


@pytest.fixture(scope="module")
def mlops(iso_config: MLOpsConfig, iso_model: RegisteredVersion) -> Iterator[MLOps]:
    """The facade on this installation; its daemon starts with a fast restart policy and is stopped at the end."""
    facade = MLOps(iso_config)
    target = facade.target("local")
    assert isinstance(target, LocalTarget)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(POLICY_ENV, '{"initial_delay": 0.2, "max_crashes": 2, "window": 60}')
        target.ensure_daemon()
    yield facade
    target.stop_daemon()
    facade.close()


def local(mlops: MLOps) -> LocalTarget:
    target = mlops.target("local")
    assert isinstance(target, LocalTarget)
    return target


def worker_of(mlops: MLOps, name: str) -> psutil.Process:
    """The daemon's worker process serving deployment ``name`` (exactly one)."""
    info = local(mlops).running_daemon()
    assert info is not None
    workers = [p for p in psutil.Process(info.pid).children() if serves(p, name)]
    assert len(workers) == 1, workers
    return workers[0]


def serves(process: psutil.Process, name: str) -> bool:
    command = process.cmdline()
    return "--worker" in command and command[command.index("--worker") + 1] == name


def split_body(X: pd.DataFrame) -> bytes:
    return orjson.dumps({"dataframe_split": X.to_dict(orient="split")})


@pytest.fixture(scope="module")
def isolated(mlops: MLOps) -> str:
    """``iso``, deployed isolated, next to ``shared`` (the same version, in the daemon's process)."""
    assert mlops.deploy(f"{MODEL_NAME}/1", name="iso", isolated=True).state == DeploymentState.ready
    assert mlops.deploy(f"{MODEL_NAME}/1", name="shared").state == DeploymentState.ready
    return "iso"


def test_an_isolated_deployment_answers_like_an_in_process_one(mlops, isolated, iso_model) -> None:
    base = daemon_url(local(mlops))
    X = iso_model.X
    requests = [
        ("invocations", split_body(X.head(7))),
        ("invocations", orjson.dumps({"dataframe_records": X.head(3).to_dict(orient="records")})),
        ("invocations", orjson.dumps({"dataframe_split": {"columns": ["sepal_length"], "data": [[1.0]]}})),  # 400
        ("invocations", b"{not json"),  # 400
    ]
    v2 = {"inputs": [{"name": c, "shape": [2], "datatype": "FP64", "data": X[c].head(2).tolist()} for c in X.columns]}
    with httpx.Client(timeout=30, trust_env=False) as http:
        for _kind, body in requests:
            answers = [
                http.post(f"{base}/deployments/{n}/invocations", content=body, headers=JSON) for n in ("iso", "shared")
            ]
            assert answers[0].status_code == answers[1].status_code
            assert answers[0].json() == answers[1].json()
            assert answers[0].headers.get("X-MLOps-Model-Version") == answers[1].headers.get("X-MLOps-Model-Version")
        assert answers[0].status_code == 400
        ok = http.post(f"{base}/deployments/iso/invocations", content=split_body(X.head(7)), headers=JSON)
        assert ok.json() == {"predictions": iso_model.expected(X.head(7))}
        infer = [http.post(f"{base}/v2/models/{n}/infer", json=v2).json()["outputs"] for n in ("iso", "shared")]
        assert infer[0] == infer[1]
        assert http.get(f"{base}/v2/models/iso/ready").json() == {"name": "iso", "ready": True}
        assert http.get(f"{base}/deployments/iso/ping").status_code == 200
        assert http.get(f"{base}/v2/models/iso").json()["name"] == "iso"
    # the Python API (through the Jupyter-side proxy path, LocalTarget.invoke) too
    assert mlops.predict("iso", X.head(4)) == iso_model.expected(X.head(4))


def test_the_worker_is_its_own_loopback_process_answering_only_its_daemon(mlops, isolated) -> None:
    worker = worker_of(mlops, isolated)
    info = local(mlops).running_daemon()
    assert info is not None and worker.pid != info.pid
    assert f"pid {worker.pid}" in (mlops.deployment(isolated).message or "")
    listening = [c for c in worker.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
    port = listening[0].laddr.port
    with httpx.Client(timeout=10, trust_env=False) as http:
        for headers in ({}, {"Authorization": f"Bearer {info.token}"}):  # not even the daemon's admin token
            refused = http.post(f"http://127.0.0.1:{port}/deployments/iso/invocations", content=b"{}", headers=headers)
            assert refused.status_code == 401


def test_a_killed_worker_fails_fast_then_is_restarted(mlops, isolated, iso_model) -> None:
    # Given a ready isolated deployment, when its worker is killed
    worker = worker_of(mlops, isolated)
    body = split_body(iso_model.X.head(2))
    url = f"{daemon_url(local(mlops))}/deployments/{isolated}/invocations"
    worker.send_signal(signal.SIGKILL)
    worker.wait(5)

    with httpx.Client(timeout=30, trust_env=False) as http:
        # Then requests answer 503 with Retry-After at once, never hang
        started = time.monotonic()
        down = http.post(url, content=body, headers=JSON)
        assert down.status_code == 503
        assert down.headers["Retry-After"] == "1"
        assert "own process" in down.json()["message"]
        assert time.monotonic() - started < 2
        assert mlops.deployment(isolated).state != DeploymentState.ready

        # and the worker is restarted, and answers again
        answer = wait_until(
            lambda: (a := http.post(url, content=body, headers=JSON)).status_code != 503 and a,
            60, "the restarted worker to answer", interval=0.2,
        )  # fmt: skip
    assert answer.status_code == 200
    assert answer.json() == {"predictions": iso_model.expected(iso_model.X.head(2))}
    assert worker_of(mlops, isolated).pid != worker.pid
    assert mlops.deployment(isolated).state == DeploymentState.ready


def test_a_worker_crashing_on_load_is_a_crash_loop_and_the_daemon_survives(mlops, isolated, iso_model) -> None:
    # Given a model that kills its process when loaded, when it is deployed isolated
    with pytest.raises(DeploymentFailed, match="Crash loop: the worker process of deployment 'doomed' exited 2 times"):
        mlops.deploy(f"{CRASHING}/1", name="doomed", isolated=True)
    try:
        # Then its status says so, its requests fail fast, and the daemon and its other deployments carry on
        shown = mlops.deployment("doomed")
        assert shown.state == DeploymentState.failed
        assert "exit code 70" in (shown.message or "")
        base = daemon_url(local(mlops))
        with httpx.Client(timeout=10, trust_env=False) as http:
            assert http.post(f"{base}/deployments/doomed/invocations", content=b"{}", headers=JSON).status_code == 503
            ok = http.post(
                f"{base}/deployments/shared/invocations", content=split_body(iso_model.X.head(2)), headers=JSON
            )
            assert ok.status_code == 200
        info = local(mlops).running_daemon()
        assert info is not None
        # and it is no longer restarted
        holds_for(
            lambda: not [p for p in psutil.Process(info.pid).children() if serves(p, "doomed")], 1.0,
            "no worker for the given-up deployment",
        )  # fmt: skip
    finally:
        mlops.undeploy("doomed")


def test_a_killed_daemon_leaves_no_orphan_worker_and_brings_it_back(mlops, isolated, iso_model) -> None:
    # Given an isolated deployment, when its daemon is killed without warning
    target = local(mlops)
    old_worker = worker_of(mlops, isolated)
    old = target.running_daemon()
    assert old is not None
    os.kill(old.pid, signal.SIGKILL)

    # Then the worker notices and exits (nobody could reach it any more)
    wait_until(lambda: not pid_alive(old_worker.pid), 15, "the worker to exit after its daemon")

    # and the supervisor's new daemon starts a new worker for the deployment, which answers as before
    assert target.ensure_daemon().pid != old.pid
    assert target.wait_ready(isolated, 60).state == DeploymentState.ready
    assert worker_of(mlops, isolated).pid != old_worker.pid
    assert mlops.predict(isolated, iso_model.X.head(3)) == iso_model.expected(iso_model.X.head(3))


def test_undeploy_stops_the_worker(mlops, isolated) -> None:
    worker = worker_of(mlops, isolated)
    assert mlops.undeploy(isolated)
    wait_until(lambda: not pid_alive(worker.pid), 15, "the worker to exit after its deployment")
    with httpx.Client(timeout=10, trust_env=False) as http:
        gone = http.post(f"{daemon_url(local(mlops))}/deployments/{isolated}/invocations", content=b"{}", headers=JSON)
    assert gone.status_code == 404
