"""Monitoring figures checked against a direct computation, so they cannot pass if the feature were removed.

Real MLflow, a real serving daemon logging every request, our store: latency percentiles against numpy over the
logged requests, regression metrics and ROC AUC against scikit-learn on the labels sent, prediction drift when
the inputs move the model's outputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor

from .conftest import make_rows, true_labels


def test_latency_percentiles_are_those_of_the_logged_requests(monitored) -> None:
    # Given a deployment of its own with some traffic
    mlops, name = monitored.mlops, "latency"
    mlops.deploy("shop-model/1", name)
    try:
        monitored.send(make_rows(np.random.default_rng(11), 2000), per_request=20, to=name)
        report = mlops.monitor(name, "1h")
        # Then the summary's percentiles are numpy's over the logged latencies of the window
        logged = mlops.monitoring.store.requests(name, 0, 2e9)
        live = logged[~logged["shadow"].astype(bool)]["latency_ms"].to_numpy(dtype=float)
        assert report.summary["requests"] == len(live) == 100
        p50, p95, p99 = np.percentile(live, [50, 95, 99])
        assert report.summary["p50_ms"] == pytest.approx(p50)
        assert report.summary["p95_ms"] == pytest.approx(p95)
        assert report.summary["p99_ms"] == pytest.approx(p99)
        assert p50 < p99  # real latencies vary: equal figures would prove nothing
        # ... and every point of the series is the same computation over its bucket
        ops = report.ops
        assert ops["requests"].sum() == len(live)
        assert ops["p95_ms"].max() <= live.max() and ops["p50_ms"].min() >= live.min()
    finally:
        mlops.undeploy(name)


def test_prediction_drift_follows_the_models_outputs(monitored) -> None:
    mlops, name = monitored.mlops, "prediction-drift"
    mlops.deploy("shop-model/1", name)
    try:
        rng = np.random.default_rng(12)
        # Given traffic from the training distribution: the predictions look like training's
        monitored.send(make_rows(rng, 1500), to=name)
        calm = mlops.monitor(name, "1h").data["drift"]["prediction"]
        assert calm["statistic"] == "chisquare" and not calm["drifted"], calm
        # When inputs move so that the model answers 1 far more often
        monitored.send(make_rows(rng, 1500, shift={"a": 2.5, "b": 2.5}), to=name)
        after = mlops.monitor(name, "1h")
        prediction = after.data["drift"]["prediction"]
        # Then the prediction distribution drifts, with its live counts showing the move to class 1
        assert prediction["drifted"] and prediction["value"] < 1e-6, prediction
        live = dict(zip(prediction["live"]["bins"], prediction["live"]["counts"], strict=True))
        assert live["1"] > 2 * live["0"]
        # ... and the prediction-drift alert fires
        assert "prediction-drift" in [a["rule"] for a in mlops.alerts(name) if a["state"] == "firing"]
    finally:
        mlops.undeploy(name)


def _feedback_round(monitored, name: str, model, rows: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    ids = monitored.send(rows, to=name)
    sent = dict(monitored.sent)
    labels, offset = [], 0
    for request_id in ids:
        n = len(sent[request_id])
        labels.append(truth[offset : offset + n].tolist())
        offset += n
    assert monitored.mlops.feedback(name, ids, labels)["accepted"] == len(ids)
    return monitored.mlops.monitor(name, "1h").data["performance_summary"]


def test_regression_metrics_from_feedback_are_sklearns(monitored) -> None:
    # Given a regressor deployed and labels for every row it answered
    rng = np.random.default_rng(13)
    X = make_rows(rng, 2000)
    model = LinearRegression().fit(X, X["a"] + 2 * X["b"] + rng.normal(scale=0.5, size=len(X)))
    version = monitored.mlops.register(model, "shop-regressor", X)
    name = "regressor"
    monitored.mlops.deploy(f"shop-regressor/{version.version}", name)
    try:
        rows = make_rows(rng, 600)
        truth = (rows["a"] + 2 * rows["b"] + rng.normal(scale=0.5, size=len(rows))).to_numpy()
        summary = _feedback_round(monitored, name, model, rows, truth)
        # Then RMSE and MAE are scikit-learn's on the model's own predictions
        predicted = model.predict(rows)
        assert summary["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, predicted)), rel=1e-6)
        assert summary["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted), rel=1e-6)
        assert "accuracy" not in summary and 0.3 < summary["rmse"] < 0.8
    finally:
        monitored.mlops.undeploy(name)


def test_roc_auc_from_feedback_on_a_scoring_model(monitored) -> None:
    # Given a model answering scores in [0, 1] (the share of positive neighbours) and 0/1 labels
    rng = np.random.default_rng(14)
    X = make_rows(rng, 2000)
    y = true_labels(X, rng)
    model = KNeighborsRegressor(n_neighbors=15).fit(X, y)
    version = monitored.mlops.register(model, "shop-scorer", X)
    name = "scorer"
    monitored.mlops.deploy(f"shop-scorer/{version.version}", name)
    try:
        rows = make_rows(rng, 600)
        truth = true_labels(rows, rng)
        summary = _feedback_round(monitored, name, model, rows, truth)
        # Then ROC AUC, accuracy and F1 at 0.5 are scikit-learn's on the served scores
        scores = model.predict(rows)
        assert summary["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth, scores), rel=1e-9)
        assert summary["accuracy"] == pytest.approx(metrics.accuracy_score(truth, scores >= 0.5), rel=1e-9)
        assert summary["f1"] == pytest.approx(metrics.f1_score(truth, scores >= 0.5), rel=1e-9)
        assert 0.7 < summary["roc_auc"] < 1.0
    finally:
        monitored.mlops.undeploy(name)
