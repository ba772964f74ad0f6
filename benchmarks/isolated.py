"""Cost of isolation and of the JSON depth limit: an isolated deployment against the same model in-process.

Run: ``.venv/bin/python benchmarks/isolated.py [--requests 2000] [--rows 1 100]``.

In a temporary data dir it registers a GradientBoosting classifier (100 trees, 20 numeric features), deploys it
twice on the real serving daemon, ``inproc`` (in the daemon's process) and ``isolated`` (``isolated=True``: a
worker process of its own, the daemon forwarding), and prints, for 1-row and 100-row ``dataframe_split`` bodies
sent one at a time over one keep-alive connection (the two deployments interleaved in blocks of 100):

- latency median and p99 of each, and the ratio isolated / in-process (the peer is the in-process deployment);
- deploy-to-ready of each (the isolated one starts a Python process and imports MLflow);
- the JSON depth check alone against ``orjson.loads`` of the same body, in this process.

The daemon (and so the worker) is stopped and everything removed at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving.protocol import check_json_depth

FEATURES = [f"f{i}" for i in range(20)]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def register(config: MLOpsConfig) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 20)), columns=FEATURES)
    y = (X["f0"] + X["f1"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri)
    experiment = mlflow.create_experiment("bench", artifact_location=config.artifact_root)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(3), signature=infer_signature(X, model.predict(X)),
            registered_model_name="gb", serialization_format="cloudpickle",
        )  # fmt: skip


def body(rows: int) -> bytes:
    data = np.random.default_rng(rows).normal(size=(rows, 20)).round(4).tolist()
    return orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": data}})


def bench_latency(base: str, requests: int, rows: int) -> None:
    payload = body(rows)
    times: dict[str, list[float]] = {"inproc": [], "isolated": []}
    headers = {"Content-Type": "application/json"}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for name in times:  # warm both
            for _ in range(50):
                assert client.post(
                    f"{base}/deployments/{name}/invocations", content=payload, headers=headers
                ).is_success
        for _ in range(requests // 100):
            for name, samples in times.items():
                url = f"{base}/deployments/{name}/invocations"
                for _ in range(100):
                    started = time.perf_counter()
                    client.post(url, content=payload, headers=headers)
                    samples.append(time.perf_counter() - started)
    inproc, isolated = times["inproc"], times["isolated"]
    for name, samples in times.items():
        print(
            f"{rows:>3} row(s), {name:<9} p50 {percentile(samples, 0.5):7.2f} ms  "
            f"p99 {percentile(samples, 0.99):7.2f} ms"
        )
    ratio = percentile(isolated, 0.5) / percentile(inproc, 0.5)
    print(f"{rows:>3} row(s), isolated / in-process p50 ratio {ratio:5.2f}x  ({len(inproc)} requests each)")


def bench_depth_check() -> None:
    for rows in (1, 100):
        payload = body(rows)
        rounds = 20_000 if rows == 1 else 2_000
        started = time.perf_counter()
        for _ in range(rounds):
            check_json_depth(payload)
        check = (time.perf_counter() - started) / rounds * 1e6
        started = time.perf_counter()
        for _ in range(rounds):
            orjson.loads(payload)
        parse = (time.perf_counter() - started) / rounds * 1e6
        print(f"depth check, {rows:>3} row(s): {check:6.2f} us vs orjson.loads {parse:7.2f} us ({check / parse:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args()
    bench_depth_check()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-isolated-") as folder:
        tracking = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        config = MLOpsConfig(data_dir=folder, tracking_uri=tracking, registry_uri=tracking)
        register(config)
        mlops = MLOps(config)
        target = mlops.target("local")
        assert isinstance(target, LocalTarget)
        try:
            target.ensure_daemon()
            for name, isolated in (("inproc", False), ("isolated", True)):
                started = time.perf_counter()
                mlops.deploy("gb/1", name, isolated=isolated)
                print(f"deploy-to-ready, {name:<9} {time.perf_counter() - started:6.2f} s")
            info = target.running_daemon()
            assert info is not None
            for rows in args.rows:
                bench_latency(info.url, args.requests, rows)
        finally:
            target.stop_daemon()
            mlops.close()


if __name__ == "__main__":
    main()
