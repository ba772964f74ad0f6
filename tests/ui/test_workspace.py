"""The sidebar as the MLOps workspace, in a real JupyterLab and Chromium on real MLflow and a real daemon:
canary rollout, traffic split, promote and rollback; monitoring; insert code; a catalog of many models."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pandas as pd
from mlflow import MlflowClient
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from tests.ui.conftest import DOCS, open_sidebar


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


def _search(panel, text: str) -> None:
    """Search the catalog from the sidebar (the server filters; Enter searches at once)."""
    box = panel.get_by_role("searchbox", name="Search models")
    box.fill(text)
    box.press("Enter")


def _confirm(page: Page, button: str) -> None:
    page.locator(".jp-Dialog").get_by_role("button", name=button).click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def test_canary_traffic_promote_and_rollback_from_the_sidebar(page: Page, mlops) -> None:
    X, y = _iris()
    v1 = mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=3).fit(X, y), "rollout", X)
    v2 = mlops.register(GradientBoostingClassifier(n_estimators=8, random_state=4).fit(X, y), "rollout", X)
    mlops.deploy(f"rollout/{v1.version}", "rollout-prod")

    panel = open_sidebar(page)
    _search(panel, "rollout")
    row = panel.locator('[data-deployment-name="rollout-prod"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)

    # Deploy version 2 as a 20% canary of the running deployment, from the deploy dialog.
    panel.get_by_role("button", name=f"Deploy version {v2.version} of rollout").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('input[name="rollout"][value="canary"]').check()
    # The deployments of this model come first.
    expect(dialog.locator('select[name="name"]')).to_have_value("rollout-prod")
    dialog.locator('select[name="name"]').select_option("rollout-prod")
    dialog.locator('input[name="canary"]').fill("20")
    page.screenshot(path=str(DOCS / "screenshot-canary-dialog.png"))
    dialog.get_by_role("button", name="Deploy").click()
    progress = page.locator('.jp-Dialog [data-deployment-name="rollout-prod"]')
    expect(progress).to_have_attribute("data-state", "ready", timeout=60_000)
    page.locator(".jp-Dialog").get_by_role("button", name="Close").click()

    canary_share = row.get_by_role("spinbutton", name="Traffic share of canary (%)")
    expect(canary_share).to_have_value("20", timeout=30_000)
    # The label shows every variant with its version and weight.
    expect(row.locator(".jp-MLOps-rollout")).to_have_text(
        f"rollout primary v{v1.version} 80% · canary v{v2.version} 20%", timeout=30_000
    )
    assert {v.role.value: v.weight for v in mlops.deployment("rollout-prod").variants} == {
        "primary": 80,
        "canary": 20,
    }

    # Change the split to 50/50: the primary follows as the canary's share is typed, and Apply confirms.
    primary_share = row.get_by_role("spinbutton", name="Traffic share of primary (%)")
    canary_share.fill("50")
    expect(primary_share).to_have_value("50")
    expect(row.get_by_text("Total 100%")).to_be_visible()
    canary_share.fill("150")
    apply = row.get_by_role("button", name="Apply split")
    expect(apply).to_be_disabled()
    expect(row.get_by_text("Each share must be a whole number from 0 to 100.")).to_be_visible()
    canary_share.fill("50")
    expect(primary_share).to_have_value("50")
    apply.click()
    expect(row.get_by_role("status")).to_have_text("Applied: primary 50% · canary 50%", timeout=30_000)
    expect(row.get_by_role("button", name="Apply split")).to_have_count(0, timeout=30_000)
    assert sorted(v.weight for v in mlops.deployment("rollout-prod").variants) == [50, 50]
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    page.screenshot(path=str(DOCS / "screenshot-traffic.png"))

    # Promote the canary: version 2 serves everything.
    row.get_by_role("button", name="Promote the canary of rollout-prod").click()
    _confirm(page, "Promote")
    expect(row.get_by_role("spinbutton")).to_have_count(0, timeout=30_000)
    expect(row.locator(".jp-MLOps-rollout")).to_have_text(f"rollout v{v2.version}", timeout=30_000)
    expect(page.locator(".Toastify__toast", has_text="Promoted in rollout-prod")).to_be_visible()
    # Nothing left to promote; the previous primary is there to roll back to.
    expect(row.get_by_role("button", name="Promote the canary of rollout-prod")).to_be_disabled()
    expect(row.get_by_role("button", name="Roll back rollout-prod")).to_be_enabled(timeout=30_000)
    assert [v.model_version for v in mlops.deployment("rollout-prod").variants] == [v2.version]

    # Roll back: version 1 again.
    row.get_by_role("button", name="Roll back rollout-prod").click()
    _confirm(page, "Roll back")
    expect(row.locator(".jp-MLOps-rollout")).to_have_text(f"rollout v{v1.version}", timeout=30_000)
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    assert [v.model_version for v in mlops.deployment("rollout-prod").variants] == [v1.version]

    # The history lists every step, newest first, in the monitoring view.
    for _ in range(5):
        mlops.predict("rollout-prod", X.head(3))
    row.get_by_role("button", name="Monitoring and history of rollout-prod").click()
    view = page.locator('.jp-MLOps-detail[data-deployment-name="rollout-prod"]')
    expect(view).to_be_visible(timeout=30_000)
    history = view.get_by_role("list", name="Rollout history")
    for kind in ("canary", "traffic", "promote", "rollback"):
        expect(history.locator(f'[data-kind="{kind}"]').first).to_be_visible()
    # One health dot in the view's header (the data-quality table, once its rows are in, has a dot per feature).
    expect(view.locator(".jp-MLOps-detail-header .jp-MLOps-health")).to_have_count(1)
    # Requests reach the monitor asynchronously: refresh until the traffic chart is drawn.
    chart = view.get_by_role("img", name="Requests and errors over time")
    for _ in range(20):
        if chart.count():
            break
        page.locator(".jp-MainAreaWidget:visible .jp-Toolbar").get_by_title("Read the monitoring again").click()
        page.wait_for_timeout(1000)
    expect(chart).to_be_visible()


def test_insert_code_calling_a_deployment_into_the_notebook(page: Page, lab: str, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=5).fit(X, y), "coded", X)
    mlops.deploy("coded", "coded-prod")

    # A notebook to insert into, created through Jupyter's contents API and opened by URL.
    parts = urlsplit(lab)
    token = parts.query.split("token=")[1]
    base = f"{parts.scheme}://{parts.netloc}"
    notebook = {
        "cells": [{"cell_type": "code", "source": "X = None", "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    httpx.put(
        f"{base}/api/contents/insert.ipynb",
        headers={"Authorization": f"token {token}"},
        content=json.dumps({"type": "notebook", "content": notebook}),
    ).raise_for_status()
    page.goto(f"{base}/lab/tree/insert.ipynb?token={token}")
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    expect(cells).to_have_count(1, timeout=60_000)

    panel = open_sidebar(page)
    row = panel.locator('[data-deployment-name="coded-prod"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    row.get_by_role("button", name="Insert code calling coded-prod into the notebook").click()

    expect(cells).to_have_count(2, timeout=30_000)
    inserted = cells.nth(1)
    expect(inserted).to_contain_text('jupyter_mlops.predict("coded-prod", X)')
    expect(inserted).to_contain_text("/deployments/coded-prod/invocations")


def test_catalog_with_many_models_search_page_detail_and_alias(page: Page, mlops) -> None:
    # Many models, registered straight through MLflow (dummy sources: listing never reads them).
    client = MlflowClient(tracking_uri=mlops.config.tracking_uri, registry_uri=mlops.config.registry_uri)
    for i in range(120):
        client.create_registered_model(f"bulk-{i:03d}")
        client.create_model_version(f"bulk-{i:03d}", source="file:///nowhere")
    X, y = _iris()
    mlops.register(
        GradientBoostingClassifier(n_estimators=5, random_state=6).fit(X, y),
        "catalog-demo",
        X,
        y,
        alias="champion",
        description="Iris species from petal and sepal sizes.",
    )
    v2 = mlops.register(GradientBoostingClassifier(n_estimators=9, random_state=7).fit(X, y), "catalog-demo", X, y)

    panel = open_sidebar(page)
    _search(panel, "bulk-")
    rows = panel.locator(".jp-MLOps-model")
    expect(rows).to_have_count(50, timeout=30_000)
    panel.get_by_role("button", name="Load more models").click()
    expect(rows).to_have_count(100, timeout=30_000)
    panel.get_by_role("button", name="Load more models").click()
    expect(rows).to_have_count(120, timeout=30_000)
    expect(panel.get_by_role("button", name="Load more models")).to_have_count(0)

    _search(panel, "BULK-11")
    expect(rows).to_have_count(10, timeout=30_000)
    _search(panel, "no-such-model")
    expect(panel.get_by_text('No model name contains "no-such-model".')).to_be_visible(timeout=30_000)

    # Detail: description, metrics, params, signature, lineage; move the champion alias to version 2.
    _search(panel, "catalog-demo")
    panel.get_by_role("button", name="catalog-demo", exact=True).click()
    detail = page.locator('.jp-MLOps-detail[data-model-name="catalog-demo"]')
    expect(detail).to_contain_text("Iris species from petal and sepal sizes.", timeout=30_000)
    latest = detail.locator(f'[data-version="{v2.version}"]')
    expect(latest.get_by_role("table", name="Signature")).to_contain_text("sepal_length")
    expect(latest.get_by_role("table", name="Parameters")).to_contain_text("n_estimators")
    expect(latest.get_by_role("table", name="Lineage")).to_contain_text("Python")
    detail.get_by_role("combobox", name="Version of alias champion").select_option(v2.version)
    expect(latest.locator(".jp-MLOps-alias", has_text="@champion")).to_be_visible(timeout=30_000)
    assert mlops.registry.model("catalog-demo").aliases == {"champion": v2.version}
    page.screenshot(path=str(DOCS / "screenshot-model-detail.png"))

    # The same workspace in the dark theme (theme variables only, no hard-coded colours).
    _use_theme(page, "JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "screenshot-dark.png"))
    _use_theme(page, "JupyterLab Light")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true", timeout=30_000)


def _use_theme(page: Page, theme: str) -> None:
    """Settings > Theme > THEME, through JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{theme}$")).click()


