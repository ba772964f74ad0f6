"""Micro-batching gives the same answers as unbatched calls; per-deployment limits answer fast and clearly
(timeout 504, full queue 503 + Retry-After, row limit 400) on a real daemon."""

from __future__ import annotations

import concurrent.futures
import re

import httpx
import orjson
import pytest

from jupyter_mlops.core.deployments import rollout
from jupyter_mlops.core.deployments.config import DeploymentConfig
from jupyter_mlops.serving.workers import read_seats

from ..waiting import wait_until
from .conftest import MODEL_NAME, daemon_url, metrics_text, put_deployment, undeploy
from .pyfunc_models import Slow, register_pyfunc

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def body(rows: list[list[float]]) -> bytes:
    return orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}})


@pytest.fixture(scope="module")
def deploy_with(store, local_target, serving_daemon):
    """``deploy_with(name, version, **settings)``: a deployment with serving settings, removed afterwards."""
    names: list[str] = []

    def _deploy(name: str, version: str, **settings: object) -> None:
        names.append(name)
        put_deployment(store, name, version)
        rollout.set_config(store, name, DeploymentConfig().merged(**settings))
        local_target.apply(name)
        local_target.wait_ready(name, 60)

    yield _deploy
    for name in names:
        undeploy(store, local_target, name)


def scrape(http: httpx.Client, target, metric: str, deployment: str) -> float:
    text = metrics_text(http, target)
    pattern = rf'^{metric}{{deployment="{deployment}"[^}}]*}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def test_batched_answers_equal_unbatched_ones(deploy_with, registered_model, local_target, http) -> None:
    deploy_with("batched", registered_model.version, batching={"max_batch_size": 64, "max_wait_ms": 2})
    deploy_with("unbatched", registered_model.version, batching={"enabled": False})
    X = registered_model.X
    payloads = [body(X.iloc[[i % len(X)]].values.tolist()) for i in range(300)]
    payloads += [body(X.iloc[i : i + 7].values.tolist()) for i in range(0, 140, 7)]  # multi-row requests too
    base = daemon_url(local_target)

    def score(name: str, payload: bytes) -> list:
        with httpx.Client(timeout=30, trust_env=False) as client:
            response = client.post(
                f"{base}/deployments/{name}/invocations", content=payload, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 200, response.text
        return response.json()["predictions"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        batched = list(pool.map(lambda p: score("batched", p), payloads))
    unbatched = [score("unbatched", p) for p in payloads]
    assert batched == unbatched
    expected = [registered_model.expected(X.iloc[[i % len(X)]]) for i in range(300)]
    assert batched[:300] == expected
    # Some model calls really merged several requests: more rows than calls.
    rows = scrape(http, local_target, "mlops_batch_size_rows_sum", "batched")
    calls = scrape(http, local_target, "mlops_batch_size_rows_count", "batched")
    assert rows == 300 + 140 and calls < len(payloads), (rows, calls)
    assert scrape(http, local_target, "mlops_batch_size_rows_count", "unbatched") == 0


def test_timeout_queue_bound_and_row_limit(
    deploy_with, serving_config, mlflow_store, registered_model, constant_model, local_target
) -> None:
    # (constant_model first: other modules expect it to be version 2)
    version = register_pyfunc(serving_config, mlflow_store, MODEL_NAME, Slow(slow_above=100, sleep_s=1.5),
                              registered_model.X)  # fmt: skip
    deploy_with("slow", version, timeout_ms=300, max_queue=2, max_rows=5, batching={"enabled": False})
    # The queue is checked on a deployment whose timeout outlasts the model (1.5 s): a full queue then stays full
    # until the slow calls finish, not only for the 300 ms a loaded machine may spend before the next request.
    deploy_with("slow-queue", version, timeout_ms=10_000, max_queue=2, batching={"enabled": False})
    # The queue bound holds per serving worker (each has its own requests in progress): talk to one worker, on its
    # private port, so which worker accepts a connection does not matter here.
    worker = read_seats(local_target.config.data_dir)[0]
    slow, fast = body([[500.0, 1.0, 1.0, 1.0]]), body([[1.0, 1.0, 1.0, 1.0]])

    def post(payload: bytes, name: str = "slow") -> httpx.Response:
        url = f"http://127.0.0.1:{worker.port}/deployments/{name}/invocations"
        with httpx.Client(timeout=10, trust_env=False) as client:
            return client.post(url, content=payload, headers={"Content-Type": "application/json"})

    # A prediction slower than the timeout: 504 within about the timeout, not after the model finishes
    response = post(slow)
    assert response.status_code == 504 and response.json()["error_code"] == "TIMEOUT"
    assert response.elapsed.total_seconds() < 1.2
    assert "X-MLOps-Request-Id" in response.headers
    # Two slow requests in progress fill the queue: the next one is refused at once with Retry-After
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        first = [pool.submit(post, slow, "slow-queue") for _ in range(2)]
        with httpx.Client(timeout=10, trust_env=False) as watcher:  # both admitted: the queue is full
            wait_until(
                lambda: scrape(watcher, local_target, "mlops_queue_depth", "slow-queue") >= 2, 10, "a full queue"
            )
        refused = post(fast, "slow-queue")
        answered = [f.result() for f in first]
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1", refused.text
    assert refused.json()["error_code"] == "OVERLOADED"
    assert refused.elapsed.total_seconds() < 1.0  # at once: not after the 1.5 s the admitted calls take
    assert [a.status_code for a in answered] == [200, 200]
    assert post(fast, "slow-queue").status_code == 200  # room again
    # Too many rows: 400 naming the limit
    too_many = post(body([[1.0, 1.0, 1.0, 1.0]] * 6))
    assert too_many.status_code == 400 and "at most 5" in too_many.json()["message"]
    assert post(fast).status_code == 200
