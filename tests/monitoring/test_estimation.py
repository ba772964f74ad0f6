"""Performance estimated without labels (issue 16, items 1-2): reference sets, CBPE, DLE, health, alerts, REST.

Real MLflow store, real serving daemon (the session's, from ``conftest.py``), real HTTP: live traffic goes through
the daemon without labels; the test alone knows the true labels and computes the realized metrics to compare with.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.monitoring.estimation import MIN_ADAPT_ROWS, ClassifierEstimator, estimate_window
from jupyter_mlops.core.monitoring.reference import REFERENCE_ARTIFACT, Reference, load_reference

from ..shell import ipython_shell
from .conftest import Monitored

FEATURES = [f"f{i}" for i in range(6)]
LIVE_PER_REQUEST = 300  # rows per request of the classifier's live traffic (ten requests, not thirty round trips)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Scenario:
    """A deployed classifier with a reference set, and the live traffic sent to it without labels."""

    deployment: str
    model_name: str
    model: Any
    ids: list[str]
    live_labels: list[list[int]]
    realized_accuracy: float
    reference_accuracy: float


def _send(monitored: Monitored, name: str, rows: pd.DataFrame, per_request: int = 100) -> list[str]:
    return monitored.send(rows.reset_index(drop=True), per_request=per_request, to=name)


@pytest.fixture(scope="module")
def classifier(monitored: Monitored) -> Scenario:
    """make_classification (24,000 rows), a logistic regression; reference = held-out rows; live = shifted rows."""
    X_all, y_all = make_classification(
        n_samples=24_000, n_features=6, n_informative=4, n_redundant=0, flip_y=0.05, random_state=3
    )
    X = pd.DataFrame(X_all, columns=FEATURES)
    train, ref, hold = slice(0, 8_000), slice(8_000, 14_000), slice(14_000, 24_000)
    model = LogisticRegression(max_iter=1_000).fit(X[train], y_all[train])
    name = _unique("estim-clf")
    mlops = monitored.mlops
    mlops.register(model, name, X[train], y_all[train], reference=(X[ref], y_all[ref]))
    deployment = _unique("estim-clf")
    mlops.deploy(name, deployment)
    # Covariate shift: live rows are drawn towards the region near the decision boundary (a choice on X only),
    # where the model is less sure and less often right.
    X_hold, y_hold = X[hold].reset_index(drop=True), y_all[hold]
    margin = np.abs(model.decision_function(X_hold))
    weights = np.exp(-1.5 * margin)
    picked = np.random.default_rng(11).choice(len(X_hold), 3_000, replace=False, p=weights / weights.sum())
    live, truth = X_hold.iloc[picked].reset_index(drop=True), y_hold[picked]
    ids = _send(monitored, deployment, live, per_request=LIVE_PER_REQUEST)
    labels = [truth[i : i + LIVE_PER_REQUEST].tolist() for i in range(0, len(truth), LIVE_PER_REQUEST)]
    return Scenario(
        deployment=deployment,
        model_name=name,
        model=model,
        ids=ids,
        live_labels=labels,
        realized_accuracy=float(accuracy_score(truth, model.predict(live))),
        reference_accuracy=float(accuracy_score(y_all[ref], model.predict(X[ref]))),
    )


def test_reference_set_is_stored_with_the_version(monitored: Monitored, classifier: Scenario) -> None:
    # given a version registered with reference=(X_ref, y_ref)
    version = monitored.mlops.registry.versions(classifier.model_name)[0]
    # then the version's run holds it as an artifact, tagged on the version, and it reads back with its labels
    assert REFERENCE_ARTIFACT in version.tags["mlops.reference"]
    reference = load_reference(monitored.mlops.registry, classifier.model_name, version.version)
    assert reference is not None
    assert list(reference.features.columns) == FEATURES
    assert reference.rows == 6_000 and len(reference.labels) == 6_000


def test_accuracy_estimated_without_labels(monitored: Monitored, classifier: Scenario) -> None:
    # given live traffic whose accuracy moved at least 5 points from the reference's, sent without labels
    assert abs(classifier.realized_accuracy - classifier.reference_accuracy) >= 0.05
    # when the deployment is monitored
    report = monitored.mlops.monitor(classifier.deployment, "1h")
    estimation = report.estimation
    # then the accuracy estimated from the logged inputs is within 3 points of the realized one, inside its band
    assert estimation.available, estimation.reason
    assert estimation.method == "CBPE"
    accuracy = estimation.summary["accuracy"]
    error = accuracy.estimate - classifier.realized_accuracy
    print(
        f"\nCBPE make_classification: reference accuracy {classifier.reference_accuracy:.4f}, realized "
        f"{classifier.realized_accuracy:.4f}, estimated {accuracy.estimate:.4f} "
        f"[{accuracy.lower:.4f}, {accuracy.upper:.4f}], error {error * 100:+.2f} points"
    )
    assert abs(error) <= 0.03
    assert accuracy.lower is not None and accuracy.upper is not None
    assert accuracy.lower <= classifier.realized_accuracy <= accuracy.upper
    # and every metric has a point per bucket with its band, nothing realized yet
    frame = report.estimated_performance
    assert list(frame.columns) == ["time", "metric", "estimate", "lower", "upper", "realized"]
    assert set(frame["metric"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert (frame["lower"] <= frame["estimate"]).all() and (frame["estimate"] <= frame["upper"]).all()
    assert frame["realized"].isna().all()
    # and the health score uses the estimate, since the window has no labels
    assert report.health.components.performance == pytest.approx(accuracy.estimate)
    # (for the record: what estimation adds to a report, once the model and its calibration are cached)
    deployment = monitored.mlops.deployment(classifier.deployment)
    now = time.time()
    took = []
    for _ in range(3):
        began = time.perf_counter()
        monitored.mlops.monitoring.estimate(deployment, now - 3600, now, 120.0)
        took.append(time.perf_counter() - began)
    print(f"estimation of {estimation.rows} logged rows: median {sorted(took)[1] * 1000:.0f} ms (loaded machine)")


def test_alert_rule_fires_on_an_estimated_metric(monitored: Monitored, classifier: Scenario) -> None:
    # given a rule on the estimated accuracy whose threshold the estimate is below
    mlops = monitored.mlops
    report = mlops.monitor(classifier.deployment, "1h")
    estimate = report.estimation.summary["accuracy"].estimate
    rule = {"name": "est-acc", "metric": "estimated_accuracy", "op": "<", "threshold": estimate + 0.05, "window": "1h"}
    mlops.alert_rules(classifier.deployment, [rule])
    # when the rules are evaluated (a report evaluates them)
    alerts = mlops.monitor(classifier.deployment, "1h").data["alerts"]
    # then it fires with the estimated value
    fired = [a for a in alerts if a["rule"] == "est-acc" and a["state"] == "firing"]
    assert fired and fired[0]["value"] == pytest.approx(estimate, abs=1e-3)
    mlops.alert_rules(classifier.deployment, [])


def test_feedback_fills_realized(monitored: Monitored, classifier: Scenario) -> None:
    # given the true labels sent afterwards with feedback()
    mlops = monitored.mlops
    mlops.feedback(classifier.deployment, classifier.ids, classifier.live_labels)
    # when the deployment is monitored again
    report = mlops.monitor(classifier.deployment, "1h")
    # then `realized` is filled per bucket, and over the window it is the accuracy the test computed
    frame = report.estimated_performance
    accuracy_rows = frame[frame["metric"] == "accuracy"]
    assert accuracy_rows["realized"].notna().all()
    summary = report.estimation.summary["accuracy"]
    assert summary.realized == pytest.approx(classifier.realized_accuracy)


def test_regressor_mae_estimated_within_15_percent(monitored: Monitored) -> None:
    # given a linear regressor whose errors grow with |c|, with a held-out reference, and live rows shifted to large |c|
    rng = np.random.default_rng(5)
    n = 16_000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = 2 * X["a"] + X["b"] + rng.normal(size=n) * (0.5 + np.abs(X["c"]))
    model = LinearRegression().fit(X[:5_000], y[:5_000])
    name = _unique("estim-reg")
    mlops = monitored.mlops
    mlops.register(model, name, X[:5_000], y[:5_000], reference=(X[5_000:10_000], y[5_000:10_000]))
    deployment = _unique("estim-reg")
    mlops.deploy(name, deployment)
    hold, y_hold = X[10_000:].reset_index(drop=True), y[10_000:].to_numpy()
    picked = np.argsort(-np.abs(hold["c"].to_numpy()))[:2_000]
    live = hold.iloc[picked].reset_index(drop=True)
    realized = mean_absolute_error(y_hold[picked], model.predict(live))
    reference_mae = mean_absolute_error(y[5_000:10_000], model.predict(X[5_000:10_000]))
    _send(monitored, deployment, live, per_request=200)
    # when monitored without labels
    report = mlops.monitor(deployment, "1h")
    # then DLE's MAE is within 15 % of the realized MAE (which moved well away from the reference's)
    assert report.estimation.available, report.estimation.reason
    assert report.estimation.method == "DLE"
    mae = report.estimation.summary["mae"]
    relative = (mae.estimate - realized) / realized
    print(
        f"\nDLE regression: reference MAE {reference_mae:.4f}, realized {realized:.4f}, estimated {mae.estimate:.4f} "
        f"[{mae.lower:.4f}, {mae.upper:.4f}], error {relative * 100:+.1f} %"
    )
    assert realized > 1.3 * reference_mae
    assert abs(relative) <= 0.15
    # and its band holds the realized MAE although the live rows lie where the reference is thin
    assert mae.lower is not None and mae.upper is not None
    assert mae.lower <= realized <= mae.upper
    assert set(report.estimated_performance["metric"]) == {"mae", "rmse"}


@dataclass
class BreastCancer:
    """A scikit-learn dataset's classifier with its CBPE estimator, and held-out rows with their labels."""

    model: Any
    estimator: ClassifierEstimator
    hold: pd.DataFrame
    truth: np.ndarray


