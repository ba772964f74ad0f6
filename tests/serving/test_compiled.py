"""The compiled predictor (serving/compiled.py): real Treelite imports, real GCC builds, real scikit-learn models.

Given a tree ensemble, when it is compiled, then it answers exactly as scikit-learn's ``predict`` on rows the gate
never saw, including rows that sit on the trees' thresholds (where a float32/float64 mix-up would show); the gate
refuses a compiled model that answers otherwise; and a real daemon serves a registered version with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn import ensemble
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.core.targets.local import LocalTarget
from jupyter_mlops.serving import compiled
from jupyter_mlops.serving.protocol import ArrayPredict

from ..waiting import wait_until
from .conftest import Deploy, RegisteredVersion, daemon_url, metrics_text

pytestmark = pytest.mark.skipif(compiled.compiler() is None, reason="no C compiler on this host")

RNG = np.random.default_rng(7)
X_TRAIN = RNG.normal(size=(600, 6))
X_NEW = RNG.normal(size=(400, 6)) * 1.5
BINARY = (X_TRAIN[:, 0] + X_TRAIN[:, 1] * X_TRAIN[:, 2] > 0).astype(int)
THREE = np.digitize(X_TRAIN[:, 0] - X_TRAIN[:, 3], [-0.7, 0.7])
VALUE = 3 * X_TRAIN[:, 0] + X_TRAIN[:, 1] ** 2 - X_TRAIN[:, 4]

CASES = {
    "gradient boosting, 2 classes": (ensemble.GradientBoostingClassifier(n_estimators=40, random_state=0), BINARY),
    "gradient boosting, 3 string classes": (
        ensemble.GradientBoostingClassifier(n_estimators=20, random_state=0),
        np.array(["low", "mid", "high"])[THREE],
    ),
    "gradient boosting regressor": (ensemble.GradientBoostingRegressor(n_estimators=40, random_state=0), VALUE),
    "random forest, 2 classes": (ensemble.RandomForestClassifier(10, max_depth=5, random_state=0), BINARY),
    "extra trees, 3 classes": (ensemble.ExtraTreesClassifier(10, max_depth=5, random_state=0), THREE),
    "random forest regressor": (ensemble.RandomForestRegressor(10, max_depth=6, random_state=0), VALUE),
    "histogram boosting, 2 classes": (ensemble.HistGradientBoostingClassifier(max_iter=30, random_state=0), BINARY),
    "histogram boosting, 3 classes": (ensemble.HistGradientBoostingClassifier(max_iter=15, random_state=0), THREE),
    "histogram boosting regressor": (ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0), VALUE),
}


def on_thresholds(estimator: object) -> np.ndarray:
    """Rows whose features sit exactly on split thresholds and on their float32 neighbours: the values where
    comparing in another precision than scikit-learn's would send a row down the other branch."""
    if hasattr(estimator, "_predictors"):
        splits = [(int(n["feature_idx"]), float(n["num_threshold"])) for stage in estimator._predictors
                  for tree in stage for n in tree.nodes if not n["is_leaf"]]  # fmt: skip
    else:
        splits = [(int(f), float(t)) for tree in np.ravel(estimator.estimators_)  # type: ignore[attr-defined]
                  for f, t in zip(tree.tree_.feature, tree.tree_.threshold, strict=True) if f >= 0]  # fmt: skip
    rows = []
    for i, (feature, threshold) in enumerate(splits[:300]):
        t32 = np.float32(threshold)
        for value in (threshold, float(t32), float(np.nextafter(t32, np.float32(np.inf))),
                      float(np.nextafter(t32, np.float32(-np.inf)))):  # fmt: skip
            row = X_NEW[i % len(X_NEW)].copy()
            row[feature] = value
            rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("case", list(CASES))
def test_a_compiled_ensemble_answers_as_scikit_learn_on_rows_the_gate_never_saw(case: str, tmp_path: Path) -> None:
    estimator, y = CASES[case]
    estimator.fit(X_TRAIN, y)  # type: ignore[attr-defined]

    outcome = compiled.compile_model(estimator, tmp_path, [X_TRAIN[:100]])

    assert outcome.model is not None, outcome.detail
    assert "same answers as scikit-learn on 100 rows" in outcome.detail
    for rows in (X_NEW, on_thresholds(estimator)):
        expected = estimator.predict(rows)  # type: ignore[attr-defined]
        served = outcome.model.predict(rows)
        assert served.dtype == expected.dtype
        if outcome.model.rule == "regressor":
            np.testing.assert_allclose(served, expected, rtol=compiled.VALUE_TOLERANCE, atol=0)
        else:
            assert served.tolist() == expected.tolist()


