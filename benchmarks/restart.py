"""Back in 2 seconds (#18 item 5): after ``kill -9`` of the daemon serving 10 deployments, time from the kill to the
first 200 on the same URL (the supervisor holds the port and hands the killed worker's seat to its pre-started
standby interpreter; with 2 serving workers the other worker answers meanwhile); and a cold first deploy (no daemon
running: start it, deploy, ready), and a first deploy on a daemon started ahead of it (``serving_prestart``: the
Jupyter server starts it). Medians over ``--rounds``, for each ``--workers`` count.

Run: ``.venv/bin/python benchmarks/restart.py [--rounds 3] [--deployments 10] [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from density import MODEL, register

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import daemon_file
from jupyter_mlops.serving.workers import standby_ready


def first_200_after(url: str, body: bytes, since: float, timeout: float = 60.0) -> float:
    """Seconds from ``since`` to the first 200 of requests sent in a loop (connection errors retried at once)."""
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        while time.monotonic() - since < timeout:
            try:
                if http.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 200:
                    return time.monotonic() - since
            except httpx.HTTPError:
                pass
            time.sleep(0.002)  # pacing of the load generator
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--workers", default="1,2", help="comma-separated serving worker counts to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-restart-") as folder:
        tracking = f"sqlite:///{folder}/mlflow.db"
        X = register(MLOpsConfig(data_dir=folder, tracking_uri=tracking, registry_uri=tracking))
        for workers in (int(w) for w in args.workers.split(",")):
            config = MLOpsConfig(
                data_dir=f"{folder}/w{workers}", tracking_uri=tracking, registry_uri=tracking, serving_workers=workers
            )
            measure(config, X, args.rounds, args.deployments, workers)


def wait_standby(target: LocalTarget, timeout: float = 60.0) -> None:
    """Wait until the supervisor's standby interpreter has done its imports (as it has a few seconds after a start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if standby_ready(target.config.data_dir) is not None:
            return
        time.sleep(0.05)
    raise TimeoutError("no standby interpreter")


def measure(config: MLOpsConfig, X: pd.DataFrame, rounds: int, deployments: int, workers: int) -> None:
    """Cold first deploys and kill -9 recoveries of a daemon with ``workers`` serving workers; prints medians."""
    body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})
    store = Store(config.store_url)
    target = LocalTarget(config, store)
    cold: list[float] = []
    back: list[float] = []
    prestarted: list[float] = []
    try:
        for round_ in range(rounds):
            # cold first deploy: no daemon running
            name = f"cold{round_}"
            started = time.monotonic()
            store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                    variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
            target.apply(name)
            target.wait_ready(name, 120)
            cold.append(time.monotonic() - started)
            if round_ == 0:
                for i in range(deployments - 1):
                    store.create_deployment(f"d{i}", owner="bench", target="local", model_ref=f"{MODEL}/1",
                                            variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                    target.apply(f"d{i}")
                for i in range(deployments - 1):
                    target.wait_ready(f"d{i}", 120)
            url = target.status(name).url  # type: ignore[union-attr]
            info = daemon_file.read(target.info_path)
            assert info is not None
            assert url
            wait_standby(target)
            killed = time.monotonic()
            os.kill(info.pid, signal.SIGKILL)
            back.append(first_200_after(url, body, killed))
            target.stop_daemon()
            store.delete_deployment(name)
            # the first deploy on a daemon the Jupyter server started ahead of it (serving_prestart): the daemon
            # is up and its imports done (its standby is ready), nothing is deployed yet
            target.ensure_daemon()
            wait_standby(target)
            name = f"prestarted{round_}"
            started = time.monotonic()
            store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                    variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
            target.apply(name)
            target.wait_ready(name, 120)
            prestarted.append(time.monotonic() - started)
            target.stop_daemon()
            store.delete_deployment(name)
    finally:
        target.stop_daemon()
        target.close()
        store.close()
    print(
        f"{workers} worker(s): cold first deploy (daemon start + deploy + ready): {[f'{c:.2f}' for c in cold]} s, "
        f"median {statistics.median(cold):.2f} s",
        flush=True,
    )
    print(
        f"{workers} worker(s): first deploy on a prestarted daemon (serving_prestart): "
        f"{[f'{p:.2f}' for p in prestarted]} s, median {statistics.median(prestarted):.2f} s",
        flush=True,
    )
    print(
        f"{workers} worker(s): kill -9 with {deployments} deployments -> first 200 on the same URL: "
        f"{[f'{b:.2f}' for b in back]} s, median {statistics.median(back):.2f} s",
        flush=True,
    )


if __name__ == "__main__":
    threading.excepthook = lambda _args: None
    main()
