"""The fleet view's "Model risk" panel (issue 17): counts from the service's risk summary, one-click inventory
downloads (CSV, PDF) through the hub, and the panel in Debian's Chromium. Refreshes docs/fleet-risk.png.

Models are registered in the fleet service's own MLflow store (the session's hub fixture, ``conftest.py``) and their
inventory fields set through core; the service process reads the same stores.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from jupyter_mlops.config import MLOpsConfig

from .conftest import Fleet
from .test_dashboard import DOCS, browser, login  # noqa: F401 - the module's Chromium

MODELS = {
    # name: (tier, lifecycle, next review due (set with a clock in 2020, so overdue now), or None)
    "fleet-risk-pd": ("high", "production", None),  # production, never validated
    "fleet-risk-lgd": ("medium", "validation", date(2020, 6, 1)),  # review overdue
    "fleet-risk-churn": ("low", "development", None),
}


@pytest.fixture(scope="module")
def risk_models(fleet: Fleet) -> Iterator[Any]:
    """The three models in the fleet's registry with their inventory fields; yields the facade on those stores."""
    from jupyter_mlops.core.service import MLOps

    folder = Path(str(fleet.store.engine.url.database)).parent
    mlops = MLOps(MLOpsConfig(data_dir=str(folder), store_url=str(fleet.store.engine.url)), user="tester")
    mlops.risk_clock = lambda: datetime(2020, 1, 1, tzinfo=UTC)  # so a 2020 review date is accepted
    for name, (tier, life, due) in MODELS.items():
        mlops.registry.client.create_registered_model(name)
        fields: dict[str, Any] = {"risk_tier": tier, "lifecycle_status": life, "business_owner": "Credit risk"}
        if due is not None:
            fields["next_review_due"] = due.isoformat()
        mlops.set_inventory(name, fields)
    mlops.risk_clock = lambda: datetime.now(UTC)
    yield mlops
    mlops.close()


def test_risk_counts_equal_the_store_and_downloads_are_real(fleet: Fleet, risk_models: Any, tmp_path: Path) -> None:
    response = fleet.get("carol", "api/risk")
    assert response.status_code == 200, response.text
    shown = response.json()
    expected = risk_models.risk_summary().model_dump(mode="json")  # the same stores, read in this process
    assert shown == expected
    names = set(MODELS)
    assert shown["models"] >= len(names) and shown["by_tier"].get("low", 0) >= 1
    assert shown["by_tier"].get("high", 0) >= 1 and shown["by_tier"].get("medium", 0) >= 1
    assert "fleet-risk-lgd" in shown["overdue"] and "fleet-risk-pd" in shown["never_validated"]
    assert "fleet-risk-churn" not in shown["overdue"] + shown["never_validated"]

    csv_response = fleet.get("carol", "api/risk/inventory.csv")
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(csv_response.text))}
    assert names <= set(rows) and rows["fleet-risk-pd"]["risk_tier"] == "high"
    assert rows["fleet-risk-lgd"]["next_review_due"] == "2020-06-01"

    pdf = fleet.get("carol", "api/risk/inventory.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    (tmp_path / "inventory.pdf").write_bytes(pdf.content)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(tmp_path / "inventory.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)  # fmt: skip
    assert (tmp_path / "page-1.png").stat().st_size > 1000

    bad = fleet.get("carol", "api/risk/inventory.xlsx")
    assert bad.status_code == 400 and "csv or pdf" in bad.json()["message"]
    bad = fleet.get("carol", "api/risk/inventory.csv", params={"as_of": "yesterday"})
    assert bad.status_code == 400 and "2026-12-31" in bad.json()["message"]
    refused = fleet.get("bob", "api/risk")  # not a fleet viewer
    assert refused.status_code == 403 and "custom:mlops:fleet" in refused.json()["message"]


def test_risk_panel_in_the_dashboard(browser: Browser, fleet: Fleet, risk_models: Any) -> None:  # noqa: F811
    expected = risk_models.risk_summary()
    page = login(browser, fleet, "carol")
    panel = page.locator("#risk")
    expect(panel.locator('[data-key="risk_models"] b')).to_have_text(str(expected.models))
    expect(panel.locator('[data-key="tier_high"] b')).to_have_text(str(expected.by_tier["high"]))
    expect(panel.locator('[data-key="review_overdue"] b')).to_have_text(str(expected.review_overdue))
    expect(panel.locator('[data-key="review_overdue"]')).to_have_class("card red")
    expect(panel.locator('[data-key="production_never_validated"] b')).to_have_text(
        str(expected.production_never_validated)
    )
    expect(panel.locator("#risk-lists")).to_contain_text("fleet-risk-lgd")
    DOCS.mkdir(exist_ok=True)
    panel.screenshot(path=str(DOCS / "fleet-risk.png"))
    with page.expect_download() as download:
        page.click("#risk-csv")
    assert "fleet-risk-pd" in Path(download.value.path()).read_text()
    with page.expect_download() as download:
        page.click("#risk-pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    page.close()
