"""The %monitor magic and its ipywidgets dashboard, in a real IPython shell against the real deployment."""

from __future__ import annotations

import html
import uuid

import numpy as np
import pytest
from IPython.core.error import UsageError
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.core import api
from jupyter_mlops.widgets.monitoring import MonitorDashboard, quality_flags

from ..shell import ipython_shell
from ..waiting import wait_until
from .conftest import make_rows

PNG = b"\x89PNG"


@pytest.fixture
def shell(monitored, monkeypatch):
    monkeypatch.setattr(api, "_default", monitored.mlops)  # the magics use the process-wide facade
    shell = ipython_shell()
    return shell


def test_monitor_magic_shows_a_refreshing_dashboard(shell, monitored) -> None:
    monitored.send(make_rows(np.random.default_rng(9), 200))
    dashboard = shell.run_line_magic("monitor", "shop --window 1h --refresh 1")
    try:
        assert isinstance(dashboard, MonitorDashboard)
        assert "Health" in dashboard.header.value and "shop" in dashboard.header.value
        assert bytes(dashboard.ops_chart.value).startswith(PNG) and bytes(dashboard.drift_chart.value).startswith(PNG)
        assert "<table" in dashboard.drift_table.value
        first = dashboard.refreshes
        wait_until(lambda: dashboard.refreshes > first, 10, "the timer refreshing the dashboard", 0.1)
        assert "application/vnd.jupyter.widget-view+json" in dashboard._repr_mimebundle_()
    finally:
        dashboard.close()


@pytest.mark.parametrize("line", ["no-such-deployment", "shop --window 2s", "Bad_Name", "shop --refresh 0"])
def test_monitor_magic_mistakes_are_usage_errors(shell, line) -> None:
    with pytest.raises(UsageError):
        shell.run_line_magic("monitor", line)


@pytest.fixture(scope="module")
def estimated(monitored) -> str:
    """A deployment whose version has a labelled reference set, fed clean rows then rows with missing and
    out-of-range values (the pipeline imputes, so they are served and logged)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    from .conftest import true_labels

    rng = np.random.default_rng(31)
    X = make_rows(rng, 4000)
    y = true_labels(X, rng)
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X[:2000], y[:2000])
    name = f"widget-est-{uuid.uuid4().hex[:6]}"
    version = monitored.mlops.register(model, name, X[:2000], y[:2000], reference=(X[2000:], y[2000:]))
    monitored.mlops.deploy(f"{name}/{version.version}", name)
    monitored.send(make_rows(rng, 600), to=name)
    bad = make_rows(rng, 200)
    bad.loc[:79, "a"] = np.nan  # 80 of 800 "a" values missing: 10 %, red
    bad.loc[:9, "b"] = 25.0  # 10 of 800 "b" values far outside the training range: 1.25 %, amber
    monitored.send(bad, to=name)
    return name


def test_dashboard_plots_estimates_multivariate_drift_and_quality_flags(monitored, estimated) -> None:
    # Given a version with a reference set and logged traffic with quality problems
    dashboard = MonitorDashboard(lambda: monitored.mlops.monitor(estimated, "15m"), refresh_seconds=3600)
    try:
        report = dashboard.report
        # Then the estimate plot (estimate, band, realized) is drawn from the report's estimates
        assert not report.estimated_performance.empty
        assert dashboard.estimation.value.startswith("<b>Estimated performance</b> (CBPE")
        assert "accuracy" in dashboard.estimation.value
        assert bytes(dashboard.estimates_chart.value).startswith(PNG)
        assert dashboard.estimates_chart.layout.display is None
        # the multivariate drift line with its threshold
        assert not report.multivariate_drift.empty
        assert bytes(dashboard.multivariate_chart.value).startswith(PNG)
        # and the quality flags: "a" red (10 % missing), "b" amber (out of range), the others (nearly) clean
        flags = {f["feature"]: f for f in quality_flags(report)}
        assert flags["a"]["counts"]["missing"] == 80 and flags["a"]["status"] == "red"
        assert flags["b"]["counts"]["out_of_range"] >= 10 and flags["b"]["status"] == "amber"
        for clean in ("c", "d"):  # a fresh sample rarely leaves the training range, never by much
            assert flags[clean]["counts"]["missing"] == 0 and flags[clean]["counts"]["out_of_range"] <= 3
        assert "data-feature='a' data-status='red'" in dashboard.quality.value
        assert "data-feature='b' data-status='amber'" in dashboard.quality.value
        assert "10.0%" in dashboard.quality.value
        children = dashboard.widget.children
        for part in (dashboard.estimation, dashboard.estimates_chart, dashboard.multivariate_chart, dashboard.quality):
            assert part in children
    finally:
        dashboard.close()


def test_dashboard_says_why_estimates_are_unavailable(monitored) -> None:
    # Given the deployment whose version was registered without a reference set
    monitored.send(make_rows(np.random.default_rng(32), 100))
    dashboard = MonitorDashboard(lambda: monitored.mlops.monitor("shop", "15m"), refresh_seconds=3600)
    try:
        reason = monitored.mlops.monitor("shop", "15m").estimation.reason
        assert reason
        assert dashboard.estimation.value.startswith("<b>Estimated performance unavailable:</b>")
        assert html.escape(reason.split(":", 1)[-1].strip()) in dashboard.estimation.value
        assert dashboard.estimation.value.count("unavailable") == 1  # said once, not twice
        assert dashboard.estimates_chart.layout.display == "none"  # never a plot of numbers it cannot estimate
    finally:
        dashboard.close()
