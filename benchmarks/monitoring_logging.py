"""Cost of the inference log on serving throughput and latency: the same daemon with logging off and on, in one run.

Same model as benchmarks/serving.py (GradientBoosting, 100 trees, 20 numeric features). For each mode the daemon
is started fresh (``JUPYTER_MLOPS_INFERENCE_LOG_ENABLED``), the deployment warmed, and ``wrk`` drives it at
concurrency 1 (1-row: the p99 target) and 8 (1-row and 100-row ``dataframe_split`` payloads); modes alternate over
``--rounds`` rounds and the medians are compared. With logging on, every request's metadata and full payload
(sample rate 1.0) is written to SQLite (WAL) by the daemon's writer process; the run also reports how many records
were logged and dropped, the time each logged request costs the serving interpreter (encoding it for the writer)
and the writer process (sampling, Arrow encoding and the batched write), and how late a 1 ms ``asyncio.sleep``
wakes while records are logged with no log, the former writer thread and the writer process.

Run: ``.venv/bin/python benchmarks/monitoring_logging.py [--duration 5] [--rounds 3]``; needs ``/usr/bin/wrk``.
Target: overhead <= 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import pickle
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)$", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(float(rps[1]), _ms(p50[1]), _ms(p99[1]), int(errors[1]) if errors else 0)


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU time (user + system) of a process tree, split into the inference log writers and everything else."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"writer": 0.0, "serving": 0.0}
    pids = [root]
    while pids:
        pid = pids.pop()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            role = "writer" if b"log_writer" in Path(f"/proc/{pid}/cmdline").read_bytes() else "serving"
            totals[role] += (int(stat[11]) + int(stat[12])) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                pids.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return totals


def settle(config: MLOpsConfig, target: LocalTarget, deployment: str, timeout: float = 180.0) -> None:
    """Wait until every serving worker of the fresh daemon serves the deployment and the standby interpreter has
    done its imports: a worker still starting (importing MLflow, loading) takes connections it answers seconds
    later, which would be measured as the mode's cost."""
    from jupyter_mlops.serving.listen import worker_count
    from jupyter_mlops.serving.workers import read_seats, standby_ready

    deadline = time.monotonic() + timeout
    expected = worker_count(config.serving_workers)
    while time.monotonic() < deadline:
        if len(read_seats(config.data_dir)) >= expected and (expected == 1 or standby_ready(config.data_dir)):
            break
        time.sleep(0.2)
    target.wait_ready(deployment, timeout)  # every worker's status: ready in each


def writer_costs_us(X: pd.DataFrame, tmp: str, rows: int, repeat: int = 5) -> tuple[float, float]:
    """Time per logged request, median over batches of 1,000: in the daemon (encoding it for the writer process)
    and in the writer process (decode, prepare, one batched transaction, its I/O included)."""
    from jupyter_mlops.serving.inference_log import InferenceLog
    from jupyter_mlops.serving.log_writer import decode, encode
    from jupyter_mlops.serving.records import RequestRecord

    store = Store(f"sqlite:///{Path(tmp) / f'writer-{rows}.db'}")
    log = InferenceLog(store.engine)
    chunk = X.head(rows)
    body = {"columns": list(chunk.columns), "data": chunk.to_numpy().tolist()}
    # Frames as the serving fast path builds them: one shared column Index per signature.
    from jupyter_mlops.serving.protocol import _column_index

    columns = _column_index(tuple(body["columns"]))
    daemon, writer = [], []
    for r in range(repeat):
        records = [
            RequestRecord(f"{r}-{i}", "d", "primary", "1", time.time(), 1.0, 200,
                          inputs=pd.DataFrame(np.array(body["data"]), columns=columns, copy=False),
                          outputs=np.zeros(rows, dtype=np.int64))
            for i in range(1000)
        ]  # fmt: skip
        started = time.perf_counter()
        frames = [encode(record) for record in records]
        daemon.append((time.perf_counter() - started) * 1000)  # per request: seconds / 1000 * 1e6
        started = time.perf_counter()
        log.store.write_batch([log._prepare(decode(pickle.loads(frame[4:]))) for frame in frames])
        writer.append((time.perf_counter() - started) * 1000)
    store.close()
    return statistics.median(daemon), statistics.median(writer)


