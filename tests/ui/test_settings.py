"""A deployment's settings edited from the sidebar in a real JupyterLab and Chromium, on real MLflow, the real
REST door and a real serving daemon: the change reaches the daemon, and a value the server refuses is explained
next to its field and in a toast that stays."""

from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.core.errors import InvalidRequest
from tests.ui.conftest import DOCS, open_sidebar


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


def test_change_max_rows_in_the_sidebar_and_see_a_refused_threshold_explained(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=21).fit(X, y), "tuned", X)
    mlops.deploy("tuned", "tuned-prod")  # waits until ready
    before = mlops.configure("tuned-prod")

    panel = open_sidebar(page)
    search = panel.get_by_role("searchbox", name="Search models")
    search.fill("tuned")
    search.press("Enter")
    row = panel.locator('[data-deployment-name="tuned-prod"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)

    # Given the settings editor opened on the deployment, showing what the server holds
    row.get_by_role("button", name="Settings of tuned-prod").click()
    editor = row.get_by_role("form", name="Settings of tuned-prod")
    rows = editor.get_by_label("Max rows")
    expect(rows).to_have_value(str(before.max_rows), timeout=30_000)
    expect(editor.get_by_label("Timeout (ms)")).to_have_value(str(before.timeout_ms))

    # When max rows is changed and applied
    rows.fill("7")
    editor.get_by_role("button", name="Apply").click()
    # Then the editor confirms, the settings read back through the facade have it, and the daemon enforces it
    expect(editor.get_by_role("status")).to_have_text("Settings applied: max_rows 7", timeout=60_000)
    assert mlops.configure("tuned-prod").max_rows == 7
    assert len(mlops.predict("tuned-prod", X.head(7))) == 7
    with pytest.raises(InvalidRequest, match="at most 7"):
        mlops.predict("tuned-prod", X.head(8))
    expect(rows).to_have_value("7")
    editor.evaluate("e => e.scrollIntoView({block: 'start'})")  # the limits in view for the screenshot
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-settings.png"))

    # When a threshold the client lets through is refused by the server (a KS significance level must be < 1)
    threshold = editor.get_by_label("Threshold (ks)")
    threshold.fill("1.5")
    editor.get_by_role("button", name="Apply").click()
    # Then the server's message shows next to that field, and as a toast that stays
    problem = editor.locator('[data-problem="monitoring.thresholds.ks"]')
    expect(problem).to_contain_text("drift threshold ks must be between 0 and 1", timeout=60_000)
    expect(threshold).to_have_attribute("aria-invalid", "true")
    toast = page.locator(".Toastify__toast", has_text="Settings of tuned-prod not applied")
    expect(toast).to_be_visible(timeout=30_000)
    expect(toast).to_contain_text("drift threshold ks")
    # ... and nothing changed on the server
    assert mlops.configure("tuned-prod").monitoring.thresholds.get("ks") is None
    assert mlops.configure("tuned-prod").max_rows == 7
