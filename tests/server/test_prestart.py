"""``serving_prestart``: the Jupyter server starts the local serving daemon, so the first deploy finds it running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.serving import daemon_file

from ..waiting import wait_until


@pytest.fixture
def prestart_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh installation (no deployment, no daemon); its daemon is stopped after the test."""
    yield tmp_path
    mlops = MLOps(MLOpsConfig(data_dir=str(tmp_path)))
    try:
        mlops.target("local").stop_daemon()  # type: ignore[attr-defined]
    finally:
        mlops.close()


@pytest.fixture
def jp_server_config(prestart_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {"data_dir": str(prestart_dir), "serving_prestart": True},
    }


def test_the_server_starts_the_daemon_and_the_first_deploy_uses_it(
    jp_serverapp: Any,
    prestart_dir: Path,
    trained_model: Any,
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    # Given a server started on an installation with nothing deployed, and serving_prestart on
    info_path = daemon_file.path_in(prestart_dir)
    # Then the serving daemon starts without any deploy
    started = wait_until(lambda: daemon_file.read(info_path), 60, "the daemon started by the server")
    # When the first deploy comes
    mlops = MLOps(MLOpsConfig(data_dir=str(prestart_dir)))
    try:
        X, _ = iris
        version = mlops.register(trained_model, "prestarted", X)
        deployment = mlops.deploy(f"prestarted/{version.version}", name="prestarted")
        # Then it is served by the daemon that was already running (no second start)
        assert deployment.state == "ready", deployment
        running = daemon_file.read(info_path)
        assert running is not None and running.pid == started.pid
        assert deployment.url and deployment.url.startswith(started.url)
    finally:
        mlops.close()
