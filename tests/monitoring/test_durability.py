"""kill -9 of the serving daemon loses at most what it had not yet handed to its log writer process (measured)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sklearn.linear_model import LinearRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.serving import daemon_file
from jupyter_mlops.serving.log_writer import SEND_INTERVAL

from ..waiting import wait_until

# The daemon hands its buffer to the writer every SEND_INTERVAL (20 ms); allow ten of them for a busy machine.
# The writer thread in the daemon that this replaced lost up to a flush interval (0.5 s) plus a write: more.
HANDOVER_MARGIN = 10 * SEND_INTERVAL


def writer_processes(pid: int) -> list[int]:
    """The daemon's log writer children (from /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if b"log_writer" in Path(f"/proc/{c}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_kill_9_loses_at_most_what_the_daemon_had_not_handed_over(tmp_path) -> None:
    config = MLOpsConfig(data_dir=str(tmp_path), alert_interval=0)
    mlops = MLOps(config, user="tester")
    try:
        X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=["x", "y", "z"])
        mlops.register(LinearRegression().fit(X, X["x"] * 2), "durable", X)
        mlops.deploy("durable", "durable")
        pid = daemon_file.read(daemon_file.path_in(tmp_path)).pid  # type: ignore[union-attr]
        (writer,) = writer_processes(pid)
        body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})

        # Given a steady stream of answered requests
        answered: list[tuple[str, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            status, headers, _ = mlops.invoke("durable", body)
            assert status == 200
            answered.append(({k.lower(): v for k, v in headers.items()}["x-mlops-request-id"], time.monotonic()))
        ids = [rid for rid, _ in answered]
        # When the daemon is killed without warning
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        stored_at_kill = len(mlops.monitoring.store.known_requests("durable", ids))

        # Then its writer process writes everything it was handed, and exits
        wait_until(lambda: not running(writer), 30, "the log writer exiting after its daemon")
        stored = mlops.monitoring.store.known_requests("durable", ids)
        lost = [rid for rid in ids if rid not in stored]
        old = [rid for rid, at in answered if at < killed_at - HANDOVER_MARGIN]
        print(
            f"\nkill -9 after {len(answered)} answered requests: {len(lost)} lost ({len(lost) / len(answered):.1%}); "
            f"{len(stored) - stored_at_kill} written by the writer after the daemon died"
        )
        assert all(rid in stored for rid in old)
        assert len(stored) >= len(old) > 0
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]  # the process is gone: this removes daemon.json
        mlops.close()
