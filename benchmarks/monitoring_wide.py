"""Drift, multivariate drift and data quality over a wide log: 100,000 logged rows x 1,000 features.

The log is written through the writer's own path (``MonitoringStore.write_batch``, flushes of 20 requests x 50 rows
given as numpy ``Rows`` as the serving daemon hands them over) into a real SQLite store. Features are correlated
(twenty latent factors plus noise), like real wide tables. Then, each run in a fresh process (so its peak RSS is
its own): the reference PCA fit (once per model version), then what a report does, one pass over the stored
batches feeding the per-feature drift (``DriftAccumulator``), multivariate drift and data quality
(``window_checks``). Prints each run and the medians of the runs; the issue's target is <= 10 s and <= 3 GiB.

Run: ``.venv/bin/python benchmarks/monitoring_wide.py [--rows 100000] [--features 1000] [--runs 3] [--data DIR]``
(``--data`` keeps the written log in DIR and reuses it on the next run, e.g. to profile ``--measure DIR`` alone).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = 1_800_000_000.0
WINDOW = 3600.0
DEPLOYMENT = "bench-wide"
ROWS_PER_REQUEST = 50
REQUESTS_PER_FLUSH = 20
FACTORS = 20


def _rows(rng: np.random.Generator, n: int, mixing: np.ndarray) -> np.ndarray:
    return rng.normal(size=(n, FACTORS)) @ mixing + rng.normal(scale=0.5, size=(n, mixing.shape[1]))


def write(folder: Path, rows: int, features: int) -> None:
    """The training profile (with its reference rows) as JSON, and the logged rows in a SQLite store."""
    from sqlalchemy import create_engine

    from jupyter_mlops.core.monitoring import multivariate as mv
    from jupyter_mlops.core.monitoring.baseline import build_profile
    from jupyter_mlops.core.monitoring.storage import LoggedRequest, MonitoringStore, Rows

    rng = np.random.default_rng(0)
    names = tuple(f"f{i}" for i in range(features))
    mixing = rng.normal(size=(FACTORS, features)) / np.sqrt(FACTORS)
    training = pd.DataFrame(_rows(rng, 20_000, mixing), columns=list(names))
    profile = build_profile(training, predictions=rng.integers(0, 2, len(training)))
    profile["reference"] = mv.reference_rows(training, profile)
    (folder / "profile.json").write_text(json.dumps(profile))
    store = MonitoringStore(create_engine(f"sqlite:///{folder}/store.db"))
    per_flush = ROWS_PER_REQUEST * REQUESTS_PER_FLUSH
    started = time.perf_counter()
    for first in range(0, rows, per_flush):
        block = _rows(rng, min(per_flush, rows - first), mixing)
        records = []
        for k in range(0, len(block), ROWS_PER_REQUEST):
            part = block[k : k + ROWS_PER_REQUEST]
            records.append(
                LoggedRequest(
                    request_id=f"r{first + k}",
                    deployment=DEPLOYMENT,
                    variant="default",
                    model_version="1",
                    time=START + WINDOW * (first + k) / rows,
                    latency_ms=1.0,
                    status=200,
                    inputs=Rows(names, part),
                    outputs=rng.integers(0, 2, len(part)),
                )
            )
        store.write_batch(records)
    print(f"wrote {rows:,} rows x {features:,} features in {time.perf_counter() - started:.1f} s", flush=True)
    store.engine.dispose()


def measure(folder: Path) -> dict[str, float]:
    """One run: drift, PCA fit, multivariate drift + data quality; seconds each and the process's peak RSS."""
    from sqlalchemy import create_engine

    from jupyter_mlops.core.monitoring import multivariate as mv
    from jupyter_mlops.core.monitoring.drift import DriftAccumulator, DriftSettings
    from jupyter_mlops.core.monitoring.labels import PREDICTION
    from jupyter_mlops.core.monitoring.metrics import bucket_seconds
    from jupyter_mlops.core.monitoring.service import window_checks
    from jupyter_mlops.core.monitoring.storage import INPUT_PREFIX, MonitoringStore

    profile = json.loads((folder / "profile.json").read_text())
    store = MonitoringStore(create_engine(f"sqlite:///{folder}/store.db"))
    start, end = START, START + WINDOW + 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time()
    t0 = time.perf_counter()
    reference = mv.reference_frame(profile)
    assert reference is not None
    pca = mv.fit(reference)  # once per model version (cached by the service)
    t1 = time.perf_counter()
    # What a report does (Monitoring._data_checks): one pass over the stored batches for all three.
    rows = store.window_rows(DEPLOYMENT, start, end)
    accumulator = DriftAccumulator(profile, rows, DriftSettings(), input_prefix=INPUT_PREFIX, output=PREDICTION)
    checks = window_checks(store, DEPLOYMENT, profile, pca, start, end, bucket_seconds(WINDOW), drift=accumulator)
    drift = accumulator.result()
    t2 = time.perf_counter()
    assert rows == drift["rows"]
    assert len(drift["features"]) == len(profile["features"])
    assert sum(p["rows"] for p in checks["multivariate_drift"]) == rows
    return {
        "rows": rows,
        "pca_fit_s": t1 - t0,
        "report_s": t2 - t1,
        "total_s": t2 - t0,
        "cpu_s": time.process_time() - cpu,  # this process's CPU seconds (less sensitive to a shared machine)
        "components": 0 if pca is None else int(pca.components.shape[0]),
        "drifted_features": sum(f["drifted"] for f in drift["features"]),
        "drifted_buckets": sum(p["drifted"] for p in checks["multivariate_drift"]),
        "rss_before_mib": before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Write the log once, then time the runs in fresh processes and print their medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="keep the written log in this folder and reuse it when present")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one run in this process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="mlops-wide-") as tmp:
        folder = args.data or Path(tmp)
        if not (folder / "store.db").exists():
            folder.mkdir(parents=True, exist_ok=True)
            write(folder, args.rows, args.features)
        runs = []
        for k in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder)], check=True, capture_output=True, text=True
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {k + 1}: " + ", ".join(f"{key}={value:.2f}" for key, value in runs[-1].items()), flush=True)
        keys = ["pca_fit_s", "report_s", "total_s", "cpu_s", "peak_rss_mib"]
        medians = {key: statistics.median(r[key] for r in runs) for key in keys}
        print(
            f"median of {args.runs} runs over {args.rows:,} rows x {args.features:,} features: "
            f"PCA fit {medians['pca_fit_s']:.2f} s + drift, multivariate drift and data quality in one pass "
            f"{medians['report_s']:.2f} s = {medians['total_s']:.2f} s "
            f"(target <= 10 s; CPU {medians['cpu_s']:.2f} s), "
            f"peak RSS {medians['peak_rss_mib']:.0f} MiB (target <= 3072 MiB)"
        )


if __name__ == "__main__":
    main()
