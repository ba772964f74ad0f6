"""Data quality through the real daemon: missing values, an unseen category and out-of-range values are each counted
per feature and bucket, and each fires its default alert; clean traffic fires none."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from jupyter_mlops.core.monitoring.storage import LoggedRequest

from .conftest import Monitored

QUALITY_RULES = {"missing-values", "out-of-range", "unseen-categories", "type-mismatch"}


def customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Training-like rows: two numeric features and a plan among three."""
    return pd.DataFrame(
        {
            "amount": rng.normal(50, 10, n),
            "age": rng.normal(40, 8, n),
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def firing(monitored: Monitored, name: str) -> set[str]:
    alerts = monitored.mlops.monitor(name, "15m").data["alerts"]  # a report evaluates the rules first
    return {a["rule"] for a in alerts if a["state"] == "firing"}


@pytest.fixture(scope="module")
def quality_model(monitored: Monitored) -> str:
    """A pipeline that tolerates missing values and unknown plans (so such requests are served and logged)."""
    rng = np.random.default_rng(21)
    X = customers(rng, 3000)
    y = (X["amount"] + rng.normal(0, 5, len(X)) > 50).astype(int)
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numbers", SimpleImputer(), ["amount", "age"]),
                        ("plan", make_pipeline(OneHotEncoder(handle_unknown="ignore")), ["plan"]),
                    ]
                ),
            ),
            ("classify", LogisticRegression()),
        ]
    )
    version = monitored.mlops.register(model.fit(X, y), "dq-model", X, y)
    return f"dq-model/{version.version}"


def test_missing_unseen_and_out_of_range_values_are_counted_and_each_alerts(monitored, quality_model) -> None:
    mlops, name = monitored.mlops, "dq-problems"
    mlops.deploy(quality_model, name)
    rng = np.random.default_rng(22)

    # Given clean traffic: counted rows, no problems, no quality alert
    monitored.send(customers(rng, 1000), to=name)
    clean = mlops.monitor(name, "15m").data_quality
    assert set(clean["feature"]) == {"amount", "age", "plan"}
    assert clean.groupby("feature")["rows"].sum().to_dict() == {"amount": 1000, "age": 1000, "plan": 1000}
    assert clean[["missing", "unseen_category", "type_mismatch"]].to_numpy().sum() == 0
    assert clean["out_of_range"].sum() <= 3  # a fresh sample rarely leaves the training range
    assert not firing(monitored, name) & QUALITY_RULES

    # When 300 amounts are missing, 200 plans are new and 500 ages are out of range
    bad = customers(rng, 1000)
    bad.loc[:299, "amount"] = np.nan
    bad.loc[300:499, "plan"] = "enterprise"
    bad.loc[500:, "age"] = 400.0
    monitored.send(bad, to=name)

    # Then each is counted for its feature (over the window's buckets) ...
    report = mlops.monitor(name, "15m")
    totals = report.data_quality.groupby("feature")[["rows", "missing", "out_of_range", "unseen_category"]].sum()
    assert totals.loc["amount", "missing"] == 300 and totals.loc["amount", "rows"] == 2000
    assert totals.loc["plan", "unseen_category"] == 200
    assert totals.loc["age", "out_of_range"] >= 500
    assert totals.loc["age", "missing"] == 0 and totals.loc["plan", "missing"] == 0
    # ... the rates are per bucket
    row = report.data_quality[report.data_quality["missing"] > 0].iloc[0]
    assert row["missing_rate"] == pytest.approx(row["missing"] / row["rows"])
    # ... and each fires its default alert
    assert {"missing-values", "out-of-range", "unseen-categories"} <= firing(monitored, name)


def test_strings_in_a_numeric_column_are_type_mismatches_and_alert(monitored, quality_model) -> None:
    """A model without a signature check lets a string through; the log then stores the column as text.

    The daemon's signature enforcement refuses such a request before it is logged, so the batch is written here
    through the writer's own path (``MonitoringStore.write_batch``), as the daemon writes it.
    """
    mlops, name = monitored.mlops, "dq-types"
    mlops.deploy(quality_model, name)
    rows = customers(np.random.default_rng(23), 100).astype({"amount": object})
    rows.loc[:9, "amount"] = "n/a"
    rows.loc[10:14, "amount"] = None
    now = time.time()
    record = LoggedRequest(
        request_id=f"dq-types-{now}",
        deployment=name,
        variant="default",
        model_version="1",
        time=now,
        latency_ms=1.0,
        status=200,
        inputs=rows,
    )
    mlops.monitoring.store.write_batch([record])

    report = mlops.monitor(name, "15m")
    amount = report.data_quality[report.data_quality["feature"] == "amount"].sum(numeric_only=True)
    assert (amount["rows"], amount["type_mismatch"], amount["missing"]) == (100, 10, 5)
    assert "type-mismatch" in firing(monitored, name)


async def test_report_json_carries_data_quality(api, monitored, quality_model) -> None:
    name = "dq-problems"
    if name not in [d.name for d in monitored.mlops.deployments()]:
        monitored.mlops.deploy(quality_model, name)
        monitored.send(customers(np.random.default_rng(24), 200), to=name)
    status, report = await api("GET", "deployments", name, "monitoring", params={"window": "15m"})
    assert status == 200 and report["data_quality"]
    assert {"time", "feature", "rows", "missing_rate", "out_of_range_rate", "unseen_category_rate"} <= set(
        report["data_quality"][0]
    )
