"""Density (#18 item 3): resident memory of N small scikit-learn deployments on one daemon, without and with a
memory budget, and the latency of the first request to an evicted (idle, unloaded) model.

For each budget (0 = none) a fresh daemon serves N deployments of one small logistic regression (each deployment
loads its own copy, as separate models would); RSS counts the daemon and its inference log writer. Reload latency
is the median, over ``--reloads`` evicted deployments, of the first request (load + predict), next to the median of
a request to a loaded one.

Run: ``.venv/bin/python benchmarks/density.py [--deployments 100] [--budget-mb 64] [--reloads 20]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving.runtime import IDLE_MESSAGE

MODEL = "density-lr"


def rss_mib(pid: int) -> float:
    """RSS of a process and its descendants, in MiB."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            pids.extend(int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except OSError:
            continue
    return total / 1024


def register(config: MLOpsConfig) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(500, 8)), columns=[f"f{i}" for i in range(8)])
    y = (X["f0"] + X["f1"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri)
    experiment = mlflow.create_experiment("density", artifact_location=config.artifact_root)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(2), signature=infer_signature(X, model.predict(X)),
            registered_model_name=MODEL, serialization_format="cloudpickle",
        )  # fmt: skip
    return X


def run(budget_mb: int, deployments: int, reloads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mlops-density-") as folder:
        tracking = f"sqlite:///{folder}/mlflow.db"
        config = MLOpsConfig(
            data_dir=folder, tracking_uri=tracking, registry_uri=tracking, serving_memory_budget_mb=budget_mb
        )
        X = register(config)
        body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})
        store = Store(config.store_url)
        target = LocalTarget(config, store)
        info = target.ensure_daemon()
        try:
            started = time.perf_counter()
            names = [f"m{i:04d}" for i in range(deployments)]
            for name in names:
                store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                        variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                target.apply(name)
            for name in names:
                target.wait_ready(name, 600)
            deploy_s = time.perf_counter() - started
            time.sleep(1.0)  # let the allocator settle before reading RSS (measurement, not synchronisation)
            rss = rss_mib(info.pid)
            statuses = target.statuses()
            idle = [n for n, s in statuses.items() if IDLE_MESSAGE in (s.message or "")]
            loaded = [n for n in names if n not in idle]
            headers = {"Content-Type": "application/json"}
            with httpx.Client(timeout=60, trust_env=False) as http:
                url = statuses[names[0]].url or ""
                base = url.rsplit("/deployments/", 1)[0]
                warm = []
                for _ in range(reloads):
                    sent = time.perf_counter()
                    assert (
                        http.post(
                            f"{base}/deployments/{loaded[-1]}/invocations", content=body, headers=headers
                        ).status_code
                        == 200
                    )
                    warm.append(time.perf_counter() - sent)
                cold = []
                for name in idle[:reloads]:
                    sent = time.perf_counter()
                    answer = http.post(f"{base}/deployments/{name}/invocations", content=body, headers=headers)
                    cold.append(time.perf_counter() - sent)
                    assert answer.status_code == 200, answer.text
                if idle:
                    steps = target.status(idle[0]).steps  # type: ignore[union-attr]
                    print("reload of", idle[0], "; ".join(f"{s.name}: {s.message}" for s in steps if s.message))
            return {
                "budget_mb": budget_mb,
                "deployments": deployments,
                "rss_mib": rss,
                "idle": len(idle),
                "deploy_all_s": deploy_s,
                "warm_ms": statistics.median(warm) * 1000,
                "reload_ms": statistics.median(cold) * 1000 if cold else float("nan"),
            }
        finally:
            target.stop_daemon()
            target.close()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--budget-mb", type=int, default=64)
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--no-baseline", action="store_true", help="Skip the run without a budget.")
    args = parser.parse_args()
    results = [] if args.no_baseline else [run(0, args.deployments, args.reloads)]
    results.append(run(args.budget_mb, args.deployments, args.reloads))
    print(f"{'budget':>8} {'deployments':>11} {'idle':>5} {'RSS MiB':>8} {'deploy all s':>12} "
          f"{'warm p50 ms':>11} {'reload p50 ms':>13}")  # fmt: skip
    for r in results:
        budget = f"{r['budget_mb']:.0f}" if r["budget_mb"] else "none"
        print(f"{budget:>8} {r['deployments']:>11.0f} {r['idle']:>5.0f} {r['rss_mib']:>8.0f} "
              f"{r['deploy_all_s']:>12.1f} {r['warm_ms']:>11.2f} {r['reload_ms']:>13.1f}")  # fmt: skip
    if len(results) == 2:
        print(f"RSS with a {args.budget_mb} MiB budget: {results[1]['rss_mib'] / results[0]['rss_mib']:.2f}x of none")


if __name__ == "__main__":
    main()
