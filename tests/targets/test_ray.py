"""Ray Serve target on a real local Ray cluster (127.0.0.1, 2 CPUs, one per session: see conftest.ray_cluster):
deploy through the facade, predict, traffic split and rollback, backpressure settings, a replica killed under load
that Serve replaces, monitoring (inference log -> ops metrics, drift) and shadow mirroring as on the local target.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import DeploymentState, VariantRole
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget

from ..waiting import wait_until
from .conftest import NO_RAY, RAY_ENABLED

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not RAY_ENABLED, reason=NO_RAY)]

ray = pytest.importorskip("ray", reason="Ray Serve is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def ray_mlops(tmp_path_factory, ray_cluster, iris, trained_model):
    from sklearn.dummy import DummyClassifier

    data_dir = tmp_path_factory.mktemp("ray")
    config = MLOpsConfig(
        data_dir=str(data_dir),
        targets={"ray": "ray"},
        target_options={
            "ray": {
                **ray_cluster,
                "num_replicas": 2,
                "max_ongoing_requests": 4,
                "max_queued_requests": 32,
                "health_check_period_s": 1.0,
                "replica_cpus": 0.25,
            }
        },
        alert_interval=0,  # alerts are evaluated on read (monitor), as in tests/monitoring
    )
    mlops = MLOps(config, user="tester")
    X, y = iris
    mlops.register(trained_model, "iris", X, y)  # with its training baseline: drift is measured against it
    mlops.register(DummyClassifier(strategy="constant", constant=2).fit(X, y), "iris", X, y)
    try:
        yield mlops
    finally:
        local = mlops.targets.get("local")
        if isinstance(local, LocalTarget):
            local.stop_daemon()
        mlops.close()


def test_deploy_predict_split_rollback_on_ray(ray_mlops, iris, trained_model) -> None:
    X, _ = iris
    rows = X.head(12)
    deployment = ray_mlops.deploy("iris/1", "iris-ray", target="ray")
    try:
        assert deployment.state == DeploymentState.ready
        assert deployment.url.endswith("/iris-ray")
        assert ray_mlops.predict("iris-ray", rows) == trained_model.predict(rows).tolist()
        # a bad body is the caller's 400, as on the local daemon
        status, _, _ = ray_mlops.invoke("iris-ray", b'{"no_such_format": 1}')
        assert status == 400

        # traffic split: all to a canary of v2, then rollback drops it
        primary_replicas = _replicas("iris-ray")
        ray_mlops.deploy("iris/2", "iris-ray", target="ray", canary=0)
        ray_mlops.set_traffic("iris-ray", {"primary": 0, "canary": 100})
        assert ray_mlops.predict("iris-ray", rows) == [2] * 12
        ray_mlops.set_traffic("iris-ray", {"primary": 50, "canary": 50})
        # weight changes re-apply the application, but the unchanged primary keeps its replicas (no reload)
        assert _replicas("iris-ray") == primary_replicas and len(primary_replicas) == 2
        answers = Counter(tuple(ray_mlops.predict("iris-ray", rows)) for _ in range(40))
        assert len(answers) == 2 and min(answers.values()) >= 5  # both variants answer at 50/50
        ray_mlops.rollback("iris-ray")
        assert ray_mlops.predict("iris-ray", rows) == trained_model.predict(rows).tolist()
        # audit works as on the local target: the facade records every change
        actions = [e.action for e in ray_mlops.audit_events("deployment/iris-ray")]
        assert actions.count("deploy") >= 2
    finally:
        assert ray_mlops.undeploy("iris-ray") is True
    assert ray_mlops.target("ray").status("iris-ray") is None
    ray_mlops.target("ray").remove("iris-ray")  # idempotent


def test_killed_replica_recovers_under_load(ray_mlops, iris) -> None:
    from ray import serve

    X, _ = iris
    ray_mlops.deploy("iris/1", "iris-kill", target="ray")
    try:
        body_rows = X.head(3)
        results: Counter[str] = Counter()
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    status, _, _ = ray_mlops.invoke("iris-kill", _json(body_rows))
                    results["ok" if status == 200 else f"http {status}"] += 1
                except Exception as exc:  # counted, not raised: the point is to see how many fail
                    results[type(exc).__name__] += 1

        workers = [threading.Thread(target=load) for _ in range(2)]
        for worker in workers:
            worker.start()
        wait_until(lambda: results["ok"] >= 20, 30, "the load answered before the kill", 0.1)
        replicas = _replicas("iris-kill")
        assert len(replicas) == 2
        victim = replicas[0]
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at = time.monotonic()

        # Serve notices the dead replica and starts a new one; the other keeps serving meanwhile.
        def replaced() -> bool:
            alive = _replicas("iris-kill")
            app = serve.status().applications["iris-kill"]
            return len(alive) == 2 and victim not in alive and str(app.status).endswith("RUNNING")

        wait_until(replaced, 60, lambda: f"replica not replaced: {_replicas('iris-kill')}", 0.5)
        recovered_in = time.monotonic() - killed_at
        # and the load goes on being answered with the new replica in place
        ok_at_recovery = results["ok"]
        wait_until(lambda: results["ok"] >= ok_at_recovery + 20, 30, "answers after the replacement", 0.1)
        stop.set()
        for worker in workers:
            worker.join()
        total = sum(results.values())
        failed = total - results["ok"]
        print(f"replica replaced in {recovered_in:.1f} s; {failed} of {total} requests failed: {dict(results)}")
        assert results["ok"] > 50
        assert failed <= max(3, total // 50)
    finally:
        ray_mlops.undeploy("iris-kill")


def _replicas(app: str) -> list[str]:
    """Names of the live replica actors of an application's primary variant (read from GCS: no dashboard)."""
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "serve"]
    return sorted(n for n in names if n.startswith("SERVE_REPLICA::") and f"{app}#variant-primary" in n)


