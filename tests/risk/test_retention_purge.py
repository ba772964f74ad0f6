"""The inference log writer purges each deployment by the retention declared for it (``set_retention``).

Real SQLite store with its migrations, the real writer and the register ``set_retention`` writes through; records
are given old timestamps instead of waiting months.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.governance.risk import RiskRegister
from jupyter_mlops.core.monitoring.storage import MonitoringStore
from jupyter_mlops.core.store import Store
from jupyter_mlops.serving.inference_log import InferenceLog
from jupyter_mlops.serving.records import RequestRecord

DAY = 86400.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store (migrated) of an installation of its own."""
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    yield store
    store.close()


def _record(rid: str, deployment: str, age_days: float) -> RequestRecord:
    return RequestRecord(
        request_id=rid, deployment=deployment, variant="primary", model_version="1",
        time=time.time() - age_days * DAY, latency_ms=1.0, status=200,
        inputs=pd.DataFrame({"x": [1.0, 2.0]}), outputs=np.arange(2),
    )  # fmt: skip


def _declare(store: Store, tmp_path: Path, deployment: str, days: float) -> None:
    RiskRegister(MLOpsConfig(data_dir=str(tmp_path)), store).set_retention(
        deployment, {"inference_log_days": days}, False, "ada", datetime.now(UTC)
    )


def _kept(monitoring: MonitoringStore, deployment: str, ids: list[str]) -> set[str]:
    return set(monitoring.known_requests(deployment, ids))


def test_declared_retention_overrides_the_default_per_deployment(store: Store, tmp_path: Path) -> None:
    # given the default of 30 days, a high-risk deployment declared at 400 days and one kept forever (0)
    _declare(store, tmp_path, "loans-long", 400)
    _declare(store, tmp_path, "loans-forever", 0)
    monitoring = MonitoringStore(store.engine)
    writer = InferenceLog(monitoring, flush_interval=0.05, retention_days=30.0).start()
    for deployment in ("loans-short", "loans-long", "loans-forever"):
        for age in (0, 40, 500):
            writer(_record(f"{deployment}-{age}", deployment, age))
    writer.close()
    ids = {d: [f"{d}-{age}" for age in (0, 40, 500)] for d in ("loans-short", "loans-long", "loans-forever")}
    assert all(len(_kept(monitoring, d, i)) == 3 for d, i in ids.items())

    # when the writer applies retention
    removed = writer.purge()

    # then the default's old rows go, the 400-day deployment keeps its 40-day-old records, forever keeps all
    assert _kept(monitoring, "loans-short", ids["loans-short"]) == {"loans-short-0"}
    assert _kept(monitoring, "loans-long", ids["loans-long"]) == {"loans-long-0", "loans-long-40"}
    assert _kept(monitoring, "loans-forever", ids["loans-forever"]) == set(ids["loans-forever"])
    assert removed == 3
    assert len(monitoring.data("loans-long", time.time() - 450 * DAY, time.time() + 1)) == 4  # payloads too


def test_a_declaration_purges_even_when_the_default_keeps_forever(store: Store, tmp_path: Path) -> None:
    _declare(store, tmp_path, "scores-short", 200)
    monitoring = MonitoringStore(store.engine)
    writer = InferenceLog(monitoring, flush_interval=0.05, retention_days=0.0).start()
    writer(_record("old", "scores-short", 300))
    writer(_record("other-old", "scores-other", 300))
    writer.close()
    assert writer.purge() == 1
    assert _kept(monitoring, "scores-short", ["old"]) == set()
    assert _kept(monitoring, "scores-other", ["other-old"]) == {"other-old"}
