"""Our endpoint answers like ``mlflow models serve``: the same requests, valid and invalid, sent to both (real
processes, same registered model) give the same status codes, the same bodies for predictions, and the same
``error_code`` for errors (our messages differ only in never quoting the payload)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from ..waiting import wait_until
from .conftest import MODEL_NAME, daemon_url, put_deployment, undeploy

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = [5.1, 3.5, 1.4, 0.2]
JSON = "application/json"

REQUESTS: list[tuple[str, bytes, str]] = [
    ("dataframe_split", orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW, ROW[::-1]]}}), JSON),
    ("dataframe_records", orjson.dumps({"dataframe_records": [dict(zip(COLUMNS, ROW, strict=True))]}), JSON),
    ("instances", orjson.dumps({"instances": [dict(zip(COLUMNS, ROW, strict=True))]}), JSON),
    ("inputs", orjson.dumps({"inputs": {c: [v] for c, v in zip(COLUMNS, ROW, strict=True)}}), JSON),
    ("csv", b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n", "text/csv"),
    ("charset", orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}), f"{JSON}; charset=utf-8"),
    ("not json", b"{nope", JSON),
    ("a list", b"[1, 2]", JSON),
    ("two formats", orjson.dumps({"instances": [ROW], "inputs": [ROW]}), JSON),
    ("no format", orjson.dumps({"rows": [ROW]}), JSON),
    ("missing column", orjson.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [ROW[:3]]}}), JSON),
    ("wrong type", orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [["a", "b", "c", "d"]]}}), JSON),
    ("xml", b"<x/>", "application/xml"),
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(serving_config, registered_model, tmp_path_factory) -> Iterator[str]:
    """``mlflow models serve --env-manager local`` on version 1, stopped at the end of the module."""
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # its uvicorn, from this venv
    env = {**os.environ, "MLFLOW_TRACKING_URI": serving_config.tracking_uri,
           "MLFLOW_REGISTRY_URI": serving_config.registry_uri, "PATH": path}  # fmt: skip
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL_NAME}/1",
               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    log_path = tmp_path_factory.mktemp("mlflow-serve") / "serve.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def started() -> bool:
            if process.poll() is not None:
                pytest.fail(f"mlflow models serve exited:\n{log_path.read_text()[-3000:]}")
            return httpx.get(f"{url}/ping", timeout=1, trust_env=False).status_code == 200

        wait_until(started, 90, lambda: f"mlflow models serve did not start:\n{log_path.read_text()[-3000:]}",
                   0.1, ignore=(httpx.HTTPError,))  # fmt: skip
        yield f"{url}/invocations"
    finally:
        process.terminate()
        process.wait(15)
        log_file.close()


@pytest.fixture(scope="module")
def ours(store, local_target, serving_daemon, registered_model) -> Iterator[str]:
    put_deployment(store, "parity", registered_model.version)
    local_target.apply("parity")
    local_target.wait_ready("parity", 60)
    yield f"{daemon_url(local_target)}/deployments/parity/invocations"
    undeploy(store, local_target, "parity")


@pytest.mark.parametrize(("case", "body", "content_type"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_same_answer_as_mlflow_models_serve(mlflow_server, ours, http, case, body, content_type) -> None:
    theirs = http.post(mlflow_server, content=body, headers={"Content-Type": content_type})
    mine = http.post(ours, content=body, headers={"Content-Type": content_type})
    assert mine.status_code == theirs.status_code, (case, theirs.text[:300], mine.text[:300])
    if theirs.status_code == 200:
        assert mine.json() == theirs.json()
    elif theirs.headers.get("content-type", "").startswith("application/json"):
        assert mine.json()["error_code"] == theirs.json()["error_code"]
    # (MLflow answers an unsupported content type with a plain-text body; ours is JSON like every other error)
    if mine.status_code != 200:
        assert "error_code" in mine.json()
        assert "Traceback" not in mine.text and "stack_trace" not in mine.json()
