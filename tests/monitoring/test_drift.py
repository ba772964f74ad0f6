"""Drift statistics on known distributions (scipy's implementations, our thresholds and verdicts)."""

from __future__ import annotations

import subprocess
import sys

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
    assert by_name["plan"]["statistic"] == "chisquare" and by_name["plan"]["chisquare"] < 1e-6
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
    strict = dataset_drift(
        profile, live, DriftSettings(numeric_statistic="wasserstein", thresholds={"wasserstein": 0.01})
    )
    lenient = dataset_drift(
        profile, live, DriftSettings(numeric_statistic="wasserstein", thresholds={"wasserstein": 5.0})
    )
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
    with pytest.raises(InvalidRequest, match="ks must be between 0 and 1"):
        DriftSettings(thresholds={"ks": 5.0})
    with pytest.raises(InvalidRequest, match="drift_share"):
        DriftSettings(drift_share=0)
    with pytest.raises(InvalidRequest, match="correction"):
        DriftSettings(correction="holm-ish")


# --- calibration: how often a window from the training distribution is flagged (issue #20) -------------------


def _demo_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo notebook's data: breast cancer's first ten features, a 70/30 split drawn with ``seed``."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :10]
    X.columns = [c.replace(" ", "_") for c in X.columns]
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=seed)
    return X_train, X_test


def _demo_shift(X_test: pd.DataFrame) -> pd.DataFrame:
    shifted = X_test.copy()
    shifted["mean_texture"] *= 1.8
    shifted["mean_area"] *= 2.5
    return shifted


SEEDS = range(60)


def test_held_out_data_in_the_demos_amounts_flags_at_most_one_feature_in_twenty() -> None:
    # Given the demo's baseline (its training split) and live traffic from its held-out split, sent as the demo
    # sends it: once, then three times more during the canary (the same rows repeated)
    flagged = tested = 0
    for seed in SEEDS:
        X_train, X_test = _demo_split(seed)
        profile = build_profile(X_train)
        for live in (X_test, pd.concat([X_test] * 4), pd.concat([X_test] * 7)):
            report = dataset_drift(profile, live, DriftSettings())
            flagged += sum(f["drifted"] for f in report["features"])
            tested += len(report["features"])
    # Then on average at most one feature in twenty is flagged
    assert tested == len(SEEDS) * 3 * 10
    assert flagged / tested <= 1 / 20, f"false-positive rate {flagged / tested:.3f}"


def test_fresh_draws_of_the_training_distribution_are_calibrated_at_every_size(training) -> None:
    # Given windows of independent draws from the training distribution, small to large
    profile = build_profile(training)
    flagged = tested = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        for n in (50, 400, 3000):
            live = pd.DataFrame(
                {
                    "amount": rng.lognormal(3, 1, n),
                    "age": rng.integers(18, 90, n),
                    "plan": rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
                    "active": rng.random(n) < 0.8,
                }
            )
            report = dataset_drift(profile, live, DriftSettings())
            flagged += sum(f["drifted"] for f in report["features"])
            tested += len(report["features"])
    # Then the false-positive rate stays at most one in twenty, whatever the window's size
    assert flagged / tested <= 1 / 20, f"false-positive rate {flagged / tested:.3f}"


def test_the_demo_flags_exactly_the_features_it_shifts() -> None:
    # Given the demo's traffic: the held-out split four times, then with two features shifted three times
    X_train, X_test = _demo_split(0)
    live = pd.concat([X_test] * 4 + [_demo_shift(X_test)] * 3)
    report = dataset_drift(build_profile(X_train), live, DriftSettings())
    by_name = {f["feature"]: f for f in report["features"]}
    # Then exactly the shifted features drift, judged by KS at the Bonferroni-corrected level
    assert {n for n, f in by_name.items() if f["drifted"]} == {"mean_texture", "mean_area"}
    assert all(f["statistic"] == "ks" and f["threshold"] == pytest.approx(0.05 / 10) for f in by_name.values())
    assert all(f["alpha"] == 0.05 for f in by_name.values())
    # ... counting the distinct rows sent, not the repeated requests
    assert report["rows"] == 7 * len(X_test) and report["distinct_rows"] == 2 * len(X_test)
    assert by_name["mean_texture"]["effective_rows"] == 2 * len(X_test)
    assert by_name["mean_radius"]["effective_rows"] <= len(X_test) * 1.2
    # And over other splits the shifted features are always flagged
    for seed in range(1, 20):
        X_train, X_test = _demo_split(seed)
        live = pd.concat([X_test] * 4 + [_demo_shift(X_test)] * 3)
        drifted = {
            f["feature"]
            for f in dataset_drift(build_profile(X_train), live, DriftSettings())["features"]
            if f["drifted"]
        }
        assert {"mean_texture", "mean_area"} <= drifted, (seed, drifted)


def test_repeating_a_window_does_not_make_it_drift(training) -> None:
    # Given a small window from the training distribution, and the same rows sent 50 times
    profile = build_profile(training[["amount"]])
    once = pd.DataFrame({"amount": np.random.default_rng(7).lognormal(3, 1, 80)})
    repeated = pd.concat([once] * 50)
    # Then the test sees the same evidence both times
    a, b = (dataset_drift(profile, w, DriftSettings())["features"][0] for w in (once, repeated))
    assert a["ks"] == pytest.approx(b["ks"]) and b["effective_rows"] == 80 and not b["drifted"]
    # ... while without the correction for repeats (every row counted) the p-value would be far smaller
    from scipy import stats

    naive = stats.ks_2samp(np.asarray(profile["features"]["amount"]["sample"]), repeated["amount"]).pvalue
    assert naive < b["ks"]


def test_large_windows_are_judged_on_a_bounded_sample(training) -> None:
    profile = build_profile(training[["amount"]])
    live = pd.DataFrame({"amount": np.random.default_rng(3).lognormal(3, 1, 5000)})
    result = dataset_drift(profile, live, DriftSettings(max_sample=1000))
    assert (result["rows"], result["sampled"]) == (5000, 1000)
    assert sum(result["features"][0]["live"]["counts"]) == 1000


def test_the_serving_daemon_does_not_import_scipy_until_drift_is_computed() -> None:
    # The workers read DriftSettings through the deployment config; SciPy's statistics are about a second of
    # imports (and memory) that a worker serving a model which does not need SciPy would otherwise pay.
    code = (
        "import sys; import numpy as np; import jupyter_mlops.serving.daemon; before = 'scipy' in sys.modules; "
        "from jupyter_mlops.core.monitoring.drift import _ks_pvalues; "
        "p = _ks_pvalues([(0.5, 100)]); print(before, 'scipy.stats' in sys.modules, 0 < p[0] < 1e-9)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"]  # imported on first use, and the statistic is computed
