"""Journeys of issue #20 in a real JupyterLab and Chromium, on real MLflow and a real serving daemon, each
asserting what the user sees: impossible actions disabled with their reason, a failure shown as a toast that
stays with the action that helps, the governance view styled and its model card rendered, a stale monitoring
tab that names the cause and reads again when reopened."""

from __future__ import annotations

import pandas as pd
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

from tests.ui.conftest import DOCS, open_sidebar

NOTHING_TO_ROLL_BACK = "Nothing to roll back to: no canary to drop and no previous version served here."


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


def _search(panel, text: str) -> None:
    box = panel.get_by_role("searchbox", name="Search models")
    box.fill(text)
    box.press("Enter")


def _context_command(page: Page, row, label: str) -> None:
    """Run a command from a sidebar row's context menu (as a user does with a right click)."""
    row.locator(".jp-MLOps-name").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text=label).click()


def test_a_fresh_deployment_cannot_roll_back_or_promote_and_says_why(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=11).fit(X, y), "fresh", X)
    mlops.deploy("fresh", "fresh-deployment-with-a-long-name")

    panel = open_sidebar(page)
    _search(panel, "fresh")
    row = panel.locator('[data-deployment-name="fresh-deployment-with-a-long-name"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    rollback = row.get_by_role("button", name="Roll back fresh-deployment-with-a-long-name")
    expect(rollback).to_be_disabled(timeout=30_000)
    expect(rollback).to_have_attribute("title", NOTHING_TO_ROLL_BACK)
    promote = row.get_by_role("button", name="Promote the canary of fresh-deployment-with-a-long-name")
    expect(promote).to_be_disabled()
    expect(promote).to_have_attribute("title", "Nothing to promote: deploy a version as a canary or shadow first.")
    # The label says what is served; the endpoint URL is shown whole, up to the deployment's name.
    expect(row.locator(".jp-MLOps-rollout")).to_have_text("fresh v1")
    url = row.locator(".jp-MLOps-url")
    expect(url).to_contain_text("/deployments/fresh-deployment-with-a-long-name/invocations")
    assert url.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the endpoint URL is cut"


def test_a_refused_promotion_shows_a_toast_that_stays_with_an_action(page: Page, mlops) -> None:
    X, y = _iris()
    v1 = mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=12).fit(X, y), "toasty", X)
    v2 = mlops.register(GradientBoostingClassifier(n_estimators=7, random_state=12).fit(X, y), "toasty", X)
    mlops.deploy(f"toasty/{v1.version}", "toasty-prod")
    mlops.deploy(f"toasty/{v2.version}", "toasty-prod", canary=20)

    panel = open_sidebar(page)
    _search(panel, "toasty")
    row = panel.locator('[data-deployment-name="toasty-prod"]')
    expect(row.locator(".jp-MLOps-rollout")).to_have_text(
        f"toasty primary v{v1.version} 80% · canary v{v2.version} 20%", timeout=30_000
    )
    row.get_by_role("button", name="Promote the canary of toasty-prod").click()
    expect(page.locator(".jp-Dialog")).to_be_visible()
    # Someone else drops the canary while the dialog is open: the promotion is refused.
    mlops.rollback("toasty-prod")
    page.locator(".jp-Dialog").get_by_role("button", name="Promote").click()
    toast = page.locator(".Toastify__toast", has_text="Could not promote in toasty-prod")
    expect(toast).to_be_visible(timeout=30_000)
    expect(toast).to_contain_text("no canary")
    expect(toast).to_be_in_viewport(ratio=1)  # slid in, for the screenshot
    page.screenshot(path=str(DOCS / "screenshot-failure-toast.png"))
    # The toast offers what helps: the deployment's history.
    toast.get_by_role("button", name="Open history").click()
    view = page.locator('.jp-MLOps-detail[data-deployment-name="toasty-prod"]')
    expect(view.get_by_role("list", name="Rollout history").locator('[data-kind="rollback"]').first).to_be_visible(
        timeout=30_000
    )


