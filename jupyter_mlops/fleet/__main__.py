"""``python -m jupyter_mlops.fleet``: the fleet view, run by JupyterHub as a managed service.

The hub sets ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX`` and the OAuth client
variables; the store and MLflow come from the usual ``JUPYTER_MLOPS_*`` settings (``MLOpsConfig``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ..config import MLOpsConfig
from ..core.store import Store
from .app import make_app, start_refresh
from .queries import FleetView
from .rollups import FleetRollups, FleetSettings

log = logging.getLogger("jupyter_mlops.fleet")


def _env(name: str, default: float) -> float:
    return float(os.environ.get(f"JUPYTER_MLOPS_FLEET_{name}", default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = FleetSettings()
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=_env("INTERVAL", 60), help="seconds between rollup runs")
    parser.add_argument("--window-hours", type=int, default=int(_env("WINDOW_HOURS", defaults.window_hours)))
    parser.add_argument("--stale-days", type=float, default=_env("STALE_DAYS", defaults.stale_days))
    parser.add_argument("--no-mlflow", action="store_true", help="do not read aliases, versions or baselines")
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = MLOpsConfig()
    settings = FleetSettings(
        window_hours=args.window_hours,
        stale_days=args.stale_days,
        latency_objective_ms=float(config.latency_objective_ms),
    )
    store = Store(config.store_url)
    mlops = None
    if not args.no_mlflow:
        from ..core.service import MLOps

        mlops = MLOps(config, user="mlops-fleet", store=store)
    rollups = FleetRollups(store.engine, settings, mlops)
    executor = ThreadPoolExecutor(4, thread_name_prefix="mlops-fleet")
    app = make_app(FleetView(store, settings), executor=executor)
    url = urlparse(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 10101
    app.listen(port, host)
    log.info(
        "fleet view on %s:%s%s, rollups every %.0f s",
        host,
        port,
        os.environ.get("JUPYTERHUB_SERVICE_PREFIX"),
        args.interval,
    )
    timer, run = start_refresh(rollups, executor, args.interval)
    await run()
    timer.start()
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
