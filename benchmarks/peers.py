"""jupyter_mlops' serving daemon against every peer, in one run, under the same ``wrk`` load, with ratios.

The same registered model (GradientBoosting, 100 trees, 20 features: ``benchmarks/serving.py``'s) is served by:

* ``ours``: our daemon, through the local target (``/deployments/<name>/invocations``, MLflow's protocol),
  measured once its compiled predictor (serving/compiled.py) has passed its gate in every worker;
* ``ours-sklearn``: the same daemon with ``serving_compiled_trees`` off (scikit-learn's own ``predict``);
* ``mlflow-w1`` / ``mlflow-w2``: ``mlflow models serve --env-manager local --workers 1|2``;
* ``mlserver``: MLServer 1.7 with its MLflow runtime and adaptive batching on (``max_batch_size`` 32,
  ``max_batch_time`` 5 ms), one inference worker per core, called with its V2 ``infer`` (the path that batches; the
  same rows as one FP64 tensor per column). Its own venv: ``make mlserver-env``;
* ``ray``: Ray Serve on a local Ray cluster (loopback, one CPU per core), one replica per core, a deployment that
  builds a frame from the JSON body and calls the pyfunc model;
* ``floor``: ``benchmarks/floor_app.py`` under uvicorn (one worker per core), which ignores the body and calls the
  model's ``predict`` on a pre-built frame: HTTP plus the model, the least any server can cost.

Cells: 1 row at c=1, c=8, c=32 and 100 rows at c=8; per round every cell is run against every peer in turn
(round-robin), and the table shows the median over rounds of req/s, p50 and p99, then ours / each peer.
A peer that fails to start is reported as ``failed: reason`` and the run goes on.

Run: ``.venv/bin/python benchmarks/peers.py [--rounds 3] [--duration 5] [--quick]`` (``--quick``: 1 round of 2 s);
needs ``wrk`` (``make bench-tools``). Every server listens on 127.0.0.1 on a free port and is stopped at the end;
everything lives in a temporary folder that is removed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mlflow
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import FEATURES, MODEL, Load, deploy, free_port, payload, register_model, wrk

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget

ROOT = Path(__file__).resolve().parents[1]
MLSERVER = ROOT / ".venv-mlserver" / "bin" / "mlserver"
CELLS = [(1, 1), (1, 8), (1, 32), (100, 8)]  # (rows, connections)
CORES = os.cpu_count() or 1
START_TIMEOUT = 180.0


@dataclass
class Peer:
    """A server under test: how to reach it per row count, and how to stop what was started for it."""

    name: str
    urls: dict[int, str] = field(default_factory=dict)  # rows -> URL
    bodies: dict[int, Path] = field(default_factory=dict)  # rows -> request body (when not the shared one)
    stop: Callable[[], None] = lambda: None
    failure: str | None = None


def _wait(url: str, process: subprocess.Popen[bytes] | None, what: str, log: Path | None = None) -> None:
    """Wait until ``url`` answers 200 (the process still running), or raise with the log's tail."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-600:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {process.returncode}: {tail.strip()}")
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {START_TIMEOUT:.0f} s")


