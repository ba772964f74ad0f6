"""Rollouts on a real daemon: weighted canary, shadow mirroring, promote, rollback, alias sync, automatic
rollback, zero-downtime swaps, and the response headers and metrics that show which variant answered."""

from __future__ import annotations

import collections
import threading
import time

import httpx
import orjson
import pytest
from sqlalchemy import text

from jupyter_mlops.core.errors import Conflict, InvalidRequest, NotFound
from jupyter_mlops.core.models import DeploymentState, VariantRole
from jupyter_mlops.core.service import MLOps

from ..waiting import wait_until
from .conftest import MODEL_NAME, daemon_url, metrics_text, mlflow_at
from .pyfunc_models import Faulty, Slow, register_pyfunc

ROWS = {"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                            "data": [[5.1, 3.5, 1.4, 0.2]]}}  # fmt: skip
BODY = orjson.dumps(ROWS)


@pytest.fixture(scope="module")
def mlops(serving_config, store, local_target, serving_daemon, constant_model):
    """The facade on the session's store and daemon (not closed here: the session fixtures own them)."""
    return MLOps(serving_config, user="tester", store=store, targets={"local": local_target})


@pytest.fixture
def rollout(mlops):
    """A deployment ``ab`` of version 1 (GradientBoosting), removed after the test."""
    mlops.deploy(f"{MODEL_NAME}/1", "ab")
    yield "ab"
    mlops.undeploy("ab")


def post(http: httpx.Client, target, name: str, body: bytes = BODY) -> httpx.Response:
    return http.post(
        f"{daemon_url(target)}/deployments/{name}/invocations",
        content=body,
        headers={"Content-Type": "application/json"},
    )


def test_canary_split_promote_and_rollback(mlops, rollout, http, local_target, registered_model) -> None:
    # Given a primary (version 1) and a canary (version 2, always class 2) at 30%
    deployment = mlops.deploy(f"{MODEL_NAME}/2", rollout, canary=30)
    assert [(v.role, v.model_version, v.weight) for v in deployment.variants] == [
        (VariantRole.primary, "1", 70),
        (VariantRole.canary, "2", 30),
    ]
    assert deployment.state == DeploymentState.ready
    # When 300 requests arrive
    answered: collections.Counter[str] = collections.Counter()
    request_ids = set()
    for _ in range(300):
        response = post(http, local_target, rollout)
        assert response.status_code == 200
        variant = response.headers["X-MLOps-Variant"]
        answered[variant] += 1
        request_ids.add(response.headers["X-MLOps-Request-Id"])
        expected = [2] if variant == "canary" else registered_model.expected(registered_model.X.head(1))
        assert response.json() == {"predictions": expected}
        assert response.headers["X-MLOps-Model-Version"] == ("2" if variant == "canary" else "1")
    # Then the split follows the weights (30% +- 10 points: binomial sd is 2.6 points) and ids are unique
    assert 60 <= answered["canary"] <= 120, answered
    assert len(request_ids) == 300

    # Traffic can go all to the canary, and promote makes it the primary without reloading anything
    mlops.set_traffic(rollout, {"primary": 0, "canary": 100})
    assert {post(http, local_target, rollout).headers["X-MLOps-Variant"] for _ in range(20)} == {"canary"}
    promoted = mlops.promote(rollout)
    assert [(v.role, v.model_version, v.weight) for v in promoted.variants] == [(VariantRole.primary, "2", 100)]
    assert "already loaded" in (promoted.steps[1].message or "")
    assert post(http, local_target, rollout).json() == {"predictions": [2]}

    # Rollback returns to the previous primary (version 1), remembered in the store
    rolled = mlops.rollback(rollout)
    assert rolled.model_version == "1"
    assert post(http, local_target, rollout).json() == {
        "predictions": registered_model.expected(registered_model.X.head(1))
    }
    kinds = [event.kind for event in mlops.events(rollout)]
    assert kinds[-5:] == ["deploy", "canary", "traffic", "promote", "rollback"]
    assert "models:/iris-gb/2" in mlops.events(rollout)[-2].message


def test_rollout_mistakes_are_refused_with_a_reason(mlops, rollout) -> None:
    with pytest.raises(Conflict, match="Nothing to promote"):
        mlops.promote(rollout)
    with pytest.raises(Conflict, match="Nothing to roll back"):
        mlops.rollback(rollout)
    with pytest.raises(InvalidRequest, match="sum to 100"):
        mlops.set_traffic(rollout, {"primary": 90})
    with pytest.raises(NotFound, match="no variant 'canary'"):
        mlops.set_traffic(rollout, {"primary": 80, "canary": 20})
    with pytest.raises(NotFound, match="deploy its primary"):
        mlops.deploy(f"{MODEL_NAME}/2", "no-such-deployment", canary=10)
    with pytest.raises(InvalidRequest, match="not both"):
        mlops.deploy(f"{MODEL_NAME}/2", rollout, canary=10, shadow=True)
    with pytest.raises(InvalidRequest, match="pinned"):
        mlops.sync(rollout)
    with pytest.raises(InvalidRequest, match="max_batch_size"):
        mlops.deploy(f"{MODEL_NAME}/2", rollout, canary=10, batching={"max_batch_size": 0})


def test_shadow_gets_a_mirrored_copy_and_never_answers(
    mlops, rollout, http, local_target, registered_model, store
) -> None:
    deployment = mlops.deploy(f"{MODEL_NAME}/2", rollout, shadow=True)
    assert [v.role for v in deployment.variants] == [VariantRole.primary, VariantRole.shadow]
    expected = {"predictions": registered_model.expected(registered_model.X.head(1))}
    started = time.time()  # earlier tests logged under the same deployment name
    for _ in range(20):
        response = post(http, local_target, rollout)
        assert response.headers["X-MLOps-Variant"] == "primary"
        assert response.json() == expected

    def shadow_line() -> str | None:  # mirrored copies finish asynchronously: wait for all 20
        found = [
            line
            for line in metrics_text(http, local_target).splitlines()
            if line.startswith("mlops_shadow_requests_total") and f'deployment="{rollout}"' in line
        ]
        return found[0] if found and float(found[0].rsplit(" ", 1)[1]) >= 20 else None

    line = wait_until(shadow_line, 10, "20 shadow requests in /metrics")
    assert isinstance(line, str)
    assert 'variant="shadow"' in line and 'status="200"' in line
    assert float(line.rsplit(" ", 1)[1]) == 20

    # Both answers reach the inference log: 20 client requests and 20 shadow records (own ids, same batch).
    query = text(
        "SELECT shadow, variant, count(*) FROM mlops_inference_requests"
        " WHERE deployment = :d AND time >= :t GROUP BY shadow, variant"
    )

    def logged() -> dict:
        with store.engine.connect() as connection:
            counts = {(bool(s), v): n for s, v, n in connection.execute(query, {"d": rollout, "t": started})}
        return counts if sum(counts.values()) >= 40 else {}

    counts = wait_until(logged, 10, "40 records in the inference log")
    assert counts == {(False, "primary"): 20, (True, "shadow"): 20}


def test_metrics_count_requests_by_variant_and_status_with_stage_latency(rollout, http, local_target) -> None:
    post(http, local_target, rollout)
    post(http, local_target, rollout, b"{not json")
    text = metrics_text(http, local_target)
    assert f'mlops_requests_total{{deployment="{rollout}",status="200",variant="primary"}}' in text
    assert f'mlops_requests_total{{deployment="{rollout}",status="400",variant="primary"}}' in text
    for stage in ("parse", "predict", "serialize"):
        assert f'mlops_stage_latency_seconds_count{{deployment="{rollout}",stage="{stage}"}}' in text
    assert "mlops_model_load_seconds_count" in text
    assert f'mlops_queue_depth{{deployment="{rollout}"}} 0.0' in text


def test_alias_driven_deployment_follows_the_alias_on_sync(mlops, serving_config, http, local_target) -> None:
    import mlflow

    with mlflow_at(serving_config):
        mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "1")
    mlops.deploy(f"{MODEL_NAME}@champion", "follow")
    try:
        assert mlops.sync("follow").model_version == "1"
        assert mlops.events("follow")[-1].message.endswith("nothing to redeploy")
        with mlflow_at(serving_config):
            mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "2")
        synced = mlops.sync("follow")
        assert synced.model_version == "2"
        assert post(http, local_target, "follow").json() == {"predictions": [2]}
        assert mlops.events("follow")[-1].kind == "sync"
        assert mlops.rollback("follow").model_version == "1"
    finally:
        mlops.undeploy("follow")