def test_governance_view_is_styled_with_the_card_rendered_and_audit_detail(page: Page, mlops) -> None:
    X, y = _iris()
    mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=13).fit(X, y), "governed", X, y)
    mlops.deploy("governed", "governed-prod")

    panel = open_sidebar(page)
    _search(panel, "governed")
    row = panel.locator('[data-deployment-name="governed-prod"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    _context_command(page, row, "Lineage, audit and model card")
    view = page.locator(".jp-MLOps-governance")
    chip = view.locator('.jp-MLOps-lineage-node[data-kind="deployment"]')
    expect(chip).to_be_visible(timeout=30_000)
    # governance.css reaches the browser: the chips have their border.
    style = chip.evaluate("e => { const s = getComputedStyle(e); return [s.borderTopStyle, s.borderTopWidth]; }")
    assert style == ["solid", "1px"], style
    # The kind is written once.
    expect(chip).to_have_text("deployment governed-prod")
    # The model card is rendered Markdown (a heading), not its source.
    card = view.locator(".jp-MLOps-card-rendered")
    expect(card.locator("h1").first).to_be_visible(timeout=30_000)
    expect(card).not_to_contain_text("# Model card")
    # Audit: one time format (local time with zone); a click shows the change before and after.
    audit_row = view.locator("tr.jp-MLOps-audit-row", has_text="deploy").first
    expect(audit_row.locator("td").first).to_contain_text("UTC")
    audit_row.click()
    expect(view.locator('[data-side="after"]')).to_contain_text("governed")
    page.screenshot(path=str(DOCS / "screenshot-governance.png"))


def test_a_stale_monitoring_tab_names_the_cause_and_reads_again_when_reopened(page: Page, mlops) -> None:
    X, y = _iris()
    v1 = mlops.register(GradientBoostingClassifier(n_estimators=5, random_state=14).fit(X, y), "watched", X)
    v2 = mlops.register(GradientBoostingClassifier(n_estimators=6, random_state=14).fit(X, y), "watched", X)
    mlops.deploy(f"watched/{v1.version}", "watched-prod")
    mlops.deploy(f"watched/{v2.version}", "watched-prod", canary=50)
    for _ in range(30):
        mlops.predict("watched-prod", X.head(2))

    panel = open_sidebar(page)
    _search(panel, "watched")
    row = panel.locator('[data-deployment-name="watched-prod"]')
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    row.get_by_role("button", name="Monitoring and history of watched-prod").click()
    view = page.locator('.jp-MLOps-detail[data-deployment-name="watched-prod"]')
    expect(view).to_be_visible(timeout=30_000)
    # During a canary, traffic split by variant (requests reach the monitor asynchronously: refresh until shown).
    by_variant = view.get_by_role("table", name="By variant")
    refresh = page.locator(".jp-MainAreaWidget:visible .jp-Toolbar").get_by_title("Read the monitoring again")
    for _ in range(30):
        if by_variant.count():
            break
        refresh.click()
        page.wait_for_timeout(1000)
    expect(by_variant.locator('[data-variant="canary"]')).to_be_visible()
    expect(by_variant.locator('[data-variant="primary"]')).to_be_visible()
    page.screenshot(path=str(DOCS / "screenshot-monitoring.png"))

    # The deployment is stopped behind the tab's back: shown again, the tab names the cause, not the server.
    mlops.undeploy("watched-prod")
    _switch_away_and_back(page, "Monitoring: watched-prod")
    alert = page.locator(".jp-MainAreaWidget:visible .jp-MLOps-empty[role=alert]")
    expect(alert).to_contain_text("Not found", timeout=30_000)
    expect(alert).not_to_contain_text("Cannot load from the MLOps server")

    # Deployed again: the tab reads again when shown again, with no Retry.
    mlops.deploy(f"watched/{v1.version}", "watched-prod")
    _switch_away_and_back(page, "Monitoring: watched-prod")
    expect(view).to_be_visible(timeout=30_000)
    expect(view.get_by_role("list", name="Rollout history").locator('[data-kind="deploy"]').first).to_be_visible()


def _switch_away_and_back(page: Page, title: str) -> None:
    """Show another main-area tab (the audit log), then the one titled TITLE again."""
    page.locator("#jp-mlops-sidebar .jp-Toolbar").get_by_title("Who registered, deployed and changed what").click()
    expect(page.locator(".jp-MLOps-detail.jp-MLOps-audit")).to_be_visible(timeout=30_000)
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=title).click()