def _spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], Callable[[], None]]:
    """Start a server in its own session; returns (process, stop) where stop ends that session's processes."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                   cwd=cwd, start_new_session=True)  # fmt: skip

    def stop() -> None:
        # The group is the session this script created for the server (its workers included), nothing else.
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    return process, stop


def start_ours(config: MLOpsConfig, bodies: dict[int, Path], name: str = "ours") -> Peer:
    """Our daemon on ``config``; with ``serving_compiled_trees`` on, measured once every worker has its compiled
    predictor (it is built in the background after the deploy)."""
    store = Store(config.store_url)
    target = LocalTarget(config, store)

    def stop() -> None:
        try:
            target.stop_daemon()
        finally:
            target.close()
            store.close()

    peer = Peer(name, stop=stop)
    info = target.ensure_daemon()
    deploy(store, target, "peers-ours")
    url = f"{info.url}/deployments/peers-ours/invocations"
    if config.serving_compiled_trees:
        httpx.post(url, content=bodies[1].read_bytes(), timeout=30, trust_env=False)
        print(f"{name}: {_compiled_outcome(info.url, info.token, config.serving_workers or CORES)}", flush=True)
    peer.urls = dict.fromkeys(bodies, url)
    return peer


def _compiled_outcome(url: str, token: str, workers: int) -> str:
    """Wait until every serving worker has settled its compiled predictor (``mlops_compiled_models_total``)."""
    deadline = time.monotonic() + START_TIMEOUT
    counts: dict[str, float] = {}
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, trust_env=False).text
        counts = {m[0]: float(m[1]) for m in re.findall(r'^mlops_compiled_models_total\{outcome="(\w+)"\} (\S+)$',
                                                          text, re.M)}  # fmt: skip
        if sum(counts.values()) >= workers:
            break
        time.sleep(0.2)
    return "compiled predictor " + (", ".join(f"{k} {v:.0f}" for k, v in sorted(counts.items())) or "not settled")


def start_mlflow(config: MLOpsConfig, folder: Path, workers: int, bodies: dict[int, Path]) -> Peer:
    port = free_port()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1", "--env-manager",
               "local", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # fmt: skip
    log = folder / f"mlflow-w{workers}.log"
    process, stop = _spawn(command, log, {"MLFLOW_TRACKING_URI": config.tracking_uri, "PATH": path})
    peer = Peer(f"mlflow-w{workers}", stop=stop)
    try:
        _wait(f"http://127.0.0.1:{port}/ping", process, "mlflow models serve", log)
    except Exception:
        stop()
        raise
    peer.urls = dict.fromkeys(bodies, f"http://127.0.0.1:{port}/invocations")
    return peer


def v2_body(X: pd.DataFrame, rows: int) -> bytes:
    """The rows as a V2 ``infer`` request: one FP64 tensor per column (MLServer reads them by the signature)."""
    frame = X.head(rows)
    inputs = [{"name": c, "shape": [rows], "datatype": "FP64", "data": frame[c].tolist()} for c in FEATURES]
    return orjson.dumps({"inputs": inputs})


def start_mlserver(model_dir: Path, folder: Path, X: pd.DataFrame, bodies: dict[int, Path]) -> Peer:
    if not MLSERVER.exists():
        raise RuntimeError(f"MLServer is not installed in {MLSERVER.parent.parent} (make mlserver-env)")
    root = folder / "mlserver"
    (root / "peers-gb").mkdir(parents=True)
    port = free_port()
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                "parallel_workers": CORES}  # fmt: skip
    (root / "settings.json").write_text(json.dumps(settings))
    model_settings = {"name": "peers-gb", "implementation": "mlserver_mlflow.MLflowRuntime",
                      "max_batch_size": 32, "max_batch_time": 0.005,
                      "parameters": {"uri": str(model_dir), "version": "1"}}  # fmt: skip
    (root / "peers-gb" / "model-settings.json").write_text(json.dumps(model_settings))
    log = folder / "mlserver.log"
    process, stop = _spawn([str(MLSERVER), "start", str(root)], log, cwd=root)
    peer = Peer("mlserver", stop=stop)
    try:
        # /v2/health/ready answers before the model is loaded: wait for the model itself.
        _wait(f"http://127.0.0.1:{port}/v2/models/peers-gb/ready", process, "MLServer", log)
    except Exception:
        stop()
        raise
    for rows in bodies:
        peer.bodies[rows] = folder / f"v2-{rows}.json"
        peer.bodies[rows].write_bytes(v2_body(X, rows))
        peer.urls[rows] = f"http://127.0.0.1:{port}/v2/models/peers-gb/infer"
    return peer


class _RayModel:
    """The Ray Serve deployment: a frame from the JSON body (``dataframe_split``), the pyfunc's predict, JSON."""

    def __init__(self, model_dir: str) -> None:
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(model_dir)

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import Response

        split = orjson.loads(await request.body())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        predictions = self.model.predict(frame)
        return Response(orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY),
                        media_type="application/json")  # fmt: skip


def start_ray(model_dir: Path, folder: Path, bodies: dict[int, Path]) -> Peer:
    # Loopback only and no token file in the home folder (RECIPES: Ray Serve); set before Ray is imported.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # The raylet waits for its Python agents' port files; on a busy 2-core machine they take longer than the default.
    os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    import ray
    from ray import serve

    def stop() -> None:
        try:
            if ray.is_initialized():
                serve.shutdown()
        finally:
            ray.shutdown()  # this process's local cluster only (never `ray stop`)

    peer = Peer("ray", stop=stop)
    port = free_port()
    try:
        for attempt in range(3):
            try:
                ray.init(address="local", num_cpus=CORES, include_dashboard=False, _node_ip_address="127.0.0.1",
                         log_to_driver=False, _temp_dir=str(folder / "ray"))  # fmt: skip
                break
            except Exception as exc:  # Ray gives its raylet a fixed 30 s to register: too short on a busy machine
                ray.shutdown()
                if attempt == 2:
                    raise
                print(f"ray: start failed ({str(exc)[:80]}); retrying", flush=True)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        deployment = serve.deployment(_RayModel, name="peers-gb", num_replicas=CORES,
                                      ray_actor_options={"num_cpus": 1}, max_ongoing_requests=32)  # fmt: skip
        app = deployment.bind(str(model_dir))  # type: ignore[attr-defined]
        serve.run(app, name="peers", route_prefix="/peers", blocking=False)
        url = f"http://127.0.0.1:{port}/peers"
        deadline = time.monotonic() + START_TIMEOUT
        body = bodies[1].read_bytes()
        while True:
            try:
                answer = httpx.post(url, content=body, timeout=5, trust_env=False)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray Serve not ready after {START_TIMEOUT:.0f} s")
            time.sleep(0.2)
    except Exception:
        stop()
        raise
    peer.urls = dict.fromkeys(bodies, url)
    return peer


