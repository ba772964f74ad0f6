"""Ray Serve target: the cost of the inference log on the serving path (router records every answer).

Run: ``.venv/bin/python benchmarks/ray_logging.py [--requests 300] [--rows 10]``.
Starts a local Ray cluster (loopback, 2 CPUs), registers one scikit-learn model in a temporary installation, and
deploys it twice on Ray: once with ``inference_log_enabled`` (inputs and outputs cross from the replica to the
router and are queued for the writer) and once without (the peer). Prints, for each, the median and p95 latency
of sequential requests of ``--rows`` rows and the ratio between them; then stops everything (``ray.shutdown``,
never ``ray stop``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time

import httpx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(url: str, body: bytes, n: int) -> list[float]:
    """Latencies (ms) of ``n`` sequential requests over one keep-alive connection, after 20 warm-up requests."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        for _ in range(20):
            client.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
        times = []
        for _ in range(n):
            started = time.perf_counter()
            client.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray import serve

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    body = json.dumps({"dataframe_split": X.head(args.rows).to_dict(orient="split")}).encode()
    ray_options = {"num_cpus": 2, "http_port": free_port(), "num_replicas": 1}
    installations = []
    try:
        results = {}
        for logged in (True, False):
            config = MLOpsConfig(
                data_dir=tempfile.mkdtemp(prefix="ray-bench-"),
                targets={"ray": "ray"},
                target_options={"ray": ray_options},
                inference_log_enabled=logged,
            )
            mlops = MLOps(config, user="bench")
            installations.append(mlops)
            mlops.register(LogisticRegression(max_iter=500).fit(X, y), "iris", X, y)
            name = "logged" if logged else "unlogged"
            deployment = mlops.deploy("iris/1", name, target="ray")
            results[name] = measure(deployment.url or "", body, args.requests)
        print(f"Ray Serve, {args.requests} sequential requests of {args.rows} rows (machine shared: indicative only)")
        for name, times in results.items():
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"  {name:9s} median {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms")
        ratio = statistics.median(results["logged"]) / statistics.median(results["unlogged"])
        print(f"  ratio logged/unlogged (median): {ratio:.2f}")
    finally:
        for mlops in installations:
            local = mlops.targets.get("local")
            if isinstance(local, LocalTarget):
                local.stop_daemon()
            mlops.close()
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    main()