def test_monitoring_and_audit_on_ray(ray_mlops, iris) -> None:
    """Traffic to a Ray deployment lands in the inference log (variant, pinned version, latency, status, inputs and
    outputs), so ``monitor`` shows ops metrics and drift as for the local target."""
    X, _ = iris
    name = "iris-mon"
    ray_mlops.deploy("iris/1", name, target="ray")
    try:
        shifted = X.sample(100, random_state=0).reset_index(drop=True)
        shifted["petal_length"] += 5.0  # far outside the training range: this feature must drift, no other
        ids = [_send(ray_mlops, name, shifted.iloc[i : i + 10])[1]["x-mlops-request-id"] for i in range(0, 100, 10)]
        status, _, _ = ray_mlops.invoke(name, b'{"no_such_format": 1}')
        assert status == 400
        _wait_logged(ray_mlops, name, ids)
        wait_until(
            lambda: len(ray_mlops.monitoring.store.requests(name, 0, time.time() + 1)) >= 11,
            20,
            "11 requests in the inference log",
            0.2,
        )
        logged = ray_mlops.monitoring.store.requests(name, 0, time.time() + 1)
        assert set(logged["variant"]) == {"primary"} and set(logged["model_version"]) == {"1"}
        assert sorted(logged["status"].tolist()) == [200] * 10 + [400]
        assert (logged["latency_ms"] > 0).all() and not logged["shadow"].any()
        assert ray_mlops.monitoring.store.known_requests(name, ids) == dict.fromkeys(ids, 10)  # rows logged

        report = ray_mlops.monitor(name, "1h")
        assert report.summary["requests"] == 11 and report.summary["errors"] == 1
        assert report.summary["p50_ms"] > 0
        drift = report.drift.set_index("feature")
        assert bool(drift.loc["petal_length", "drifted"])
        assert not drift.drop(index="petal_length")["drifted"].any()
        actions = [e.action for e in ray_mlops.audit_events(f"deployment/{name}")]
        assert "deploy" in actions
    finally:
        ray_mlops.undeploy(name)


def test_shadow_gets_a_mirrored_copy_and_never_answers_on_ray(ray_mlops, iris, trained_model) -> None:
    X, _ = iris
    name = "iris-shadow"
    rows = X.head(5)
    ray_mlops.deploy("iris/1", name, target="ray")
    try:
        deployment = ray_mlops.deploy("iris/2", name, target="ray", shadow=True)
        assert [v.role for v in deployment.variants] == [VariantRole.primary, VariantRole.shadow]
        shadow = deployment.variants[1]
        ids = []
        for _ in range(8):
            body, headers = _send(ray_mlops, name, rows)
            # the primary (v1) answers every request; v2's constant 2 is never returned
            assert headers["x-mlops-variant"] == "primary" and headers["x-mlops-model-version"] == "1"
            assert json.loads(body)["predictions"] == trained_model.predict(rows).tolist()
            ids.append(headers["x-mlops-request-id"])
        wait_until(lambda: len(_shadow_records(ray_mlops, name)) >= 8, 20, "8 shadow copies in the log", 0.2)
        mirrored = _shadow_records(ray_mlops, name)
        assert set(mirrored["variant"]) == {shadow.name} and set(mirrored["model_version"]) == {"2"}
        assert set(mirrored["status"]) == {200}
        assert ray_mlops.monitor(name, "1h").summary["requests"] == 8  # shadow copies are not client traffic
        status = ray_mlops.target("ray").status(name)
        assert [(v.name, v.model_uri) for v in status.variants] == [
            ("primary", "models:/iris/1"),
            (shadow.name, "models:/iris/2"),
        ]
    finally:
        ray_mlops.undeploy(name)


def _shadow_records(mlops, name):
    logged = mlops.monitoring.store.requests(name, 0, time.time() + 1)
    return logged[logged["shadow"].astype(bool)]


def _send(mlops, name, rows) -> tuple[bytes, dict[str, str]]:
    status, headers, body = mlops.invoke(name, _json(rows))
    assert status == 200, body
    return body, {k.lower(): v for k, v in headers.items()}


def _wait_logged(mlops, name, ids, timeout: float = 20.0) -> None:
    wait_until(
        lambda: len(mlops.monitoring.store.known_requests(name, ids)) == len(ids),
        timeout,
        "the inference log recording the requests",
        0.2,
    )


def _json(rows) -> bytes:
    return json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
