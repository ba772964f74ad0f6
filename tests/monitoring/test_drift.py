"""Drift statistics on known distributions (scipy's implementations, our thresholds and verdicts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.monitoring.baseline import build_profile
from jupyter_mlops.core.monitoring.drift import DriftSettings, dataset_drift


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, 5000),
            "age": rng.integers(18, 90, 5000),
            "plan": rng.choice(["free", "pro", "team"], 5000, p=[0.6, 0.3, 0.1]),
            "active": rng.random(5000) < 0.8,
        }
    )


def test_profile_types_and_missing_rate(training) -> None:
    frame = training.copy()
    frame.loc[:99, "amount"] = np.nan
    profile = build_profile(frame, predictions=np.arange(len(frame)) % 3)  # class labels
    types = {k: v["type"] for k, v in profile["features"].items()}
    assert types == {"amount": "numeric", "age": "numeric", "plan": "categorical", "active": "categorical"}
    assert profile["features"]["amount"]["missing_rate"] == pytest.approx(100 / 5000)
    assert set(profile["features"]["plan"]["frequencies"]) == {"free", "pro", "team"}
    assert profile["prediction"]["type"] == "categorical"


def test_same_distribution_does_not_drift_and_shifted_ones_do(training) -> None:
    profile = build_profile(training)
    rng = np.random.default_rng(1)
    same = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, 3000),
            "age": rng.integers(18, 90, 3000),
            "plan": rng.choice(["free", "pro", "team"], 3000, p=[0.6, 0.3, 0.1]),
            "active": rng.random(3000) < 0.8,
        }
    )
    calm = dataset_drift(profile, same, DriftSettings())
    assert [f["drifted"] for f in calm["features"]] == [False] * 4 and not calm["drifted"]

    shifted = same.assign(plan=rng.choice(["free", "pro", "team"], 3000, p=[0.2, 0.3, 0.5]), age=same["age"] + 20)
    report = dataset_drift(profile, shifted, DriftSettings())
    by_name = {f["feature"]: f for f in report["features"]}
    assert {n for n, f in by_name.items() if f["drifted"]} == {"plan", "age"}
    assert by_name["plan"]["statistic"] == "jensenshannon" and by_name["plan"]["chisquare"] < 1e-6
    assert report["share"] == 0.5 and report["drifted"]


@pytest.mark.parametrize("statistic", ["ks", "psi", "wasserstein"])
def test_each_numeric_statistic_can_judge(training, statistic) -> None:
    profile = build_profile(training[["amount"]])
    live = pd.DataFrame({"amount": np.random.default_rng(2).lognormal(3.6, 1, 3000)})
    result = dataset_drift(profile, live, DriftSettings(numeric_statistic=statistic))
    assert result["features"][0]["statistic"] == statistic and result["features"][0]["drifted"]


def test_thresholds_are_configurable(training) -> None:
    profile = build_profile(training[["amount"]])
    live = pd.DataFrame({"amount": np.random.default_rng(2).lognormal(3.1, 1, 3000)})
    strict = dataset_drift(profile, live, DriftSettings(thresholds={"wasserstein": 0.01}))
    lenient = dataset_drift(profile, live, DriftSettings(thresholds={"wasserstein": 5.0}))
    assert strict["features"][0]["drifted"] and not lenient["features"][0]["drifted"]


def test_unseen_categories_count_as_other_and_too_few_rows_give_no_verdict(training) -> None:
    profile = build_profile(training[["plan"]])
    unseen = dataset_drift(profile, pd.DataFrame({"plan": ["enterprise"] * 500}), DriftSettings())
    assert unseen["features"][0]["drifted"] and "__other__" in unseen["features"][0]["live"]["bins"]
    few = dataset_drift(profile, pd.DataFrame({"plan": ["free"] * 5}), DriftSettings())
    assert few["features"][0]["value"] is None and not few["drifted"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        DriftSettings(numeric_statistic="chisquare")
    with pytest.raises(InvalidRequest):
        DriftSettings(thresholds={"nope": 1.0})


def test_large_windows_are_judged_on_a_bounded_sample(training) -> None:
    profile = build_profile(training[["amount"]])
    live = pd.DataFrame({"amount": np.random.default_rng(3).lognormal(3, 1, 5000)})
    result = dataset_drift(profile, live, DriftSettings(max_sample=1000))
    assert (result["rows"], result["sampled"]) == (5000, 1000)
    assert sum(result["features"][0]["live"]["counts"]) == 1000
