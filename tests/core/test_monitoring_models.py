"""Typed monitoring records: same JSON shapes as the dicts they replace, and no green 100 without data."""

from __future__ import annotations

from jupyter_mlops.core.monitoring import health
from jupyter_mlops.core.monitoring.models import (
    Alert,
    ApprovalEvidence,
    DeploymentHealth,
    FleetHealth,
    MonitoringReportData,
    parse_health,
)
from jupyter_mlops.core.monitoring.report import MonitoringReport


def _parts(**given: float | None) -> dict[str, float | None]:
    return {"availability": 1.0, "latency": None, "errors": None, "drift": None, "performance": None, **given}


def test_health_without_data_is_unknown_never_green_100() -> None:
    # Given a ready deployment that saw no traffic, no drift data and no feedback in the window
    quiet = health.score(_parts(), unknown_without_data=True)
    assert (quiet["score"], quiet["colour"]) == (None, "unknown")
    # a failed one is red all the same, and one with traffic is scored
    assert health.score(_parts(availability=0.0), unknown_without_data=True)["colour"] == "red"
    busy = health.score(_parts(latency=1.0, errors=1.0), unknown_without_data=True)
    assert (busy["score"], busy["colour"]) == (100.0, "green")
    # the fleet: unknown when nothing is known, else the mean and worst colour of what is known
    assert health.fleet([]) == {"score": None, "colour": "unknown", "deployments": []}
    items = [{"name": "a", "score": None, "colour": "unknown"}, {"name": "b", "score": 70.0, "colour": "amber"}]
    assert {k: health.fleet(items)[k] for k in ("score", "colour")} == {"score": 70.0, "colour": "amber"}
    typed = parse_health(health.fleet(items))
    assert isinstance(typed, FleetHealth) and typed.deployments[0].score is None


def test_records_dump_exactly_the_keys_they_were_given() -> None:
    given = {"score": 81.5, "colour": "green", "components": {"availability": 1.0, "latency": None}, "firing_alerts": 0}
    record = parse_health(given)
    assert isinstance(record, DeploymentHealth) and record["components"]["availability"] == 1.0
    assert record.model_dump(mode="json") == given
    alert = {
        "id": 3, "deployment": "d", "rule": "r", "metric": "p95_ms", "value": 9.0, "threshold": 5.0,
        "state": "firing", "fired_at": "2026-12-06T10:00:00Z", "resolved_at": None, "message": "slow",
        "delivery": None, "acknowledged_by": None, "acknowledged_at": None,
    }  # fmt: skip
    assert Alert.model_validate(alert).model_dump(mode="json") == alert
    evidence = {"candidate": {"model": "models:/m/2", "metrics": {"auc": 0.9}}, "baseline": None,
                "schema_diff": {"added": ["x"], "removed": [], "changed": {}}}  # fmt: skip
    assert ApprovalEvidence.model_validate(evidence).model_dump(mode="json") == evidence


def test_a_report_is_typed_and_its_json_is_the_rest_body() -> None:
    feature = {
        "feature": "a", "statistic": "ks", "value": 0.01, "threshold": 0.05, "drifted": True, "type": "numeric",
        "rows": 10, "baseline": {"bins": [0.0, 1.0], "counts": [5]}, "live": {"bins": [0.0, 1.0], "counts": [10]},
        "ks": 0.01, "wasserstein": 0.4, "psi": 0.3,
    }  # fmt: skip
    body = {
        "deployment": "d", "window": "1h", "start": "s", "end": "e", "model": "models:/m/1",
        "summary": {"requests": 0, "errors": 0, "error_rate": 0.0, "server_error_rate": 0.0, "throughput_rps": 0.0,
                    "p50_ms": None, "p95_ms": None, "p99_ms": None},
        "ops": [], "drift": {"share": 1.0, "drifted": True, "rows": 10, "sampled": 10, "features": [feature],
                             "prediction": None},
        "performance": [], "performance_summary": {},
        "health": {"score": None, "colour": "unknown", "components": _parts(), "firing_alerts": 0},
        "alerts": [], "dropped_records": 0,
    }  # fmt: skip
    report = MonitoringReport(MonitoringReportData.model_validate(body))
    assert report.to_dict() == body
    assert report.record.drift is not None and report.record.drift.features[0].psi == 0.3
    assert report.drift_share == 1.0 and list(report.drift["feature"]) == ["a"]
    assert "Health unknown" in report._repr_html_() and report.health.score is None
