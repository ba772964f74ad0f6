"""The ``%monitor`` dashboard: an ipywidgets view of one MonitoringReport that refreshes on a timer.

Charts are drawn with matplotlib (object API, Agg canvas, no pyplot state) into PNG images shown by an
``ipywidgets.Image``, so the dashboard needs no browser-side extension beyond ipywidgets itself and updates
cleanly from the refresh thread.
"""

from __future__ import annotations

import html
import io
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ipywidgets as widgets

log = logging.getLogger(__name__)

Fetch = Callable[[], Any]  # returns a MonitoringReport
COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}
MAX_HISTOGRAMS = 4
T = TypeVar("T")


def panels_png(
    items: Sequence[T],
    draw: Callable[[Any, T], None],
    *,
    height: float,
    over_time: bool = True,
    legend: bool = True,
) -> bytes | None:
    """Draw one panel per item side by side into a PNG, so every chart of the dashboard looks the same.

    Args:
        items: what each panel shows (a column, a feature, a metric...); none: no chart (``None``).
        draw: plots one item onto its matplotlib axes, including the title.
        height: the figure's height in inches (the width is the dashboard's).
        over_time: the x axis holds times: its labels are turned so they do not overlap.
        legend: put a legend on the first panel.

    Returns:
        The PNG bytes, or ``None`` when there is nothing to draw.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not items:
        return None
    fig = Figure(figsize=(9, height), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(items), squeeze=False)[0]
    for ax, item in zip(axes, items, strict=True):
        draw(ax, item)
        ax.tick_params(labelsize=7)
        if over_time:
            ax.tick_params(axis="x", labelrotation=30)
    if legend:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


OPS_PANELS = (("throughput_rps", "requests/s"), ("p95_ms", "p95 latency (ms)"), ("error_rate", "error rate"))


def ops_figure_png(report: Any) -> bytes:
    """Throughput, p95 latency and error rate over the window, one line per variant."""
    ops = report.ops

    def draw(ax: Any, panel: tuple[str, str]) -> None:
        column, title = panel
        for variant, group in ops.groupby("variant"):
            ax.plot(group["time"], group[column], marker=".", label=str(variant))
        ax.set_title(title, fontsize=9)

    return panels_png(OPS_PANELS, draw, height=2.4, legend=not ops.empty) or b""  # three panels: never empty


def drift_figure_png(report: Any) -> bytes | None:
    """Baseline-vs-live histograms of the most drifted features (by their primary statistic)."""
    features = [f for f in report.data["drift"]["features"] if f.get("baseline") and f.get("live")]
    features.sort(key=lambda f: (not f["drifted"], f["feature"]))

    def draw(ax: Any, feature: dict[str, Any]) -> None:
        base, live = feature["baseline"], feature["live"]
        positions = list(range(len(base["counts"])))
        total_b = max(sum(base["counts"]), 1)
        total_l = max(sum(live["counts"]), 1)
        ax.bar(positions, [c / total_b for c in base["counts"]], alpha=0.5, label="baseline")
        ax.bar(positions, [c / total_l for c in live["counts"]], alpha=0.5, label="live")
        mark = " (drift)" if feature["drifted"] else ""
        ax.set_title(f"{feature['feature']}{mark}", fontsize=9, color=COLOURS["red"] if feature["drifted"] else "black")
        ax.set_xticks([])

    return panels_png(features[:MAX_HISTOGRAMS], draw, height=2.2, over_time=False)


def estimates_figure_png(report: Any) -> bytes | None:
    """Performance estimated without labels per metric over time: the estimate, its 95 % band, realized values."""
    frame = report.estimated_performance

    def draw(ax: Any, metric: str) -> None:
        rows = frame[frame["metric"] == metric].sort_values("time")
        ax.plot(rows["time"], rows["estimate"], marker=".", label="estimated")
        band = rows.dropna(subset=["lower", "upper"])
        if not band.empty:
            ax.fill_between(band["time"], band["lower"].astype(float), band["upper"].astype(float), alpha=0.25)
        realized = rows.dropna(subset=["realized"])
        if not realized.empty:
            ax.plot(realized["time"], realized["realized"], marker="x", linestyle="--", label="realized")
        ax.set_title(metric, fontsize=9)

    return panels_png(list(dict.fromkeys(frame["metric"])), draw, height=2.3)


def multivariate_figure_png(report: Any) -> bytes | None:
    """PCA reconstruction error per bucket against the reference band (dashed threshold); drifted buckets in red."""

    def draw(ax: Any, frame: Any) -> None:
        ax.plot(frame["time"], frame["reconstruction_error"], marker=".", label="reconstruction error")
        ax.plot(frame["time"], frame["upper"], linestyle="--", color=COLOURS["red"], label="threshold")
        ax.plot(frame["time"], frame["lower"], linestyle=":", color="#777", label="lower")
        drifted = frame[frame["drifted"].astype(bool)]
        if not drifted.empty:
            ax.scatter(
                drifted["time"], drifted["reconstruction_error"], color=COLOURS["red"], zorder=3, label="drifted"
            )
        ax.set_title("multivariate drift", fontsize=9)

    frame = report.multivariate_drift
    return None if frame.empty else panels_png([frame.sort_values("time")], draw, height=2.0)


UNAVAILABLE_LEAD = re.compile(r"^\s*estimates?\s+(are\s+|is\s+)?unavailable\s*:\s*", re.IGNORECASE)  # said already
QUALITY_KINDS = ("missing", "out_of_range", "unseen_category", "type_mismatch")
QUALITY_RED_RATE = 0.05  # a problem rate at or above this shows red (below: amber), as in the sidebar


def quality_flags(report: Any) -> list[dict[str, Any]]:
    """Data quality summed per feature over the window: counts, rates from the sums, and a status colour.

    Flagged features come first (red, then amber), then clean ones, each group by name.
    """
    frame = report.data_quality
    if frame.empty:
        return []
    sums = frame.groupby("feature")[["rows", *QUALITY_KINDS]].sum()
    flags = []
    for feature, row in sums.iterrows():
        rows = int(row["rows"])
        counts = {kind: int(row[kind]) for kind in QUALITY_KINDS}
        rates = {kind: (counts[kind] / rows if rows else 0.0) for kind in QUALITY_KINDS}
        status = "green" if not any(counts.values()) else "red" if max(rates.values()) >= QUALITY_RED_RATE else "amber"
        flags.append({"feature": str(feature), "rows": rows, "counts": counts, "rates": rates, "status": status})
    rank = {"red": 0, "amber": 1, "green": 2}
    return sorted(flags, key=lambda f: (rank[f["status"]], f["feature"]))


def quality_html(flags: list[dict[str, Any]]) -> str:
    """An HTML table of the quality flags, one row per feature, a coloured status dot and the problem rates."""
    if not flags:
        return ""
    flagged = sum(f["status"] != "green" for f in flags)
    head = "".join(f"<th>{k.replace('_', ' ')}</th>" for k in QUALITY_KINDS)
    body = []
    for f in flags:
        cells = "".join(
            f"<td title='{f['counts'][k]} of {f['rows']} rows'>{f['rates'][k]:.1%}</td>"
            if f["counts"][k]
            else "<td>-</td>"
            for k in QUALITY_KINDS
        )
        dot = f"<span style='color:{COLOURS[f['status']]}'>&#9679; {f['status']}</span>"
        body.append(
            f"<tr data-feature='{html.escape(f['feature'])}' data-status='{f['status']}'>"
            f"<td>{dot}</td><td>{html.escape(f['feature'])}</td><td>{f['rows']}</td>{cells}</tr>"
        )
    return (
        f"<b>Data quality</b>: {flagged} of {len(flags)} features flagged"
        f"<table><thead><tr><th>status</th><th>feature</th><th>rows</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class MonitorDashboard:
    """Header, ops charts, estimated performance, drift (per feature, multivariate), data quality, alerts; refreshes."""

    def __init__(self, fetch: Fetch, *, refresh_seconds: float = 10.0, initial: Any = None) -> None:
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds
        self.header = widgets.HTML()
        self.ops_chart = widgets.Image(format="png")
        self.drift_chart = widgets.Image(format="png")
        self.drift_table = widgets.HTML()
        self.alerts = widgets.HTML()
        self.estimation = widgets.HTML()
        self.estimates_chart = widgets.Image(format="png")
        self.multivariate_chart = widgets.Image(format="png")
        self.quality = widgets.HTML()
        self.pause = widgets.ToggleButton(value=False, description="Pause", icon="pause", layout={"width": "90px"})
        self.widget = widgets.VBox(
            [
                self.header,
                self.pause,
                self.ops_chart,
                self.estimation,
                self.estimates_chart,
                self.drift_chart,
                self.drift_table,
                self.multivariate_chart,
                self.quality,
                self.alerts,
            ]
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
        self._show_estimates(report)
        firing = [a for a in report.data["alerts"] if a["state"] == "firing"]
        self.alerts.value = (
            "<b>Firing alerts</b><ul>" + "".join(f"<li>{html.escape(a['message'])}</li>" for a in firing) + "</ul>"
            if firing
            else "<i>No firing alerts.</i>"
        )

    def _show_estimates(self, report: Any) -> None:
        """Estimated vs realized performance (or why unavailable), multivariate drift and data-quality flags."""
        status = report.estimation
        if status.available:
            summary = ", ".join(
                f"{metric} {v.estimate:.3f}"
                + ("" if v.lower is None or v.upper is None else f" [{v.lower:.3f}, {v.upper:.3f}]")
                for metric, v in (status.summary or {}).items()
            )
            self.estimation.value = (
                f"<b>Estimated performance</b> ({html.escape(str(status.method))}, {status.rows} rows,"
                f" shaded: 95 % band): {html.escape(summary)}"
            )
        else:
            reason = UNAVAILABLE_LEAD.sub("", status.reason or "") or "no reason given"
            self.estimation.value = f"<b>Estimated performance unavailable:</b> {html.escape(reason)}"
        for image, png in (
            (self.estimates_chart, estimates_figure_png(report)),
            (self.multivariate_chart, multivariate_figure_png(report)),
        ):
            image.value = png or b""
            image.layout.display = None if png else "none"
        self.quality.value = quality_html(quality_flags(report))

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