def test_swaps_are_zero_downtime_under_load(mlops, rollout, local_target) -> None:
    statuses: collections.Counter[int] = collections.Counter()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            while not stop.is_set():
                statuses[post(client, local_target, rollout).status_code] += 1

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: sum(statuses.values()) >= 10, 10, "load before the swaps")
        mlops.deploy(f"{MODEL_NAME}/2", rollout, replace=True)  # version swap
        mlops.deploy(f"{MODEL_NAME}/1", rollout, canary=50)
        mlops.promote(rollout)
        mlops.rollback(rollout)
        after = sum(statuses.values())
        wait_until(lambda: sum(statuses.values()) >= after + 10, 10, "load after the swaps")
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 50


def test_failing_canary_is_rolled_back_automatically(
    mlops, rollout, http, local_target, serving_config, mlflow_store, registered_model
) -> None:
    # Given a canary that fails on part of the traffic (first feature above 6)
    version = register_pyfunc(serving_config, mlflow_store, MODEL_NAME, Faulty(fail_above=6.0), registered_model.X)
    mlops.deploy(f"{MODEL_NAME}/{version}", rollout, canary=50)
    bad = orjson.dumps({**ROWS, "dataframe_split": {**ROWS["dataframe_split"], "data": [[7.0, 3.0, 5.0, 2.0]]}})
    # When requests arrive, the canary's error rate exceeds the primary's
    failures = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = post(http, local_target, rollout, bad)
        failures += response.status_code != 200
        if mlops.deployment(rollout).variants[1].weight == 0:
            break
    # Then its weight goes to 0, the primary takes all traffic, and an event records why
    deployment = mlops.deployment(rollout)
    assert [(v.name, v.weight) for v in deployment.variants] == [("primary", 100), ("canary", 0)]
    event = mlops.events(rollout)[-1]
    assert event.kind == "auto_rollback" and event.variant == "canary"
    assert "error rate" in event.message and "primary" in event.message
    # and the audit ledger has it too, with its reason (written by the daemon right after the change)
    entries = wait_until(
        lambda: [e for e in mlops.audit.events(f"deployment/{rollout}") if e.action == "auto_rollback"],
        10,
        "an auto_rollback entry in the audit ledger",
    )
    assert entries[-1].actor == "auto-rollback" and "error rate" in (entries[-1].detail or "")
    assert failures >= 10
    local_target.wait_ready(rollout, 30)
    assert all(post(http, local_target, rollout, bad).status_code == 200 for _ in range(20))


