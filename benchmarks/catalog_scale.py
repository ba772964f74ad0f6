"""Catalog at scale: first page of ``GET /mlops/api/models`` vs MLflow's own search of every model.

Run: ``.venv/bin/python benchmarks/catalog_scale.py [--models 1000] [--versions 3] [--repeat 30]``.
Registers the models directly through ``MlflowClient`` (a dummy source: no artifacts) into a temporary SQLite
store, adds 100 deployment rows to our store (desired state only, no daemon), starts a real Jupyter server with
the extension, then prints medians of:

- the sidebar's first catalog page (REST, 50 models with their versions, one keep-alive connection);
- the same page the old way (``search_registered_models`` + one ``search_model_versions`` per model: N+1);
- MLflow's ``search_registered_models`` of all models (the peer named in issue 5);

and the ratios between them. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from mlflow import MlflowClient

from jupyter_mlops.config import MLOpsConfig

PAGE = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def populate(config: MLOpsConfig, models: int, versions: int) -> None:
    """Register ``models`` x ``versions`` with a dummy source: MLflow does not read it at registration."""
    from jupyter_mlops.core.registry import Registry

    Registry(config.tracking_uri, config.registry_uri, artifact_root=config.artifact_root).prepare()
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)
    for i in range(models):
        name = f"model-{i:04d}"
        client.create_registered_model(name, description=f"Benchmark model {i}")
        for _ in range(versions):
            client.create_model_version(name, source=f"file:///tmp/dummy/{name}")
        client.set_registered_model_alias(name, "champion", str(versions))


def add_deployments(config: MLOpsConfig, count: int) -> None:
    """Desired-state rows only: the sidebar lists them; nothing is served."""
    from jupyter_mlops.core.models import Variant
    from jupyter_mlops.core.store import Store

    store = Store(config.store_url)
    try:
        for i in range(count):
            name = f"model-{i:04d}"
            variant = Variant(name="primary", model_name=name, model_version="1", weight=100, role="primary")
            store.create_deployment(
                f"dep-{i:03d}", owner="bench", target="local", model_ref=f"{name}/1", variants=[variant]
            )
    finally:
        store.close()


def median_ms(fn: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def wait_for(url: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers={"Authorization": f"token {token}"}, timeout=2, trust_env=False).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"The Jupyter server did not answer {url} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlops-catalog-") as tmp:
        config = MLOpsConfig(data_dir=str(Path(tmp) / "data"))
        started = time.perf_counter()
        populate(config, args.models, args.versions)
        add_deployments(config, args.deployments)
        print(f"registered {args.models} models x {args.versions} versions in {time.perf_counter() - started:.1f} s")

        port, token = free_port(), "catalog-bench"
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(Path(tmp) / "jupyter-config")}
        server = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server",
                "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}",
                "--ServerApp.jpserver_extensions={'jupyter_mlops': True}",
                f"--MLOpsConfig.data_dir={config.data_dir}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}/mlops/api"
            wait_for(f"{base}/version", token)
            headers = {"Authorization": f"token {token}"}
            with httpx.Client(trust_env=False, timeout=30, headers=headers) as http:

                def first_page() -> None:
                    page = http.get(f"{base}/models", params={"max_results": PAGE})
                    page.raise_for_status()
                    assert len(page.json()["items"]) == min(PAGE, args.models)

                def deployments() -> None:
                    http.get(f"{base}/deployments").raise_for_status()

                rest_ms = median_ms(first_page, args.repeat)
                deployments_ms = median_ms(deployments, args.repeat)

            client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)

            def mlflow_all() -> None:
                found = client.search_registered_models(max_results=1000)
                while found.token:
                    found = client.search_registered_models(max_results=1000, page_token=found.token)

            def n_plus_one_page() -> None:
                for rm in client.search_registered_models(max_results=PAGE, order_by=["name ASC"]):
                    client.search_model_versions(f"name = '{rm.name}'", order_by=["version_number DESC"])

            peer_ms = median_ms(mlflow_all, max(5, args.repeat // 3))
            old_ms = median_ms(n_plus_one_page, max(5, args.repeat // 3))
        finally:
            server.terminate()
            server.wait(timeout=30)

        print(f"first catalog page, REST ({PAGE} models + versions): median {rest_ms:7.1f} ms")
        print(f"deployments list, REST ({args.deployments} rows):       median {deployments_ms:7.1f} ms")
        print(f"same page the N+1 way (MlflowClient, in process): median {old_ms:7.1f} ms")
        print(f"MLflow search_registered_models of all {args.models}:   median {peer_ms:7.1f} ms")
        print(f"ratio MLflow all-models search / REST first page: {peer_ms / rest_ms:.1f}x")
        print(f"ratio N+1 page / REST first page:               {old_ms / rest_ms:.1f}x")
        print(f"target <= 150 ms: {'met' if rest_ms <= 150 else 'NOT met'}")


if __name__ == "__main__":
    main()
