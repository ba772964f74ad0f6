"""MonitoringReport: a deployment's monitoring over one window, as DataFrames for analysis and HTML for notebooks."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

DRIFT_COLUMNS = [
    "feature",
    "statistic",
    "value",
    "threshold",
    "drifted",
    "type",
    "rows",
    "ks",
    "wasserstein",
    "psi",
    "chisquare",
    "jensenshannon",
]
OPS_COLUMNS = ["time", "variant", "requests", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "throughput_rps"]


class MonitoringReport:
    """The monitoring of one deployment over one window.

    ``drift`` has one row per feature (feature, statistic, value, threshold, drifted, and every statistic computed),
    ``ops`` one row per time bucket and variant, ``performance`` one row per bucket and metric; ``health`` and
    ``alerts`` are plain data; ``to_dict()`` is the REST body.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def deployment(self) -> str:
        return str(self.data["deployment"])

    @property
    def drift(self) -> pd.DataFrame:
        features = self.data["drift"]["features"]
        frame = pd.DataFrame([{k: f.get(k) for k in DRIFT_COLUMNS} for f in features], columns=DRIFT_COLUMNS)
        return frame

    @property
    def drift_share(self) -> float:
        return float(self.data["drift"]["share"])

    @property
    def prediction_drift(self) -> dict[str, Any] | None:
        prediction: dict[str, Any] | None = self.data["drift"].get("prediction")
        return prediction

    @property
    def ops(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.data["ops"], columns=OPS_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.data["summary"]
        return summary

    @property
    def performance(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.data["performance"], columns=["time", "metric", "value"])
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = self.data["health"]
        return health

    @property
    def alerts(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.data["alerts"],
            columns=["id", "rule", "metric", "value", "threshold", "state", "fired_at", "message"],
        )

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def __repr__(self) -> str:
        h = self.health
        return (
            f"<MonitoringReport {self.deployment} window={self.data['window']} health={h['score']} ({h['colour']}) "
            f"requests={self.summary['requests']} drift_share={self.drift_share:.2f}>"
        )

    def _repr_html_(self) -> str:
        h = self.health
        s = self.summary
        colour = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}.get(h["colour"], "#777")
        drift = self.drift[["feature", "statistic", "value", "threshold", "drifted"]]
        firing = [a for a in self.data["alerts"] if a.get("state") == "firing"]
        p95 = "-" if s.get("p95_ms") is None else f"{s['p95_ms']:.1f} ms"
        parts = [
            f"<div class='jp-MLOps-report'><h4>Monitoring of {html.escape(self.deployment)} "
            f"(last {html.escape(str(self.data['window']))})</h4>",
            f"<p><b style='color:{colour}'>Health {h['score']:.0f} ({h['colour']})</b> &middot; "
            f"{s['requests']} requests &middot; error rate {s['error_rate']:.1%} &middot; p95 {p95} &middot; "
            f"drift share {self.drift_share:.0%} &middot; dropped records {self.data['dropped_records']}</p>",
        ]
        if firing:
            items = "".join(f"<li>{html.escape(a['message'])}</li>" for a in firing)
            parts.append(f"<p>Firing alerts:</p><ul>{items}</ul>")
        if self.data["drift"].get("message"):
            parts.append(f"<p>{html.escape(self.data['drift']['message'])}</p>")
        if not drift.empty:
            parts.append(drift.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0))
        parts.append("</div>")
        return "".join(parts)
