"""``python -m jupyter_mlops.hub``: the MLOps hub service, run by JupyterHub as a managed service.

It is the only process given the store's credentials (``JUPYTER_MLOPS_STORE_URL`` in the service's environment in
``jupyterhub_config.py``, never in users' servers), the only writer of deployments, approvals, tokens and the audit
ledger, and it signs ledger checkpoints with a key only it can read. It runs the team serving plane: the supervised
serving daemon on the service's host, started from the service's data dir, so deployments outlive users' servers
(and the service itself: on a restart it reconciles and carries on).

It also serves the fleet view (every user's deployments, for holders of ``custom:mlops:fleet``) under
``<prefix>fleet/``, with its periodic rollup job: one process, one ``HubOAuth`` (API tokens and browser logins), one
entry in ``jupyterhub_config.py``.

The hub sets ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL``
and ``JUPYTERHUB_API_TOKEN`` (the service's own token, for HubAuth); ``JUPYTERHUB_CLIENT_ID`` defaults to the hub's
``service-<name>``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from ..config import MLOpsConfig

log = logging.getLogger("jupyter_mlops.hub")


def _env(name: str, default: float) -> float:
    return float(os.environ.get(f"JUPYTER_MLOPS_FLEET_{name}", default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The service's options; the fleet's tunables also read ``JUPYTER_MLOPS_FLEET_*`` from the environment."""
    from ..fleet.rollups import FleetSettings

    defaults = FleetSettings()
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.hub", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10102"))
    parser.add_argument("--checkpoint-interval", type=float, default=30.0, help="seconds between ledger checkpoints")
    parser.add_argument(
        "--fleet-interval", type=float, default=_env("INTERVAL", 60), help="seconds between fleet rollup runs"
    )
    parser.add_argument("--fleet-window-hours", type=int, default=int(_env("WINDOW_HOURS", defaults.window_hours)))
    parser.add_argument("--fleet-stale-days", type=float, default=_env("STALE_DAYS", defaults.stale_days))
    parser.add_argument(
        "--fleet-without-mlflow", action="store_true", help="the fleet reads no aliases, versions or baselines"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=float(os.environ.get("JUPYTER_MLOPS_HUB_MAX_UPLOAD_MB", 512)),
        help="largest packed model a kernel may upload to register (413 beyond)",
    )
    parser.add_argument(
        "--allow-kernel-registration",
        action="store_true",
        default=os.environ.get("JUPYTER_MLOPS_HUB_ALLOW_KERNEL_REGISTRATION", "").lower() in ("1", "true", "yes"),
        help="let users register models from their notebooks (their code then runs in the service's workers)",
    )
    parser.add_argument(
        "--no-reconcile", action="store_true", help="do not bring deployments back at start (a read-only replica)"
    )
    return parser.parse_args(argv)


def build_facade(config: MLOpsConfig) -> object:
    """The service's facade: its own principal, the signed ledger, every deployment brought back."""
    from ..core.governance.audit import Checkpoints
    from ..core.principal import Principal
    from ..core.service import MLOps

    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", "mlops")
    mlops = MLOps(config, principal=Principal(name=f"service:{name}", scopes=frozenset({"custom:mlops:admin"})))
    if config.audit_key_file:
        mlops.audit.checkpoints = Checkpoints.from_files(config.audit_key_file, config.audit_checkpoint_dir or None)
    return mlops


def fleet_routes(mlops: Any, args: argparse.Namespace, prefix: str) -> tuple[list[Any], Callable[[], Any]]:
    """The fleet dashboard's routes under ``<prefix>fleet/`` and the starter of its periodic rollup job."""
    from jupyterhub.utils import url_path_join

    from ..fleet.app import fleet_routes as routes
    from ..fleet.app import start_refresh
    from ..fleet.queries import FleetView
    from ..fleet.rollups import FleetRollups, FleetSettings

    settings = FleetSettings(
        window_hours=args.fleet_window_hours,
        stale_days=args.fleet_stale_days,
        latency_objective_ms=float(mlops.config.latency_objective_ms),
    )
    executor = ThreadPoolExecutor(4, thread_name_prefix="mlops-fleet")
    rollups = FleetRollups(mlops.store.engine, settings, None if args.fleet_without_mlflow else mlops)

    def start() -> Any:
        timer, run = start_refresh(rollups, executor, args.fleet_interval)
        timer.start()
        return asyncio.ensure_future(run())

    view = FleetView(mlops.store, settings, mlops)  # mlops: the model risk panel's summary and reports
    return routes(view, executor=executor, prefix=url_path_join(prefix, "fleet/")), start


async def serve(args: argparse.Namespace) -> None:
    """Listen, bring deployments back, refresh the fleet's rollups and sign ledger checkpoints until stopped."""
    from jupyterhub.services.auth import HubOAuth

    from .app import HubDoor, make_app

    # users' models are code: each deployment is served by a worker process whose environment holds no credential
    config = MLOpsConfig(isolate_users=True, require_deployment_token=True, isolate_deployments=True)
    mlops: Any = build_facade(config)
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", "mlops")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    # one HubOAuth for the process: API calls present a token, the fleet's browsers log in through the hub's OAuth
    hub_auth = HubOAuth.instance(
        cache_max_age=10, base_url=prefix, oauth_client_id=os.environ.get("JUPYTERHUB_CLIENT_ID") or f"service-{name}"
    )
    door = HubDoor(
        mlops, hub_auth, name, ThreadPoolExecutor(8, thread_name_prefix="mlops-hub"),
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        allow_kernel_registration=args.allow_kernel_registration,
    )  # fmt: skip
    fleet, start_fleet = fleet_routes(mlops, args, prefix)
    url = urlparse(args.url)
    make_app(door, prefix, fleet).listen(url.port or 10102, url.hostname or "127.0.0.1")
    log.info("MLOps hub service on %s%s (fleet view at %sfleet/)", args.url.rstrip("/"), prefix, prefix)

    def bring_back() -> None:
        try:
            count = mlops.reconcile()
            log.info("reconciled %d deployment(s)", count)
        except Exception as exc:
            log.warning("could not reconcile deployments at start-up: %s", exc)

    if not args.no_reconcile:
        threading.Thread(target=bring_back, name="mlops-hub-reconcile", daemon=True).start()
    fleet_job = start_fleet()  # noqa: F841 (kept referenced: the first rollup run)
    while True:  # checkpoints also cover entries written by processes without the key (the daemon's rollbacks)
        await asyncio.sleep(args.checkpoint_interval)
        try:
            await asyncio.to_thread(mlops.audit.checkpoint)
        except Exception:
            log.exception("ledger checkpoint failed; retrying")


def main(argv: list[str] | None = None) -> None:
    """Run the service until it is stopped."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
