"""The fleet job's MLflow side: aliases, latest version and training time cached from the real registry, and
drift computed from logged inputs against the version's training baseline (MLflow on SQLite, no daemon)."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant, VariantRole
from jupyter_mlops.core.monitoring.storage import LoggedRequest, MonitoringStore
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.fleet.queries import FleetView
from jupyter_mlops.fleet.rollups import FleetRollups

FEATURES = ["a", "b", "c", "d"]


def test_aliases_versions_and_drift_come_from_mlflow_and_the_log(tmp_path) -> None:
    # given a model registered with its training data (baseline) and two deployments of it
    config = MLOpsConfig(data_dir=str(tmp_path))
    mlops = MLOps(config, user="alice")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 4)), columns=FEATURES)
    model = LogisticRegression().fit(X, (X["a"] + X["b"] > 0).astype(int))
    version = mlops.register(model, "churn", X, alias="champion")
    mlops.register(model, "churn", X)  # a newer version, not deployed
    for name in ("steady", "shifted"):
        mlops.store.create_deployment(
            name, owner="alice", target="local", model_ref="churn@champion",
            variants=[Variant(model_name="churn", model_version=version.version, role=VariantRole.primary)],
        )  # fmt: skip
    # when each logs 600 scored rows, one from the training distribution, one with three features shifted
    now = time.time()
    records = []
    for name, shift in (("steady", 0.0), ("shifted", 3.0)):
        for k in range(6):
            rows = pd.DataFrame(rng.normal(size=(100, 4)), columns=FEATURES)
            rows[["a", "b", "c"]] += shift
            records.append(
                LoggedRequest(uuid.uuid4().hex, name, "primary", version.version, now - 60 + k, 4.0, 200,
                              inputs=rows, outputs=model.predict(rows))
            )  # fmt: skip
    MonitoringStore(mlops.store.engine).write_batch(records)
    FleetRollups(mlops.store.engine, mlops=mlops).update(now=now + 1)
    # then the summaries carry MLflow's aliases and newest version, and the drift share of each deployment
    view = FleetView(mlops.store)
    steady, shifted = view.deployment("steady"), view.deployment("shifted")
    assert steady["aliases"] == {"champion": version.version}
    assert steady["latest_version"] == str(int(version.version) + 1)
    assert steady["last_trained"] is not None
    assert steady["drift_share"] == 0.0
    assert shifted["drift_share"] >= 0.5
    assert shifted["health_score"] < steady["health_score"]  # core's formula: drift 0 once the dataset drifts
    mlops.close()
