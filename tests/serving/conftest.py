"""Serving fixtures: an MLflow store on SQLite with registered models, our Store, and a real serving daemon.

The daemon is started through LocalTarget once per session (starting it costs about a second, the first model
load another) and stopped at the end; tests use their own deployment names and remove what they create.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import NotFound
from jupyter_mlops.core.models import RuntimeStatus, Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import daemon_file

from ..global_settings import global_settings_kept
from ..waiting import wait_until as wait_until  # re-exported: test_density imports it from here

MODEL_NAME = "iris-gb"


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version registered in MLflow, with the estimator it came from and data to score."""

    name: str
    version: str
    estimator: object
    X: pd.DataFrame

    def expected(self, rows: pd.DataFrame) -> list:
        return self.estimator.predict(rows).tolist()  # type: ignore[attr-defined]


def serving_config_for(data_dir: Path, **overrides: object) -> MLOpsConfig:
    tracking = f"sqlite:///{data_dir / 'mlflow.db'}"
    # Two serving workers whatever the machine (#18 item 0: the suites run with 2 workers).
    settings = {"data_dir": str(data_dir), "tracking_uri": tracking, "registry_uri": tracking, "serving_workers": 2,
                **overrides}  # fmt: skip
    return MLOpsConfig(**settings)


@pytest.fixture(scope="session")
def serving_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    """An embedded installation of its own (not shared with the facade's tests, which run their own daemon)."""
    return serving_config_for(tmp_path_factory.mktemp("serving"))


@contextlib.contextmanager
def mlflow_at(config: MLOpsConfig) -> Iterator[None]:
    """Point this process's MLflow client at ``config`` for the duration, then restore it exactly (restoring
    ``mlflow.get_tracking_uri()`` instead would set MLFLOW_TRACKING_URI to MLflow's default for every later test
    file of the process: with pytest-xdist, the monitoring tests a worker ran after these)."""
    with global_settings_kept():
        mlflow.set_tracking_uri(config.tracking_uri)
        mlflow.set_registry_uri(config.registry_uri)
        yield


@pytest.fixture(scope="session")
def mlflow_store(serving_config: MLOpsConfig) -> str:
    """MLflow on SQLite with artifacts inside the data dir; returns the experiment id models are logged into."""
    with mlflow_at(serving_config):
        return mlflow.create_experiment("serving-tests", artifact_location=serving_config.artifact_root)


def register(config: MLOpsConfig, experiment_id: str, estimator: object, X: pd.DataFrame) -> RegisteredVersion:
    with mlflow_at(config), mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=X.head(3),
            signature=infer_signature(X, estimator.predict(X)),  # type: ignore[attr-defined]
            registered_model_name=MODEL_NAME,
            # MLflow 3.17 defaults to skops, which refuses GradientBoosting's tree type without trusted types.
            serialization_format="cloudpickle",
        )
    return RegisteredVersion(MODEL_NAME, str(info.registered_model_version), estimator, X)


@pytest.fixture(scope="session")
def registered_model(
    serving_config: MLOpsConfig,
    mlflow_store: str,
    trained_model: GradientBoostingClassifier,
    iris: tuple[pd.DataFrame, pd.Series],
) -> RegisteredVersion:
    """Version 1 of ``iris-gb``: a GradientBoosting classifier with signature and input example."""
    version = register(serving_config, mlflow_store, trained_model, iris[0])
    assert version.version == "1"
    with mlflow_at(serving_config):  # it loads back (cloudpickle, not skops)
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1")
    assert loaded.predict(iris[0].head(5)).tolist() == version.expected(iris[0].head(5))
    return version


@pytest.fixture(scope="session")
def constant_model(
    serving_config: MLOpsConfig, mlflow_store: str, registered_model: RegisteredVersion
) -> RegisteredVersion:
    """Version 2 of ``iris-gb``: always predicts class 2, so a swap to it is visible in every answer."""
    X = registered_model.X
    estimator = DummyClassifier(strategy="constant", constant=2).fit(X, [0, 1, 2] * (len(X) // 3))
    version = register(serving_config, mlflow_store, estimator, X)
    assert version.version == "2"
    return version


@pytest.fixture(scope="session")
def store(serving_config: MLOpsConfig) -> Iterator[Store]:
    store = Store(serving_config.store_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def local_target(serving_config: MLOpsConfig, store: Store) -> Iterator[LocalTarget]:
    """LocalTarget on the session's data dir; whatever daemon it started is stopped at the end."""
    target = LocalTarget(serving_config, store)
    yield target
    target.stop_daemon()
    target.close()


@pytest.fixture(scope="session")
def serving_daemon(local_target: LocalTarget, mlflow_store: str) -> daemon_file.DaemonInfo:
    """A running daemon (started through LocalTarget, after MLflow's database exists, as in real use).
    After a restart test, re-read ``daemon_url``."""
    return local_target.ensure_daemon()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        yield client


def daemon_url(target: LocalTarget) -> str:
    info = daemon_file.read(target.info_path)
    assert info is not None, "no daemon running"
    return info.url


Deploy = Callable[..., RuntimeStatus]


def put_deployment(store: Store, name: str, version: str) -> None:
    """Write the desired state as the service does: create the row, or replace its variants (new generation)."""
    variants = [Variant(model_name=MODEL_NAME, model_version=version)]
    ref = f"{MODEL_NAME}/{version}"
    try:
        store.get_deployment(name)
    except NotFound:
        store.create_deployment(name, owner="tester", target="local", model_ref=ref, variants=variants)
    else:
        store.replace_variants(name, model_ref=ref, variants=variants)


def undeploy(store: Store, target: LocalTarget, name: str) -> None:
    store.delete_deployment(name)
    target.remove(name)


@pytest.fixture
def deploy(store: Store, local_target: LocalTarget, serving_daemon: daemon_file.DaemonInfo) -> Iterator[Deploy]:
    """``deploy(name, version)``: desired state in the Store, apply, wait until ready. Removed after the test."""
    names: set[str] = set()

    def _deploy(name: str, version: str = "1", timeout: float = 60.0) -> RuntimeStatus:
        names.add(name)
        put_deployment(store, name, version)
        local_target.apply(name)
        return local_target.wait_ready(name, timeout)

    yield _deploy
    for name in names:
        undeploy(store, local_target, name)


def metrics_text(http: httpx.Client, target: LocalTarget) -> str:
    """The daemon's ``/metrics`` (it requires the admin token, read from daemon.json like any admin client)."""
    info = daemon_file.read(target.info_path)
    assert info is not None, "no daemon running"
    response = http.get(f"{info.url}/metrics", headers={"Authorization": f"Bearer {info.token}"})
    assert response.status_code == 200, response.text
    return response.text
