"""The fleet view through a real JupyterHub: the viewer sees every user's deployments, others are refused, and
the service's periodic job folds new inference-log rows into the counts."""

from __future__ import annotations

import time

from jupyter_mlops.core.monitoring.storage import MonitoringStore
from tests.waiting import wait_until

from .conftest import Fleet
from .seed import DEPLOYMENTS, EXPECTED_COLOURS, requests


def test_viewer_sees_every_users_deployments_and_health(fleet: Fleet) -> None:
    summary = fleet.get("carol", "api/summary").json()
    assert summary["deployments"] == 4 and summary["owners"] == 3
    assert summary["health"] == EXPECTED_COLOURS
    assert summary["pending_approvals"] == 1 and summary["never_monitored"] == 1
    page = fleet.get("carol", "api/deployments", params={"sort": "name"}).json()
    assert sorted(d["name"] for d in page["items"]) == sorted(DEPLOYMENTS)
    assert {d["owner"] for d in page["items"]} == {"alice", "bob", "carol"}
    idle = fleet.get("carol", "api/deployments/carol-idle").json()  # never called: unknown, no score
    assert idle["health_colour"] == "unknown" and idle["health_score"] is None
    detail = fleet.get("carol", "api/deployments/bob-fraud").json()
    assert detail["owner"] == "bob" and detail["health_colour"] == "amber"
    assert [e["action"] for e in detail["audit"]] == ["request_approval"]


def test_exports_and_report(fleet: Fleet) -> None:
    csv = fleet.get("carol", "api/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + len(DEPLOYMENTS)
    report = fleet.get("carol", "api/report", params={"since": "2020-01-01T00:00:00Z"})
    assert report.status_code == 200 and "Model inventory and audit report" in report.text
    assert "alice-churn" in report.text and "deployment/bob-fraud" in report.text


def test_bad_input_is_a_4xx_with_a_message(fleet: Fleet) -> None:
    bad = fleet.get("carol", "api/deployments", params={"sort": "password"})
    assert bad.status_code == 400 and "Unknown sort" in bad.json()["message"]
    assert fleet.get("carol", "api/deployments", params={"page_size": "-1"}).status_code == 400
    assert fleet.get("carol", "api/report", params={"since": "yesterday"}).status_code == 400
    missing = fleet.get("carol", "api/deployments/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["message"]
    assert "Traceback" not in bad.text


def test_users_without_the_fleet_scope_are_refused(fleet: Fleet) -> None:
    for path in ("", "api/summary", "api/deployments", "api/deployments/alice-churn", "api/export.csv", "api/report",
                 "static/fleet.js"):  # fmt: skip
        for user in ("bob", "alice"):
            response = fleet.get(user, path)
            assert response.status_code == 403, (user, path, response.status_code)
            assert "custom:mlops:fleet" in response.text
            assert "carol-risk" not in response.text  # nothing of the fleet leaks into the refusal


def test_anonymous_callers_are_sent_to_the_hub_login(fleet: Fleet) -> None:
    import httpx

    response = httpx.get(f"{fleet.url}api/summary", trust_env=False, follow_redirects=False)
    assert response.status_code == 302
    assert "/hub/api/oauth2/authorize" in response.headers["location"]


def test_the_service_job_folds_new_log_rows_into_the_counts(fleet: Fleet) -> None:
    # given alice's green deployment, when 100 failing answers are logged for it
    before = fleet.get("carol", "api/deployments/alice-churn").json()
    assert before["requests"] == 200 and before["health_colour"] == "green"
    MonitoringStore(fleet.store.engine).write_batch(
        requests("alice-churn", 100, latency_ms=5, server_errors=100, end=time.time(), spread=60)
    )
    # then within a few runs of the service's job, the rollups count them and alice's colour changes
    after = wait_until(
        lambda: (a := fleet.get("carol", "api/deployments/alice-churn").json())["requests"] == 300 and a,
        30, "the service's job to count the new rows", 0.5,
    )  # fmt: skip
    assert after["errors"] == 100
    # availability 2/3, errors over budget: 100 x (0.3 x 0.667 + 0.2) / 0.7 = 57.1, amber
    assert after["health_colour"] == "amber" and abs(after["health_score"] - 57.1) < 0.1
    summary = fleet.get("carol", "api/summary").json()
    assert summary["health"] == {"green": 0, "amber": 2, "red": 1, "unknown": 1}
    assert sum(p["requests"] for p in after["ops"]) == 300
