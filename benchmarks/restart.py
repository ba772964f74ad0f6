"""Back in 2 seconds (#18 item 5): after ``kill -9`` of the daemon serving 10 deployments, time from the kill to the
first 200 on the same URL (the supervisor restarts the daemon on the same port); and a cold first deploy (no
daemon running: start it, deploy, ready). Medians over ``--rounds``.

Run: ``.venv/bin/python benchmarks/restart.py [--rounds 3] [--deployments 10]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from density import MODEL, register

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import daemon_file


def first_200_after(url: str, body: bytes, since: float, timeout: float = 60.0) -> float:
    """Seconds from ``since`` to the first 200 of requests sent in a loop (connection errors retried at once)."""
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        while time.monotonic() - since < timeout:
            try:
                if http.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 200:
                    return time.monotonic() - since
            except httpx.HTTPError:
                pass
            time.sleep(0.002)  # pacing of the load generator
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deployments", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-restart-") as folder:
        tracking = f"sqlite:///{folder}/mlflow.db"
        config = MLOpsConfig(data_dir=folder, tracking_uri=tracking, registry_uri=tracking)
        X = register(config)
        body = orjson.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})
        store = Store(config.store_url)
        target = LocalTarget(config, store)
        cold: list[float] = []
        back: list[float] = []
        try:
            for round_ in range(args.rounds):
                # cold first deploy: no daemon running
                name = f"cold{round_}"
                started = time.monotonic()
                store.create_deployment(name, owner="bench", target="local", model_ref=f"{MODEL}/1",
                                        variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                target.apply(name)
                target.wait_ready(name, 120)
                cold.append(time.monotonic() - started)
                if round_ == 0:
                    for i in range(args.deployments - 1):
                        store.create_deployment(f"d{i}", owner="bench", target="local", model_ref=f"{MODEL}/1",
                                                variants=[Variant(model_name=MODEL, model_version="1")])  # fmt: skip
                        target.apply(f"d{i}")
                    for i in range(args.deployments - 1):
                        target.wait_ready(f"d{i}", 120)
                url = target.status(name).url  # type: ignore[union-attr]
                info = daemon_file.read(target.info_path)
                assert info is not None
                assert url
                killed = time.monotonic()
                os.kill(info.pid, signal.SIGKILL)
                back.append(first_200_after(url, body, killed))
                target.stop_daemon()
                store.delete_deployment(name)
        finally:
            target.stop_daemon()
            target.close()
            store.close()
    print(
        f"cold first deploy (daemon start + deploy + ready): {[f'{c:.2f}' for c in cold]} s, "
        f"median {statistics.median(cold):.2f} s"
    )
    print(
        f"kill -9 with {args.deployments} deployments -> first 200 on the same URL: {[f'{b:.2f}' for b in back]} s, "
        f"median {statistics.median(back):.2f} s"
    )


if __name__ == "__main__":
    threading.excepthook = lambda _args: None
    main()
