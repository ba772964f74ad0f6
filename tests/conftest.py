"""Shared fixtures: a real MLflow store on SQLite, our store, a real serving daemon, real trained models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig

from .global_settings import global_settings_kept

# Settings of the developer's machine must not leak into tests.
for _var in [v for v in os.environ if v.startswith(("JUPYTER_MLOPS_", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))]:
    del os.environ[_var]
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


@pytest.fixture(autouse=True)
def _isolated_global_settings() -> Iterator[None]:
    """Each test starts and ends with the process's MLflow URIs and JUPYTER_MLOPS_* settings as they were."""
    with global_settings_kept():
        yield


@pytest.fixture(autouse=True, scope="module")
def _isolated_module_settings() -> Iterator[None]:
    """The same for a module's fixtures (set up before any test's own guard): with pytest-xdist a worker runs
    another subset of files after each module than a serial run does, so a module's leak would reach other files."""
    with global_settings_kept():
        yield


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


@pytest.fixture(scope="session")
def trained_model(iris: tuple[pd.DataFrame, pd.Series]) -> GradientBoostingClassifier:
    """A GradientBoosting model: the kind MLflow's skops default refuses unless trusted types are given."""
    X, y = iris
    return GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)


def make_config(data_dir: Path) -> MLOpsConfig:
    return MLOpsConfig(data_dir=str(data_dir))


@pytest.fixture(scope="session")
def session_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    """Settings of one embedded installation shared by a test session (MLflow store, our store, daemon)."""
    return make_config(tmp_path_factory.mktemp("mlops-session"))


@pytest.fixture(scope="session")
def mlops(session_config: MLOpsConfig) -> Iterator[object]:
    """The MLOps facade on the session's stores; the serving daemon it starts is stopped at the end."""
    from jupyter_mlops.core.service import MLOps

    service = MLOps(session_config, user="tester")
    yield service
    target = (service._targets or {}).get("local")
    stop = getattr(target, "stop_daemon", None)
    if stop is not None:
        stop()
    service.close()


@pytest.fixture(scope="session")
def iris_version(mlops: object, trained_model: GradientBoostingClassifier, iris: tuple[pd.DataFrame, pd.Series]):
    """Version 1 of the registered model ``iris`` with a signature, input example and alias ``champion``."""
    X, y = iris
    return mlops.register(trained_model, "iris", X, y, alias="champion")  # type: ignore[attr-defined]
