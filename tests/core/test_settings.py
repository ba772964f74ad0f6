"""Deployment settings through the facade: set at deploy, changed later, validated, audited, served by the daemon.

Real MLflow, our store and a real serving daemon: a limit set through ``deploy(settings=...)`` is what the endpoint
enforces, and ``configure`` changes what it enforces without a redeploy.
"""

from __future__ import annotations

import pytest

from jupyter_mlops.core.errors import InvalidRequest


@pytest.fixture(scope="module")
def limited(mlops, iris_version):
    """A deployment of iris deployed with a 5-row limit and its own monitoring settings."""
    name = "iris-settings"
    mlops.deploy(
        f"iris/{iris_version.version}",
        name,
        settings={"max_rows": 5, "timeout_ms": 4000, "monitoring": {"drift_share": 0.4, "thresholds": {"ks": 0.01}}},
    )
    yield name
    mlops.undeploy(name)


def test_settings_given_at_deploy_are_stored_and_enforced_by_the_daemon(mlops, limited, iris) -> None:
    # Given a deployment deployed with max_rows=5
    settings = mlops.configure(limited)
    assert (settings.max_rows, settings.timeout_ms, settings.max_queue) == (5, 4000, 256)
    assert settings.monitoring.drift_share == 0.4 and settings.monitoring.thresholds == {"ks": 0.01}
    # Then the endpoint refuses six rows, naming the limit, and answers five
    with pytest.raises(InvalidRequest, match="at most 5"):
        mlops.predict(limited, iris[0].head(6))
    assert len(mlops.predict(limited, iris[0].head(5))) == 5


def test_configure_changes_what_the_daemon_enforces_and_is_audited(mlops, limited, iris) -> None:
    generation = mlops.store.generation(limited)
    # When the limit is raised and automatic rollback switched off
    after = mlops.configure(limited, max_rows=10, auto_rollback=False)
    # Then the new settings are returned and served at once (a new generation, no redeploy)
    assert after.max_rows == 10 and after.auto_rollback.enabled is False and after.timeout_ms == 4000
    assert mlops.store.generation(limited) == generation + 1
    assert len(mlops.predict(limited, iris[0].head(8))) == 8
    with pytest.raises(InvalidRequest, match="at most 10"):
        mlops.predict(limited, iris[0].head(11))
    # ... and the ledger records who changed what, before and after
    entry = [e for e in mlops.audit_events(f"deployment/{limited}") if e.action == "configure"][-1]
    assert entry.actor == mlops.principal.name and entry.outcome == "ok"
    assert (entry.before["max_rows"], entry.after["max_rows"]) == (5, 10)
    assert (entry.before["auto_rollback"]["enabled"], entry.after["auto_rollback"]["enabled"]) == (True, False)


def test_monitoring_settings_judge_the_deployments_drift_and_its_alert(mlops, limited) -> None:
    # Given monitoring settings changed after deploy
    mlops.configure(limited, monitoring={"drift_share": 0.3, "numeric_statistic": "wasserstein"})
    # Then the deployment's drift is judged with them (the earlier thresholds kept: objects are merged)
    drift = mlops.monitoring.drift_settings_of(limited)
    assert (drift.drift_share, drift.numeric_statistic, drift.threshold("ks")) == (0.3, "wasserstein", 0.01)
    # ... and the data-drift alert fires at its drift share
    rule = next(r for r in mlops.alert_rules(limited) if r["name"] == "data-drift")
    assert rule["threshold"] == 0.3


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"timeout_ms": 10**9}, "timeout_ms"),
        ({"max_queue": "many"}, "max_queue"),
        ({"max_rows": -1}, "max_rows"),
        ({"batching": {"max_batch_size": 0}}, "batching.max_batch_size"),
        ({"auto_rollback": {"window": 1}}, "auto_rollback.window"),
        ({"auto_rollback": {"windw": 100}}, "'windw'"),
        ({"monitoring": {"drift_share": 2}}, "monitoring.drift_share"),
        ({"monitoring": {"numeric_statistic": "t-test"}}, "monitoring.numeric_statistic"),
        ({"monitoring": {"thresholds": {"ks": 3}}}, "ks must be between 0 and 1"),
        ({"monitoring": {"thresholds": {"nope": 0.1}}}, "nope"),
        ({"monitoring": 0.5}, "monitoring must be an object"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_change_nothing(mlops, limited, changes, fragment) -> None:
    before = mlops.configure(limited)
    generation = mlops.store.generation(limited)
    with pytest.raises(InvalidRequest, match=fragment):
        mlops.configure(limited, **changes)
    assert mlops.configure(limited) == before and mlops.store.generation(limited) == generation


def test_bad_settings_at_deploy_create_nothing(mlops, iris_version) -> None:
    with pytest.raises(InvalidRequest, match="max_queue"):
        mlops.deploy(f"iris/{iris_version.version}", "iris-bad-settings", settings={"max_queue": 0})
    with pytest.raises(InvalidRequest, match="'timeoutms'"):
        mlops.deploy(f"iris/{iris_version.version}", "iris-bad-settings", settings={"timeoutms": 5})
    assert "iris-bad-settings" not in [d.name for d in mlops.deployments()]
