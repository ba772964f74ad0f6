"""Density (#18 item 3): resident memory of N small scikit-learn deployments on one daemon, without and with a
memory budget, the latency of the first request to an evicted (idle, unloaded) model, and a busy model's p99 with
and without evictions happening.

For each budget (0 = none) a fresh daemon (``--workers`` serving workers; the budget is the daemon's, split over
them) serves N deployments of one small logistic regression (each deployment loads its own copy, as separate
models would). Deploy time is the time to apply all N and to see all of them ready, with the median of one apply.
RSS counts the whole daemon: the supervisor and everything under it (every serving worker, their inference log
writers, the standby interpreter). Reload latency is the median, over ``--reloads`` evicted deployments, of the
first request (load + predict), next to the median of a request to a loaded one; ``/metrics`` must count each of
those reloads. The busy model's p99 is measured with ``wrk`` (1 row, 4 connections) on a loaded deployment, in
``--rounds`` alternating rounds: quiet, then while another client sends requests to idle deployments one after
the other (each one a reload and an eviction); medians.

Run: ``.venv/bin/python benchmarks/density.py [--deployments 100] [--budget-mb 64] [--workers 2] [--reloads 20]``;
needs ``/usr/bin/wrk`` for the busy p99 (skipped without it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
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
            for task in Path(f"/proc/{current}/task").iterdir():  # children of every thread, not only the main one
                pids.extend(int(c) for c in (task / "children").read_text().split())
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


def metric_total(text: str, name: str) -> float:
    """Sum of a counter's samples over every label set in a ``/metrics`` text."""
    return sum(float(v) for v in re.findall(rf"^{name}_total(?:{{[^}}]*}})? (\S+)$", text, re.M))


