"""The %monitor magic and its ipywidgets dashboard, in a real IPython shell against the real deployment."""

from __future__ import annotations

import time

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlops.core import api
from jupyter_mlops.magics.commands import MLOpsMagics
from jupyter_mlops.widgets.monitoring import MonitorDashboard

from .conftest import make_rows

PNG = b"\x89PNG"


@pytest.fixture
def shell(monitored, monkeypatch):
    monkeypatch.setattr(api, "_default", monitored.mlops)  # the magics use the process-wide facade
    shell = InteractiveShell.instance()
    shell.register_magics(MLOpsMagics)
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
        deadline = time.monotonic() + 10
        while dashboard.refreshes == first and time.monotonic() < deadline:
            time.sleep(0.1)
        assert dashboard.refreshes > first  # the timer refreshed it
        assert "application/vnd.jupyter.widget-view+json" in dashboard._repr_mimebundle_()
    finally:
        dashboard.close()


@pytest.mark.parametrize("line", ["no-such-deployment", "shop --window 2s", "Bad_Name", "shop --refresh 0"])
def test_monitor_magic_mistakes_are_usage_errors(shell, line) -> None:
    with pytest.raises(UsageError):
        shell.run_line_magic("monitor", line)
