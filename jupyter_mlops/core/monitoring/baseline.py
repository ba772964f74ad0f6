"""Training baselines: a compact profile of the training data and predictions that drift is measured against.

Per feature: type, count, missing rate, quantiles, a histogram on fixed edges (numeric) or category frequencies
(categorical), and a seeded sample of values for the two-sample tests. The prediction distribution gets the same
profile. The profile is JSON, stored as an MLflow artifact of the model version's run (``monitoring/baseline.json``)
so it travels with the model.

Beside it, ``monitoring/parity_sample.json`` keeps a small seeded sample of the training rows themselves, which the
parity gate replays through the served path at deploy time (``serving/parity.py``).
"""

from __future__ import annotations

import contextlib
import json
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
    """True when a column is profiled as numeric (numbers, not booleans)."""
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


# --- the parity sample: a few real training rows the parity gate replays at deploy time ----------------------

PARITY_SAMPLE_ARTIFACT = "monitoring/parity_sample.json"
PARITY_SAMPLE_VERSION = 1


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def parity_sample(X: Any, rows: int, *, seed: int = 0) -> dict[str, Any] | None:
    """A seeded sample of up to ``rows`` training rows, in MLflow's ``dataframe_split`` layout plus dtypes.

    JSON rather than parquet: it is the layout of MLflow's own input examples and of a scoring request, so the
    gate replays the rows exactly as a client would send them (Python writes floats with full precision), it
    needs no parquet engine in the serving daemon, and it reads in the MLflow UI. ``None`` when ``rows`` is 0.
    """
    if rows <= 0 or X is None:
        return None
    tabular = isinstance(X, pd.DataFrame)
    frame = X if tabular else pd.DataFrame(np.asarray(X))
    if frame.empty or frame.ndim != 2:
        return None
    picked = frame if len(frame) <= rows else frame.sample(rows, random_state=seed).sort_index()
    split = picked.to_dict(orient="split")
    document = {
        "version": PARITY_SAMPLE_VERSION,
        "format": "dataframe_split" if tabular else "inputs",
        "seed": seed,
        "training_rows": len(frame),
        "columns": [str(c) for c in picked.columns],
        "index": split["index"],
        "data": split["data"],
        "dtypes": {str(c): str(t) for c, t in picked.dtypes.items()},
    }
    # Round-trip once so what is stored is exactly what the gate reads back (timestamps as ISO text, NaN kept).
    parsed: dict[str, Any] = json.loads(json.dumps(document, default=_jsonable, allow_nan=True))
    return parsed


def sample_input(document: dict[str, Any]) -> Any:
    """The stored sample as the model's in-process input: a DataFrame with its training dtypes, or an array."""
    if document.get("format") == "inputs":
        dtype = next(iter(document.get("dtypes", {}).values()), None)
        return np.asarray(document["data"], dtype=dtype)
    index = document.get("index")
    if not index or any(isinstance(label, list) for label in index):  # a MultiIndex does not survive JSON
        index = None
    frame = pd.DataFrame(document["data"], columns=document["columns"], index=index)
    for column, dtype in (document.get("dtypes") or {}).items():
        if column in frame.columns and str(frame[column].dtype) != dtype:
            with contextlib.suppress(TypeError, ValueError):  # keep the JSON type where the training one is lost
                frame[column] = frame[column].astype(dtype)
    return frame


def sample_request(document: dict[str, Any]) -> dict[str, Any]:
    """The stored sample as a scoring request body, values exactly as stored (no re-encoding, no rounding)."""
    if document.get("format") == "inputs":
        return {"inputs": document["data"]}
    return {"dataframe_split": {"columns": document["columns"], "data": document["data"]}}