def start_floor(model_dir: Path, folder: Path, X: pd.DataFrame, bodies: dict[int, Path]) -> Peer:
    rows_file = folder / "floor-rows.json"
    rows_file.write_bytes(orjson.dumps({"columns": FEATURES, "data": X.head(100).to_numpy().tolist()}))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).resolve().parent), "floor_app:app",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(CORES), "--no-access-log",
               "--log-level", "warning"]  # fmt: skip
    log = folder / "floor.log"
    process, stop = _spawn(command, log, {"FLOOR_MODEL_DIR": str(model_dir), "FLOOR_ROWS": str(rows_file)})
    peer = Peer("floor", stop=stop)
    deadline = time.monotonic() + START_TIMEOUT
    url = f"http://127.0.0.1:{port}/rows/1"
    while True:
        try:
            if httpx.post(url, content=b"{}", timeout=2, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"floor app did not start: {log.read_text(errors='replace')[-600:].strip()}")
        time.sleep(0.1)
    peer.urls = {rows: f"http://127.0.0.1:{port}/rows/{rows}" for rows in bodies}
    return peer


def _cell(load: list[Load]) -> str:
    rps = statistics.median(x.rps for x in load)
    p50 = statistics.median(x.p50_ms for x in load)
    p99 = statistics.median(x.p99_ms for x in load)
    errors = sum(x.errors for x in load)
    return f"{rps:,.0f} req/s, p50 {p50:.2f} / p99 {p99:.1f} ms" + (f" ({errors} non-2xx)" if errors else "")


