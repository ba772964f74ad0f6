"""Multivariate drift through the real daemon: a flipped correlation that no per-feature test can see.

Training data has two strongly correlated features (a, b) and two independent ones; live traffic to one deployment
is a fresh sample of that distribution, to the other the same marginals with the correlation of a and b flipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.core.monitoring import multivariate

from .conftest import Monitored

RHO = 0.9


def correlated_rows(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    """a and b standard normal with correlation ``rho``; c and d independent standard normals."""
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": rng.normal(size=n), "d": rng.normal(size=n)})


@dataclass
class Traffic:
    calm: str
    flipped: str


@pytest.fixture(scope="module")
def traffic(monitored: Monitored) -> Traffic:
    """One model trained on correlated data, two deployments of it: same-distribution and flipped traffic."""
    mlops = monitored.mlops
    rng = np.random.default_rng(11)
    X = correlated_rows(rng, 4000, RHO)
    y = (X["c"] - X["d"] + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)  # the label ignores a and b
    version = mlops.register(LogisticRegression().fit(X, y), "mv-model", X, y)
    names = Traffic(calm="mv-calm", flipped="mv-flipped")
    mlops.deploy(f"mv-model/{version.version}", names.calm)
    mlops.deploy(f"mv-model/{version.version}", names.flipped)
    monitored.send(correlated_rows(rng, 2000, RHO), to=names.calm)
    monitored.send(correlated_rows(rng, 2000, -RHO), to=names.flipped)
    return names


def test_flipped_correlation_drifts_multivariately_while_every_feature_stays_quiet(monitored, traffic) -> None:
    mlops = monitored.mlops
    # Given traffic whose marginals are those of training but whose a-b correlation is flipped
    report = mlops.monitor(traffic.flipped, "15m")

    # Then no per-feature test sees it (nor the prediction's)
    assert list(report.drift["feature"]) == ["a", "b", "c", "d"]
    assert not report.drift["drifted"].any(), report.drift
    assert report.prediction_drift is None or not report.prediction_drift["drifted"]
    # ... but the reconstruction error leaves the reference's band in every bucket with traffic
    points = report.multivariate_drift
    assert list(points.columns) == ["time", "rows", "reconstruction_error", "lower", "upper", "drifted"]
    assert points["rows"].sum() == 2000
    assert points["drifted"].all(), points
    assert (points["reconstruction_error"] > points["upper"]).all()

    # ... and an alert rule on it fires through the alert machinery
    rule = {"name": "mv", "metric": "multivariate_drift", "op": ">=", "threshold": 1, "window": "15m"}
    mlops.alert_rules(traffic.flipped, [rule])
    alerts = mlops.monitor(traffic.flipped, "15m").data["alerts"]  # a report evaluates the rules first
    assert "mv" in [a["rule"] for a in alerts if a["state"] == "firing"]


def test_a_sample_of_the_reference_distribution_stays_inside_the_band(monitored, traffic) -> None:
    report = monitored.mlops.monitor(traffic.calm, "15m")
    points = report.multivariate_drift
    assert points["rows"].sum() == 2000
    assert not points["drifted"].any(), points
    assert (
        (points["lower"] <= points["reconstruction_error"]) & (points["reconstruction_error"] <= points["upper"])
    ).all()
    assert not report.drift["drifted"].any()


def test_the_pca_keeps_enough_components_for_65_percent_and_errors_match_a_direct_computation(
    monitored, traffic
) -> None:
    mlops = monitored.mlops
    version = mlops.deployment(traffic.calm).model_version
    pca = mlops.monitoring.reference_pca("mv-model", version)
    assert pca is not None and pca.explained >= 0.65 and pca.components.shape == (2, 4)
    # the band's centre is the reference's own error on rows the PCA did not see
    reference = multivariate.reference_frame(mlops.monitoring.baseline("mv-model", version))
    assert reference is not None and len(reference) == 2000
    # the streamed per-bucket means equal the mean error of the logged rows computed from a DataFrame
    rows = mlops.monitoring.store.data(traffic.flipped, 0, float("inf"))
    live = rows[[c for c in rows.columns if c.startswith("in.")]].rename(columns=lambda c: c[3:])
    points = mlops.monitor(traffic.flipped, "15m").multivariate_drift
    streamed = (points["reconstruction_error"] * points["rows"]).sum() / points["rows"].sum()
    assert streamed == pytest.approx(multivariate.frame_errors(pca, live).mean(), rel=1e-9)


async def test_report_json_carries_multivariate_drift(api, traffic) -> None:
    status, report = await api("GET", "deployments", traffic.flipped, "monitoring", params={"window": "15m"})
    assert status == 200
    assert report["multivariate_drift"] and all(p["drifted"] for p in report["multivariate_drift"])
    assert set(report["multivariate_drift"][0]) == {"time", "rows", "reconstruction_error", "lower", "upper", "drifted"}
