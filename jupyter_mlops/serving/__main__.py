"""``python -m jupyter_mlops.serving``: the local serving daemon. Defaults come from MLOpsConfig (JUPYTER_MLOPS_*)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from ..config import ENV_PREFIX, MLOpsConfig
from .app import DEFAULT_MAX_REQUEST_BYTES
from .daemon import DaemonError, DaemonSettings, run
from .listen import INDEX_ENV
from .supervisor import EXIT_REFUSED
from .workers import announce_standby

MAX_REQUEST_ENV = ENV_PREFIX + "SERVING_MAX_REQUEST_BYTES"


def parse_args(argv: Sequence[str] | None = None) -> DaemonSettings:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_mlops.serving",
        description="Serve the local deployments of jupyter_mlops (desired state from the store, models from MLflow).",
    )
    parser.add_argument("--data-dir", help="Folder for daemon.json and daemon.log (default: MLOpsConfig.data_dir).")
    parser.add_argument("--store-url", help="SQLAlchemy URL of the jupyter_mlops store.")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI.")
    parser.add_argument("--registry-uri", help="MLflow registry URI.")
    parser.add_argument("--host", help="Interface to bind (loopback unless --allow-remote).")
    parser.add_argument("--port", type=int, help="Port to bind; 0 picks a free one.")
    parser.add_argument(
        "--allow-remote", action="store_true", default=None, help="Allow a non-loopback --host (no auth yet)."
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=int(os.environ.get(MAX_REQUEST_ENV) or DEFAULT_MAX_REQUEST_BYTES),
        help=f"Largest accepted request body (default 50 MiB, or ${MAX_REQUEST_ENV}).",
    )
    parser.add_argument(
        "--worker", metavar="NAME", help="Internal: serve only deployment NAME, as an isolated worker of the daemon."
    )
    parser.add_argument("--owner", metavar="USER", help="Serve only the deployments USER owns (a hub user's daemon).")
    parser.add_argument(
        "--memory-budget-mb",
        type=int,
        help="MiB the models loaded in the daemon may use; idle ones beyond it are unloaded, least recently used "
        "first, and loaded again on their next request (default: MLOpsConfig.serving_memory_budget_mb; 0 = none).",
    )
    parser.add_argument(
        "--workers",
        help="Serving worker processes sharing the port (read by the supervisor; default: "
        "MLOpsConfig.serving_workers, 0 = one per core).",
    )
    parser.add_argument(
        "--standby", action="store_true", help="Internal: import everything, then wait on stdin for a worker seat."
    )
    args = parser.parse_args(argv)
    if args.worker is not None:
        return _worker_settings(parser, args)
    # Settings given on the command line win; the rest follow MLOpsConfig's defaults, which derive from them
    # (a --data-dir moves the SQLite files along with it, the registry follows the tracking URI).
    given = {
        "data_dir": args.data_dir,
        "store_url": args.store_url,
        "tracking_uri": args.tracking_uri,
        "registry_uri": args.registry_uri,
    }
    config = MLOpsConfig(**{name: value for name, value in given.items() if value})
    return DaemonSettings(
        data_dir=Path(config.data_dir),
        store_url=config.store_url,
        tracking_uri=config.tracking_uri,
        registry_uri=config.registry_uri,
        host=args.host or config.serving_host,
        port=config.serving_port if args.port is None else args.port,
        allow_remote=config.allow_remote_serving if args.allow_remote is None else args.allow_remote,
        max_request_bytes=args.max_request_bytes,
        worker_for=args.worker,
        owner=args.owner or None,
        memory_budget_mb=(config.serving_memory_budget_mb if args.memory_budget_mb is None else args.memory_budget_mb)
        or None,
        standby=args.standby,
    )


def _worker_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> DaemonSettings:
    """An isolated worker's settings: its deployment and listening limits only. It runs user code, so it takes no
    store, registry or data dir (nor reads MLOpsConfig, whose store URL may carry a password): the daemon hands it
    the model's local copy over its authenticated admin API."""
    given = [flag for flag, value in (("--data-dir", args.data_dir), ("--store-url", args.store_url),
                                      ("--tracking-uri", args.tracking_uri), ("--registry-uri", args.registry_uri),
                                      ("--owner", args.owner)) if value]  # fmt: skip
    if given:
        parser.error(
            f"--worker takes no {', '.join(given)}: a worker opens no store or registry (its daemon hands it "
            "what to serve)."
        )
    return DaemonSettings(
        data_dir=Path(os.devnull),  # never read or written by a worker
        store_url="",
        tracking_uri="",
        registry_uri="",
        host=args.host or "127.0.0.1",
        port=args.port or 0,
        max_request_bytes=args.max_request_bytes,
        worker_for=args.worker,
        memory_budget_mb=args.memory_budget_mb or None,
    )


def wait_for_seat(data_dir: Path) -> bool:
    """The standby's life before it serves: import what a worker needs (the slow part of a start, about a second
    with MLflow), then wait on stdin for the supervisor to hand it a worker's seat; False on end of input."""
    import mlflow.pyfunc  # noqa: F401 - imported now so that a restart does not pay for it
    import pandas  # noqa: F401

    with contextlib.suppress(Exception):  # the flavour most models use; optional
        import sklearn.ensemble  # noqa: F401
    announce_standby(data_dir)
    line = sys.stdin.buffer.readline()
    if not line.strip():
        return False
    seat = orjson.loads(line)
    os.environ[INDEX_ENV] = str(int(seat["index"]))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = parse_args(argv)
        if settings.standby and not wait_for_seat(settings.data_dir):
            return 0  # the supervisor stopped (or no longer needs a standby)
        return run(settings)
    except DaemonError as exc:
        logging.getLogger("jupyter_mlops.serving").error("%s", exc)
        return EXIT_REFUSED  # the supervisor does not restart a refused configuration


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is closed and daemon.json removed; skipping interpreter teardown (about 0.7 s with MLflow
    # loaded) lets `serve stop` and restarts return sooner.
    os._exit(code)
