"""Drift of live data against a training baseline, with established statistics from scipy.

Numeric features: Kolmogorov-Smirnov p-value, Wasserstein distance normalised by the baseline's standard
deviation, and the population stability index (PSI) over the baseline's histogram bins; by default ("auto") KS
judges small windows (<= 1,000 rows) and normalised Wasserstein larger ones. Categorical features:
chi-square p-value, Jensen-Shannon distance (base 2) and PSI over the baseline's categories. Each feature is
judged by one *primary* statistic (configurable, with a threshold); the others are reported alongside.

A window of more than ``max_sample`` rows (50,000) is judged on a seeded uniform sample of that many rows, so a
report over a million rows stays fast (a bounded sample as in Evidently and NannyML; at 50,000 rows the sampling
error of the normalised Wasserstein distance is about 0.005, far below its 0.1 threshold). The two-sample tests
compare it with the baseline's stored sample; histograms and PSI use the baseline's bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from ..errors import InvalidRequest
from .baseline import OTHER

# Statistics where a small value means drift (p-values); for the rest a large value does (distances).
P_VALUES = {"ks", "chisquare"}
NUMERIC_STATISTICS = {"auto", "ks", "wasserstein", "psi"}
# "auto" (the default, as in Evidently): the KS test up to this many live rows, normalised Wasserstein above,
# where KS flags differences too small to matter and Wasserstein is no longer noisy.
AUTO_KS_MAX_ROWS = 1000
CATEGORICAL_STATISTICS = {"chisquare", "jensenshannon", "psi"}
DEFAULT_THRESHOLDS = {"ks": 0.05, "wasserstein": 0.1, "psi": 0.2, "chisquare": 0.05, "jensenshannon": 0.1}
EPS = 1e-4


@dataclass(frozen=True)
class DriftSettings:
    """Which statistic judges each kind of feature, the thresholds, and the dataset-level drift share."""

    numeric_statistic: str = "auto"
    categorical_statistic: str = "jensenshannon"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    drift_share: float = 0.5  # the dataset drifts when at least this share of its features do
    min_rows: int = 30  # fewer live rows than this: no verdict for the feature
    max_sample: int = 50_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.numeric_statistic not in NUMERIC_STATISTICS:
            raise InvalidRequest(f"numeric drift statistic must be one of {sorted(NUMERIC_STATISTICS)}.")
        if self.categorical_statistic not in CATEGORICAL_STATISTICS:
            raise InvalidRequest(f"categorical drift statistic must be one of {sorted(CATEGORICAL_STATISTICS)}.")
        unknown = set(self.thresholds) - set(DEFAULT_THRESHOLDS)
        if unknown:
            raise InvalidRequest(f"Unknown drift thresholds {sorted(unknown)}: use {sorted(DEFAULT_THRESHOLDS)}.")

    def threshold(self, statistic: str) -> float:
        """The threshold of ``statistic`` (configured, else its default)."""
        return float(self.thresholds.get(statistic, DEFAULT_THRESHOLDS[statistic]))


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    p = expected / max(expected.sum(), 1) + EPS
    q = actual / max(actual.sum(), 1) + EPS
    return float(np.sum((q - p) * np.log(q / p)))


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts on the baseline's (equal-width) bins; values outside fall into the outer bins.

    ``np.histogram`` with a bin count and a range takes numpy's fast path for uniform bins (no search).
    """
    bins = len(edges) - 1
    low, high = float(edges[0]), float(edges[-1])
    if not high > low:
        return np.bincount(np.zeros(values.size, dtype=np.int64), minlength=bins)
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    counts[0] += int(np.count_nonzero(values < low))
    counts[-1] += int(np.count_nonzero(values > high))
    return counts


def _verdict(statistic: str, value: float | None, threshold: float) -> bool:
    if value is None or not np.isfinite(value):
        return False
    return value < threshold if statistic in P_VALUES else value >= threshold


def numeric_drift(base: dict[str, Any], live: np.ndarray, settings: DriftSettings) -> dict[str, Any]:
    """Histograms and drift statistics (KS, Wasserstein, PSI) of a numeric column against its baseline."""
    values = live[np.isfinite(live)]
    edges = np.asarray(base["histogram"]["bins"], dtype=float)
    base_counts = np.asarray(base["histogram"]["counts"], dtype=float)
    live_counts = _bin_counts(values, edges) if values.size else np.zeros(len(base_counts), dtype=np.int64)
    result: dict[str, Any] = {
        "type": "numeric",
        "rows": int(values.size),
        "baseline": {"bins": edges.tolist(), "counts": base_counts.astype(int).tolist()},
        "live": {"bins": edges.tolist(), "counts": live_counts.tolist()},
        "ks": None,
        "wasserstein": None,
        "psi": None,
    }
    if values.size < settings.min_rows:
        return result
    sample = np.asarray(base["sample"], dtype=float)
    if values.size > settings.max_sample:
        rng = np.random.default_rng(settings.seed)
        values = values[rng.integers(0, values.size, settings.max_sample)]
    scale = float(base.get("std") or 0.0) or 1.0
    result["ks"] = float(stats.ks_2samp(sample, values).pvalue)
    result["wasserstein"] = float(stats.wasserstein_distance(sample, values) / scale)
    result["psi"] = _psi(base_counts, live_counts.astype(float))
    return result


