"""A real deployment nobody has called yet is ``unknown`` in the fleet (grey, no score), never a green 100: in the
job's summaries, the API's rows and filter, and the summary's counts, as core's own health says."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.fleet.queries import FleetView
from jupyter_mlops.fleet.rollups import FleetRollups


def test_a_never_called_deployment_is_unknown_with_no_score(tmp_path) -> None:
    mlops = MLOps(MLOpsConfig(data_dir=str(tmp_path)), user="alice")
    try:
        # given a model deployed for real on the local serving daemon, and never called
        rng = np.random.default_rng(3)
        X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
        model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
        version = mlops.register(model, "idle-model", X)
        deployed = mlops.deploy(f"idle-model/{version.version}", "idle")
        assert deployed.state == "ready" and deployed.url
        core = mlops.health("idle")
        assert core.colour == "unknown" and core.score is None  # core: no data, no score
        # when the fleet's job runs
        FleetRollups(mlops.store.engine, mlops=mlops).update()
        # then the fleet says the same: unknown, no score, never monitored, counted as unknown (not green)
        view = FleetView(mlops.store)
        row = view.deployment("idle")
        assert row["health_colour"] == "unknown" and row["health_score"] is None and row["monitored"] is False
        summary = view.summary()
        assert summary["health"] == {"green": 0, "amber": 0, "red": 0, "unknown": 1}
        assert summary["score"] is None and summary["never_monitored"] == 1
        assert [d["name"] for d in view.deployments(health="unknown")["items"]] == ["idle"]
        assert view.deployments(health="green")["total"] == 0
        assert ",unknown," in view.export_csv().splitlines()[1]
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]
        mlops.close()
