"""The inference log's payload blobs on PostgreSQL: the writer's columnar path hands the driver a memoryview."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jupyter_mlops.core.monitoring import storage
from jupyter_mlops.core.monitoring.storage import MonitoringStore, Rows
from jupyter_mlops.core.store import Store
from jupyter_mlops.serving.records import RequestRecord

from .conftest import TeamServices


def test_a_columnar_flush_round_trips_through_postgresql(team_services: TeamServices) -> None:
    store = Store(team_services.store_url)
    try:
        monitoring = MonitoringStore(store.engine)
        rng = np.random.default_rng(3)
        records = [
            RequestRecord(
                request_id=f"pg-{i}", deployment="pg-cols", variant="primary", model_version="1", time=5000.0 + i,
                latency_ms=2.0, status=200, inputs=Rows(("a", "b"), rng.normal(size=(n, 2))),
                outputs=rng.random((n, 2)),
            )
            for i, n in enumerate((3, 1, 4))
        ]  # fmt: skip
        assert storage._numeric_columns(records) is not None  # the path under test
        assert monitoring.write_batch(records) == 3
        logged = monitoring.data("pg-cols", 0, 6000).reset_index(drop=True)
        expected = pd.DataFrame(
            {
                "time": np.repeat([5000.0, 5001.0, 5002.0], [3, 1, 4]),
                "in.a": np.concatenate([r.inputs.values[:, 0] for r in records]),
                "in.b": np.concatenate([r.inputs.values[:, 1] for r in records]),
                "out.prediction": np.concatenate([r.outputs[:, 0] for r in records]),
                "out.prediction_1": np.concatenate([r.outputs[:, 1] for r in records]),
            }
        )
        pd.testing.assert_frame_equal(logged, expected, check_like=True)
        assert list(monitoring.rows_of(["pg-2"])["in.a"]) == list(records[2].inputs.values[:, 0])
    finally:
        store.close()
