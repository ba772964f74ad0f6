"""First open of the MLOps sidebar on empty stores: what to do first, said in the sidebar.

Named to run first in this folder: the stores are shared by the session and fill up in later tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.ui.conftest import DOCS, open_sidebar


def test_first_open_says_how_to_start(page: Page, mlops) -> None:
    assert mlops.models().items == [], "this test needs empty stores: run it first in a fresh session"
    panel = open_sidebar(page)
    empty = panel.get_by_role("status").filter(has_text="No models yet.")
    expect(empty).to_be_visible(timeout=30_000)
    # The magics need the extension loaded first: the hint says so, then how to register.
    expect(empty.locator("code").nth(0)).to_have_text("%load_ext jupyter_mlops")
    expect(empty.locator("code").nth(1)).to_have_text("%register model --name churn")
    expect(panel.get_by_text("No deployments yet.")).to_be_visible()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-first-open.png"))
