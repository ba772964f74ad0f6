"""Density (#18 item 3): a memory budget with least-recently-used eviction of idle models, reloaded on their next
request; eviction never fails a request; a model larger than the whole budget is refused at deploy with both sizes.

One real daemon with one serving worker and a 3 MiB budget: each small logistic regression counts about 1 MiB, so
two fit and a third evicts the least recently used one. A second daemon with two workers and a 4 MiB budget shows the
budget is the daemon's, not each worker's: each worker keeps 2 MiB (one small model), and a model of about 2.6 MiB
(within the budget but over one worker's share) is refused at deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.core.errors import DeploymentFailed
from jupyter_mlops.core.models import DeploymentState, RuntimeStatus, Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving.runtime import IDLE_MESSAGE

from .conftest import metrics_text, mlflow_at, serving_config_for, wait_until

BUDGET_MB = 3
SPLIT_BUDGET_MB = 4  # the two-worker daemon's: 2 MiB per worker


def _register(config, experiment: str, name: str, estimator, X: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    with mlflow_at(config), mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=X.head(2),
            signature=infer_signature(X, estimator.predict(X)),
            registered_model_name=name,
            serialization_format="cloudpickle",
        )


class Daemon:
    """A daemon of its own with a small memory budget, and its store."""

    def __init__(self, data_dir: Path, budget_mb: int = BUDGET_MB, workers: int = 1) -> None:
        # One serving worker by default: LRU order and counters are per worker process (each worker loads and
        # evicts for the requests it answers); the eviction policy is tested there, the split of the budget over
        # workers with two.
        self.config = serving_config_for(data_dir, serving_memory_budget_mb=budget_mb, serving_workers=workers)
        self.store = Store(self.config.store_url)
        self.target = LocalTarget(self.config, self.store)
        with mlflow_at(self.config):
            self.experiment = mlflow.create_experiment("density", artifact_location=self.config.artifact_root)

    def deploy(self, name: str, model: str) -> RuntimeStatus:
        variants = [Variant(model_name=model, model_version="1")]
        self.store.create_deployment(name, owner="tester", target="local", model_ref=f"{model}/1", variants=variants)
        self.target.apply(name)
        return self.target.wait_ready(name, 60)

    def status(self, name: str) -> RuntimeStatus:
        status = self.target.status(name)
        assert status is not None, f"{name} is not served"
        return status


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("density"))
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + X["b"] > 0).astype(int)
    for i in range(3):
        _register(daemon.config, daemon.experiment, f"small-{i}", LogisticRegression(C=1 + i).fit(X, y), X)
    # About 10 MiB of trees: fully grown on noise labels.
    noisy = rng.integers(0, 2, size=len(X))
    forest = RandomForestClassifier(n_estimators=400, random_state=0).fit(X, noisy)
    _register(daemon.config, daemon.experiment, "big-forest", forest, X)
    daemon.X, daemon.y = X, y  # type: ignore[attr-defined]
    daemon.target.ensure_daemon()
    yield daemon
    daemon.target.stop_daemon()
    daemon.target.close()
    daemon.store.close()


def _metric(text: str, name: str, deployment: str) -> float:
    match = re.search(rf'^{name}_total{{deployment="{deployment}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_least_recently_used_idle_model_is_evicted_and_reloaded_on_its_next_request(daemon: Daemon) -> None:
    X = daemon.X  # type: ignore[attr-defined]
    body = orjson.dumps({"dataframe_split": X.head(5).to_dict(orient="split")})
    with httpx.Client(timeout=30, trust_env=False) as http:
        # Given two small deployments within the budget, the first one used after the second was deployed
        first = daemon.deploy("d-0", "small-0")
        daemon.deploy("d-1", "small-1")
        assert first.url
        assert http.post(first.url, content=body, headers={"Content-Type": "application/json"}).status_code == 200

        # When a third one is deployed (over the budget)
        daemon.deploy("d-2", "small-2")

        # Then the least recently used idle one (d-1) is unloaded, and its status says so without failing
        status = wait_until(lambda: (s := daemon.status("d-1")).message and IDLE_MESSAGE in s.message and s)
        assert status.state == DeploymentState.ready
        assert daemon.status("d-0").message and IDLE_MESSAGE not in daemon.status("d-0").message
        text = metrics_text(http, daemon.target)
        assert _metric(text, "mlops_model_evictions", "d-1") == 1
        assert _metric(text, "mlops_model_evictions", "d-0") == 0

        # When a request arrives for the evicted model, it is loaded again and answers as the model does
        url1 = daemon.status("d-1").url
        assert url1
        answer = http.post(url1, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        expected = LogisticRegression(C=2).fit(X, daemon.y).predict(X.head(5)).tolist()  # type: ignore[attr-defined]
        assert orjson.loads(answer.content)["predictions"] == expected
        assert IDLE_MESSAGE not in (daemon.status("d-1").message or "")
        text = metrics_text(http, daemon.target)
        assert _metric(text, "mlops_model_reloads", "d-1") == 1
        # and something else made room for it (d-0 or d-2, whichever was used least recently)
        assert _metric(text, "mlops_model_evictions", "d-0") + _metric(text, "mlops_model_evictions", "d-2") == 1
        assert float(re.search(r"^mlops_loaded_model_bytes (\S+)$", text, re.M).group(1)) <= BUDGET_MB * 2**20  # type: ignore[union-attr]

        # And concurrent requests for an evicted model all wait for one reload, none fails
        evicted = next(n for n in ("d-0", "d-2") if IDLE_MESSAGE in (daemon.status(n).message or ""))
        url = daemon.status(evicted).url
        assert url
        with httpx.Client(timeout=30, trust_env=False) as other:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                codes = list(
                    pool.map(
                        lambda _: (
                            other.post(url, content=body, headers={"Content-Type": "application/json"}).status_code
                        ),
                        range(8),
                    )
                )
        assert codes == [200] * 8
        assert _metric(metrics_text(http, daemon.target), "mlops_model_reloads", evicted) == 1


def test_a_model_larger_than_the_whole_budget_is_refused_at_deploy_with_both_sizes(daemon: Daemon) -> None:
    with pytest.raises(DeploymentFailed) as failure:
        daemon.deploy("too-big", "big-forest")
    message = str(failure.value)
    assert re.search(r"needs about \d+(\.\d+)? MiB", message), message
    assert f"whole memory budget of {BUDGET_MB} MiB" in message, message
    # and the models already served are untouched
    assert daemon.status("d-1").state == DeploymentState.ready


def test_a_request_sent_while_its_deployment_loads_is_answered_once_loaded_not_refused(daemon: Daemon) -> None:
    # Given a version never loaded by this daemon (so its load takes a while: download, MLflow load, parity gate)
    X = daemon.X  # type: ignore[attr-defined]
    _register(daemon.config, daemon.experiment, "fresh", LogisticRegression(C=9).fit(X, daemon.y), X)  # type: ignore[attr-defined]
    daemon.store.create_deployment(
        "fresh",
        owner="tester",
        target="local",
        model_ref="fresh/1",
        variants=[Variant(model_name="fresh", model_version="1")],
    )
    # When a request is sent right after the deploy is applied, while it is still loading
    status = daemon.target.apply("fresh")
    assert status.state in (DeploymentState.pending, DeploymentState.loading, DeploymentState.warming), status
    assert status.url
    body = orjson.dumps({"dataframe_split": X.head(3).to_dict(orient="split")})
    with httpx.Client(timeout=60, trust_env=False) as http:
        answer = http.post(status.url, content=body, headers={"Content-Type": "application/json"})
    # Then it waits for the load and gets the model's answer
    assert answer.status_code == 200, answer.text
    assert (
        orjson.loads(answer.content)["predictions"]
        == LogisticRegression(C=9).fit(X, daemon.y).predict(X.head(3)).tolist()
    )  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("density-2w"), budget_mb=SPLIT_BUDGET_MB, workers=2)
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - X["c"] > 0).astype(int)
    for i in range(3):
        _register(daemon.config, daemon.experiment, f"share-{i}", LogisticRegression(C=1 + i).fit(X, y), X)
    # About 1.6 MiB of trees (2.6 MiB counted): within the 4 MiB budget, over a worker's 2 MiB share.
    forest = RandomForestClassifier(n_estimators=150, random_state=0).fit(X, rng.integers(0, 2, size=len(X)))
    _register(daemon.config, daemon.experiment, "mid-forest", forest, X)
    daemon.X = X  # type: ignore[attr-defined]
    daemon.target.ensure_daemon()
    yield daemon
    daemon.target.stop_daemon()
    daemon.target.close()
    daemon.store.close()


def _loaded_bytes(text: str) -> float:
    match = re.search(r"^mlops_loaded_model_bytes (\S+)$", text, re.M)
    assert match, "mlops_loaded_model_bytes missing from /metrics"
    return float(match.group(1))


def test_the_budget_is_the_daemons_split_over_its_workers_not_one_per_worker(two_workers: Daemon) -> None:
    # Given a daemon with two serving workers (each loads every deployment) and a 4 MiB budget
    from jupyter_mlops.serving.workers import read_seats

    data_dir = two_workers.config.data_dir
    wait_until(lambda: len(read_seats(data_dir)) == 2, 60, "two serving workers")
    body = orjson.dumps({"dataframe_split": two_workers.X.head(2).to_dict(orient="split")})  # type: ignore[attr-defined]
    names = [f"share-d{i}" for i in range(3)]
    # When three small models (about 1 MiB each: 3 MiB per worker, 6 MiB for the daemon) are deployed and used
    for i, name in enumerate(names):
        two_workers.deploy(name, f"share-{i}")
    with httpx.Client(timeout=30, trust_env=False) as http:
        for name in names:
            url = two_workers.status(name).url
            assert url
            answer = http.post(url, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text

        # Then the models loaded in both workers together stay within the daemon's budget: each worker keeps its
        # 2 MiB share (one of these models), where a budget per worker would have let each hold all three (6 MiB)
        def settled() -> str | None:
            text = metrics_text(http, two_workers.target)
            return text if _loaded_bytes(text) <= SPLIT_BUDGET_MB * 2**20 else None

        text = wait_until(settled, 30, "the loaded models within the daemon's budget")
        assert isinstance(text, str)
        assert _loaded_bytes(text) > 0
        evictions = sum(_metric(text, "mlops_model_evictions", name) for name in names)
        assert evictions >= 2 * (len(names) - 1), text  # each worker evicted all but one
        # and the deployments stay ready (idle ones say so), answering on any worker
        assert all(two_workers.status(name).state == DeploymentState.ready for name in names)


def test_a_model_over_one_workers_share_is_refused_saying_the_budget_is_split(two_workers: Daemon) -> None:
    # When a model of about 2.6 MiB (within the 4 MiB budget, over each worker's 2 MiB) is deployed
    with pytest.raises(DeploymentFailed) as failure:
        two_workers.deploy("mid-forest", "mid-forest")
    # Then the deploy fails with both sizes, the split over the workers, and what to change
    message = str(failure.value)
    assert re.search(r"needs about 2\.\d MiB", message), message
    assert f"budget of {SPLIT_BUDGET_MB} MiB is split over 2 workers" in message, message
    assert "2.0 MiB each" in message, message
    assert "serving_memory_budget_mb to at least 6" in message, message
