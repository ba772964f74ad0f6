"""Wide tables: the streamed drift, multivariate drift and data quality give the answers of the in-memory computation.

The benchmark (``benchmarks/monitoring_wide.py``) runs this code at 100,000 x 1,000; here 5,000 rows x 200 features
(plus a categorical feature, missing values, repeated requests and a prediction) are written through the writer's
own path (``MonitoringStore.write_batch``, in flushes of several requests) into a real SQLite store, and each
streamed result is compared with the same statistic computed from ``MonitoringStore.data()`` as one DataFrame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine

from jupyter_mlops.core.monitoring import multivariate as mv
from jupyter_mlops.core.monitoring.baseline import build_profile
from jupyter_mlops.core.monitoring.drift import (
    DriftAccumulator,
    DriftSettings,
    dataset_drift,
    streamed_dataset_drift,
)
from jupyter_mlops.core.monitoring.labels import PREDICTION
from jupyter_mlops.core.monitoring.service import window_checks
from jupyter_mlops.core.monitoring.storage import INPUT_PREFIX, LoggedRequest, MonitoringStore

FEATURES = [f"f{i}" for i in range(200)]
START = 1_800_000_000.0
STEP = 60.0


def wide_rows(rng: np.random.Generator, n: int, mixing: np.ndarray) -> pd.DataFrame:
    """Correlated numeric features (ten latent factors plus noise) and a plan."""
    values = rng.normal(size=(n, mixing.shape[0])) @ mixing + rng.normal(scale=0.5, size=(n, len(FEATURES)))
    frame = pd.DataFrame(values, columns=FEATURES)
    frame["plan"] = rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1])
    return frame


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(10, len(FEATURES)))
    training = wide_rows(rng, 3000, mixing)
    profile = build_profile(training, predictions=rng.integers(0, 2, len(training)))
    profile["reference"] = mv.reference_rows(training, profile)
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('wide')}/store.db")
    store = MonitoringStore(engine)
    live = wide_rows(rng, 5000, mixing)
    live.loc[live.sample(400, random_state=1).index, "f3"] = np.nan  # missing values
    live.loc[live.sample(100, random_state=2).index, "f7"] = 1e6  # out of range
    live.loc[live.sample(50, random_state=3).index, "plan"] = "enterprise"  # unseen
    live.iloc[4000:4500] = live.iloc[3500:4000].to_numpy()  # repeated requests
    rows_per_request, requests_per_flush = 50, 10
    n_requests = len(live) // rows_per_request
    records = []
    for k in range(n_requests):
        chunk = live.iloc[k * rows_per_request : (k + 1) * rows_per_request].reset_index(drop=True)
        records.append(
            LoggedRequest(
                request_id=f"wide-{k}",
                deployment="wide",
                variant="default",
                model_version="1",
                time=START + 600.0 * k / n_requests,
                latency_ms=1.0,
                status=200,
                inputs=chunk,
                outputs=rng.integers(0, 2, len(chunk)),
            )
        )
    for first in range(0, len(records), requests_per_flush):
        store.write_batch(records[first : first + requests_per_flush])
    yield {"store": store, "profile": profile}
    engine.dispose()


def assert_same(streamed: Any, direct: Any, path: str = "") -> None:
    """Equal structures; floats equal to 1e-9 relative (the same formulas, summed in another order at most)."""
    if isinstance(direct, dict):
        assert set(streamed) == set(direct), path
        for key in direct:
            assert_same(streamed[key], direct[key], f"{path}.{key}")
    elif isinstance(direct, list):
        assert len(streamed) == len(direct), path
        for i, (a, b) in enumerate(zip(streamed, direct, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(direct, float) and not isinstance(direct, bool):
        assert streamed == pytest.approx(direct, rel=1e-9, abs=1e-12), path
    else:
        assert streamed == direct, path


# Windows: everything, and one that cuts through stored batches at both ends.
WINDOWS = [(START, START + 601), (START + 95.0, START + 430.0)]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("settings", [DriftSettings(), DriftSettings(max_sample=1500)], ids=["all", "sampled"])
def test_streamed_drift_equals_drift_over_the_window_frame(wide, window, settings) -> None:
    store, profile = wide["store"], wide["profile"]
    start, end = window
    direct = dataset_drift(
        profile,
        store.data("wide", start, end, sample=settings.max_sample, seed=settings.seed),
        settings,
        input_prefix=INPUT_PREFIX,
        output=PREDICTION,
    )
    rows = store.window_rows("wide", start, end)
    streamed = streamed_dataset_drift(
        profile, store.tables("wide", start, end), rows, settings, input_prefix=INPUT_PREFIX, output=PREDICTION
    )
    assert rows == direct["rows"]
    if window == WINDOWS[0] and settings.max_sample >= rows:  # the repeated requests count once
        assert streamed["distinct_rows"] == rows - 500
    assert len(streamed["features"]) == len(FEATURES) + 1 and streamed["prediction"] is not None
    assert_same(streamed, direct)


@pytest.mark.parametrize("window", WINDOWS)
def test_streamed_multivariate_drift_and_quality_equal_the_window_frame(wide, window) -> None:
    store, profile = wide["store"], wide["profile"]
    start, end = window
    pca = mv.fit(mv.reference_frame(profile))
    assert pca is not None and pca.explained >= 0.65
    settings = DriftSettings(max_sample=2500)
    drift = DriftAccumulator(
        profile, store.window_rows("wide", start, end), settings, input_prefix=INPUT_PREFIX, output=PREDICTION
    )
    checks = window_checks(store, "wide", profile, pca, start, end, STEP, drift=drift)  # a report's one pass
    direct = dataset_drift(
        profile, store.data("wide", start, end, sample=2500), settings, input_prefix=INPUT_PREFIX, output=PREDICTION
    )
    assert_same(drift.result(), direct)

    frame = store.data("wide", start, end)
    frame["bucket"] = ((frame["time"] - start) // STEP).astype(int)
    live = frame[[INPUT_PREFIX + f for f in FEATURES]].rename(columns=lambda c: c[len(INPUT_PREFIX) :])
    frame["error"] = mv.frame_errors(pca, live)
    by_bucket = frame.groupby("bucket")["error"].agg(["mean", "size"])
    assert [p["rows"] for p in checks["multivariate_drift"]] == by_bucket["size"].tolist()
    assert [p["reconstruction_error"] for p in checks["multivariate_drift"]] == pytest.approx(
        by_bucket["mean"].tolist(), rel=1e-9
    )

    quality = pd.DataFrame(checks["data_quality"]).set_index(["feature"])
    totals = quality.groupby("feature")[["rows", "missing", "out_of_range", "unseen_category"]].sum()
    for feature in FEATURES:
        column = frame[INPUT_PREFIX + feature]
        base = profile["features"][feature]["quantiles"]
        outside = int(((column < base["0"]) | (column > base["1"])).sum())
        assert totals.loc[feature].tolist() == [len(frame), int(column.isna().sum()), outside, 0], feature
    plan = frame[INPUT_PREFIX + "plan"]
    assert totals.loc["plan", "unseen_category"] == int((~plan.isin(["free", "pro", "team"])).sum()) > 0
    assert totals.loc["f3", "missing"] > 0 and totals.loc["f7", "out_of_range"] > 0


def test_rows_written_after_the_window_was_counted_wait_for_the_next_report(tmp_path) -> None:
    """The daemon keeps writing while a report streams: rows beyond the count are left out, not an error."""
    store = MonitoringStore(create_engine(f"sqlite:///{tmp_path}/late.db"))
    rng = np.random.default_rng(9)
    profile = build_profile(pd.DataFrame(rng.normal(size=(500, 3)), columns=["x", "y", "z"]))

    def write(k: int) -> None:
        rows = pd.DataFrame(rng.normal(size=(100, 3)), columns=["x", "y", "z"])
        store.write_batch([LoggedRequest(f"late-{k}", "late", "default", "1", START + k, 1.0, 200, inputs=rows)])

    write(0)
    counted = store.window_rows("late", START, START + 60)
    write(1)  # arrives inside the window after it was counted
    result = streamed_dataset_drift(
        profile, store.tables("late", START, START + 60), counted, DriftSettings(), input_prefix=INPUT_PREFIX
    )
    assert (counted, result["rows"], result["sampled"]) == (100, 100, 100)
    assert [f["rows"] for f in result["features"]] == [100, 100, 100]
    store.engine.dispose()