def steps(X: pd.DataFrame, model_uri: str, protocol: Any = None, number: int = 300) -> dict[int, dict[str, float]]:
    """Microseconds per request step of our ``/invocations`` fast path, timed in-process with the real functions
    (best of 5 batches of ``number``): JSON decode, frame, predict, serialise, and ``score`` (all of them)."""
    import timeit

    if protocol is None:
        from jupyter_mlops.serving import protocol
    model = protocol.ScoringModel.from_pyfunc(mlflow.pyfunc.load_model(model_uri))
    figures: dict[int, dict[str, float]] = {}
    for rows in (1, 100):
        body = payload(X, rows)
        split = orjson.loads(body)["dataframe_split"]
        parsed = protocol.parse_request(body, "application/json", model)
        outputs = protocol.predict(model, parsed)
        step_calls: dict[str, Callable[[], Any]] = {
            "decode": functools.partial(protocol.decode_json, body),
            "frame": functools.partial(protocol.fast_frame, split, model.fast_columns),
            "predict": functools.partial(protocol.predict, model, parsed),
            "serialize": functools.partial(protocol.predictions_to_json, outputs),
            "score": functools.partial(protocol.score, model, body, "application/json"),
        }
        figures[rows] = {
            step: min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6 for step, call in step_calls.items()
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians over them)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s")
    parser.add_argument("--peers", default="ours,ours-sklearn,mlflow-w1,mlflow-w2,mlserver,ray,floor",
                        help="comma-separated")  # fmt: skip
    parser.add_argument("--steps", action="store_true", help="only time our request steps in-process (µs)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 2.0
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: make bench-tools (apt-get install wrk)")
    wanted = args.peers.split(",")
    results: dict[tuple[str, int, int], list[Load]] = {}
    failures: dict[str, str] = {}
    peers: list[Peer] = []
    with tempfile.TemporaryDirectory(prefix="mlops-peers-") as tmp:
        folder = Path(tmp)
        config = MLOpsConfig(data_dir=tmp, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
        X = register_model(config)
        bodies = {rows: folder / f"body{rows}.json" for rows in (1, 100)}
        for rows, path in bodies.items():
            path.write_bytes(payload(X, rows))
        mlflow.set_tracking_uri(config.tracking_uri)
        if args.steps:
            for rows, figures in steps(X, f"models:/{MODEL}/1").items():
                print(f"{rows:>3} row(s): " + ", ".join(f"{k} {v:,.0f} µs" for k, v in figures.items()))
            return
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(folder / "model")))
        sklearn_config = MLOpsConfig(
            data_dir=str(folder / "sklearn"), tracking_uri=config.tracking_uri, serving_compiled_trees=False
        )
        starters: dict[str, Callable[[], Peer]] = {
            "ours": lambda: start_ours(config, bodies),
            # The same daemon answering with scikit-learn's predict (the compiled predictor off): what it adds.
            "ours-sklearn": lambda: start_ours(sklearn_config, bodies, "ours-sklearn"),
            "mlflow-w1": lambda: start_mlflow(config, folder, 1, bodies),
            "mlflow-w2": lambda: start_mlflow(config, folder, 2, bodies),
            "mlserver": lambda: start_mlserver(model_dir, folder, X, bodies),
            "ray": lambda: start_ray(model_dir, folder, bodies),
            "floor": lambda: start_floor(model_dir, folder, X, bodies),
        }
        try:
            # Ray first: its raylet must register within a fixed 30 s, easier before the other peers are up.
            for name in sorted(wanted, key=lambda n: n != "ray"):
                started = time.perf_counter()
                try:
                    peers.append(starters[name]())
                    print(f"{name}: up in {time.perf_counter() - started:.1f} s", flush=True)
                except Exception as exc:
                    failures[name] = f"failed: {type(exc).__name__}: {str(exc)[-300:]}"
                    print(f"{name}: {failures[name]}", flush=True)
            for peer in peers:  # one warm-up per peer and cell
                for rows, c in CELLS:
                    try:
                        wrk(peer.urls[rows], peer.bodies.get(rows, bodies[rows]), c, 1)
                    except Exception as exc:
                        failures.setdefault(peer.name, f"failed: warm-up {rows} rows c={c}: {str(exc)[:200]}")
            for round_ in range(args.rounds):
                for rows, c in CELLS:
                    for peer in peers:
                        if peer.name in failures:
                            continue
                        try:
                            load = wrk(peer.urls[rows], peer.bodies.get(rows, bodies[rows]), c, args.duration)
                        except Exception as exc:
                            failures[peer.name] = f"failed: wrk {rows} rows c={c}: {str(exc)[:200]}"
                            continue
                        results.setdefault((peer.name, rows, c), []).append(load)
                print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        finally:
            for peer in reversed(peers):
                try:
                    peer.stop()
                except Exception as exc:
                    print(f"{peer.name}: stop failed: {exc}", file=sys.stderr)
    report(wanted, results, failures, args)


def report(wanted: list[str], results: dict, failures: dict[str, str], args: argparse.Namespace) -> None:
    """The Markdown table: per cell, each peer's median req/s, p50 and p99, then ours / each peer in req/s."""
    print(f"\nGradientBoosting (100 trees, 20 features); wrk {args.duration:.0f} s per cell, medians of "
          f"{args.rounds} alternating round(s); {CORES} cores\n")  # fmt: skip
    print("| cell | " + " | ".join(wanted) + " |")
    print("|---" * (len(wanted) + 1) + "|")
    for rows, c in CELLS:
        cells = []
        for name in wanted:
            load = results.get((name, rows, c))
            cells.append(_cell(load) if load else ("failed (below)" if name in failures else "-"))
        print(f"| {rows} row{'s' if rows > 1 else ''}, c={c} | " + " | ".join(cells) + " |")
    others = [n for n in wanted if n != "ours"]
    print("\nours / peer, throughput (req/s):\n")
    print("| cell | " + " | ".join(others) + " |")
    print("|---" * (len(others) + 1) + "|")
    for rows, c in CELLS:
        ours = results.get(("ours", rows, c))
        ratios = []
        for name in others:
            theirs = results.get((name, rows, c))
            if ours and theirs:
                ratio = statistics.median(x.rps for x in ours) / statistics.median(x.rps for x in theirs)
                ratios.append(f"{ratio:.2f}x")
            else:
                ratios.append("-")
        print(f"| {rows} row{'s' if rows > 1 else ''}, c={c} | " + " | ".join(ratios) + " |")
    for name, reason in failures.items():
        print(f"\n{name}: {reason}")


if __name__ == "__main__":
    main()
