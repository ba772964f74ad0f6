"""MonitoringReport: a deployment's monitoring over one window, as DataFrames for analysis and HTML for notebooks."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from .models import DeploymentHealth, EstimationStatus, MonitoringReportData

DRIFT_COLUMNS = [
    "feature",
    "statistic",
    "value",
    "threshold",
    "drifted",
    "type",
    "rows",
    "effective_rows",
    "alpha",
    "ks",
    "wasserstein",
    "psi",
    "chisquare",
    "jensenshannon",
]
ESTIMATED_COLUMNS = ["time", "metric", "estimate", "lower", "upper", "realized"]
MULTIVARIATE_COLUMNS = ["time", "rows", "reconstruction_error", "lower", "upper", "drifted"]
QUALITY_COLUMNS = [
    "time",
    "feature",
    "rows",
    "missing",
    "missing_rate",
    "out_of_range",
    "out_of_range_rate",
    "unseen_category",
    "unseen_category_rate",
    "type_mismatch",
    "type_mismatch_rate",
]
OPS_COLUMNS = ["time", "variant", "requests", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "throughput_rps"]


class MonitoringReport:
    """The monitoring of one deployment over one window, as DataFrames for analysis.

    ``record`` is the typed report (``MonitoringReportData``); ``data`` and ``to_dict()`` its JSON form, the REST
    body. ``drift`` has one row per feature (feature, statistic, value, threshold, drifted, and every statistic
    computed), ``ops`` one row per time bucket and variant, ``performance`` one row per bucket and metric.
    """

    def __init__(self, record: MonitoringReportData | dict[str, Any]) -> None:
        """Wrap a typed report (a dict in the REST body's shape is validated into one)."""
        self.record = (
            record if isinstance(record, MonitoringReportData) else MonitoringReportData.model_validate(record)
        )
        self.data: dict[str, Any] = self.record.model_dump(mode="json")

    @property
    def deployment(self) -> str:
        """The deployment's name."""
        return self.record.deployment

    @property
    def drift(self) -> pd.DataFrame:
        """One row per feature: the primary statistic's verdict and every statistic computed."""
        features = self.data["drift"]["features"]
        frame = pd.DataFrame([{k: f.get(k) for k in DRIFT_COLUMNS} for f in features], columns=DRIFT_COLUMNS)
        return frame

    @property
    def drift_share(self) -> float:
        """The share of features that drifted (0 without a baseline)."""
        return self.record.drift.share if self.record.drift is not None else 0.0

    @property
    def prediction_drift(self) -> dict[str, Any] | None:
        """Drift of the model's output, when the baseline profiled its predictions."""
        prediction: dict[str, Any] | None = (self.data["drift"] or {}).get("prediction")
        return prediction

    @property
    def ops(self) -> pd.DataFrame:
        """One row per time bucket and variant: requests, errors, latency percentiles, throughput."""
        frame = pd.DataFrame(self.data["ops"], columns=OPS_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def summary(self) -> dict[str, Any]:
        """Traffic over the whole window (requests, error rates, latency percentiles, throughput)."""
        summary: dict[str, Any] = self.data["summary"]
        return summary

    @property
    def performance(self) -> pd.DataFrame:
        """One row per time bucket and metric, from ground-truth feedback."""
        frame = pd.DataFrame(self.data["performance"], columns=["time", "metric", "value"])
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def estimated_performance(self) -> pd.DataFrame:
        """One row per time bucket and metric estimated without labels: estimate, 95 % band, realized (feedback).

        Empty when estimation is unavailable; ``estimation.reason`` says why (e.g. no reference set).
        """
        frame = pd.DataFrame(self.data.get("estimated_performance") or [], columns=ESTIMATED_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"])
        frame["realized"] = frame["realized"].astype(float)
        return frame

    @property
    def estimation(self) -> EstimationStatus:
        """Whether performance is estimated without labels (method, window estimates) or why not."""
        if self.record.estimation is not None:
            return self.record.estimation
        return EstimationStatus(available=False, reason="This report predates performance estimation.")

    @property
    def multivariate_drift(self) -> pd.DataFrame:
        """One row per time bucket: mean PCA reconstruction error, the reference's band, and whether it left it."""
        frame = pd.DataFrame(self.data.get("multivariate_drift") or [], columns=MULTIVARIATE_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def data_quality(self) -> pd.DataFrame:
        """One row per time bucket and feature: missing, out-of-range, unseen-category and type-mismatch counts."""
        frame = pd.DataFrame(self.data.get("data_quality") or [], columns=QUALITY_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"])
        return frame

    @property
    def health(self) -> DeploymentHealth:
        """Score (None when unknown), colour and components."""
        return self.record.health

    @property
    def alerts(self) -> pd.DataFrame:
        """The deployment's recent alerts, newest first."""
        return pd.DataFrame(
            self.data["alerts"],
            columns=["id", "rule", "metric", "value", "threshold", "state", "fired_at", "message"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data (the REST body)."""
        return self.data

    def __repr__(self) -> str:
        h = self.health
        return (
            f"<MonitoringReport {self.deployment} window={self.data['window']} health={h.score} ({h.colour}) "
            f"requests={self.summary['requests']} drift_share={self.drift_share:.2f}>"
        )

    def _repr_html_(self) -> str:
        h = self.health
        s = self.summary
        colour = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}.get(h.colour, "#777")
        score = "unknown" if h.score is None else f"{h.score:.0f} ({h.colour})"
        drift = self.drift[["feature", "statistic", "value", "threshold", "drifted"]]
        firing = [a for a in self.data["alerts"] if a.get("state") == "firing"]
        p95 = "-" if s.get("p95_ms") is None else f"{s['p95_ms']:.1f} ms"
        parts = [
            f"<div class='jp-MLOps-report'><h4>Monitoring of {html.escape(self.deployment)} "
            f"(last {html.escape(str(self.data['window']))})</h4>",
            f"<p><b style='color:{colour}'>Health {score}</b> &middot; "
            f"{s['requests']} requests &middot; error rate {s['error_rate']:.1%} &middot; p95 {p95} &middot; "
            f"drift share {self.drift_share:.0%} &middot; dropped records {self.data['dropped_records']}</p>",
        ]
        if firing:
            items = "".join(f"<li>{html.escape(a['message'])}</li>" for a in firing)
            parts.append(f"<p>Firing alerts:</p><ul>{items}</ul>")
        estimation = self.estimation
        if not estimation.available:
            parts.append(f"<p>Estimated performance: {html.escape(estimation.reason)}</p>")
        elif estimation.summary:
            shown = ", ".join(f"{k} {v.estimate:.3g}" for k, v in estimation.summary.items())
            parts.append(f"<p>Estimated performance without labels ({estimation.method}): {html.escape(shown)}</p>")
            if estimation.reason:  # what limits the estimate, e.g. live rows outside the reference
                parts.append(f"<p>{html.escape(estimation.reason)}</p>")
        if (self.data["drift"] or {}).get("message"):
            parts.append(f"<p>{html.escape(self.data['drift']['message'])}</p>")
        if not drift.empty:
            parts.append(drift.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0))
        parts.append("</div>")
        return "".join(parts)