def wrk_p99(url: str, body: bytes, folder: str, seconds: int, connections: int = 4) -> tuple[float, float]:
    """(req/s, p99 ms) of ``wrk`` posting ``body`` to ``url``."""
    body_file = Path(folder) / "busy.json"
    body_file.write_bytes(body)
    script = Path(folder) / "busy.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)$", out, re.M)
    if rps is None or p99 is None:
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    return float(rps[1]), float(p99[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]


class Churn:
    """Requests to idle deployments one after the other, on new connections (so both workers get some): each one
    loads an evicted model and evicts another."""

    def __init__(self, base: str, names: list[str], body: bytes) -> None:
        self.base, self.names, self.body = base, names, body
        self.stop = threading.Event()
        self.sent = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            name = self.names[i % len(self.names)]
            i += 1
            with httpx.Client(timeout=60, trust_env=False) as http:
                answer = http.post(f"{self.base}/deployments/{name}/invocations", content=self.body,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
            self.sent += 1
            self.failed += answer.status_code != 200

    def __enter__(self) -> Churn:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


def run(budget_mb: int, deployments: int, reloads: int, workers: int, rounds: int, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mlops-density-") as folder:
        tracking = f"sqlite:///{folder}/mlflow.db"
        config = MLOpsConfig(
            data_dir=folder, tracking_uri=tracking, registry_uri=tracking, serving_memory_budget_mb=budget_mb,
            serving_workers=workers,
        )  # fmt: skip
        X = register(config)
        body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})
        store = Store(config.store_url)
        target = LocalTarget(config, store)
        info = target.ensure_daemon()
        result: dict[str, float] = {"budget_mb": budget_mb, "deployments": deployments, "workers": workers}
        try:
            supervisor = target.supervisor_status()
            root = supervisor.supervisor_pid if supervisor is not None else info.pid
            started = time.perf_counter()
            names = [f"m{i:04d}" for i in range(deployments)]
            applies = []
            for name in names:
                sent = time.perf_counter()
                store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                        variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                target.apply(name)
                applies.append(time.perf_counter() - sent)
            result["applied_all_s"] = time.perf_counter() - started
            result["apply_ms"] = statistics.median(applies) * 1000
            result["apply_last100_ms"] = statistics.median(applies[-100:]) * 1000
            for name in names:
                target.wait_ready(name, 1800)
            result["deploy_all_s"] = time.perf_counter() - started
            time.sleep(1.0)  # let the allocator settle before reading RSS (measurement, not synchronisation)
            result["rss_mib"] = rss_mib(root)
            statuses = target.statuses()
            idle = [n for n in names if IDLE_MESSAGE in (statuses[n].message or "")]
            loaded = [n for n in names if n not in idle]
            result["idle"] = len(idle)
            headers = {"Content-Type": "application/json"}
            admin = {"Authorization": f"Bearer {info.token}"}
            with httpx.Client(timeout=60, trust_env=False) as http:
                base = info.url
                warm = []
                for _ in range(reloads):
                    sent = time.perf_counter()
                    answer = http.post(f"{base}/deployments/{loaded[-1]}/invocations", content=body, headers=headers)
                    assert answer.status_code == 200, answer.text
                    warm.append(time.perf_counter() - sent)
                before = http.get(f"{base}/metrics", headers=admin).text
                cold = []
                for name in idle[:reloads]:
                    sent = time.perf_counter()
                    answer = http.post(f"{base}/deployments/{name}/invocations", content=body, headers=headers)
                    cold.append(time.perf_counter() - sent)
                    assert answer.status_code == 200, answer.text
                after = http.get(f"{base}/metrics", headers=admin).text
                result["evictions"] = metric_total(after, "mlops_model_evictions")
                result["reloads_counted"] = metric_total(after, "mlops_model_reloads") - metric_total(
                    before, "mlops_model_reloads"
                )
                if idle:
                    steps = target.status(idle[0]).steps  # type: ignore[union-attr]
                    print("reload of", idle[0], "; ".join(f"{s.name}: {s.message}" for s in steps if s.message))
                result["warm_ms"] = statistics.median(warm) * 1000
                result["reload_ms"] = statistics.median(cold) * 1000 if cold else float("nan")
                if shutil.which("wrk") and rounds > 0 and len(idle) > reloads:
                    busy_url = f"{base}/deployments/{loaded[-1]}/invocations"
                    wrk_p99(busy_url, body, folder, 1)  # warm-up
                    quiet, others, churned, churn_rps, others_rps = [], [], [], [], []
                    churn_names = idle[reloads:]
                    loaded_names = [n for n in loaded[:-1] if IDLE_MESSAGE not in (statuses[n].message or "")][-20:]

                    def with_churn(names: list[str], p99s: list[float], rates: list[float]) -> None:
                        first = metric_total(http.get(f"{base}/metrics", headers=admin).text, "mlops_model_reloads")
                        with Churn(base, names, body) as churn:
                            p99s.append(wrk_p99(busy_url, body, folder, seconds)[1])
                        last = metric_total(http.get(f"{base}/metrics", headers=admin).text, "mlops_model_reloads")
                        rates.append((last - first) / seconds)
                        assert churn.failed == 0, f"{churn.failed} requests to other deployments failed"

                    for _ in range(rounds):
                        quiet.append(wrk_p99(busy_url, body, folder, seconds)[1])
                        if loaded_names:  # the same extra traffic, to loaded models: no eviction
                            with_churn(loaded_names, others, others_rps)
                        with_churn(churn_names, churned, churn_rps)
                    result["busy_p99_quiet_ms"] = statistics.median(quiet)
                    result["busy_p99_others_ms"] = statistics.median(others) if others else float("nan")
                    result["busy_p99_churn_ms"] = statistics.median(churned)
                    result["reloads_per_s"] = statistics.median(churn_rps)
                    print(
                        f"busy p99 rounds: quiet {quiet} ms; other loaded models requested {others} ms (reloads/s "
                        f"{others_rps}); idle ones requested (evicting) {churned} ms (reloads/s {churn_rps})"
                    )
            return result
        finally:
            target.stop_daemon()
            target.close()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--budget-mb", type=int, default=64, help="The daemon's budget (split over its workers).")
    parser.add_argument("--workers", type=int, default=2, help="Serving workers of the daemon.")
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="Busy-p99 rounds (quiet, evicting); 0 skips it.")
    parser.add_argument("--seconds", type=int, default=10, help="Seconds of wrk per busy-p99 measurement.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the run without a budget.")
    args = parser.parse_args()
    options = (args.deployments, args.reloads, args.workers, args.rounds, args.seconds)
    results = [] if args.no_baseline else [run(0, *options)]
    results.append(run(args.budget_mb, *options))
    print(f"{'budget':>8} {'workers':>7} {'deployments':>11} {'idle':>5} {'RSS MiB':>8} {'apply ms':>8} "
          f"{'apply all s':>11} {'ready all s':>11} {'warm p50 ms':>11} {'reload p50 ms':>13} {'reloads':>7} "
          f"{'evictions':>9}")  # fmt: skip
    for r in results:
        budget = f"{r['budget_mb']:.0f}" if r["budget_mb"] else "none"
        print(f"{budget:>8} {r['workers']:>7.0f} {r['deployments']:>11.0f} {r['idle']:>5.0f} {r['rss_mib']:>8.0f} "
              f"{r['apply_ms']:>8.1f} {r['applied_all_s']:>11.1f} {r['deploy_all_s']:>11.1f} {r['warm_ms']:>11.2f} "
              f"{r['reload_ms']:>13.1f} {r['reloads_counted']:>7.0f} {r['evictions']:>9.0f}")  # fmt: skip
        print(f"  one apply: median {r['apply_ms']:.1f} ms, of the last 100 {r['apply_last100_ms']:.1f} ms")
        if "busy_p99_quiet_ms" in r:
            print(f"  busy model p99: {r['busy_p99_quiet_ms']:.1f} ms quiet; {r['busy_p99_others_ms']:.1f} ms while "
                  f"loaded models are requested too (no eviction); {r['busy_p99_churn_ms']:.1f} ms while idle ones "
                  f"are ({r['reloads_per_s']:.1f} reloads/s, as many evictions): "
                  f"{r['busy_p99_churn_ms'] / r['busy_p99_others_ms']:.2f}x of no eviction, "
                  f"{r['busy_p99_churn_ms'] / r['busy_p99_quiet_ms']:.2f}x of quiet")  # fmt: skip
    if len(results) == 2:
        print(f"RSS with a {args.budget_mb} MiB budget: {results[1]['rss_mib'] / results[0]['rss_mib']:.2f}x of none")


if __name__ == "__main__":
    main()
