"""The model detail's "Model risk" section in a real JupyterLab and Chromium (issue 17): the inventory fields shown
with coloured status badges, edited in the sidebar's detail view, persisted (read back through the REST API) and
audited; a refused change (a review date in the past) is explained in place. Refreshes docs/screenshot-model-risk.png.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from tests.ui.conftest import DOCS, open_sidebar

MODEL = "risk-ui-credit"


def _inventory_over_rest(lab: str) -> dict:
    """The model's inventory as the REST API returns it (the lab's own token)."""
    parts = urlsplit(lab)
    token = parse_qs(parts.query)["token"][0]
    response = httpx.get(
        f"{parts.scheme}://{parts.netloc}/mlops/api/models/{MODEL}/inventory",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_edit_inventory_fields_in_the_model_detail(page: Page, mlops, lab: str) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=3).fit(X, y), MODEL, X, pd.Series(y),
                   description="Retail credit default scoring (toy data).")  # fmt: skip
    due = (date.today() + timedelta(days=120)).isoformat()
    mlops.set_inventory(MODEL, {"risk_tier": "medium", "lifecycle_status": "validation", "next_review_due": due})

    panel = open_sidebar(page)
    box = panel.get_by_role("searchbox", name="Search models")
    box.fill(MODEL)
    box.press("Enter")
    panel.get_by_role("button", name=MODEL, exact=True).click()
    detail = page.locator(f'.jp-MLOps-detail[data-model-name="{MODEL}"]')
    risk = detail.get_by_role("region", name="Model risk")
    tier = risk.locator("[data-risk-tier]")
    expect(tier).to_have_text("medium risk", timeout=30_000)
    expect(tier).to_have_class("jp-MLOps-badge jp-MLOps-badge-busy")
    expect(risk.locator("[data-validation]")).to_have_text("not validated")
    expect(risk.locator("[data-overdue]")).to_have_text(f"next review {due}")

    # when the user raises the tier, names the business owner and moves to production, then saves
    risk.get_by_role("combobox", name="Risk tier").select_option("high")
    risk.get_by_role("textbox", name="Business owner").fill("Retail credit risk")
    risk.get_by_role("textbox", name="Purpose").fill("Probability of default for retail loans")
    risk.get_by_role("combobox", name="Lifecycle").select_option("production")
    risk.get_by_role("button", name="Save risk fields").click()
    expect(risk.get_by_role("status")).to_contain_text("Saved by", timeout=30_000)
    expect(tier).to_have_text("high risk")
    expect(tier).to_have_class("jp-MLOps-badge jp-MLOps-badge-error")

    # then the fields are persisted (read back through the API) and the change is audited with before/after
    stored = _inventory_over_rest(lab)
    assert (stored["risk_tier"], stored["lifecycle_status"]) == ("high", "production")
    assert stored["business_owner"] == "Retail credit risk" and stored["next_review_due"] == due
    assert stored["purpose"] == "Probability of default for retail loans"
    changes = [e for e in mlops.audit_events(f"model/{MODEL}") if e.action == "set_inventory"]
    assert changes[-1].outcome == "ok" and changes[-1].actor == stored["updated_by"]
    assert changes[-1].before["risk_tier"] == "medium" and changes[-1].after["risk_tier"] == "high"
    DOCS.mkdir(exist_ok=True)
    risk.screenshot(path=str(DOCS / "screenshot-model-risk.png"))

    # a review date in the past is refused by the server, explained in place, and changes nothing
    risk.get_by_label("Next review due").fill("2020-01-31")
    risk.get_by_role("button", name="Save risk fields").click()
    expect(risk.get_by_role("alert")).to_contain_text("in the past", timeout=30_000)
    assert _inventory_over_rest(lab)["next_review_due"] == due
