"""Local serving daemon vs ``mlflow models serve``: deploy-to-ready time and one-row latency, side by side.

Run: ``.venv/bin/python benchmarks/serving_latency.py [--requests 200] [--no-peer]``. Everything lives in a
temporary folder (MLflow on SQLite, our store, the daemon) and is removed at the end. Latency is measured
over one keep-alive connection, sequential requests, one row of iris in ``dataframe_split`` format.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import mlflow
import orjson
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget


def register_model(config: MLOpsConfig) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)
    mlflow.set_tracking_uri(config.tracking_uri)
    experiment = mlflow.create_experiment("bench", artifact_location=config.artifact_root)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=X.head(3),
            signature=infer_signature(X, model.predict(X)),
            registered_model_name="iris",
            serialization_format="cloudpickle",
        )


def latencies(url: str, body: bytes, count: int) -> list[float]:
    """Seconds per request, sequential, over one keep-alive connection (after 20 warm-up requests)."""
    headers = {"Content-Type": "application/json"}
    timings = []
    with httpx.Client(trust_env=False, timeout=30) as client:
        for i in range(count + 20):
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if i >= 20:
                timings.append(elapsed)
    return timings


def deploy(store: Store, target: LocalTarget, name: str) -> float:
    started = time.perf_counter()
    store.create_deployment(
        name,
        owner="bench",
        target="local",
        model_ref="iris/1",
        variants=[Variant(model_name="iris", model_version="1")],
    )
    target.apply(name)
    target.wait_ready(name, 120)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlflow_serve(config: MLOpsConfig, body: bytes, count: int) -> tuple[float, list[float]]:
    """Start ``mlflow models serve`` on the same model; returns (launch-to-ping seconds, latencies)."""
    port = free_port()
    # mlflow runs `uvicorn` from PATH: put this interpreter's scripts first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": config.tracking_uri, "PATH": path}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/iris/1", "--env-manager", "local",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError("mlflow models serve did not start")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        return ready, latencies(f"http://127.0.0.1:{port}/invocations", body, count)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-peer", action="store_true", help="skip mlflow models serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as folder:
        config = MLOpsConfig(data_dir=folder, tracking_uri=f"sqlite:///{Path(folder) / 'mlflow.db'}")
        register_model(config)
        store = Store(config.store_url)
        target = LocalTarget(config, store)
        try:
            started = time.perf_counter()
            info = target.ensure_daemon()
            start = time.perf_counter() - started
            time.sleep(3)  # a daemon that has been up a moment (it imports MLflow in the background)
            first = deploy(store, target, "iris-first")
            warm = [deploy(store, target, f"iris-{i}") for i in range(3)]
            columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            body = orjson.dumps({"dataframe_split": {"columns": columns, "data": [[5.1, 3.5, 1.4, 0.2]]}})
            ours = latencies(f"{info.url}/deployments/iris-first/invocations", body, args.requests)
        finally:
            target.stop_daemon()
            target.close()
            store.close()
        print(f"daemon start (launch to /admin/status 200):   {start:6.2f} s")
        print(f"deploy to ready, first model in the daemon:   {first:6.2f} s")
        print(f"deploy to ready, next deployments:            {statistics.median(warm):6.2f} s (median of 3)")
        median = statistics.median(ours) * 1000
        p95 = statistics.quantiles(ours, n=20)[-1] * 1000
        print(
            f"one-row predict, jupyter_mlops:   median {median:6.2f} ms  p95 {p95:6.2f} ms  ({args.requests} requests)"
        )
        if not args.no_peer:
            ready, theirs = mlflow_serve(config, body, args.requests)
            peer = statistics.median(theirs) * 1000
            peer_p95 = statistics.quantiles(theirs, n=20)[-1] * 1000
            print(f"one-row predict, mlflow serve:    median {peer:6.2f} ms  p95 {peer_p95:6.2f} ms")
            print(f"mlflow models serve launch to /ping 200: {ready:6.2f} s")
            print(f"ratio (mlflow / jupyter_mlops), median latency: {peer / median:4.2f}x")


if __name__ == "__main__":
    main()
