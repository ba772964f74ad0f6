"""Target fixtures: one embedded installation with the local target and the KServe target configured by name
(and the Ray Serve target when ``MLOPS_TEST_RAY=1``).

The KServe target talks to a FAKE Kubernetes API (tests/targets/fake_kubernetes.py) because no cluster can run
here; everything else is real (MLflow on SQLite, our store, the serving daemon, a local Ray cluster, HTTP).
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

from ..team.services import free_port
from .fake_kubernetes import FakeKubernetes

# A Ray cluster takes about 2.5 GB and a minute on 2 cores: the Ray tests run on their own line (`make test-ray`).
RAY_ENABLED = os.environ.get("MLOPS_TEST_RAY") == "1"
NO_RAY = "Ray Serve tests need a local Ray cluster (~2.5 GB): run them with MLOPS_TEST_RAY=1 (`make test-ray`)"

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


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The cluster-wide Ray target options every installation of the session shares (one Ray cluster and one
    Serve proxy per session: Ray starts on first use and is shut down here, never with `ray stop`)."""
    if not RAY_ENABLED:
        pytest.skip(NO_RAY)
    # Loopback only, no token file in the home folder (RECIPES: Ray Serve); set before Ray is imported.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray = pytest.importorskip("ray", reason="Ray Serve is not installed: pip install -e '.[test]'")
    options: dict[str, object] = {"num_cpus": 2, "http_port": free_port()}
    try:
        _start_cluster(options, tmp_path_factory.mktemp("ray-start"))
        yield options
    finally:
        if ray.is_initialized():
            from ray import serve

            serve.shutdown()
            ray.shutdown()


def _start_cluster(options: dict[str, object], data_dir: Path) -> None:
    """Start the session's cluster and Serve once, through the target's own ``connect``, with a second try.

    On a busy machine the raylet can miss its fixed time to register ("The current node timed out during
    startup"); the target reports that as Unavailable, and a second ``connect`` starts the cluster.
    """
    from jupyter_mlops.core.errors import Unavailable
    from jupyter_mlops.core.store import Store
    from jupyter_mlops.core.targets.ray import RayServeTarget

    config = MLOpsConfig(data_dir=str(data_dir), targets={"ray": "ray"}, target_options={"ray": options})
    store = Store(config.store_url)
    target = RayServeTarget(config, store)
    try:
        try:
            target.connect()
        except Unavailable:
            target.connect()
    finally:
        target.close()
        store.close()


@dataclass
class Installation:
    mlops: MLOps
    config: MLOpsConfig
    cluster: FakeKubernetes
    artifacts: Path


@pytest.fixture(scope="module")
def installation(request, tmp_path_factory: pytest.TempPathFactory, iris, trained_model) -> Iterator[Installation]:
    """MLflow + store + daemon in a temp data dir, ``iris`` v1 (GradientBoosting) and v2 (constant 2) registered,
    the KServe target on a fake API, and the Ray target on the session's cluster when Ray tests run."""
    data_dir = tmp_path_factory.mktemp("targets")
    ray = {"ray": request.getfixturevalue("ray_cluster")} if RAY_ENABLED else {}
    artifacts = data_dir / "mlartifacts"
    schema = _api_server_schema(CRD_PATH) if CRD_PATH.exists() else None
    with FakeKubernetes({PVC: str(artifacts)}, schema=schema) as cluster:
        config = MLOpsConfig(
            data_dir=str(data_dir),
            targets={"kserve": "kserve", **{name: name for name in ray}},
            target_options={
                **ray,
                "kserve": {
                    "namespace": "models",
                    "kubeconfig": str(cluster.kubeconfig(data_dir)),
                    "crd_path": str(CRD_PATH) if CRD_PATH.exists() else None,
                    "storage_uri_prefixes": {artifacts.as_uri() + "/": PVC},
                },
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
