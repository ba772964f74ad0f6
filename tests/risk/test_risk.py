"""Model risk management on the real facade, MLflow store, ledger and serving daemon (issue 17)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.errors import Forbidden, InvalidRequest

from ..waiting import wait_until


def _ledger(mlops: Any, target: str, action: str) -> list[Any]:
    return [e for e in mlops.audit_events(target) if e.action == action]


def test_inventory_fields_are_set_audited_and_checked(risk_mlops, credit) -> None:
    entry = risk_mlops.set_inventory(
        "credit",
        {"purpose": "Score credit default risk", "intended_use": "Pre-screening of retail loan applications",
         "business_owner": "bea", "technical_owner": "tom", "risk_tier": "high", "lifecycle_status": "development"},
    )  # fmt: skip
    assert (entry.risk_tier, entry.lifecycle_status, entry.business_owner) == ("high", "development", "bea")
    assert risk_mlops.inventory("credit").purpose == "Score credit default risk"
    version_entry = risk_mlops.set_inventory("credit", {"lifecycle_status": "validation"}, version="1")
    assert version_entry.version == "1" and version_entry.lifecycle_status == "validation"
    changes = _ledger(risk_mlops, "model/credit", "set_inventory")
    assert changes[-1].target == "model/credit/1" and changes[-1].after["lifecycle_status"] == "validation"
    assert changes[-2].before["risk_tier"] is None and changes[-2].after["risk_tier"] == "high"

    with pytest.raises(InvalidRequest, match="high, medium, low"):
        risk_mlops.set_inventory("credit", {"risk_tier": "extreme"})
    with pytest.raises(InvalidRequest, match="development, validation, production, retired"):
        risk_mlops.set_inventory("credit", {"lifecycle_status": "live"})
    with pytest.raises(InvalidRequest, match="in the past"):
        risk_mlops.set_inventory("credit", {"next_review_due": (date.today() - timedelta(days=1)).isoformat()})
    assert risk_mlops.inventory("credit").risk_tier == "high"  # refused changes changed nothing


def test_validation_is_independent_and_gates_a_protected_deployment(risk_mlops, as_user, credit) -> None:
    vic, tom = as_user("vic"), as_user("tom")
    with pytest.raises(Forbidden, match="registered it"):
        risk_mlops.validate_version("credit", "1", "approved")  # tester registered credit v1
    with pytest.raises(Forbidden, match="may not validate"):
        as_user("rita").validate_version("credit", "1", "approved")  # a viewer
    refusals = [e for e in risk_mlops.audit_events("model/credit/1") if e.action == "validate"]
    assert [e.outcome for e in refusals] == ["refused", "refused"] and refusals[0].actor == "tester"

    # the deployment requires an approved validation: refused, saying what is missing
    with pytest.raises(Forbidden, match=r"missing an approved validation: it has no validation"):
        risk_mlops.deploy("credit/1", "credit-validated", wait=False)
    assert risk_mlops._existing("credit-validated") is None
    assert _ledger(risk_mlops, "deployment/credit-validated", "deploy")[-1].outcome == "refused"

    rejected = vic.validate_version(
        "credit", "1", "rejected", findings=[{"severity": "high", "description": "No out-of-time test"}]
    )
    assert rejected.validator == "vic" and rejected.evidence["metrics"] == credit.metrics
    with pytest.raises(Forbidden, match="is rejected"):
        risk_mlops.deploy("credit/1", "credit-validated", wait=False)

    approved = vic.validate_version(
        "credit", "1", "approved_with_conditions", comment="Review calibration quarterly",
        findings=[{"severity": "low", "description": "Calibration drifts on small segments"}],
    )  # fmt: skip
    assert approved.evidence["parity"]["sample_rows_recorded"] is True
    assert "# Model card: credit v1" in approved.evidence["card"]
    deployment = risk_mlops.deploy("credit/1", "credit-validated")
    assert deployment.model_version == "1" and deployment.state.value == "ready"
    entry = risk_mlops.inventory("credit", "1")
    assert entry.validation_status == "approved_with_conditions" and entry.validated_at is not None
    # the model's owners cannot validate either
    with pytest.raises(Forbidden, match="one of its owners"):
        tom.validate_version("credit", "1", "approved")


def test_review_overdue_alerts_once_and_is_counted(risk_mlops, as_user, trained_model, iris) -> None:
    X, y = iris
    risk_mlops.register(trained_model, "review-model", X, y)
    risk_mlops.register(trained_model, "never-validated", X, y)
    risk_mlops.set_inventory("review-model", {"risk_tier": "high", "lifecycle_status": "production"})
    risk_mlops.set_inventory("never-validated", {"risk_tier": "low", "lifecycle_status": "production"})
    as_user("val").validate_version("review-model", "1", "approved")
    due = risk_mlops.inventory("review-model").next_review_due
    assert due == (datetime.now(UTC) + timedelta(days=182)).date()  # the high tier's interval

    assert [a.model for a in risk_mlops.check_reviews()] == []
    later = risk_mlops.acting_as(risk_mlops.principal)
    later.risk_clock = lambda: datetime.combine(due + timedelta(days=3), datetime.min.time(), UTC)
    alerts = {a.model: a for a in later.check_reviews()}  # credit (high, validated in an earlier test) too
    assert (alerts["review-model"].tier, alerts["review-model"].days_overdue) == ("high", 3)
    assert later.check_reviews() == []  # raised once
    assert len(_ledger(risk_mlops, "model/review-model", "review_overdue")) == 1
    summary = later.risk_summary()
    assert summary.review_overdue == len(alerts) and "review-model" in summary.overdue
    assert "never-validated" in summary.never_validated and "review-model" not in summary.never_validated
    assert risk_mlops.risk_summary().review_overdue == 0  # today nothing is overdue


def test_retention_guard_on_high_risk_deployments(risk_mlops, as_user, credit) -> None:
    risk_mlops.set_inventory("credit", {"risk_tier": "high"})
    if risk_mlops._existing("credit-validated") is None:
        as_user("vic").validate_version("credit", "1", "approved")
        risk_mlops.deploy("credit/1", "credit-validated", wait=False)
    with pytest.raises(Forbidden, match="six months"):
        risk_mlops.set_retention("credit-validated", inference_log_days=30)
    with pytest.raises(Forbidden, match="six months"):
        risk_mlops.set_retention("credit-validated", ledger_days=90, override=True)  # tester is not an admin
    kept = risk_mlops.set_retention("credit-validated", inference_log_days=365, ledger_days=0)
    assert (kept.inference_log_days, kept.ledger_days, kept.overridden) == (365.0, 0.0, False)
    forced = as_user("ada").set_retention("credit-validated", inference_log_days=30, override=True)
    assert forced.overridden is True and forced.inference_log_days == 30.0
    entries = _ledger(risk_mlops, "deployment/credit-validated", "set_retention")
    assert [e.outcome for e in entries] == ["refused", "refused", "ok", "ok"]
    assert entries[-1].actor == "ada" and "override" in (entries[-1].detail or "")
    with pytest.raises(InvalidRequest):
        risk_mlops.set_retention("credit-validated", inference_log_days=-1)
    risk_mlops.set_retention("credit-validated", inference_log_days=365)  # back to compliant for the reports


def test_inventory_report_equals_registry_and_fields(risk_mlops, credit) -> None:
    import csv
    import io

    text = risk_mlops.inventory_report(format="csv").decode()
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(text))}
    names = {m.name for m in risk_mlops.models(max_results=1000).items}
    assert set(rows) == names
    entry = risk_mlops.inventory("credit")
    assert rows["credit"]["risk_tier"] == entry.risk_tier and rows["credit"]["business_owner"] == "bea"
    assert rows["credit"]["validation_status"] == entry.validation_status
    assert rows["credit"]["latest_version"] == risk_mlops.model("credit").latest_version
    # as of yesterday nothing here existed yet; a date in the future of the registry is today's state
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert risk_mlops.inventory_report(as_of=yesterday, format="json") == (
        b'{"as_of": "' + yesterday.encode() + b'", "items": []}'
    )
    html = risk_mlops.inventory_report(format="html").decode()
    assert "<th>risk_tier</th>" in html and ">credit<" in html
    with pytest.raises(InvalidRequest, match="csv, html, pdf"):
        risk_mlops.inventory_report(format="xlsx")
    with pytest.raises(InvalidRequest, match="as_of"):
        risk_mlops.inventory_report(as_of="last week")


def test_technical_documentation_has_annex_iv_sections_from_our_sources(risk_mlops, credit) -> None:
    from jupyter_mlops.core.governance.reports import ANNEX_IV_SECTIONS

    text = risk_mlops.technical_documentation("credit", "1", format="md").decode()
    for heading in ANNEX_IV_SECTIONS:
        assert f"## {heading}" in text
    assert "Purpose: Score credit default risk" in text  # inventory
    fingerprint = risk_mlops.version("credit", "1").tags["mlops.data.fingerprint"]
    assert fingerprint in text  # MLflow lineage tags
    metric, value = next(iter(credit.metrics.items()))
    assert f"| {metric} | {value:.6g} |" in text  # MLflow metrics
    assert "Calibration drifts on small segments" in text  # validations and findings
    seq = _ledger(risk_mlops, "model/credit", "set_inventory")[-1].seq
    assert f"| {seq} |" in text  # the ledger's changes
    assert "Deployment credit-validated" in text  # monitoring of the deployments serving it
    assert "Missing: no approval of this version was requested." in text  # says what is missing


def test_logging_evidence_matches_the_store_and_renders_pdf(risk_mlops, credit, iris, tmp_path) -> None:
    if risk_mlops._existing("credit-validated") is None:
        pytest.skip("needs the validated deployment of the gate test")
    from sqlalchemy import func, select

    from jupyter_mlops.core.store.monitoring_tables import InferenceRequestRow

    X, _ = iris
    start = datetime.now(UTC) - timedelta(hours=1)  # takes in the deploy and retention entries of earlier tests
    for _ in range(3):
        risk_mlops.predict("credit-validated", X.head(2))
    end = datetime.now(UTC) + timedelta(seconds=60)

    def logged() -> int:
        with risk_mlops.store.session() as s:
            where = (InferenceRequestRow.deployment == "credit-validated",
                     InferenceRequestRow.time >= start.timestamp())  # fmt: skip
            return int(s.scalar(select(func.count()).where(*where)) or 0)

    wait_until(lambda: logged() >= 3, 30, "three requests in the inference log", 0.2)
    import json

    evidence = json.loads(risk_mlops.logging_evidence("credit-validated", start, end))
    assert evidence["requests"] == logged() and evidence["rows"] == 2 * logged()
    assert evidence["by_version"] == {"1": logged()} and evidence["logging_enabled"] is True
    assert evidence["retention_days_declared"] == 365.0 and evidence["minimum_days"] == 183.0
    # the writer purges this deployment by its declaration (365 days), not by the installation's 30-day default
    assert evidence["retention_days_applied"] == 365.0 and evidence["retention_meets_minimum"] is True
    assert evidence["chain_ok"] is True and evidence["chain_entries"] >= evidence["ledger_entries"] >= 1
    assert datetime.fromisoformat(evidence["first_use"]) >= start
    with pytest.raises(InvalidRequest, match="before it starts"):
        risk_mlops.logging_evidence("credit-validated", end, start)

    pdf = risk_mlops.logging_evidence("credit-validated", start, end, format="pdf")
    assert pdf.startswith(b"%PDF")
    doc = risk_mlops.technical_documentation("credit", "1", format="pdf")
    inventory = risk_mlops.inventory_report(format="pdf")
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is needed to render the PDF reports")
    for name, body in (("evidence", pdf), ("documentation", doc), ("inventory", inventory)):
        (tmp_path / f"{name}.pdf").write_bytes(body)
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / f"{name}.pdf"),
                        str(tmp_path / name)], check=True, timeout=60)  # fmt: skip
        png = next(tmp_path.glob(f"{name}-*.png"))
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000
    if os.environ.get("MLOPS_WRITE_SCREENSHOTS"):  # refresh the README's screenshots on demand
        docs = Path(__file__).parents[2] / "docs"
        for name in ("evidence", "documentation", "inventory"):
            (tmp_path / f"{name}.pdf").write_bytes(
                {"evidence": pdf, "documentation": doc, "inventory": inventory}[name]
            )
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(tmp_path / f"{name}.pdf"),
                            str(docs / f"risk-{name}")], check=True, timeout=60)  # fmt: skip
