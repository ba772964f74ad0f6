"""Cost of governance: the audit ledger, and the deployment-token check on the serving hot path.

Run: ``.venv/bin/python benchmarks/governance.py [--entries 2000] [--requests 400]``.

In a temporary data dir it prints medians of:

- appending one ledger entry (SHA-256 chain, one SQLite transaction), and ``verify()`` over all entries;
- one scoring request (one row, keep-alive) to a deployment **without** a token and to the same model
  deployed **with** a token (``Authorization: Bearer``), on the same real serving daemon, interleaved;

and the ratio with/without token (the peer is the same request path without the check). The daemon is stopped
and everything removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps

ROW = {
    "dataframe_split": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "data": [[5.1, 3.5, 1.4, 0.2]],
    }
}


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_ledger(mlops: MLOps, entries: int) -> None:
    times = []
    for i in range(entries):
        started = time.perf_counter()
        mlops.audit.record("deploy", "alice", "alice", f"deployment/bench-{i % 50}", None, {"model_version": str(i)})
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    report = mlops.verify_audit()
    verify = time.perf_counter() - started
    assert report.ok
    print(f"ledger append            median {ms(times):7.3f} ms  ({entries} entries)")
    print(f"ledger verify            total  {verify * 1000:7.1f} ms  for {report.entries} entries")


def bench_tokens(mlops: MLOps, requests: int) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ROW["dataframe_split"]["columns"]
    mlops.register(GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y), "bench-iris", X, y)
    mlops.deploy("bench-iris/1", "open")
    mlops.config.require_deployment_token = True
    mlops.deploy("bench-iris/1", "locked")
    token = mlops.issue_token("locked")
    target = mlops.target("local")
    urls = {"open": target.endpoint_url("open"), "locked": target.endpoint_url("locked")}
    headers = {"open": {}, "locked": {"Authorization": f"Bearer {token}"}}
    samples: dict[str, list[float]] = {"open": [], "locked": []}
    with httpx.Client(trust_env=False) as client:
        for name in urls:  # warm both connections and caches
            for _ in range(20):
                assert client.post(urls[name], json=ROW, headers=headers[name]).status_code == 200
        for _ in range(requests):
            for name in ("open", "locked"):
                started = time.perf_counter()
                response = client.post(urls[name], json=ROW, headers=headers[name])
                samples[name].append(time.perf_counter() - started)
                assert response.status_code == 200
        assert client.post(urls["locked"], json=ROW).status_code == 401
    open_ms, locked_ms = ms(samples["open"]), ms(samples["locked"])
    print(f"score, no token          median {open_ms:7.3f} ms  ({requests} requests)")
    print(f"score, bearer token      median {locked_ms:7.3f} ms")
    print(f"ratio token / no token          {locked_ms / open_ms:7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-gov-") as folder:
        mlops = MLOps(MLOpsConfig(data_dir=str(Path(folder))), user="alice")
        try:
            bench_ledger(mlops, args.entries)
            bench_tokens(mlops, args.requests)
        finally:
            stop = getattr(mlops.target("local"), "stop_daemon", None)
            if stop is not None:
                stop()
            mlops.close()


if __name__ == "__main__":
    main()