@pytest.fixture(scope="module")
def breast_cancer() -> BreastCancer:
    """load_breast_cancer: a scaled logistic regression, its estimator on 190 reference rows (fitted once)."""
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    order = np.random.default_rng(0).permutation(len(X))
    train, ref, hold = order[:190], order[190:380], order[380:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2_000, C=0.05)).fit(X.iloc[train], y[train])
    estimator = ClassifierEstimator(
        model, Reference(features=X.iloc[ref].reset_index(drop=True), labels=pd.Series(y[ref]))
    )
    return BreastCancer(model, estimator, X.iloc[hold].reset_index(drop=True), y[hold])


def test_breast_cancer_estimate_error(breast_cancer: BreastCancer) -> None:
    """A second dataset shipped with scikit-learn, for the closing note: CBPE's error under a covariate shift."""
    # live: held-out rows with large tumours (a covariate shift on "mean radius")
    hold = breast_cancer.hold
    live_mask = hold["mean radius"].to_numpy() > np.quantile(hold["mean radius"], 0.3)
    live, truth = hold[live_mask], breast_cancer.truth[live_mask]
    estimate, lower, upper = breast_cancer.estimator.adapted(live).estimate(live)["accuracy"]  # as the monitor does
    realized = accuracy_score(truth, breast_cancer.model.predict(live))
    assert estimate is not None and lower is not None and upper is not None
    print(
        f"\nCBPE breast cancer ({len(live)} live rows): realized {realized:.4f}, estimated {estimate:.4f} "
        f"[{lower:.4f}, {upper:.4f}], error {(estimate - realized) * 100:+.2f} points"
    )
    assert abs(estimate - realized) <= 0.08


