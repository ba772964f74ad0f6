"""Scale with cores (#18 item 0): the same deployment on a daemon with 1 serving worker and on one with 2, in one run.

One registered model (benchmarks/serving.py's GradientBoosting, 100 trees, 20 features), two daemons (two data
dirs, one MLflow store), both idle but the one measured. ``wrk`` posts 1 row at 32 connections (and at 1) to each,
alternating, ``--rounds`` times; prints medians and the ratio 2 workers / 1 worker (target >= 1.5x at c=32).

Run: ``.venv/bin/python benchmarks/workers.py [--rounds 3] [--duration 5]``; needs ``/usr/bin/wrk``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from serving import MODEL, payload, register_model, wrk

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget

CELLS = ((1, "1 row, c=1"), (32, "1 row, c=32"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-workers-") as folder:
        tracking = f"sqlite:///{folder}/mlflow.db"
        root = Path(folder)
        first = MLOpsConfig(data_dir=str(root / "one"), tracking_uri=tracking, registry_uri=tracking)
        X = register_model(first)
        body = root / "row.json"
        body.write_bytes(payload(X, 1))
        daemons: dict[int, tuple[LocalTarget, Store, str]] = {}
        try:
            for workers in (1, 2):
                config = MLOpsConfig(
                    data_dir=str(root / f"w{workers}"), tracking_uri=tracking, registry_uri=tracking,
                    serving_workers=workers, inference_log_enabled=True,
                )  # fmt: skip
                store = Store(config.store_url)
                target = LocalTarget(config, store)
                store.create_deployment("bench", owner="bench", target="local", model_ref=f"{MODEL}/1",
                                        variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                target.apply("bench")
                url = target.wait_ready("bench", 120).url
                assert url
                daemons[workers] = (target, store, url)
                wrk(url, body, 8, 1)  # warm-up
            results: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
            for round_ in range(args.rounds):
                for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
                    for connections, _label in CELLS:
                        load = wrk(daemons[workers][2], body, connections, args.duration)
                        results.setdefault((workers, connections), []).append((load.rps, load.p50_ms, load.p99_ms))
                        print(f"round {round_ + 1}, {workers} worker(s), c={connections}: {load.rps:.0f} req/s, "
                              f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms", flush=True)  # fmt: skip
        finally:
            for target, store, _url in daemons.values():
                target.stop_daemon()
                target.close()
                store.close()
    print(f"\nmedians of {args.rounds} alternating rounds, wrk {args.duration:.0f} s per cell:")
    for connections, label in CELLS:
        one = [statistics.median(v) for v in zip(*results[(1, connections)], strict=True)]
        two = [statistics.median(v) for v in zip(*results[(2, connections)], strict=True)]
        print(f"{label}: 1 worker {one[0]:.0f} req/s (p50 {one[1]:.2f} ms, p99 {one[2]:.2f} ms); "
              f"2 workers {two[0]:.0f} req/s (p50 {two[1]:.2f} ms, p99 {two[2]:.2f} ms); "
              f"ratio {two[0] / one[0]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
