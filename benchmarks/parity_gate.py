"""Cost of the parity gate's baseline rows: deploy-to-ready with and without the training sample.

Run: ``.venv/bin/python benchmarks/parity_gate.py [--rounds 7] [--rows 100]``.

In a temporary data dir it registers the same GradientBoosting regressor (2,000 training rows, 20 features, 100
trees) twice: ``gb-plain`` with ``parity_sample_rows=0`` (the gate checks the input example only, as before) and
``gb-sample`` with ``--rows`` sampled training rows (the gate also replays them). It then prints medians of:

- deploy-to-ready (``deploy(wait=True)`` on the real serving daemon: load, warm-up, parity gate), the two models
  interleaved round by round, and their ratio (the peer is the same deploy without the sample);
- the gate alone, in this process (``parity.check`` on the loaded model), with and without the sample: the
  added cost without the noise of loading.

The daemon is stopped and everything removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import parity
from jupyter_mlops.serving.protocol import ScoringModel


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 20)), columns=[f"f{i}" for i in range(20)])
    y = X["f0"] * 3 + np.sin(X["f1"]) + rng.normal(scale=0.1, size=len(X))
    return X, y.to_numpy()


def bench_deploys(plain: MLOps, sampled: MLOps, rounds: int) -> None:
    times: dict[str, list[float]] = {"gb-plain": [], "gb-sample": []}
    for _ in range(rounds):
        for facade, name in ((plain, "gb-plain"), (sampled, "gb-sample")):
            started = time.perf_counter()
            deployment = facade.deploy(f"{name}/1", name)
            times[name].append(time.perf_counter() - started)
            warming = next(s for s in deployment.steps if s.name == "warming")
            assert "parity with in-process predictions: ok" in (warming.message or ""), warming.message
            facade.undeploy(name)
    without, with_sample = ms(times["gb-plain"]), ms(times["gb-sample"])
    print(f"deploy-to-ready, input example only   median {without:8.1f} ms  ({rounds} deploys)")
    print(f"deploy-to-ready, + baseline rows      median {with_sample:8.1f} ms  ({rounds} deploys)")
    print(f"ratio with/without sample             {with_sample / without:8.2f}x")


def bench_gate(mlops: MLOps, rounds: int) -> None:
    with mlops.registry.fluent():
        models = {name: mlflow.pyfunc.load_model(f"models:/{name}/1") for name in ("gb-plain", "gb-sample")}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(rounds):
            for name, pyfunc in models.items():
                started = time.perf_counter()
                message = parity.check(ScoringModel.from_pyfunc(pyfunc), pyfunc)
                times[name].append(time.perf_counter() - started)
    print(f"gate alone, input example only        median {ms(times['gb-plain']):8.1f} ms")
    print(f"gate alone, + baseline rows           median {ms(times['gb-sample']):8.1f} ms  ({message})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    X, y = training_data()
    model = GradientBoostingRegressor(n_estimators=100, random_state=0).fit(X, y)
    with tempfile.TemporaryDirectory() as data_dir:
        sampled = MLOps(MLOpsConfig(data_dir=data_dir, parity_sample_rows=args.rows), user="bench")
        plain = MLOps(
            MLOpsConfig(data_dir=data_dir, parity_sample_rows=0),
            user="bench",
            registry=sampled.registry,
            store=sampled.store,
            targets=sampled.targets,
        )
        try:
            plain.register(model, "gb-plain", X, y)
            sampled.register(model, "gb-sample", X, y)
            plain.deploy("gb-plain/1", "warm-daemon")  # the first deploy starts the daemon: not measured
            plain.undeploy("warm-daemon")
            bench_deploys(plain, sampled, args.rounds)
            bench_gate(sampled, args.rounds)
        finally:
            LocalTarget(sampled.config, sampled.store).stop_daemon()
            sampled.close()


if __name__ == "__main__":
    main()
