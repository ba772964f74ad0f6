"""jupyter_mlops' serving daemon vs ``mlflow models serve``, side by side in one run, with ratios.

Same model for both (GradientBoosting, 100 trees, 20 numeric features, registered in MLflow on SQLite):

* deploy-to-ready: ours into a running daemon (store write -> apply -> ready), MLflow's launch to ``/ping`` 200;
* throughput and p50/p99 latency with ``wrk`` (Debian package) at concurrency 1, 8 and 32, for 1-row and
  100-row ``dataframe_split`` payloads;
* resident memory (RSS) of our daemon with 1, 10 and 100 deployed models, and of one ``mlflow models serve``
  process (it serves one model per process, so N models cost N processes).

Run: ``.venv/bin/python benchmarks/serving.py [--duration 5] [--no-peer]``; needs ``/usr/bin/wrk``
(``apt-get install wrk``). Everything lives in a temporary folder and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import numpy as np
import orjson
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget

FEATURES = [f"f{i}" for i in range(20)]
MODEL = "bench-gb"


def register_model(config: MLOpsConfig) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 20)), columns=FEATURES)
    y = (X["f0"] + X["f1"] * X["f2"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    mlflow.set_tracking_uri(config.tracking_uri)
    experiment = mlflow.create_experiment("bench", artifact_location=config.artifact_root)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(3), signature=infer_signature(X, model.predict(X)),
            registered_model_name=MODEL, serialization_format="cloudpickle",
        )  # fmt: skip
    return X


def payload(X: pd.DataFrame, rows: int) -> bytes:
    return orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": X.head(rows).to_numpy().tolist()}})


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, body_file: Path, connections: int, duration: float) -> Load:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script),
         url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The "Latency Distribution" block: lines such as "     50%    1.23ms".
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    if not {"50", "99"} <= set(percentiles):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    p50, p99 = _ms(percentiles["50"]), _ms(percentiles["99"])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(rps, p50, p99, int(errors.group(1)) if errors else 0)


def rss_mib(pid: int) -> float:
    """RSS of a process and its descendants, in MiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(c) for c in children)
    return total / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deploy(store: Store, target: LocalTarget, name: str) -> float:
    started = time.perf_counter()
    store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                            variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
    target.apply(name)
    target.wait_ready(name, 120)
    return time.perf_counter() - started


def start_mlflow(config: MLOpsConfig) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": config.tracking_uri, "PATH": path}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1", "--env-manager", "local",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.perf_counter() - started > 120:
            raise RuntimeError("mlflow models serve did not start")
        time.sleep(0.02)
    return process, f"http://127.0.0.1:{port}/invocations", time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--no-peer", action="store_true", help="skip mlflow models serve")
    parser.add_argument("--models", type=int, default=100, help="deployments for the RSS measurement")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install wrk")
    loads = [(rows, c) for rows in (1, 100) for c in (1, 8, 32)]
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as folder:
        config = MLOpsConfig(data_dir=folder, tracking_uri=f"sqlite:///{Path(folder) / 'mlflow.db'}")
        X = register_model(config)
        bodies = {rows: Path(folder) / f"body{rows}.json" for rows in (1, 100)}
        for rows, path in bodies.items():
            path.write_bytes(payload(X, rows))
        store = Store(config.store_url)
        target = LocalTarget(config, store)
        ours: dict[tuple[int, int], Load] = {}
        theirs: dict[tuple[int, int], Load] = {}
        memory: dict[int, float] = {}
        try:
            info = target.ensure_daemon()
            time.sleep(3)  # a daemon that has been up a moment (it imports MLflow in the background)
            deploy(store, target, "bench-0")
            ready = [deploy(store, target, f"bench-{i}") for i in range(1, 6)]
            url = f"{info.url}/deployments/bench-0/invocations"
            for rows, c in loads:
                wrk(url, bodies[rows], c, 1)  # warm-up
                ours[rows, c] = wrk(url, bodies[rows], c, args.duration)
            for name in [f"bench-{i}" for i in range(1, 6)]:
                store.delete_deployment(name)
                target.remove(name)
            memory[1] = rss_mib(info.pid)
            for i in range(1, args.models):
                deploy(store, target, f"bench-{i}")
                if i + 1 in (10, args.models):
                    memory[i + 1] = rss_mib(info.pid)
        finally:
            target.stop_daemon()
            target.close()
            store.close()
        peer_ready = peer_rss = float("nan")
        if not args.no_peer:
            process, peer_url, peer_ready = start_mlflow(config)
            try:
                for rows, c in loads:
                    wrk(peer_url, bodies[rows], c, 1)
                    theirs[rows, c] = wrk(peer_url, bodies[rows], c, args.duration)
                peer_rss = rss_mib(process.pid)
            finally:
                process.terminate()
                process.wait(10)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:6.1f}x" if b and b == b else "     -"

    ours_ready = statistics.median(ready)
    print("\nGradientBoosting (100 trees, 20 features); wrk", f"{args.duration:.0f} s per cell\n")
    print(f"{'measure':44} {'jupyter_mlops':>14} {'mlflow serve':>14} {'ratio':>8}")
    print(
        f"{'deploy to ready (s, median of 5)':44} {ours_ready:14.3f} {peer_ready:14.3f} "
        f"{ratio(peer_ready, ours_ready):>8}"
    )
    for rows, c in loads:
        a, b = ours[rows, c], theirs.get((rows, c))
        label = f"{rows:>3} row(s) c={c:<2}"
        print(f"{label + ' throughput (req/s)':44} {a.rps:14.0f} {b.rps if b else float('nan'):14.0f} "
              f"{ratio(a.rps, b.rps) if b else '-':>8}")  # fmt: skip
        print(f"{label + ' p50 / p99 (ms)':44} {a.p50_ms:6.2f} /{a.p99_ms:6.2f} "
              f"{(f'{b.p50_ms:6.2f} /{b.p99_ms:6.2f}') if b else '-':>14}")  # fmt: skip
        if a.errors or (b and b.errors):
            print(f"{'':44} non-2xx: {a.errors} / {b.errors if b else '-'}")
    for n, mib in memory.items():
        peer_total = peer_rss * n
        print(f"{f'RSS with {n} model(s) (MiB)':44} {mib:14.0f} {peer_total:14.0f} {ratio(peer_total, mib):>8}")
    print("\nmlflow serve RSS for N models = N processes x the RSS of one (measured once).")


if __name__ == "__main__":
    main()
