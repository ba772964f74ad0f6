"""``python -m jupyter_mlops.hub``: the MLOps hub service, run by JupyterHub as a managed service.

It is the only process given the store's credentials (``JUPYTER_MLOPS_STORE_URL`` in the service's environment in
``jupyterhub_config.py``, never in users' servers), the only writer of deployments, approvals, tokens and the audit
ledger, and it signs ledger checkpoints with a key only it can read. It runs the team serving plane: the supervised
serving daemon on the service's host, started from the service's data dir, so deployments outlive users' servers
(and the service itself: on a restart it reconciles and carries on).

The hub sets ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL``
and ``JUPYTERHUB_API_TOKEN`` (the service's own token, for HubAuth).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ..config import MLOpsConfig

log = logging.getLogger("jupyter_mlops.hub")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10102"))
    parser.add_argument("--checkpoint-interval", type=float, default=30.0, help="seconds between ledger checkpoints")
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


async def serve(args: argparse.Namespace) -> None:
    from jupyterhub.services.auth import HubAuth

    from .app import HubDoor, make_app

    config = MLOpsConfig(isolate_users=True, require_deployment_token=True)
    mlops = build_facade(config)
    hub_auth = HubAuth(cache_max_age=10)
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", "mlops")
    door = HubDoor(mlops, hub_auth, name, ThreadPoolExecutor(8, thread_name_prefix="mlops-hub"))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    url = urlparse(args.url)
    make_app(door, prefix).listen(url.port or 10102, url.hostname or "127.0.0.1")
    log.info("MLOps hub service on %s%s", args.url.rstrip("/"), prefix)

    def bring_back() -> None:
        try:
            count = mlops.reconcile()  # type: ignore[attr-defined]
            log.info("reconciled %d deployment(s)", count)
        except Exception as exc:
            log.warning("could not reconcile deployments at start-up: %s", exc)

    threading.Thread(target=bring_back, name="mlops-hub-reconcile", daemon=True).start()
    while True:  # checkpoints also cover entries written by processes without the key (the daemon's rollbacks)
        await asyncio.sleep(args.checkpoint_interval)
        try:
            await asyncio.to_thread(mlops.audit.checkpoint)  # type: ignore[attr-defined]
        except Exception:
            log.exception("ledger checkpoint failed; retrying")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
