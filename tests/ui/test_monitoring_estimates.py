"""Issue #16 item 5 in a real JupyterLab and Chromium, on real MLflow and a real serving daemon: a version registered
with a labelled reference set, fed traffic with missing and out-of-range values, shows in its monitoring tab the
performance estimated without labels (a drawn chart with its band), the multivariate drift line and the
data-quality flags."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
import pandas as pd
from playwright.sync_api import Page, expect
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from tests.ui.conftest import DOCS, open_sidebar

FEATURES = ["a", "b", "c", "d"]
DRAWN = "c => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0)"


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)


def _labels(rows: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return (rows["a"] + rows["b"] + rng.normal(scale=0.7, size=len(rows)) > 0).astype(int).to_numpy()


def _send(mlops, name: str, rows: pd.DataFrame, per_request: int = 100) -> None:
    """Score rows through the daemon (NaN goes as JSON null, as a client would send a missing value)."""
    for start in range(0, len(rows), per_request):
        chunk = rows.iloc[start : start + per_request].reset_index(drop=True)
        body = orjson.dumps({"dataframe_split": chunk.to_dict(orient="split")})
        status, _, answer = mlops.invoke(name, body)
        assert status == 200, answer


def test_monitoring_tab_shows_estimates_multivariate_drift_and_quality_flags(page: Page, mlops) -> None:
    # Given a version registered WITH a labelled reference set the model did not train on
    rng = np.random.default_rng(41)
    X = _rows(rng, 4000)
    y = _labels(X, rng)
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X[:2000], y[:2000])
    name = f"estimates-{uuid.uuid4().hex[:6]}"
    version = mlops.register(model, name, X[:2000], y[:2000], reference=(X[2000:], y[2000:]))
    mlops.deploy(f"{name}/{version.version}", name)
    # and traffic without labels, some rows with a missing "a" and an out-of-range "b"
    _send(mlops, name, _rows(rng, 600))
    bad = _rows(rng, 200)
    bad.loc[:79, "a"] = np.nan
    bad.loc[:9, "b"] = 25.0
    _send(mlops, name, bad)

    # When the user opens the deployment's monitoring tab
    panel = open_sidebar(page)
    box = panel.get_by_role("searchbox", name="Search models")
    box.fill(name)
    box.press("Enter")
    row = panel.locator(f'[data-deployment-name="{name}"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    row.get_by_role("button", name=f"Monitoring and history of {name}").click()
    view = page.locator(f'.jp-MLOps-detail[data-deployment-name="{name}"]')
    expect(view).to_be_visible(timeout=30_000)
    # (logged rows reach the monitor asynchronously: read again until the quality table counts them all)
    quality = view.get_by_role("table", name="Data quality")
    refresh = page.locator(".jp-MainAreaWidget:visible .jp-Toolbar").get_by_title("Read the monitoring again")
    for _ in range(30):
        if quality.count() and quality.locator('[data-feature="a"] td').nth(2).inner_text() == "800":
            break
        refresh.click()
        page.wait_for_timeout(1000)

    # Then the estimated-performance chart is drawn, with its band explained and the window's estimates listed
    estimates = view.get_by_role("region", name="Estimated performance")
    expect(estimates.locator("[data-estimation=available]")).to_contain_text("Estimated without labels by CBPE")
    expect(estimates).to_contain_text("95 percent band")
    accuracy = estimates.get_by_role("img", name="Estimated accuracy over time")
    expect(accuracy).to_be_visible()
    assert accuracy.evaluate(DRAWN), "the estimated-accuracy canvas is blank"
    summary = estimates.get_by_role("table", name="Estimated performance over the window")
    expect(summary.locator('[data-metric="accuracy"]')).to_be_visible()
    # the multivariate drift section with its line drawn
    multivariate = view.get_by_role("region", name="Multivariate drift")
    expect(multivariate).to_contain_text("PCA reconstruction error against the reference band")
    line = multivariate.get_by_role("img", name="Multivariate drift over time")
    expect(line).to_be_visible()
    assert line.evaluate(DRAWN), "the multivariate drift canvas is blank"
    # and the quality flags: "a" red with 10 % missing, "b" flagged for out-of-range values
    expect(quality.locator('[data-feature="a"]')).to_have_attribute("data-status", "red")
    expect(quality.locator('[data-feature="a"]')).to_contain_text("10.0%")
    expect(quality.locator('[data-feature="b"]')).to_have_attribute("data-status", "amber")
    expect(view.get_by_role("img", name="Quality red").first).to_be_visible()

    estimates.evaluate("e => e.scrollIntoView({block: 'start'})")  # the three new sections in one view
    page.screenshot(path=str(DOCS / "screenshot-monitoring-estimates.png"))


def test_monitoring_tab_says_why_estimates_are_unavailable(page: Page, mlops) -> None:
    # Given a version registered without a reference set, and some traffic
    rng = np.random.default_rng(42)
    X = _rows(rng, 500)
    name = f"no-reference-{uuid.uuid4().hex[:6]}"
    version = mlops.register(LogisticRegression().fit(X, _labels(X, rng)), name, X)
    mlops.deploy(f"{name}/{version.version}", name)
    _send(mlops, name, _rows(rng, 100))

    panel = open_sidebar(page)
    box = panel.get_by_role("searchbox", name="Search models")
    box.fill(name)
    box.press("Enter")
    row = panel.locator(f'[data-deployment-name="{name}"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    row.get_by_role("button", name=f"Monitoring and history of {name}").click()
    view = page.locator(f'.jp-MLOps-detail[data-deployment-name="{name}"]')
    # Then the tab says plainly that estimates are unavailable, with the reason, and draws no estimate
    unavailable = view.locator("[data-estimation=unavailable]")
    expect(unavailable).to_contain_text("Estimated performance unavailable:", timeout=30_000)
    assert len(unavailable.inner_text()) > len("Estimated performance unavailable: ") + 5
    expect(view.get_by_role("img", name="Estimated accuracy over time")).to_have_count(0)
