"""Cost of the inference log on serving throughput: the same daemon with logging off and on, in one run.

Same model as benchmarks/serving.py (GradientBoosting, 100 trees, 20 numeric features). For each mode the daemon
is started fresh (``JUPYTER_MLOPS_INFERENCE_LOG_ENABLED``), the deployment warmed, and ``wrk`` drives it at
concurrency 8 with 1-row and 100-row ``dataframe_split`` payloads; modes alternate over ``--rounds`` rounds and
the medians are compared. With logging on, every request's metadata and full payload (sample rate 1.0) is
written to SQLite (WAL) by the batched writer; the run also reports how many records were logged and dropped.

Run: ``.venv/bin/python benchmarks/monitoring_logging.py [--duration 5] [--rounds 3]``; needs ``/usr/bin/wrk``.
Target: overhead <= 5 %.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.monitoring.storage import MonitoringStore
from jupyter_mlops.core.registry import Registry
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget

FEATURES = [f"f{i}" for i in range(20)]
MODEL = "bench-log-gb"


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def register_model(config: MLOpsConfig) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 20)), columns=FEATURES)
    y = (X["f0"] + X["f1"] * X["f2"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    from mlflow.models import infer_signature

    registry = Registry(config.tracking_uri, artifact_root=config.artifact_root)
    registry.log_model(
        model, MODEL, signature=infer_signature(X, model.predict(X)), input_example=X.head(3), params={},
        metrics={}, tags={}, description=None,
    )  # fmt: skip
    return X


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    assert match is not None
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]


def wrk(url: str, body_file: Path, connections: int, duration: float) -> Load:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)$", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(float(rps[1]), _ms(p50[1]), _ms(p99[1]), int(errors[1]) if errors else 0)


def writer_cost_us(X: pd.DataFrame, tmp: str, rows: int, repeat: int = 5) -> float:
    """GIL time the writer thread spends per request (prepare + one batched transaction of 1,000), median."""
    from jupyter_mlops.serving.inference_log import InferenceLog
    from jupyter_mlops.serving.records import RequestRecord

    store = Store(f"sqlite:///{Path(tmp) / f'writer-{rows}.db'}")
    log = InferenceLog(store.engine)
    chunk = X.head(rows)
    body = {"columns": list(chunk.columns), "data": chunk.to_numpy().tolist()}
    costs = []
    for r in range(repeat):
        records = [
            RequestRecord(f"{r}-{i}", "d", "primary", "1", time.time(), 1.0, 200,
                          pd.DataFrame(body["data"], columns=body["columns"]), np.zeros(rows, dtype=np.int64))
            for i in range(1000)
        ]  # fmt: skip
        started = time.perf_counter()
        log.store.write_batch([log._prepare(record) for record in records])
        costs.append((time.perf_counter() - started) * 1000)  # per request: seconds / 1000 * 1e6
    store.close()
    return statistics.median(costs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating off/on rounds")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlops-bench-log-") as tmp:
        base = MLOpsConfig(data_dir=tmp)
        X = register_model(base)
        bodies = {}
        for rows in (1, 100):
            bodies[rows] = Path(tmp) / f"body-{rows}.json"
            bodies[rows].write_bytes(orjson.dumps({"dataframe_split": X.head(rows).to_dict(orient="split")}))
        costs = {rows: writer_cost_us(X, tmp, rows) for rows in (1, 100)}
        for rows, cost in costs.items():
            print(f"  writer thread: {cost:.0f} us of CPU per logged {rows}-row request", flush=True)
        store = Store(base.store_url)
        deploy_name = "bench-log"
        results: dict[tuple[str, int], list[float]] = {}
        store.create_deployment(deploy_name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                config = MLOpsConfig(data_dir=tmp, inference_log_enabled=(mode == "on"))
                target = LocalTarget(config, store)
                try:
                    target.apply(deploy_name)  # starts a fresh daemon with this mode's settings
                    target.wait_ready(deploy_name, 120)
                    url = target.endpoint_url(deploy_name)
                    assert url is not None
                    for rows, body in bodies.items():
                        wrk(url, body, args.connections, 1)  # warm-up
                        load = wrk(url, body, args.connections, args.duration)
                        results.setdefault((mode, rows), []).append(load.rps)
                        print(f"  logging {mode:3} rows={rows:3}: {load.rps:8.0f} req/s p50 {load.p50_ms:.2f} ms "
                              f"p99 {load.p99_ms:.2f} ms errors {load.errors}", flush=True)  # fmt: skip
                finally:
                    target.stop_daemon()
                    target.close()
        time.sleep(0.2)
        monitoring = MonitoringStore(store.engine)
        logged = len(monitoring.requests(deploy_name, 0, time.time() + 1))
        dropped = monitoring.dropped(deploy_name)
        store.close()

    print(f"\nInference log overhead (wrk, {args.connections} connections, median of {args.rounds} rounds):")
    for rows in (1, 100):
        off = statistics.median(results[("off", rows)])
        on = statistics.median(results[("on", rows)])
        print(f"  {rows:3}-row requests: off {off:8.0f} req/s | on {on:8.0f} req/s | ratio on/off {on / off:.3f} "
              f"| overhead {100 * (1 - on / off):+.1f} %")  # fmt: skip
    print(f"  records logged {logged}, dropped on a full queue {dropped}; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
