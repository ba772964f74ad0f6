"""Model risk management over REST on a real Jupyter server: inventory, validations, reports and bad input."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from jupyter_mlops.core.lineage import current_user

pytestmark = pytest.mark.usefixtures("_restore_settings_env")


@pytest.fixture
def _restore_settings_env() -> Any:
    """The extension exports its settings to os.environ for kernels; keep them from leaking into later suites."""
    import os

    saved = {k: v for k, v in os.environ.items() if k.startswith("JUPYTER_MLOPS_")}
    yield
    for key in [k for k in os.environ if k.startswith("JUPYTER_MLOPS_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture
def jp_server_config(risk_config: Any) -> dict[str, Any]:
    # The REST caller (the server's own user) is a validator; models here are registered by "tester".
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {
            "data_dir": risk_config.data_dir,
            "roles": {current_user(): "validator"},
            "require_validation_for": ["*-validated"],
        },
    }


async def test_inventory_over_rest_with_bad_input(api, scoring) -> None:
    status, entry, _ = await api("PUT", "models", scoring.name, "inventory", body={"purpose": "Credit scoring"})
    assert status == 403  # a validator may not edit the inventory (register right)
    status, entry, _ = await api("GET", "models", scoring.name, "inventory")
    assert status == 200 and entry["model"] == scoring.name
    status, error, _ = await api("PUT", "models", scoring.name, "inventory", body={"risk_tier": "extreme"})
    assert status == 400 and "high, medium, low" in error["message"]
    status, error, _ = await api("PUT", "models", scoring.name, "versions", "1", "inventory",
                                 body={"lifecycle_status": "live"})  # fmt: skip
    assert status == 400 and "development, validation, production, retired" in error["message"]
    past = (date.today() - timedelta(days=3)).isoformat()
    status, error, _ = await api("PUT", "models", scoring.name, "inventory", body={"next_review_due": past})
    assert status == 400 and "in the past" in error["message"]
    status, error, _ = await api("PUT", "models", scoring.name, "inventory", body={"colour": "red"})
    assert status == 400 and "colour" in error["message"]
    status, _, _ = await api("GET", "models", "no-such-model", "inventory")
    assert status == 404


async def test_validation_over_rest_and_owner_refused(api, risk_mlops, scoring) -> None:
    body = {"outcome": "approved", "findings": [{"severity": "medium", "description": "Thin data for ages 18-21"}],
            "evidence": ["metrics"]}  # fmt: skip
    status, made, response = await api("POST", "models", scoring.name, "versions", "1", "validations", body=body)
    assert status == 201 and made["validator"] == current_user() and made["findings"][0]["severity"] == "medium"
    assert set(made["evidence"]) == {"metrics"}
    assert response.headers["Location"].endswith(f"/mlops/api/models/{scoring.name}/versions/1/validations")
    status, listed, _ = await api("GET", "models", scoring.name, "versions", "1", "validations")
    assert status == 200 and made["id"] in [v["id"] for v in listed["items"]]
    status, error, _ = await api("POST", "models", scoring.name, "versions", "1", "validations", body={"outcome": "ok"})
    assert status == 400 and "outcome" in error["message"]

    risk_mlops.set_inventory(scoring.name, {"technical_owner": current_user()})
    status, error, _ = await api("POST", "models", scoring.name, "versions", "1", "validations", body=body)
    assert status == 403 and "independent" in error["message"]
    refused = [e for e in risk_mlops.audit_events(f"model/{scoring.name}/1") if e.action == "validate"][-1]
    assert refused.outcome == "refused" and refused.actor == current_user()
    risk_mlops.set_inventory(scoring.name, {"technical_owner": "tom"})


async def test_reports_over_rest(api, jp_fetch, scoring) -> None:
    status, text, response = await api("GET", "risk", "inventory", params={"format": "csv"})
    assert status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].startswith("model,latest_version") and f"\n{scoring.name}," in text
    response = await jp_fetch("mlops", "api", "risk", "inventory", params={"format": "pdf"})
    assert response.code == 200 and response.body.startswith(b"%PDF")
    assert response.headers["Content-Type"] == "application/pdf"
    status, doc, _ = await api("GET", "models", scoring.name, "versions", "1", "documentation")
    assert status == 200 and "## 5. Risk management system" in doc
    status, summary, _ = await api("GET", "risk", "summary")
    assert status == 200 and summary["models"] >= 1
    status, alerts, _ = await api("POST", "risk", "reviews", "check", body={})
    assert status == 200 and alerts["items"] == []

    period = {"start": "2026-12-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    status, error, _ = await api("GET", "deployments", "credit-validated", "logging-evidence", params=period)
    assert status == 400 and "before it starts" in error["message"]
    status, error, _ = await api("GET", "deployments", "credit-validated", "logging-evidence",
                                 params={"start": "2026-12-01T00:00:00Z"})  # fmt: skip
    assert status == 400
    status, error, _ = await api("GET", "risk", "inventory", params={"format": "docx"})
    assert status == 400 and "csv" in error["message"]
    status, error, _ = await api("PUT", "deployments", "no-such-deployment", "retention", body={"ledger_days": 10})
    assert status == 404
