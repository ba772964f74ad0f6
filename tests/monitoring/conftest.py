"""Monitoring fixtures: one embedded installation with a registered classifier (with its training baseline),
deployed once on a real serving daemon that logs every request; the daemon is stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.service import MLOps

from ..waiting import wait_until

FEATURES = ["a", "b", "c", "d"]
DEPLOYMENT = "shop"


def make_rows(rng: np.random.Generator, n: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Rows from the training distribution (independent standard normals), optionally shifted per feature."""
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    for column, delta in (shift or {}).items():
        frame[column] += delta
    return frame


def true_labels(rows: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The ground truth: a noisy linear rule, so the model is right most of the time but not always."""
    return (rows["a"] + rows["b"] + rng.normal(scale=0.7, size=len(rows)) > 0).astype(int).to_numpy()


@dataclass
class Monitored:
    """A deployed model with its estimator, and what the tests sent to it."""

    mlops: MLOps
    config: MLOpsConfig
    model: LogisticRegression
    name: str = DEPLOYMENT
    sent: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def send(self, rows: pd.DataFrame, per_request: int = 100, *, to: str | None = None) -> list[str]:
        """Score rows in requests of ``per_request`` rows; returns the request ids and waits until they are logged."""
        ids = []
        name = to or self.name
        for start in range(0, len(rows), per_request):
            chunk = rows.iloc[start : start + per_request].reset_index(drop=True)
            body = orjson.dumps({"dataframe_split": chunk.to_dict(orient="split")})
            status, headers, _ = self.mlops.invoke(name, body)
            assert status == 200
            request_id = {k.lower(): v for k, v in headers.items()}["x-mlops-request-id"]
            ids.append(request_id)
            self.sent.append((request_id, chunk))
        self.wait_logged(ids, name)
        return ids

    def wait_logged(self, ids: list[str], name: str, timeout: float = 15.0) -> None:
        wait_until(
            lambda: len(self.mlops.monitoring.store.known_requests(name, ids)) >= len(ids),
            timeout,
            "the inference log recording the requests",
            0.1,
        )


@pytest.fixture(scope="session")
def monitoring_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    # alert_interval=0: these tests evaluate rules on read; the scheduler has its own test (test_scheduler.py)
    return MLOpsConfig(data_dir=str(tmp_path_factory.mktemp("monitoring")), alert_interval=0)


@pytest.fixture(scope="session")
def monitored(monitoring_config: MLOpsConfig) -> Iterator[Monitored]:
    mlops = MLOps(monitoring_config, user="tester")
    rng = np.random.default_rng(7)
    X = make_rows(rng, 3000)
    y = true_labels(X, rng)
    model = LogisticRegression().fit(X, y)
    try:
        mlops.register(model, "shop-model", X, y)
        mlops.deploy("shop-model", DEPLOYMENT)
        yield Monitored(mlops=mlops, config=monitoring_config, model=model)
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]
        mlops.close()


@pytest.fixture
def data_dir(monitoring_config: MLOpsConfig) -> Path:
    return Path(monitoring_config.data_dir)


def labels_for(monitored: Monitored, ids: list[str], rng: np.random.Generator) -> tuple[list[Any], float]:
    """True labels of the given requests and the accuracy the model really had on them (computed here)."""
    rows = dict(monitored.sent)
    labels, correct, total = [], 0, 0
    for request_id in ids:
        chunk = rows[request_id]
        truth = true_labels(chunk, rng)
        predicted = monitored.model.predict(chunk)
        correct += int((truth == predicted).sum())
        total += len(truth)
        labels.append(truth.tolist())
    return labels, correct / total


@pytest.fixture
def jp_server_config(monitoring_config: MLOpsConfig) -> dict[str, Any]:
    """A real Jupyter server with the extension, on the monitoring installation (same stores, same daemon)."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {"data_dir": monitoring_config.data_dir},
    }


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """Call /mlops/api/... and return (status, decoded JSON)."""
    import json

    async def call(method: str, *parts: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        response = await jp_fetch(
            "mlops",
            "api",
            *parts,
            method=method,
            body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
            headers={"Content-Type": "application/json"},
            raise_error=False,
            **kw,
        )
        return response.code, json.loads(response.body) if response.body else None

    return call


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster (skipped where PostgreSQL cannot run); tests create their own databases."""
    from tests.team.services import Postgres, postgres_available

    if (reason := postgres_available()) is not None:
        pytest.skip(reason)
    with Postgres.running() as server:
        yield server
