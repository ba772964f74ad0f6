"""Training baselines: a compact profile of the training data and predictions that drift is measured against.

Per feature: type, count, missing rate, quantiles, a histogram on fixed edges (numeric) or category frequencies
(categorical), and a seeded sample of values for the two-sample tests. The prediction distribution gets the same
profile. The profile is JSON, stored as an MLflow artifact of the model version's run (``monitoring/baseline.json``)
so it travels with the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BASELINE_ARTIFACT = "monitoring/baseline.json"
BASELINE_VERSION = 1
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
SAMPLE_SIZE = 2000
MAX_CATEGORIES = 50
OTHER = "__other__"
# Integer columns with at most this many distinct values are profiled as categories (labels, codes, flags).
CATEGORICAL_INT_LEVELS = 10


def is_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_integer_dtype(series):
        return series.nunique(dropna=True) > CATEGORICAL_INT_LEVELS
    return bool(pd.api.types.is_numeric_dtype(series))


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def profile_column(series: pd.Series, *, seed: int = 0) -> dict[str, Any]:
    """The profile of one column (a feature or the predictions)."""
    count = len(series)
    missing = int(series.isna().sum())
    base: dict[str, Any] = {"count": count, "missing_rate": missing / count if count else 0.0}
    if is_numeric(series):
        values = _finite(series.to_numpy(dtype=float, na_value=np.nan))
        if values.size == 0:
            return {**base, "type": "numeric", "empty": True}
        edges = np.histogram_bin_edges(values, bins=HISTOGRAM_BINS)
        counts, _ = np.histogram(values, bins=edges)
        rng = np.random.default_rng(seed)
        sample = values if values.size <= SAMPLE_SIZE else rng.choice(values, SAMPLE_SIZE, replace=False)
        return {
            **base,
            "type": "numeric",
            "mean": float(values.mean()),
            "std": float(values.std()),
            "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in QUANTILES},
            "histogram": {"bins": edges.tolist(), "counts": counts.tolist()},
            "sample": np.sort(sample).tolist(),
        }
    text = series.dropna().astype(str)
    freq = text.value_counts()
    top = freq.iloc[:MAX_CATEGORIES]
    frequencies = {str(k): int(v) for k, v in top.items()}
    rest = int(freq.iloc[MAX_CATEGORIES:].sum())
    if rest:
        frequencies[OTHER] = rest
    return {**base, "type": "categorical", "frequencies": frequencies}


def build_profile(X: Any, predictions: Any = None, *, seed: int = 0) -> dict[str, Any]:
    """The baseline profile of training data ``X`` (DataFrame or 2-D array) and the model's ``predictions``."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    features = {name: profile_column(frame[name], seed=seed) for name in frame.columns}
    prediction = None
    if predictions is not None:
        array = np.asarray(predictions)
        if array.ndim == 2 and array.shape[1] >= 1:
            array = array[:, 0]
        if array.ndim == 1 and len(array) == len(frame):
            prediction = profile_column(pd.Series(array), seed=seed)
    return {"version": BASELINE_VERSION, "rows": len(frame), "features": features, "prediction": prediction}


def describe(profile: dict[str, Any]) -> pd.DataFrame:
    """The profile as a table (one row per feature) for notebooks."""
    rows = []
    for name, col in profile.get("features", {}).items():
        rows.append(
            {
                "feature": name,
                "type": col.get("type"),
                "missing_rate": col.get("missing_rate"),
                "mean": col.get("mean"),
                "std": col.get("std"),
                "categories": len(col.get("frequencies", {})) or None,
            }
        )
    return pd.DataFrame(rows)
