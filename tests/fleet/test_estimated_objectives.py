"""The fleet counts deployments whose performance estimated without labels fell below their objective (issue #16
item 5): the objective is an alert rule on an ``estimated_*`` metric; real daemon, real store, the fleet's own job."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.fleet.queries import FleetView
from jupyter_mlops.fleet.rollups import FleetRollups
from tests.waiting import wait_until

FEATURES = ["a", "b", "c"]


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)


def _labels(rows: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return (rows["a"] + rng.normal(scale=0.8, size=len(rows)) > 0).astype(int).to_numpy()


def test_fleet_counts_deployments_whose_estimate_fell_below_their_objective(tmp_path) -> None:
    mlops = MLOps(MLOpsConfig(data_dir=str(tmp_path), alert_interval=0), user="alice")
    try:
        # given a classifier registered with a labelled reference set, deployed three times
        rng = np.random.default_rng(5)
        X = _rows(rng, 3000)
        y = _labels(X, rng)
        model = LogisticRegression().fit(X[:1500], y[:1500])
        version = mlops.register(model, "est-fleet", X[:1500], y[:1500], reference=(X[1500:], y[1500:]))
        names = ("est-below", "est-above", "est-none")
        for name in names:
            mlops.deploy(f"est-fleet/{version.version}", name)
            mlops.predict(name, _rows(rng, 300))
        estimate = _estimate(mlops, "est-below")
        # an objective above the estimate (so it is missed), one far below it (met), and none
        mlops.alert_rules(
            "est-below", [{"name": "acc", "metric": "estimated_accuracy", "op": "<", "threshold": estimate + 0.05}]
        )
        mlops.alert_rules("est-above", [{"name": "acc", "metric": "estimated_accuracy", "op": "<", "threshold": 0.3}])
        for name in names:
            mlops.monitor(name, "1h")  # a report evaluates the rules
        # when the fleet's job runs
        FleetRollups(mlops.store.engine, mlops=mlops).update()
        summary = FleetView(mlops.store).summary()
        # then one deployment is below its objective, of the two that have one
        assert summary["deployments"] == 3
        assert summary["estimated_objectives"] == 2
        assert summary["estimated_below_objective"] == 1

        # and once the objective is lowered under the estimate, the alert resolves and the count drops
        mlops.alert_rules("est-below", [{"name": "acc", "metric": "estimated_accuracy", "op": "<", "threshold": 0.3}])
        mlops.monitor("est-below", "1h")
        assert FleetView(mlops.store).summary()["estimated_below_objective"] == 0
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]
        mlops.close()


def _estimate(mlops: MLOps, name: str) -> float:
    """The window's estimated accuracy once the logged rows reach the monitor (logging is asynchronous)."""
    seen: list[object] = []

    def estimated() -> float | None:
        status = mlops.monitor(name, "1h").estimation
        seen[:] = [status]
        if status.available and "accuracy" in status.summary and status.rows >= 300:
            return float(status.summary["accuracy"].estimate)
        return None

    return wait_until(estimated, 30, lambda: f"an estimate for {name} (last status: {seen[0] if seen else None})", 0.2)
