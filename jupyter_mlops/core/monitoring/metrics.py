"""Windowed metrics from the inference log.

Ops (throughput, latency percentiles, error rate) and performance against ground truth (accuracy, F1, ROC AUC for
classifiers; RMSE, MAE for regressors).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, cast

import numpy as np
import pandas as pd

from ..errors import InvalidRequest

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_WINDOW = 60
MAX_WINDOW = 90 * 86400
BUCKETS = 30  # points per time series in a report


def parse_window(window: object) -> float:
    """``"15m"``, ``"1h"``, ``"7d"`` (or seconds) -> seconds, between one minute and 90 days."""
    if isinstance(window, bool):
        raise InvalidRequest("window must be a duration such as '15m', '1h' or '7d'.")
    if isinstance(window, (int, float)):
        seconds = float(window)
    else:
        match = _WINDOW.match(str(window))
        if not match:
            raise InvalidRequest(f"Invalid window {str(window)[:40]!r}: use a duration such as '15m', '1h' or '7d'.")
        seconds = float(match[1]) * _UNIT[match[2]]
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise InvalidRequest("window must be between 1m and 90d.")
    return seconds


def bucket_seconds(window: float) -> float:
    """Width of one point of a time series: the window in about 30 steps, rounded to a whole second."""
    return float(max(1, math.ceil(window / BUCKETS)))


def iso(epoch: float) -> str:
    """A UNIX time as ISO 8601 text (UTC)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def _percentiles(latency: pd.Series) -> dict[str, float | None]:
    if latency.empty:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    q = np.percentile(latency.to_numpy(dtype=float), [50, 95, 99])
    return {"p50_ms": float(q[0]), "p95_ms": float(q[1]), "p99_ms": float(q[2])}


def ops_summary(requests: pd.DataFrame, window: float) -> dict[str, Any]:
    """Totals over the window (client-facing traffic only: shadow copies excluded)."""
    live = requests[~requests["shadow"].astype(bool)] if not requests.empty else requests
    n = len(live)
    errors = int((live["status"] >= 400).sum()) if n else 0
    server_errors = int((live["status"] >= 500).sum()) if n else 0
    return {
        "requests": n,
        "errors": errors,
        "error_rate": errors / n if n else 0.0,
        "server_error_rate": server_errors / n if n else 0.0,
        "throughput_rps": n / window,
        **_percentiles(live["latency_ms"] if n else pd.Series(dtype=float)),
    }


def ops_series(requests: pd.DataFrame, start: float, step: float) -> list[dict[str, Any]]:
    """One point per time bucket and variant (shadow variants included, under their own name)."""
    if requests.empty:
        return []
    frame = requests.assign(bucket=((requests["time"] - start) // step).astype(int))
    points = []
    for key, group in frame.groupby(["bucket", "variant"], sort=True):
        bucket, variant = cast(tuple[int, str], key)
        n = len(group)
        errors = int((group["status"] >= 400).sum())
        points.append(
            {
                "time": iso(start + int(bucket) * step),
                "variant": str(variant),
                "requests": n,
                "errors": errors,
                "error_rate": errors / n,
                **_percentiles(group["latency_ms"]),
                "throughput_rps": n / step,
            }
        )
    return points


# --- performance --------------------------------------------------------------------------------------------


def is_classification(predictions: pd.Series, labels: pd.Series) -> bool:
    """Labels that are text, booleans or whole numbers matched against whole-number predictions: a classifier."""
    if not pd.api.types.is_numeric_dtype(predictions) or pd.api.types.is_bool_dtype(predictions):
        return True
    if pd.api.types.is_float_dtype(predictions):
        values = predictions.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            return False
    return bool(np.all(labels.map(lambda v: isinstance(v, (bool, str)) or float(v).is_integer())))


def performance_metrics(y_true: pd.Series, y_pred: pd.Series) -> dict[str, float]:
    """Accuracy for classifiers, error metrics for regressors, from predictions and labels."""
    from sklearn import metrics

    if y_true.empty:
        return {}
    if is_classification(y_pred, y_true):
        truth = y_true.astype(str).to_numpy()
        pred = _as_label_text(y_pred)
        classes = sorted(set(truth) | set(pred))
        out = {"accuracy": float(metrics.accuracy_score(truth, pred))}
        average = "binary" if len(classes) == 2 else "macro"
        pos = classes[-1] if average == "binary" else 1
        out["f1"] = float(metrics.f1_score(truth, pred, average=average, pos_label=pos, zero_division=0))
        return out
    truth_f = y_true.astype(float).to_numpy()
    pred_f = y_pred.astype(float).to_numpy()
    out = {
        "rmse": float(np.sqrt(metrics.mean_squared_error(truth_f, pred_f))),
        "mae": float(metrics.mean_absolute_error(truth_f, pred_f)),
    }
    # Scores in [0, 1] against 0/1 labels: a probabilistic binary classifier, so ROC AUC and accuracy apply.
    if (
        set(np.unique(truth_f)) <= {0.0, 1.0}
        and len(np.unique(truth_f)) == 2
        and pred_f.min() >= 0
        and pred_f.max() <= 1
    ):
        out = {
            "roc_auc": float(metrics.roc_auc_score(truth_f, pred_f)),
            "accuracy": float(metrics.accuracy_score(truth_f, pred_f >= 0.5)),
            "f1": float(metrics.f1_score(truth_f, pred_f >= 0.5, zero_division=0)),
        }
    return out


def _as_label_text(predictions: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(predictions):
        return predictions.astype(np.int64).astype(str).to_numpy()
    return predictions.astype(str).to_numpy()


def performance_series(
    joined: pd.DataFrame, start: float, step: float
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Metrics per time bucket and over the whole window from rows with ``time``, ``label``, ``prediction``."""
    if joined.empty:
        return [], {}
    overall = performance_metrics(joined["label"], joined["prediction"])
    points = []
    buckets = ((joined["time"] - start) // step).astype(int)
    for bucket, group in joined.groupby(buckets, sort=True):
        for metric, value in performance_metrics(group["label"], group["prediction"]).items():
            points.append({"time": iso(start + int(bucket) * step), "metric": metric, "value": value})
    return points, overall
