"""Ray Serve target on a real local Ray cluster (127.0.0.1, 2 CPUs), one per module: deploy through the facade,
predict, traffic split and rollback, backpressure settings, and a replica killed under load that Serve replaces.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget

from ..team.services import free_port

pytestmark = [
    pytest.mark.slow,
    # A Ray cluster takes about 2.5 GB and a minute or two: its own line in the Makefile (`make test-ray`).
    pytest.mark.skipif(os.environ.get("MLOPS_TEST_RAY") != "1", reason="Ray Serve tests run with `make test-ray`"),
]

ray = pytest.importorskip("ray", reason="Ray Serve is not installed: pip install -e '.[test]'")

# Loopback only, no token file in the home folder (see RECIPES: Ray Serve).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="module")
def ray_mlops(tmp_path_factory, iris, trained_model):
    from sklearn.dummy import DummyClassifier

    data_dir = tmp_path_factory.mktemp("ray")
    config = MLOpsConfig(
        data_dir=str(data_dir),
        targets={"ray": "ray"},
        target_options={
            "ray": {
                "num_cpus": 2,
                "http_port": free_port(),
                "num_replicas": 2,
                "max_ongoing_requests": 4,
                "max_queued_requests": 32,
                "health_check_period_s": 1.0,
                "replica_cpus": 0.25,
            }
        },
    )
    mlops = MLOps(config, user="tester")
    X, y = iris
    mlops.register(trained_model, "iris", X, y)
    mlops.register(DummyClassifier(strategy="constant", constant=2).fit(X, y), "iris", X, y)
    try:
        yield mlops
    finally:
        from ray import serve

        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
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
        ray_mlops.deploy("iris/2", "iris-ray", target="ray", canary=0)
        ray_mlops.set_traffic("iris-ray", {"primary": 0, "canary": 100})
        assert ray_mlops.predict("iris-ray", rows) == [2] * 12
        ray_mlops.set_traffic("iris-ray", {"primary": 50, "canary": 50})
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
        time.sleep(1.0)
        replicas = _replicas("iris-kill")
        assert len(replicas) == 2
        victim = replicas[0]
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at = time.monotonic()
        # Serve notices the dead replica and starts a new one; the other keeps serving meanwhile.
        deadline = killed_at + 60
        while True:
            alive = _replicas("iris-kill")
            app = serve.status().applications["iris-kill"]
            if len(alive) == 2 and victim not in alive and str(app.status).endswith("RUNNING"):
                break
            assert time.monotonic() < deadline, f"replica not replaced: {alive}"
            time.sleep(0.5)
        recovered_in = time.monotonic() - killed_at
        time.sleep(1.0)
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


def _json(rows) -> bytes:
    import json

    return json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