def test_the_gate_refuses_a_compiled_model_that_answers_otherwise(tmp_path: Path) -> None:
    first = ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X_TRAIN, BINARY)
    other = ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X_TRAIN, 1 - BINARY)
    model = compiled.compile_model(first, tmp_path, [X_TRAIN]).model
    assert model is not None

    difference = compiled.gate(other, model, [X_TRAIN])

    assert difference is not None and re.match(r"600 of 600 rows differ \(row 0: ", difference), difference
    assert compiled.gate(first, model, [X_TRAIN]) is None


def test_a_second_worker_reuses_the_compiled_library(tmp_path: Path) -> None:
    estimator = ensemble.GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X_TRAIN, VALUE)

    first = compiled.compile_model(estimator, tmp_path, [X_TRAIN])
    second = compiled.compile_model(estimator, tmp_path, [X_TRAIN])

    assert first.model is not None and first.model.compiled_now and first.detail.startswith("compiled;")
    assert second.model is not None and not second.model.compiled_now
    assert second.detail.startswith("cached library;")
    assert [p.suffix for p in tmp_path.glob("*.so")] == [".so"]


def test_models_it_cannot_prove_or_compile_keep_scikit_learn(tmp_path: Path) -> None:
    linear = LogisticRegression().fit(X_TRAIN, BINARY)
    deep = ensemble.RandomForestRegressor(40, random_state=0).fit(X_TRAIN, VALUE)  # unpruned: thousands of nodes
    small = ensemble.RandomForestRegressor(2, max_depth=2, random_state=0).fit(X_TRAIN, VALUE)

    assert compiled.compile_model(linear, tmp_path, [X_TRAIN]).detail == (
        "LogisticRegression is not a tree ensemble TL2cgen compiles"
    )
    assert re.fullmatch(r"[\d,]+ tree nodes is more than 12,000 \(compiling would take too long\)",
                        compiled.compile_model(deep, tmp_path, [X_TRAIN]).detail)  # fmt: skip
    assert compiled.compile_model(small, tmp_path, []).model is None  # nothing to prove it on: not served
    assert list(tmp_path.glob("*.so")) == []


def test_input_scikit_learn_refuses_still_gets_its_error(tmp_path: Path) -> None:
    estimator = ensemble.RandomForestClassifier(5, max_depth=3, random_state=0).fit(X_TRAIN, BINARY)
    fast = ArrayPredict(estimator)
    fast.compiled = compiled.compile_model(estimator, tmp_path, [X_TRAIN]).model
    assert fast.compiled is not None
    too_large = pd.DataFrame([[1e39] + [0.0] * 5])  # finite in float64, infinite in scikit-learn's float32

    with pytest.raises(ValueError, match="too large for dtype"):
        fast(too_large)
    assert fast(pd.DataFrame(X_NEW)).tolist() == estimator.predict(X_NEW).tolist()


def test_the_daemon_serves_a_registered_version_with_its_compiled_predictor(
    deploy: Deploy, registered_model: RegisteredVersion, local_target: LocalTarget, http: httpx.Client
) -> None:
    deploy("compiled-gb")
    url = f"{daemon_url(local_target)}/deployments/compiled-gb/invocations"
    X = registered_model.X

    def served_compiled() -> float:
        found = re.search(r'^mlops_compiled_models_total\{outcome="served"\} (\S+)$',
                          metrics_text(http, local_target), re.M)  # fmt: skip
        return float(found.group(1)) if found else 0.0

    wait_until(lambda: served_compiled() >= 1, timeout=60, message="no compiled predictor was served")
    for _ in range(4):  # both serving workers answer some of these
        body = {"dataframe_split": {"columns": list(X.columns), "data": X.to_numpy().tolist()}}
        response = http.post(url, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == registered_model.expected(X)