def test_slow_canary_is_rolled_back_on_its_p95_latency(
    mlops, rollout, http, local_target, serving_config, mlflow_store, registered_model
) -> None:
    # Given a canary that answers correctly but 80 ms slower than the primary, with a 30 ms p95 margin
    version = register_pyfunc(
        serving_config, mlflow_store, MODEL_NAME, Slow(slow_above=-1e9, sleep_s=0.08), registered_model.X
    )
    mlops.deploy(f"{MODEL_NAME}/{version}", rollout, canary=50)
    mlops.configure(rollout, auto_rollback={"window": 20, "min_requests": 10, "p95_margin_ms": 30})
    # When requests arrive (none fails: only latency tells the variants apart)
    statuses: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + 60
    while mlops.deployment(rollout).variants[1].weight != 0:
        assert time.monotonic() < deadline, f"the slow canary was not rolled back ({statuses})"
        statuses[post(http, local_target, rollout).status_code] += 1
    # Then the canary's weight went to 0 for its latency, not its errors, and the event says so
    assert set(statuses) == {200}, statuses
    deployment = mlops.deployment(rollout)
    assert [(v.name, v.weight) for v in deployment.variants] == [("primary", 100), ("canary", 0)]
    event = mlops.events(rollout)[-1]
    assert event.kind == "auto_rollback" and event.variant == "canary"
    assert "p95 latency" in event.message and "margin 30 ms" in event.message, event.message


def test_rollout_magics(mlops, rollout) -> None:
    """%deploy --canary/--shadow, %traffic, %promote, %rollback drive the same facade. The magics object is
    used without a shell, so this module does not start IPython's process-wide test shell (other modules do)."""
    from IPython.core.error import UsageError

    from jupyter_mlops.core import api
    from jupyter_mlops.magics.commands import MLOpsMagics

    magics = MLOpsMagics(shell=None)
    previous, api._default = api._default, mlops  # the facade on the session's daemon (not closed here)
    try:
        magics.deploy(f"{MODEL_NAME}/2 --as {rollout} --canary 20")
        assert [v.weight for v in mlops.deployment(rollout).variants] == [80, 20]
        view = magics.traffic(f"{rollout} primary=60 canary=40")
        assert [v.weight for v in view.deployment.variants] == [60, 40]
        with pytest.raises(UsageError, match="VARIANT=WEIGHT"):
            magics.traffic(f"{rollout} canary")
        assert magics.promote(rollout).deployment.model_version == "2"
        assert magics.rollback(rollout).deployment.model_version == "1"
        magics.deploy(f"{MODEL_NAME}/2 --as {rollout} --shadow")
        assert [v.role for v in mlops.deployment(rollout).variants] == [VariantRole.primary, VariantRole.shadow]
        with pytest.raises(UsageError, match="sum to 100"):
            magics.traffic(f"{rollout} primary=50")
    finally:
        api._default = previous
