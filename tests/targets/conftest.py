"""Target fixtures: one embedded installation with the local target and the KServe target configured by name.

The KServe target talks to a FAKE Kubernetes API (tests/targets/fake_kubernetes.py) because no cluster can run
here; everything else is real (MLflow on SQLite, our store, the serving daemon, HTTP).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget

from .fake_kubernetes import FakeKubernetes

# The CRD copy lives beside the project (../shared/data/kserve/), never in the repository.
CRD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kserve"
CRD_PATH = CRD_DIR / "serving.kserve.io_inferenceservices.yaml"
NO_CRD = f"the InferenceService CRD copy is absent ({CRD_PATH}); schema validation is not checked"
PVC = "pvc://mlflow-artifacts/"


@pytest.fixture(scope="session")
def crd_path() -> Path:
    if not CRD_PATH.exists():
        pytest.skip(NO_CRD)
    return CRD_PATH


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_settings() -> Iterator[None]:
    """Settings that earlier tests exported (the server extension exports JUPYTER_MLOPS_* for its kernels) must
    not leak into these installations."""
    leaked = [v for v in os.environ if v.startswith(("JUPYTER_MLOPS_", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))]
    with pytest.MonkeyPatch.context() as patch:
        for var in leaked:
            patch.delenv(var)
        yield


@dataclass
class Installation:
    mlops: MLOps
    config: MLOpsConfig
    cluster: FakeKubernetes
    artifacts: Path


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory, iris, trained_model) -> Iterator[Installation]:
    """MLflow + store + daemon in a temp data dir, ``iris`` v1 (GradientBoosting) and v2 (constant 2) registered,
    and the KServe target on a fake API."""
    data_dir = tmp_path_factory.mktemp("targets")
    artifacts = data_dir / "mlartifacts"
    schema = _api_server_schema(CRD_PATH) if CRD_PATH.exists() else None
    with FakeKubernetes({PVC: str(artifacts)}, schema=schema) as cluster:
        config = MLOpsConfig(
            data_dir=str(data_dir),
            targets={"kserve": "kserve"},
            target_options={
                "kserve": {
                    "namespace": "models",
                    "kubeconfig": str(cluster.kubeconfig(data_dir)),
                    "crd_path": str(CRD_PATH) if CRD_PATH.exists() else None,
                    "storage_uri_prefixes": {artifacts.as_uri() + "/": PVC},
                }
            },
        )
        mlops = MLOps(config, user="tester")
        X, y = iris
        mlops.register(trained_model, "iris", X, y, alias="champion")
        # Version 2 always answers class 2, so which version served a request shows in every answer.
        mlops.register(DummyClassifier(strategy="constant", constant=2).fit(X, y), "iris", X, y)
        try:
            yield Installation(mlops, config, cluster, artifacts)
        finally:
            local = mlops.targets.get("local")
            if isinstance(local, LocalTarget):
                local.stop_daemon()
            mlops.close()


def _api_server_schema(path: Path) -> dict:
    """The CRD schema as the API server applies it: unknown fields are pruned there, not refused."""
    import yaml

    crd = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    return next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")["schema"]["openAPIV3Schema"]