def test_audit_log_lists_what_happened_to_a_deployment(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=8).fit(X, y), "audited", X)
    mlops.deploy("audited", "audited-prod")

    panel = open_sidebar(page)
    page.locator("#jp-mlops-sidebar .jp-Toolbar").get_by_title("Who registered, deployed and changed what").click()
    view = page.locator(".jp-MLOps-detail.jp-MLOps-audit")
    expect(view).to_be_visible(timeout=30_000)
    view.get_by_role("searchbox", name="Audit target").fill("deployment/audited-prod")
    view.get_by_role("button", name="Filter").click()
    rows = view.get_by_role("table", name="Audit log").locator("tbody tr")
    expect(rows.first).to_be_visible(timeout=30_000)
    expect(rows.first).to_contain_text("deployment/audited-prod")
    assert panel.is_visible()


def test_a_protected_promote_offers_an_approval_request_listed_for_approvers(page: Page, mlops) -> None:
    """The lab runs with ``*-guarded`` deployments protected: promoting a canary there is refused, the
    notification files the exact approval request, and the approvals view shows it with its evidence; the
    requester cannot grant their own request."""
    X, y = _iris()
    v1 = mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=9).fit(X, y), "guarded", X)
    v2 = mlops.register(GradientBoostingClassifier(n_estimators=9, random_state=9).fit(X, y), "guarded", X)
    mlops.deploy(f"guarded/{v1.version}", "guarded-guarded")  # this in-process service protects nothing
    mlops.deploy(f"guarded/{v2.version}", "guarded-guarded", canary=10)

    panel = open_sidebar(page)
    _search(panel, "guarded")
    row = panel.locator('[data-deployment-name="guarded-guarded"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    row.get_by_role("button", name="Promote the canary of guarded-guarded").click()
    _confirm(page, "Promote")
    toast = page.locator(".Toastify__toast", has_text="needs an approval")
    expect(toast).to_be_visible(timeout=30_000)
    toast.get_by_role("button", name="Request approval").click()
    requested = page.locator(".Toastify__toast", has_text="requested")
    expect(requested).to_be_visible(timeout=30_000)
    # Headless Chromium never has focus, so toasts never time out; JupyterLab shows a few at a time.
    requested.get_by_title("Hide notification").click()
    pending = [a for a in mlops.approvals("pending") if a.target == "deployment/guarded-guarded"]
    assert [a.action for a in pending] == ["promote"]
    assert [v.model_version for v in mlops.deployment("guarded-guarded").variants] == [v1.version, v2.version]

    page.locator("#jp-mlops-sidebar .jp-Toolbar").get_by_title("Protected changes waiting for an approver").click()
    card = page.get_by_role("region", name=f"Approval request {pending[0].id}")
    expect(card).to_be_visible(timeout=30_000)
    expect(card).to_contain_text(f"primary=guarded/{v2.version}@100%")
    card.get_by_role("button", name="Grant").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Grant").click()
    expect(card.get_by_role("alert")).to_contain_text("only approvers and admins may grant", timeout=30_000)
    page.screenshot(path=str(DOCS / "screenshot-approvals.png"))
    assert [a.status for a in mlops.approvals() if a.id == pending[0].id] == ["pending"]

    # The refused promotion is in the audit log, marked, and a click shows why.
    page.locator("#jp-mlops-sidebar .jp-Toolbar").get_by_title("Who registered, deployed and changed what").click()
    audit = page.locator(".jp-MLOps-detail.jp-MLOps-audit")
    expect(audit).to_be_visible(timeout=30_000)
    audit.get_by_role("searchbox", name="Audit target").fill("deployment/guarded-guarded")
    audit.get_by_role("button", name="Filter").click()
    refused = audit.locator('tbody tr[data-outcome="refused"][data-action="promote"]').first
    expect(refused).to_be_visible(timeout=30_000)
    expect(refused).to_contain_text("refused")
    refused.click()
    expect(audit.locator(".jp-MLOps-audit-detail")).to_contain_text("approv")
    page.screenshot(path=str(DOCS / "screenshot-audit.png"))