def loop_lag(X: pd.DataFrame, tmp: str, mode: str, rows: int = 100, seconds: float = 3.0) -> tuple[float, float]:
    """How late a 1 ms ``asyncio.sleep`` wakes (p50, p99 in ms) while one request per tick is logged: the serving
    event loop's view of the log's GIL use, without HTTP. Modes: no log, the in-process writer thread
    (``InferenceLog``, the design before the writer process), the writer process (``WriterProcessLog``)."""
    from jupyter_mlops.serving.inference_log import InferenceLog
    from jupyter_mlops.serving.log_writer import WriterProcessLog
    from jupyter_mlops.serving.records import RequestRecord

    url = f"sqlite:///{Path(tmp) / f'lag-{mode}.db'}"
    store = Store(url)
    log: Any = None
    if mode == "thread":
        log = InferenceLog(store.engine).start()
    elif mode == "process":
        log = WriterProcessLog(url).start()
        time.sleep(1.0)  # the writer process is up
    frame = X.head(rows).reset_index(drop=True)
    outputs = np.zeros(rows, dtype=np.int64)
    lags: list[float] = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        end, i = loop.time() + seconds, 0
        while loop.time() < end:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - started) * 1000 - 1.0)
            if log is not None:
                record = RequestRecord(f"{mode}-{i}", "d", "primary", "1", time.time(), 1.0, 200)
                log(dataclasses.replace(record, inputs=frame, outputs=outputs))
            i += 1

    asyncio.run(serve())
    if log is not None:
        log.close()
    store.close()
    return float(np.percentile(lags, 50)), float(np.percentile(lags, 99))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating off/on rounds")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlops-bench-log-") as tmp:
        base = MLOpsConfig(data_dir=tmp)
        X = register_model(base)
        for mode in ("none", "thread", "process"):
            p50, p99 = loop_lag(X, tmp, mode)
            print(f"  event-loop lag, 100-row records logged by {mode:7}: p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                  flush=True)  # fmt: skip
        bodies = {}
        for rows in (1, 100):
            bodies[rows] = Path(tmp) / f"body-{rows}.json"
            bodies[rows].write_bytes(orjson.dumps({"dataframe_split": X.head(rows).to_dict(orient="split")}))
        for rows in (1, 100):
            daemon_us, writer_us = writer_costs_us(X, tmp, rows)
            print(f"  time per logged {rows:3}-row request: serving interpreter {daemon_us:5.1f} us (encode), "
                  f"writer process {writer_us:5.0f} us (decode, prepare, write incl. SQLite I/O)",
                  flush=True)  # fmt: skip
        store = Store(base.store_url)
        deploy_name = "bench-log"
        results: dict[tuple[str, int, int], list[Load]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}  # CPU seconds of the daemon's processes during the cells
        cells = [(1, 1), (1, args.connections), (100, args.connections)]
        store.create_deployment(deploy_name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                config = MLOpsConfig(data_dir=tmp, inference_log_enabled=(mode == "on"))
                target = LocalTarget(config, store)
                try:
                    target.apply(deploy_name)  # starts a fresh daemon with this mode's settings
                    target.wait_ready(deploy_name, 120)
                    settle(config, target, deploy_name)
                    url = target.endpoint_url(deploy_name)
                    assert url is not None
                    supervisor = target.supervisor_status()
                    root = supervisor.supervisor_pid if supervisor is not None else 0
                    cpu_before = cpu_seconds(root)
                    for rows, connections in cells:
                        wrk(url, bodies[rows], connections, 1)  # warm-up
                        load = wrk(url, bodies[rows], connections, args.duration)
                        results.setdefault((mode, rows, connections), []).append(load)
                        print(f"  logging {mode:3} rows={rows:3} c={connections}: {load.rps:8.0f} req/s "
                              f"p50 {load.p50_ms:.2f} ms p99 {load.p99_ms:.2f} ms errors {load.errors}",
                              flush=True)  # fmt: skip
                    cpu_after = cpu_seconds(root)
                    for role, seconds in cpu_after.items():
                        cpu.setdefault((mode, role), []).append(seconds - cpu_before[role])
                finally:
                    target.stop_daemon()
                    target.close()
        time.sleep(0.2)
        monitoring = MonitoringStore(store.engine)
        logged = len(monitoring.requests(deploy_name, 0, time.time() + 1))
        dropped = monitoring.dropped(deploy_name)
        store.close()

    print(f"\nInference log overhead (wrk, median of {args.rounds} rounds):")
    for rows, connections in cells:
        off = statistics.median(load.rps for load in results[("off", rows, connections)])
        on = statistics.median(load.rps for load in results[("on", rows, connections)])
        p99_off = statistics.median(load.p99_ms for load in results[("off", rows, connections)])
        p99_on = statistics.median(load.p99_ms for load in results[("on", rows, connections)])
        print(f"  {rows:3}-row c={connections}: off {off:8.0f} req/s | on {on:8.0f} req/s | ratio on/off "
              f"{on / off:.3f} | overhead {100 * (1 - on / off):+.1f} % | p99 off {p99_off:.2f} ms, "
              f"on {p99_on:.2f} ms")  # fmt: skip
    print(f"  records logged {logged}, dropped on a full queue {dropped}; load average {os.getloadavg()[0]:.1f}")
    for mode in ("off", "on"):
        serving = statistics.median(cpu[(mode, "serving")])
        writer = statistics.median(cpu[(mode, "writer")])
        print(f"  CPU s during the cells, logging {mode}: serving workers (+ supervisor, standby) {serving:.1f}, "
              f"inference log writers {writer:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
