"""An isolated deployment's worker runs user code: its environment is built from an allow-list, so none of the
daemon's credentials (store password, MLflow credentials, hub tokens, the ledger key's location) reach the model.

Real components: an installation of its own whose serving daemon is started with secrets in its environment (as the
MLOps service's daemon is), and a deployed model whose ``predict`` reports the credential-like variables it sees.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import cloudpickle
import mlflow
import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow

SECRETS = {
    "JUPYTER_MLOPS_STORE_URL_SHADOW": "postgresql://mlops:s3cret@127.0.0.1/mlops",  # a setting naming the store
    "JUPYTER_MLOPS_AUDIT_KEY_FILE": "/srv/mlops/keys/ledger.key",
    "JUPYTERHUB_API_TOKEN": "hub-service-token",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-password",
    "MLFLOW_TRACKING_TOKEN": "mlflow-token",
    "PGPASSWORD": "s3cret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}
# The daemon also has MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI (it sets them itself); the worker has neither: it
# never reaches MLflow (its daemon hands it a local copy of the model).
WORDS = ("PASSWORD", "TOKEN", "SECRET", "STORE_URL", "KEY", "PG", "JUPYTERHUB", "USERNAME", "AUDIT", "_URI")


class ReportsCredentials(mlflow.pyfunc.PythonModel):
    """Answers, for every row, the credential-like variables and values its process can see."""

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - pyfunc's signature
        seen = sorted(k for k in os.environ if any(word in k for word in WORDS))
        seen += sorted(f"value of {k}" for k, v in os.environ.items() if "s3cret" in v or "token" in v.lower())
        return [";".join(seen) or "none"] * len(model_input)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A facade whose serving daemon starts with secrets in its environment (as the service's would)."""
    from jupyter_mlops.core.service import MLOps

    config = MLOpsConfig(data_dir=str(tmp_path_factory.mktemp("worker-env")))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        mlops = MLOps(config, user="tester")
        try:
            yield mlops
        finally:
            target = (mlops._targets or {}).get("local")
            if target is not None:
                target.stop_daemon()
            mlops.close()


def test_an_isolated_model_sees_no_credential_of_its_daemon(installation: Any) -> None:
    X = pd.DataFrame({"x": [1.0, 2.0]})
    name = f"env-probe-{uuid.uuid4().hex[:6]}"
    version = installation.register(ReportsCredentials(), name, X)
    installation.deploy(f"{name}/{version.version}", name=name, isolated=True)
    try:
        # the daemon itself has them (it needs the store); the model in its worker does not
        assert installation.predict(name, X) == ["none", "none"]
    finally:
        installation.undeploy(name)
