"""The MLOps sidebar in a real JupyterLab and a real Chromium, on real MLflow and a real serving daemon."""

from __future__ import annotations

import pandas as pd
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from tests.ui.conftest import DOCS, open_sidebar


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


def test_sidebar_shows_models_and_a_running_deployment(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(
        GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y), "iris", X, y, alias="champion"
    )
    mlops.deploy("iris@champion", "iris-prod")

    panel = open_sidebar(page)
    model = panel.locator('[data-model-name="iris"]')
    expect(model).to_be_visible(timeout=30_000)
    # The alias shows on the model and on the version it points at.
    expect(model.locator('.jp-MLOps-row [data-alias="champion"]')).to_be_visible(timeout=30_000)
    expect(model.locator('[data-version="1"] [data-alias="champion"]')).to_be_visible()
    deployment = panel.locator('[data-deployment-name="iris-prod"]')
    expect(deployment).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(deployment).to_contain_text("/deployments/iris-prod/invocations")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-sidebar.png"))


def test_deploy_from_the_sidebar_and_watch_it_become_ready(page: Page, mlops) -> None:
    X, y = _iris()
    version = mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=1).fit(X, y), "flowers", X)

    panel = open_sidebar(page)
    panel.get_by_role("button", name=f"Deploy version {version.version} of flowers").click()
    dialog = page.locator(".jp-Dialog")
    name = dialog.locator('input[name="name"]')
    expect(name).to_have_value("flowers")
    name.fill("flowers-ui")
    dialog.get_by_role("button", name="Deploy").click()
    # The progress dialog walks through the steps to ready.
    progress = page.locator('.jp-Dialog [data-deployment-name="flowers-ui"]')
    expect(progress).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(progress.locator('[data-step="warming"]')).to_have_attribute("data-status", "done")
    page.screenshot(path=str(DOCS / "screenshot-deploy.png"))
    page.locator(".jp-Dialog").get_by_role("button", name="Close").click()

    row = panel.locator('[data-deployment-name="flowers-ui"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    assert mlops.deployment("flowers-ui").model_version == version.version

    # Stop it, confirming in the dialog; it leaves the list and the store.
    row.get_by_role("button", name="Stop deployment flowers-ui").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Stop").click()
    expect(row).to_have_count(0, timeout=30_000)
    assert "flowers-ui" not in [d.name for d in mlops.deployments()]


def test_a_refused_name_is_explained_in_the_dialog(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=2).fit(X, y), "petals", X)
    mlops.deploy("petals", "taken")

    panel = open_sidebar(page)
    panel.get_by_role("button", name="Deploy version 1 of petals").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('input[name="name"]').fill("taken")
    dialog.get_by_role("button", name="Deploy").click()
    expect(page.locator(".jp-Dialog [role=alert]")).to_contain_text("already exists", timeout=30_000)
