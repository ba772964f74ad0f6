"""The fleet dashboard's "estimated below objective" card (issue #16 item 5) in Debian's Chromium, through the real
hub and fleet service: its count and its status colour as a fleet viewer sees them (test_estimated_objectives.py
proves the count behind it with a real daemon; this is what the browser shows of it). Refreshes
docs/fleet-estimated-objectives.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from jupyter_mlops.core.monitoring.storage import MonitoringStore

from .conftest import Fleet
from .test_dashboard import DOCS, browser, login  # noqa: F401 - the module's Chromium

WITH_OBJECTIVE = ("alice-churn", "bob-fraud")  # seeded deployments given an objective on an estimated metric
BELOW = "bob-fraud"


@pytest.fixture
def objectives(fleet: Fleet) -> Iterator[MonitoringStore]:
    """The objectives written where the monitor keeps them, removed afterwards (the hub's store is the session's)."""
    log = MonitoringStore(fleet.store.engine)
    try:
        yield log
    finally:
        for alert in log.firing(BELOW).values():
            log.resolve(alert["id"], time.time())
        for name in WITH_OBJECTIVE:
            log.replace_rules(name, [])


def card(page_cards: Locator) -> Locator:
    return page_cards.locator('[data-key="estimated_below_objective"]')


def test_estimated_below_objective_card_shows_the_count_and_a_status_colour(
    browser: Browser,  # noqa: F811 - the fixture imported above
    fleet: Fleet,
    objectives: MonitoringStore,
) -> None:
    page = login(browser, fleet, "carol")
    estimated = card(page.locator("#cards"))
    # given no deployment with an objective on an estimated metric: zero, no status colour
    expect(estimated.locator("b")).to_have_text("0")
    expect(estimated.locator("span")).to_have_text("estimated below objective (of 0 with one)")
    expect(estimated).to_have_class(re.compile(r"^card\s*$"))

    # when two deployments get an objective on their estimated accuracy and bob-fraud's estimate falls below it
    rule = {"name": "est-acc", "metric": "estimated_accuracy", "op": "<", "threshold": 0.8, "window_seconds": 3600}
    for name in WITH_OBJECTIVE:
        objectives.replace_rules(name, [rule])
    now = time.time()
    fired = objectives.fire(
        {"deployment": BELOW, "rule": "est-acc", "metric": "estimated_accuracy", "value": 0.71, "threshold": 0.8,
         "state": "firing", "fired_at": now, "message": "estimated accuracy 0.71 below 0.8"}
    )  # fmt: skip
    assert fired is not None
    page.reload()
    # then the card counts one of the two, in the error colour
    expect(estimated.locator("b")).to_have_text("1")
    expect(estimated.locator("span")).to_have_text("estimated below objective (of 2 with one)")
    expect(estimated).to_have_class("card red")
    expect(estimated).to_have_css("border-left-color", "rgb(179, 38, 30)")
    DOCS.mkdir(exist_ok=True)
    page.locator("#cards").screenshot(path=str(DOCS / "fleet-estimated-objectives.png"))

    # and once the estimate is back above the objective, no deployment is below: zero, in the ok colour
    objectives.resolve(fired, time.time())
    page.reload()
    expect(estimated.locator("b")).to_have_text("0")
    expect(estimated.locator("span")).to_have_text("estimated below objective (of 2 with one)")
    expect(estimated).to_have_class("card green")
    expect(estimated).to_have_css("border-left-color", "rgb(30, 123, 52)")
    page.close()
