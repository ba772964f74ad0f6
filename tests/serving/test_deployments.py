"""Deployments served by a real daemon over real HTTP: readiness, the MLflow scoring protocol, swaps, failures."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from jupyter_mlops.core.errors import DeploymentFailed
from jupyter_mlops.core.models import DEPLOY_STEPS, DeploymentState, StepStatus

from ..waiting import wait_until
from .conftest import MODEL_NAME, daemon_url, put_deployment, undeploy

MARKER = 5.123456789  # a value that must never come back in an error message


@pytest.fixture(scope="module")
def iris_deployment(store, local_target, serving_daemon, registered_model):
    """Deployment ``iris`` of version 1, shared by the read-only tests of this module."""
    put_deployment(store, "iris", registered_model.version)
    local_target.apply("iris")
    status = local_target.wait_ready("iris", 60)
    yield status
    undeploy(store, local_target, "iris")


def invocations(http: httpx.Client, target, name: str) -> str:
    return f"{daemon_url(target)}/deployments/{name}/invocations"


def score(http, target, name, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return http.post(invocations(http, target, name), content=body, headers={"Content-Type": content_type})


# --- deploy ----------------------------------------------------------------------------------------------------


def test_deploy_reaches_ready_through_four_steps(iris_deployment, store, local_target) -> None:
    status = iris_deployment
    assert status.state == DeploymentState.ready
    assert [step.name for step in status.steps] == list(DEPLOY_STEPS)
    assert all(step.status == StepStatus.done for step in status.steps)
    assert status.steps[0].message == f"models:/{MODEL_NAME}/1"
    assert "input example" in (status.steps[2].message or "")
    assert status.generation == store.generation("iris")
    assert status.url == invocations(None, local_target, "iris")
    assert status.variants[0].model_uri == f"models:/{MODEL_NAME}/1"
    assert status.variants[0].state == DeploymentState.ready
    assert local_target.statuses()["iris"].state == DeploymentState.ready
    assert local_target.endpoint_url("iris") == status.url


def test_health_endpoints(iris_deployment, http, local_target) -> None:
    base = daemon_url(local_target)
    assert http.get(f"{base}/ping").json() == {"status": "ok"}
    assert http.get(f"{base}/health").status_code == 200
    assert http.get(f"{base}/deployments/iris/ping").status_code == 200
    assert http.get(f"{base}/deployments/iris/health").status_code == 200
    assert http.get(f"{base}/deployments/nope/ping").status_code == 404


# --- the scoring protocol --------------------------------------------------------------------------------------


def _payloads(X):
    rows = X.head(7)
    split = rows.to_dict(orient="split")
    return {
        "dataframe_split": (orjson.dumps({"dataframe_split": split}), "application/json"),
        "dataframe_split (columns + data only)": (
            orjson.dumps({"dataframe_split": {"columns": split["columns"], "data": split["data"]}}),
            "application/json",
        ),
        "dataframe_records": (orjson.dumps({"dataframe_records": rows.to_dict(orient="records")}), "application/json"),
        "instances": (orjson.dumps({"instances": rows.to_dict(orient="records")}), "application/json"),
        "inputs": (orjson.dumps({"inputs": rows.to_dict(orient="list")}), "application/json; charset=utf-8"),
        "csv": (rows.to_csv(index=False).encode(), "text/csv"),
    }


@pytest.mark.parametrize(
    "fmt",
    [
        "dataframe_split",
        "dataframe_split (columns + data only)",
        "dataframe_records",
        "instances",
        "inputs",
        "csv",
    ],
)
def test_predictions_in_every_format_equal_the_model(iris_deployment, http, local_target, registered_model, fmt):
    body, content_type = _payloads(registered_model.X)[fmt]
    response = score(http, local_target, "iris", body, content_type)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"predictions": registered_model.expected(registered_model.X.head(7))}


def test_params_are_accepted(iris_deployment, http, local_target, registered_model) -> None:
    rows = registered_model.X.head(2).to_dict(orient="records")
    response = score(http, local_target, "iris", orjson.dumps({"dataframe_records": rows, "params": {}}))
    assert response.status_code == 200, response.text


def test_local_target_invoke_returns_the_answer(iris_deployment, local_target, registered_model) -> None:
    rows = registered_model.X.head(3)
    body = orjson.dumps({"dataframe_split": rows.to_dict(orient="split")})
    status, headers, content = local_target.invoke("iris", body, "application/json")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert orjson.loads(content) == {"predictions": registered_model.expected(rows)}


def _row(**overrides):
    row = {"sepal_length": MARKER, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    row.update(overrides)
    return row


BAD_REQUESTS = {
    "unknown deployment": ("nope", orjson.dumps({"dataframe_records": [_row()]}), "application/json", 404, "nope"),
    "malformed JSON": ("iris", b'{"dataframe_records": [5.123456789', "application/json", 400, "valid JSON"),
    "JSON list": ("iris", orjson.dumps([_row()]), "application/json", 400, "JSON dictionary"),
    "missing column": (
        "iris",
        orjson.dumps(
            {
                "dataframe_split": {
                    "columns": ["sepal_length", "sepal_width", "petal_length"],
                    "data": [[MARKER, 3.5, 1.4]],
                }
            }
        ),
        "application/json",
        400,
        "petal_width",
    ),
    "string in a numeric column": (
        "iris",
        orjson.dumps({"dataframe_records": [_row(petal_width="SECRET-5.123456789")]}),
        "application/json",
        400,
        "petal_width",
    ),
    "two formats at once": (
        "iris",
        orjson.dumps({"dataframe_records": [_row()], "instances": [_row()]}),
        "application/json",
        400,
        "exactly one",
    ),
    "no format": ("iris", orjson.dumps({"data": [_row()]}), "application/json", 400, "exactly one"),
    "params not an object": (
        "iris",
        orjson.dumps({"dataframe_records": [_row()], "params": [1]}),
        "application/json",
        400,
        "params",
    ),
    "wrong content type": ("iris", orjson.dumps({"dataframe_records": [_row()]}), "text/plain", 415, "text/csv"),
    "non UTF-8 charset": (
        "iris",
        orjson.dumps({"dataframe_records": [_row()]}),
        "application/json; charset=latin-1",
        415,
        "UTF-8",
    ),
    "CSV without the model's columns": ("iris", b"a,b\n5.123456789,1\n", "text/csv", 400, "missing inputs"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_4xx_json_without_the_payload(iris_deployment, http, local_target, case) -> None:
    name, body, content_type, expected_status, expected_text = BAD_REQUESTS[case]
    response = score(http, local_target, name, body, content_type)
    assert response.status_code == expected_status, response.text
    error = response.json()
    assert set(error) >= {"error_code", "message"}
    assert expected_text in error["message"]
    assert "5.123456789" not in response.text
    assert "SECRET" not in response.text
    assert "Traceback" not in response.text


def test_missing_content_type_is_415(iris_deployment, http, local_target) -> None:
    response = http.post(invocations(http, local_target, "iris"), content=b"{}")
    assert response.status_code == 415
    assert response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_oversize_body_is_refused_from_content_length_before_reading(iris_deployment, local_target) -> None:
    # A raw request that announces 60 MB and sends none of it: the daemon must answer without waiting for it.
    url = urlsplit(daemon_url(local_target))
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /deployments/iris/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60000000\r\n\r\n"
        )
        received = b""
        while b"PAYLOAD_TOO_LARGE" not in received and (chunk := sock.recv(65536)):
            received += chunk  # the daemon closes the connection after answering
        answer = received.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "PAYLOAD_TOO_LARGE" in answer


# --- lifecycle: failures, swaps, removal -----------------------------------------------------------------------


def test_a_failing_load_fails_with_a_reason_and_others_keep_serving(
    iris_deployment, deploy, http, local_target, registered_model
) -> None:
    with pytest.raises(DeploymentFailed) as failure:
        deploy("broken", version="99")
    assert "'loading'" in failure.value.message
    assert "not found" in failure.value.message
    status = local_target.status("broken")
    assert status is not None
    assert status.state == DeploymentState.failed
    loading = next(step for step in status.steps if step.name == "loading")
    assert loading.status == StepStatus.failed
    assert loading.message.startswith("MlflowException: ")
    assert "Traceback" not in loading.message

    not_ready = score(http, local_target, "broken", orjson.dumps({"dataframe_records": [_row()]}))
    assert not_ready.status_code == 503
    assert not_ready.json()["state"] == "failed"
    assert "Retry-After" in not_ready.headers
    assert http.get(f"{daemon_url(local_target)}/deployments/broken/ping").status_code == 503

    rows = registered_model.X.head(3)
    ok = score(http, local_target, "iris", orjson.dumps({"dataframe_split": rows.to_dict(orient="split")}))
    assert ok.json() == {"predictions": registered_model.expected(rows)}


def test_a_new_generation_swaps_in_without_downtime(
    deploy, store, http, local_target, registered_model, constant_model
) -> None:
    first = deploy("swap", version="1")
    rows = registered_model.X.head(20)
    body = orjson.dumps({"dataframe_split": rows.to_dict(orient="split")})
    url = invocations(http, local_target, "swap")
    old, new = registered_model.expected(rows), [2] * len(rows)
    assert old != new
    answers: list[tuple[int, list | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while not stop.is_set():
                response = client.post(url, content=body, headers={"Content-Type": "application/json"})
                answers.append((response.status_code, response.json().get("predictions")))

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        wait_until(lambda: len(answers) >= 5, 30, "the old generation answering under load")
        put_deployment(store, "swap", constant_model.version)
        local_target.apply("swap")
        second = local_target.wait_ready("swap", 60)
        ready_at = len(answers)
        wait_until(lambda: len(answers) >= ready_at + 5, 30, "answers after the swap")
    finally:
        stop.set()
        worker.join()

    assert second.generation == first.generation + 1
    assert second.steps[0].message == f"models:/{MODEL_NAME}/2"
    assert {code for code, _ in answers} == {200}, "a request failed during the swap"
    predictions = [p for _, p in answers]
    assert predictions[0] == old
    assert predictions[-1] == new
    assert all(p in (old, new) for p in predictions)
    switch = predictions.index(new)
    assert all(p == new for p in predictions[switch:]), "the old model answered after the swap"


def test_a_failed_new_generation_leaves_the_old_one_serving(deploy, store, http, local_target, registered_model):
    deploy("keep", version="1")
    put_deployment(store, "keep", "99")
    local_target.apply("keep")
    with pytest.raises(DeploymentFailed):
        local_target.wait_ready("keep", 60)
    status = local_target.status("keep")
    assert status is not None
    assert status.state == DeploymentState.failed
    assert "still serving generation 1" in (status.message or "")
    rows = registered_model.X.head(4)
    response = score(http, local_target, "keep", orjson.dumps({"dataframe_split": rows.to_dict(orient="split")}))
    assert response.status_code == 200
    assert response.json() == {"predictions": registered_model.expected(rows)}
    assert http.get(f"{daemon_url(local_target)}/deployments/keep/ping").status_code == 200


def test_undeploy_stops_serving(deploy, store, http, local_target, registered_model) -> None:
    deploy("temp")
    body = orjson.dumps({"dataframe_records": registered_model.X.head(1).to_dict(orient="records")})
    assert score(http, local_target, "temp", body).status_code == 200
    undeploy(store, local_target, "temp")
    assert local_target.status("temp") is None
    assert "temp" not in local_target.statuses()
    assert score(http, local_target, "temp", body).status_code == 404
    local_target.remove("temp")  # idempotent
