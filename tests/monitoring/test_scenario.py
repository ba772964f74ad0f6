"""The issue's scenario end to end: real MLflow, a real serving daemon logging every request, our store.

Traffic from the training distribution, then traffic with two features shifted: drift is reported for exactly
those features, an alert fires, health leaves green, and MLflow gets the history. Feedback yields the accuracy
the model really had.
"""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlops.core.errors import InvalidRequest, NotFound

from .conftest import FEATURES, labels_for, make_rows


def test_two_shifted_features_drift_fire_an_alert_and_leave_green(monitored) -> None:
    mlops, name = monitored.mlops, "scenario"  # a deployment of its own: no traffic or alerts from other tests
    mlops.deploy("shop-model/1", name)
    rng = np.random.default_rng(1)

    # Given traffic drawn from the training distribution
    monitored.send(make_rows(rng, 2000), to=name)
    before = mlops.monitor(name, "15m")
    # Then nothing drifts and the deployment is healthy
    assert list(before.drift["feature"]) == FEATURES
    assert not before.drift["drifted"].any(), before.drift
    assert before.summary["requests"] >= 20 and before.summary["error_rate"] == 0
    assert before.health["colour"] == "green", before.health
    assert not [a for a in before.data["alerts"] if a["rule"] == "data-drift" and a["state"] == "firing"]

    # When two features shift by three standard deviations
    monitored.send(make_rows(rng, 2000, shift={"c": 3.0, "d": -3.0}), to=name)
    after = mlops.monitor(name, "15m")

    # Then drift is reported for exactly those features, by the primary and the other statistics
    drifted = after.drift[after.drift["drifted"]]
    assert sorted(drifted["feature"]) == ["c", "d"], after.drift
    assert (drifted["statistic"] == "ks").all()
    assert (drifted["psi"] > 0.2).all() and (drifted["ks"] < 0.05).all()
    assert after.drift_share == pytest.approx(0.5)
    # ... the histograms compare the baseline with live data on the same bins
    feature_c = next(f for f in after.data["drift"]["features"] if f["feature"] == "c")
    assert feature_c["baseline"]["bins"] == feature_c["live"]["bins"]
    assert sum(feature_c["live"]["counts"]) == feature_c["rows"]
    # ... an alert fires, with an id the sidebar can show once
    firing = [a for a in mlops.alerts(name) if a["state"] == "firing"]
    assert [a["rule"] for a in firing] == ["data-drift"]
    assert isinstance(firing[0]["id"], int) and "drift_share" in firing[0]["message"]
    # ... and health leaves green
    assert after.health["colour"] != "green"
    assert after.health["score"] < before.health["score"]
    assert after.health["components"]["drift"] == 0.0
    fleet = mlops.health()
    assert fleet["colour"] != "green"
    assert next(d for d in fleet["deployments"] if d["name"] == name)["colour"] == after.health["colour"]

    # And MLflow gets the history, in a run linked to the model version
    run_id = mlops.monitoring.log_to_mlflow(mlops.deployment(name), after)
    run = mlops.registry.client.get_run(run_id)
    assert run.data.metrics["drift_share"] == pytest.approx(0.5)
    assert run.data.metrics["requests"] == after.summary["requests"]
    version = mlops.registry.version("shop-model", "1", detail=False)
    assert version.tags[f"mlops.monitoring_run.{name}"] == run_id
    mlops.undeploy(name)


def test_ops_series_per_variant(monitored) -> None:
    monitored.send(make_rows(np.random.default_rng(2), 300))
    ops = monitored.mlops.monitor(monitored.name, "1h").ops
    assert set(ops["variant"]) == {"primary"}
    assert ops["requests"].sum() >= 3
    assert (ops["p50_ms"] <= ops["p95_ms"]).all() and (ops["p95_ms"] <= ops["p99_ms"]).all()
    assert (ops["error_rate"] == 0).all() and (ops["throughput_rps"] > 0).all()


def test_feedback_yields_the_accuracy_the_model_had(monitored) -> None:
    name = "feedback"  # its own deployment: labels sent by other tests must not count here
    monitored.mlops.deploy("shop-model/1", name)
    rng = np.random.default_rng(3)
    ids = monitored.send(make_rows(rng, 400), to=name)
    labels, expected = labels_for(monitored, ids, np.random.default_rng(3))

    result = monitored.mlops.feedback(name, ids, labels)

    assert result["accepted"] == len(ids)
    report = monitored.mlops.monitor(name, "1h")
    assert report.data["performance_summary"]["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert 0.6 < expected < 1.0  # the labels are noisy: a test that only ever saw 100 % would prove little
    assert {"accuracy", "f1"} <= set(report.performance["metric"])
    monitored.mlops.undeploy(name)


def test_bad_feedback_is_refused_and_nothing_is_written(monitored) -> None:
    mlops, name = monitored.mlops, monitored.name
    ids = monitored.send(make_rows(np.random.default_rng(4), 200))
    stored_before = len(mlops.monitoring.store.feedback(name, 0, 2e9))
    good = [0] * 100

    with pytest.raises(InvalidRequest, match="not in the inference log"):
        mlops.feedback(name, [ids[0], "no-such-request"], [good, good])
    with pytest.raises(InvalidRequest, match="number, string or boolean"):
        mlops.feedback(name, ids, [good, [{"label": 1}] * 100])
    with pytest.raises(InvalidRequest, match="one label per row"):
        mlops.feedback(name, ids, [good, [1, 0]])
    with pytest.raises(InvalidRequest, match="same length|one label per id"):
        mlops.feedback(name, ids, [good])
    with pytest.raises(InvalidRequest, match="numeric classes"):
        mlops.feedback(name, ids[:1], [["yes"] * 100])
    with pytest.raises(NotFound):
        mlops.feedback("no-such-deployment", ids, [good, good])

    assert len(mlops.monitoring.store.feedback(name, 0, 2e9)) == stored_before


@pytest.mark.parametrize("window", ["0m", "30s", "91d", "abc", "1 fortnight", -5])
def test_windows_out_of_range_are_refused(monitored, window) -> None:
    with pytest.raises(InvalidRequest, match="window"):
        monitored.mlops.monitor(monitored.name, window)


def test_report_renders_as_html(monitored) -> None:
    report = monitored.mlops.monitor(monitored.name, "1h")
    page = report._repr_html_()
    assert "Monitoring of shop" in page and "<table" in page and "Health" in page
    assert "window=1h" in repr(report)
