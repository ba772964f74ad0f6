"""kill -9 of the serving daemon loses at most the unflushed batch of the inference log (measured here)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import orjson
import pandas as pd
from sklearn.linear_model import LinearRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.serving import daemon_file

FLUSH_INTERVAL = 0.5  # InferenceLog default: records reach the store within this (plus a write)


def test_kill_9_loses_at_most_the_unflushed_batch(tmp_path) -> None:
    config = MLOpsConfig(data_dir=str(tmp_path))
    mlops = MLOps(config, user="tester")
    try:
        X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=["x", "y", "z"])
        mlops.register(LinearRegression().fit(X, X["x"] * 2), "durable", X)
        mlops.deploy("durable", "durable")
        pid = daemon_file.read(daemon_file.path_in(tmp_path)).pid  # type: ignore[union-attr]
        body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})

        # Given a steady stream of answered requests
        answered: list[tuple[str, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            status, headers, _ = mlops.invoke("durable", body)
            assert status == 200
            answered.append(({k.lower(): v for k, v in headers.items()}["x-mlops-request-id"], time.monotonic()))
        # When the daemon is killed without warning
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)

        # Then every record answered before the last flush interval is stored; only the unflushed tail is lost
        stored = mlops.monitoring.store.known_requests("durable", [rid for rid, _ in answered])
        lost = [rid for rid, _ in answered if rid not in stored]
        old = [rid for rid, at in answered if at < killed_at - 2 * FLUSH_INTERVAL]
        print(f"\nkill -9 after {len(answered)} answered requests: {len(lost)} lost ({len(lost) / len(answered):.1%})")
        assert all(rid in stored for rid in old)
        assert len(lost) <= 1000  # the writer's batch size
        assert len(stored) >= len(old) > 0
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]  # the process is gone: this removes daemon.json
        mlops.close()
