"""The dashboard in Debian's Chromium: log in through the hub as the fleet viewer, see every user's deployments
with their health colours, filter, drill down; a plain user sees the refusal. Refreshes docs/fleet.png."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import Fleet

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
DOCS = Path(__file__).parents[2] / "docs"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def login(browser: Browser, fleet: Fleet, user: str) -> Page:
    """Open the fleet view; the hub asks who we are (DummyAuthenticator) and OAuth brings us back."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(fleet.url)
    page.fill("#username_input", user)
    page.fill("#password_input", "any")
    page.click("#login_submit")
    page.wait_for_load_state("networkidle")
    return page


def test_viewer_dashboard_and_screenshot(browser: Browser, fleet: Fleet) -> None:
    page = login(browser, fleet, "carol")
    rows = page.locator("#deployments tbody tr")
    expect(rows).to_have_count(4)
    # sorted by health, worst first: carol-risk is red, then bob's amber deployment
    expect(rows.nth(0)).to_contain_text("carol-risk")
    expect(rows.nth(0).locator(".dot.red")).to_have_count(1)
    expect(page.locator('#cards [data-key="red"] b')).to_have_text("1")
    expect(page.locator('#cards [data-key="green"] b')).to_have_text("1")
    # carol-idle was never called: grey, no score, counted as unknown (never a green 100)
    expect(page.locator('#cards [data-key="unknown"] b')).to_have_text("1")
    idle = rows.filter(has_text="carol-idle")
    expect(idle.locator(".dot.unknown")).to_have_count(1)
    expect(idle.locator("td").first).to_have_text("–")
    expect(page.locator('#cards [data-key="never_monitored"] b')).to_have_text("1")
    expect(page.locator('#cards [data-key="pending_approvals"] b')).to_have_text("1")
    # filter by owner, then clear
    page.fill("#owner", "bob")
    page.click("#filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bob-fraud")
    page.fill("#owner", "")
    page.click("#filters button[type=submit]")
    expect(rows).to_have_count(4)
    page.wait_for_function("document.querySelector('#trend').hidden || window.Chart !== undefined")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "fleet.png"), full_page=True)
    # drill-down: the deployment's hourly traffic, its approval and audit trail
    rows.filter(has_text="bob-fraud").click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("Traffic by hour")
    expect(detail).to_contain_text("request_approval")
    page.click("#detail .close")
    # exports: the CSV download and the audit report (a new tab) carry the hub's XSRF token
    with page.expect_download() as download:
        page.click("#export-csv")
    assert Path(download.value.path()).read_text().startswith("deployment,owner,")
    with page.context.expect_page() as report:
        page.click("#report-form button[type=submit]")
    expect(report.value.locator("h1")).to_have_text("Model inventory and audit report")
    expect(report.value.locator("body")).to_contain_text("carol-risk")
    page.close()


def test_plain_user_sees_the_refusal(browser: Browser, fleet: Fleet) -> None:
    page = login(browser, fleet, "bob")
    expect(page.locator("body")).to_contain_text("custom:mlops:fleet")
    expect(page.locator("#deployments")).to_have_count(0)
    page.close()