def categorical_drift(base: dict[str, Any], live: pd.Series, settings: DriftSettings) -> dict[str, Any]:
    """Category counts and drift statistics (chi-square, Jensen-Shannon, PSI) of a categorical column."""
    frequencies: dict[str, int] = base["frequencies"]
    categories = list(frequencies)
    observed = live.dropna().astype(str).value_counts()
    known = observed.reindex(categories, fill_value=0)
    unseen = int(observed.sum() - known.sum())
    if unseen and OTHER not in categories:
        categories.append(OTHER)
        known = pd.concat([known, pd.Series({OTHER: 0})])
    if unseen:
        known[OTHER] = int(known.get(OTHER, 0)) + unseen
    base_counts = np.array([frequencies.get(c, 0) for c in categories], dtype=float)
    live_counts = known.to_numpy(dtype=float)
    n = int(live_counts.sum())
    result: dict[str, Any] = {
        "type": "categorical",
        "rows": n,
        "baseline": {"bins": categories, "counts": base_counts.astype(int).tolist()},
        "live": {"bins": categories, "counts": live_counts.astype(int).tolist()},
        "chisquare": None,
        "jensenshannon": None,
        "psi": None,
    }
    if n < settings.min_rows:
        return result
    p = base_counts / base_counts.sum() + EPS
    q = live_counts / n + EPS
    expected = p / p.sum() * n
    result["chisquare"] = float(stats.chisquare(live_counts, expected).pvalue) if len(categories) > 1 else 1.0
    result["jensenshannon"] = float(distance.jensenshannon(p, q, base=2))
    result["psi"] = _psi(base_counts, live_counts)
    return result


def column_drift(name: str, base: dict[str, Any], live: pd.Series, settings: DriftSettings) -> dict[str, Any]:
    """Drift of one column; ``statistic``/``value``/``threshold``/``drifted`` give the primary verdict."""
    if base.get("empty"):
        detail: dict[str, Any] = {"type": "numeric", "rows": 0, "baseline": None, "live": None}
        statistic = "ks" if settings.numeric_statistic == "auto" else settings.numeric_statistic
    elif base["type"] == "numeric":
        values = pd.to_numeric(live, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        detail = numeric_drift(base, values, settings)
        statistic = settings.numeric_statistic
        if statistic == "auto":
            statistic = "ks" if detail["rows"] <= AUTO_KS_MAX_ROWS else "wasserstein"
    else:
        detail = categorical_drift(base, live, settings)
        statistic = settings.categorical_statistic
    value = detail.get(statistic)
    threshold = settings.threshold(statistic)
    return {
        "feature": name,
        "statistic": statistic,
        "value": value,
        "threshold": threshold,
        "drifted": _verdict(statistic, value, threshold),
        **detail,
    }


def dataset_drift(
    profile: dict[str, Any],
    live: pd.DataFrame,
    settings: DriftSettings,
    *,
    input_prefix: str = "",
    output: str | None = None,
) -> dict[str, Any]:
    """Drift of every baseline feature present in ``live`` plus the prediction; the share of drifted features.

    Windows larger than ``max_sample`` rows are judged on a seeded uniform sample of that many rows (histograms
    included), so the cost of the statistics does not grow with traffic; ``rows`` is the window's size and
    ``sampled`` how many rows were compared.
    """
    total = int(live.attrs.get("rows", len(live)))  # the store may have sampled already (MonitoringStore.data)
    if len(live) > settings.max_sample:
        rng = np.random.default_rng(settings.seed)
        live = live.iloc[np.sort(rng.choice(len(live), settings.max_sample, replace=False))]
    features = []
    for name, base in profile.get("features", {}).items():
        column = input_prefix + name
        if column in live.columns:
            features.append(column_drift(name, base, live[column], settings))
    evaluated = [f for f in features if f["value"] is not None]
    share = sum(f["drifted"] for f in evaluated) / len(evaluated) if evaluated else 0.0
    prediction = None
    if output is not None and profile.get("prediction") and output in live.columns:
        prediction = column_drift("prediction", profile["prediction"], live[output], settings)
    return {
        "share": float(share),
        "drifted": bool(evaluated) and share >= settings.drift_share,
        "rows": total,
        "sampled": len(live),
        "features": features,
        "prediction": prediction,
    }