def test_estimation_says_when_live_rows_lie_outside_the_reference(breast_cancer: BreastCancer) -> None:
    # given live rows inside the reference's range, then a fifth of them enlarged beyond it on two features
    reference = breast_cancer.estimator.reference
    inside = breast_cancer.hold[
        ((breast_cancer.hold >= reference.min()) & (breast_cancer.hold <= reference.max())).all(axis=1)
    ].reset_index(drop=True)[: MIN_ADAPT_ROWS - 1]  # too few to refit the calibration: the test stays quick
    beyond = inside.copy()
    enlarged = beyond.index[: len(beyond) // 5]
    for feature in ("mean radius", "worst area"):
        beyond.loc[enlarged, feature] = reference[feature].max() * 1.5
    columns = list(reference.columns)

    def window(live: pd.DataFrame) -> Any:
        timed = live.assign(time=1_800_000_000.0 + np.arange(len(live)))
        return estimate_window(
            breast_cancer.estimator, timed, None, columns, start=1_800_000_000.0, step=3600.0, iso=str
        )

    # when each is estimated
    quiet, flagged = window(inside), window(beyond)
    # then only the second says how many rows lie outside, on which features, and that its band is unreliable
    assert quiet.available and quiet.reason == ""
    assert flagged.available and flagged.summary["accuracy"]["estimate"] is not None
    assert f"{len(enlarged)} of {len(beyond)} live rows" in flagged.reason
    assert "mean radius" in flagged.reason and "worst area" in flagged.reason and "unreliable" in flagged.reason


# --- what is refused, and what is unavailable ------------------------------------------------------------------


def test_reference_with_other_columns_is_refused(monitored: Monitored) -> None:
    X = pd.DataFrame(np.random.default_rng(1).normal(size=(200, 3)), columns=["x", "y", "z"])
    target = (X["x"] > 0).astype(int)
    model = LogisticRegression().fit(X, target)
    wrong = X.rename(columns={"z": "zz"}).assign(extra=1.0)
    name = _unique("estim-bad")
    with pytest.raises(InvalidRequest) as caught:
        monitored.mlops.register(model, name, X, target, reference=(wrong, target))
    message = caught.value.message
    assert "missing ['z']" in message and "'zz'" in message and "'extra'" in message
    assert caught.value.status == 400
    # and nothing was registered
    assert not [m for m in monitored.mlops.models(filter=name).items if m.name == name]


def test_reference_without_labels_is_refused(monitored: Monitored) -> None:
    X = pd.DataFrame(np.random.default_rng(2).normal(size=(200, 2)), columns=["p", "q"])
    model = LogisticRegression().fit(X, (X["p"] > 0).astype(int))
    with pytest.raises(InvalidRequest, match="no labels") as caught:
        monitored.mlops.register(model, _unique("estim-bad"), X, None, reference=(X, None))
    assert caught.value.status == 400
    with pytest.raises(InvalidRequest, match="pair"):
        monitored.mlops.register(model, _unique("estim-bad"), X, None, reference=X)


def test_training_rows_are_not_a_reference(monitored: Monitored) -> None:
    X = pd.DataFrame(np.random.default_rng(3).normal(size=(300, 2)), columns=["p", "q"])
    target = (X["p"] > 0).astype(int)
    model = LogisticRegression().fit(X, target)
    with pytest.raises(InvalidRequest, match="training rows"):
        monitored.mlops.register(model, _unique("estim-bad"), X, target, reference=(X, target))


def test_without_reference_estimates_are_unavailable(monitored: Monitored) -> None:
    # given the session's deployment, registered with X and y but no reference set, with traffic
    mlops = monitored.mlops
    rows = pd.DataFrame(np.random.default_rng(4).normal(size=(50, 4)), columns=["a", "b", "c", "d"])
    monitored.send(rows, per_request=50)
    report = mlops.monitor(monitored.name, "1h")
    # then the report says plainly that estimates are unavailable, with no number
    assert report.estimation.available is False
    assert "no labelled reference set" in report.estimation.reason
    assert report.estimated_performance.empty
    assert report.to_dict()["estimation"]["available"] is False
    # and a rule on an estimated metric never fires
    never = {"name": "est-never", "metric": "estimated_accuracy", "op": "<", "threshold": 2}
    mlops.alert_rules(monitored.name, [never])
    assert not [a for a in mlops.monitor(monitored.name, "1h").data["alerts"] if a["rule"] == "est-never"]
    mlops.alert_rules(monitored.name, [])


def test_model_without_scores_is_unavailable(monitored: Monitored) -> None:
    # given a pyfunc that answers class labels only (no scores, no predict_proba), registered with a reference
    X = pd.DataFrame(np.random.default_rng(6).normal(size=(400, 2)), columns=["u", "v"])
    target = (X["u"] + X["v"] > 0).astype(int)

    def labels_only(frame: pd.DataFrame) -> Any:
        return (frame["u"] > 0).astype(int).to_numpy()

    mlops = monitored.mlops
    name = _unique("estim-labels")
    mlops.register(labels_only, name, X[:200], target[:200], reference=(X[200:], target[200:]))
    deployment = _unique("estim-labels")
    mlops.deploy(name, deployment)
    _send(monitored, deployment, X[200:], per_request=100)
    # when monitored
    report = mlops.monitor(deployment, "1h")
    # then estimation is unavailable with the reason, never a number
    assert report.estimation.available is False
    assert "predict_proba" in report.estimation.reason
    assert report.estimated_performance.empty and not report.estimation.summary
    assert report.health.components.performance is None


async def test_rest_report_carries_estimates(classifier: Scenario, api: Any) -> None:
    # the REST monitoring report has estimated_performance rows and the estimation block
    status, body = await api("GET", "deployments", classifier.deployment, "monitoring", params={"window": "1h"})
    assert status == 200, body
    assert body["estimation"]["available"] is True and body["estimation"]["method"] == "CBPE"
    point = body["estimated_performance"][0]
    assert set(point) == {"time", "metric", "estimate", "lower", "upper", "realized"}


# --- the doors: magic and CLI -----------------------------------------------------------------------------------


def test_magic_register_with_reference(monitored: Monitored) -> None:
    from jupyter_mlops.core import api

    shell = ipython_shell()
    previous, api._default = api._default, monitored.mlops
    try:
        rng = np.random.default_rng(8)
        X = pd.DataFrame(rng.normal(size=(400, 2)), columns=["m", "n"])
        y = (X["m"] > 0).astype(int)
        shell.user_ns.update(
            clf=LogisticRegression().fit(X[:200], y[:200]),
            Xt=X[:200],
            yt=y[:200],
            ref=(X[200:], y[200:]),
            ref_table=X[200:].assign(truth=y[200:]),
            ref_unlabelled=X[200:],
        )
        name = _unique("estim-magic")
        shell.run_line_magic("register", f"clf --name {name} --X Xt --y yt --reference ref")
        shell.run_line_magic("register", f"clf --name {name} --X Xt --y yt --reference ref_table --label-column truth")
        tags = [v.tags.get("mlops.reference", "") for v in monitored.mlops.registry.versions(name)]
        assert len(tags) == 2 and all(REFERENCE_ARTIFACT in t for t in tags)
        with pytest.raises(UsageError, match="no labels"):
            shell.run_line_magic("register", f"clf --name {name} --X Xt --y yt --reference ref_unlabelled")
    finally:
        api._default = previous


def test_cli_register_with_reference_file(monitored: Monitored, classifier: Scenario, tmp_path: Path) -> None:
    run_id = monitored.mlops.registry.versions(classifier.model_name)[0].run_id
    rng = np.random.default_rng(9)
    table = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=FEATURES).assign(label=rng.integers(0, 2, 300))
    good, wrong = tmp_path / "ref.csv", tmp_path / "wrong.csv"
    table.to_csv(good, index=False)
    table.rename(columns={"f5": "f9"}).to_csv(wrong, index=False)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "MLFLOW_"))},
        **monitored.config.to_env(),  # the same stores as this facade, whatever other suites exported before
    }
    script = str(Path(sys.executable).parent / "jupyter-mlops")
    name = _unique("estim-cli")

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([script, "register", f"runs:/{run_id}/model", "--name", name, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip

    def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
        try:
            _, stderr = process.communicate(timeout=300)
        finally:
            process.kill()  # no-op once it ended; never left behind by a failed test
        return process.returncode, stderr

    # The three commands run at once (each one's cost is mostly starting Python and importing MLflow): the two
    # refusals check the reference before anything is registered, so they cannot race with the good one.
    good_run = start("--reference", str(good), "--label-column", "label")
    wrong_run = start("--reference", str(wrong), "--label-column", "label")
    unlabelled_run = start("--reference", str(good))
    (done, done_err), (refused, refused_err), (unlabelled, unlabelled_err) = (
        finish(good_run),
        finish(wrong_run),
        finish(unlabelled_run),
    )
    assert done == 0, done_err
    tags = monitored.mlops.registry.versions(name)[0].tags
    assert REFERENCE_ARTIFACT in tags["mlops.reference"]
    assert refused == 2 and "missing ['f5']" in refused_err and "'f9'" in refused_err
    assert "Traceback" not in refused_err
    assert unlabelled == 2 and "no labels" in unlabelled_err
    assert len(monitored.mlops.registry.versions(name)) == 1  # the refused ones registered nothing


async def test_rest_register_with_reference(monitored: Monitored, classifier: Scenario, api: Any) -> None:
    run_id = monitored.mlops.registry.versions(classifier.model_name)[0].run_id
    rng = np.random.default_rng(10)
    rows = pd.DataFrame(rng.normal(size=(100, len(FEATURES))), columns=FEATURES).assign(y=rng.integers(0, 2, 100))
    name = _unique("estim-rest")
    table = rows.to_dict(orient="split", index=False)
    body = {"uri": f"runs:/{run_id}/model", "reference": table, "label_column": "y"}
    # a reference with other columns than the signature: 400 naming them, nothing registered
    wrong = rows.rename(columns={"f0": "zz"}).to_dict(orient="split", index=False)
    status, answer = await api("POST", "models", name, "versions", body={**body, "reference": wrong})
    assert status == 400 and "missing ['f0']" in answer["message"] and "'zz'" in answer["message"], answer
    # a reference without labels: 400 saying so
    status, answer = await api("POST", "models", name, "versions", body={**body, "label_column": None})
    assert status == 400 and "no labels" in answer["message"], answer
    status, answer = await api("POST", "models", name, "versions", body={**body, "label_column": "truth"})
    assert status == 400 and "'truth'" in answer["message"], answer
    assert not [m for m in monitored.mlops.models(filter=name).items if m.name == name]
    # a good one: 201, the version carries its reference
    status, answer = await api("POST", "models", name, "versions", body=body)
    assert status == 201, answer
    stored = monitored.mlops.registry.version(name, answer["version"])
    assert REFERENCE_ARTIFACT in stored.tags["mlops.reference"]
