"""The ``%monitor`` dashboard: an ipywidgets view of one MonitoringReport that refreshes on a timer.

Charts are drawn with matplotlib (object API, Agg canvas, no pyplot state) into PNG images shown by an
``ipywidgets.Image``, so the dashboard needs no browser-side extension beyond ipywidgets itself and updates
cleanly from the refresh thread.
"""

from __future__ import annotations

import html
import io
import logging
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

log = logging.getLogger(__name__)

Fetch = Callable[[], Any]  # returns a MonitoringReport
COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
MAX_HISTOGRAMS = 4


def ops_figure_png(report: Any) -> bytes:
    """Throughput, p95 latency and error rate over the window, one line per variant."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ops = report.ops
    fig = Figure(figsize=(9, 2.4), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, column, title in zip(
        axes, ("throughput_rps", "p95_ms", "error_rate"), ("requests/s", "p95 latency (ms)", "error rate"), strict=True
    ):
        for variant, group in ops.groupby("variant"):
            ax.plot(group["time"], group[column], marker=".", label=str(variant))
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", labelrotation=30)
    if not ops.empty:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def drift_figure_png(report: Any) -> bytes | None:
    """Baseline-vs-live histograms of the most drifted features (by their primary statistic)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    features = [f for f in report.data["drift"]["features"] if f.get("baseline") and f.get("live")]
    if not features:
        return None
    features.sort(key=lambda f: (not f["drifted"], f["feature"]))
    shown = features[:MAX_HISTOGRAMS]
    fig = Figure(figsize=(9, 2.2), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, feature in zip(axes, shown, strict=True):
        base, live = feature["baseline"], feature["live"]
        positions = list(range(len(base["counts"])))
        total_b = max(sum(base["counts"]), 1)
        total_l = max(sum(live["counts"]), 1)
        ax.bar(positions, [c / total_b for c in base["counts"]], alpha=0.5, label="baseline")
        ax.bar(positions, [c / total_l for c in live["counts"]], alpha=0.5, label="live")
        mark = " (drift)" if feature["drifted"] else ""
        ax.set_title(f"{feature['feature']}{mark}", fontsize=9, color="#c62828" if feature["drifted"] else "black")
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class MonitorDashboard:
    """Header (health, traffic, drift share), ops charts, drift histograms and table, alerts; refreshes itself."""

    def __init__(self, fetch: Fetch, *, refresh_seconds: float = 10.0, initial: Any = None) -> None:
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds
        self.header = widgets.HTML()
        self.ops_chart = widgets.Image(format="png")
        self.drift_chart = widgets.Image(format="png")
        self.drift_table = widgets.HTML()
        self.alerts = widgets.HTML()
        self.pause = widgets.ToggleButton(value=False, description="Pause", icon="pause", layout={"width": "90px"})
        self.widget = widgets.VBox(
            [self.header, self.pause, self.ops_chart, self.drift_chart, self.drift_table, self.alerts]
        )
        self.report: Any = None
        self.refreshes = 0
        self._stop = threading.Event()
        self.refresh(initial)
        self._thread = threading.Thread(target=self._loop, name="mlops-monitor-dashboard", daemon=True)
        self._thread.start()

    def refresh(self, report: Any = None) -> None:
        """Fetch a new report (unless given) and redraw; an error is shown in the header, never raised."""
        try:
            report = report if report is not None else self.fetch()
        except Exception as exc:
            message = getattr(exc, "message", None) or type(exc).__name__
            self.header.value = f"<b>Monitoring unavailable:</b> {html.escape(str(message))}"
            return
        self.report = report
        self.refreshes += 1
        h, s = report.health, report.summary
        colour = COLOURS.get(h["colour"], "#777")
        p95 = "-" if s.get("p95_ms") is None else f"{s['p95_ms']:.1f} ms"
        self.header.value = (
            f"<h4>{html.escape(report.deployment)} &middot; last {html.escape(str(report.data['window']))}</h4>"
            f"<b style='color:{colour}'>Health {'?' if h['score'] is None else round(h['score'])} ({h['colour']})</b>"
            f" &middot; {s['requests']} requests"
            f" &middot; error rate {s['error_rate']:.1%} &middot; p95 {p95} &middot; drift share "
            f"{report.drift_share:.0%} &middot; dropped {report.data['dropped_records']}"
        )
        self.ops_chart.value = ops_figure_png(report)
        drift_png = drift_figure_png(report)
        self.drift_chart.value = drift_png or b""
        self.drift_chart.layout.display = None if drift_png else "none"
        drift = report.drift[["feature", "statistic", "value", "threshold", "drifted"]]
        message = report.data["drift"].get("message")
        self.drift_table.value = (
            f"<p>{html.escape(message)}</p>" if message and drift.empty else drift.to_html(index=False, border=0)
        )
        firing = [a for a in report.data["alerts"] if a["state"] == "firing"]
        self.alerts.value = (
            "<b>Firing alerts</b><ul>" + "".join(f"<li>{html.escape(a['message'])}</li>" for a in firing) + "</ul>"
            if firing
            else "<i>No firing alerts.</i>"
        )

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            if not self.pause.value:
                self.refresh()

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(30)
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
