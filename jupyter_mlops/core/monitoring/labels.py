"""Ground-truth labels: checking them against the logged requests, and joining them to the rows they label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidRequest
from .storage import OUTPUT_PREFIX

PREDICTION = OUTPUT_PREFIX + "prediction"
_SCALARS = (str, int, float, bool)


def predictions(model: Any, frame: pd.DataFrame) -> Any:
    """The model's predictions on the training frame (for the baseline's prediction profile), or None."""
    if model is None or isinstance(model, str):
        return None
    fn = getattr(model, "predict", None)
    if fn is None and callable(model):
        fn = model
    if fn is None:
        return None
    try:
        return fn(frame)
    except TypeError:  # mlflow.pyfunc.PythonModel.predict(context, model_input)
        return None


def join_labels(rows: pd.DataFrame, labels: dict[str, Any]) -> pd.DataFrame:
    """One row per logged row with its label (scalar labels for one-row requests, lists for multi-row ones)."""
    rows = rows.assign(_row=rows.groupby("request_id").cumcount())
    values = []
    for rid, row in zip(rows["request_id"], rows["_row"], strict=True):
        label = labels.get(rid)
        values.append(label[row] if isinstance(label, list) and row < len(label) else label)
    return pd.DataFrame(
        {
            "time": rows["time"].to_numpy(),
            "label": pd.Series(values, dtype=object),
            "prediction": rows[PREDICTION].to_numpy(),
        }
    ).dropna(subset=["label"])


def is_number_text(text: str) -> bool:
    """True when ``text`` reads as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_label(request_id: str, label: Any, n_rows: int, kind: str | None) -> None:
    """Refuse a label that cannot be one of this request's (count, type, or kind of the model's predictions)."""
    shown = repr(request_id[:64])
    values = label if isinstance(label, list) else [label]
    if isinstance(label, list) and len(label) != max(n_rows, 1):
        raise InvalidRequest(
            f"Request {shown} scored {n_rows} row(s) but got {len(label)} labels: give one label per row."
        )
    for value in values:
        if value is None or not isinstance(value, _SCALARS):
            raise InvalidRequest(f"The label of request {shown} must be a number, string or boolean.")
        if isinstance(value, float) and not np.isfinite(value):
            raise InvalidRequest(f"The label of request {shown} must be a finite number.")
        if kind == "numeric" and (isinstance(value, (bool, str))):
            raise InvalidRequest(f"The label of request {shown} must be a number: this model predicts numbers.")
        if kind == "categorical-number" and isinstance(value, str) and not is_number_text(value):
            raise InvalidRequest(f"The label of request {shown} must be one of the model's numeric classes, not text.")
