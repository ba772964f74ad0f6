"""Labelled reference data: rows the model did not train on, kept with the version to estimate performance.

``register(model, name, X, y, reference=(X_ref, y_ref))`` stores the reference set as one Parquet artifact of the
version's run (``mlops/reference.parquet``: the features and a ``__label__`` column), beside the training
baseline, so it travels with the model. Monitoring reads it back once per version (``load_reference``) and keeps
what it fits on it (calibration maps, loss models) on the cached ``Reference``.

Training rows are never a reference: a model is over-confident on rows it has seen, so estimates calibrated on them
would flatter it. A reference made mostly of training rows is refused.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidRequest

if TYPE_CHECKING:
    from ..models import ModelVersion
    from ..registry import Registry

log = logging.getLogger(__name__)

REFERENCE_DIR = "mlops"
REFERENCE_ARTIFACT = f"{REFERENCE_DIR}/reference.parquet"
REFERENCE_TAG = "mlops.reference"
LABEL_COLUMN = "__label__"
MIN_ROWS = 30
MAX_ROWS = 1_000_000
MAX_TRAINING_OVERLAP = 0.5  # refuse a reference whose rows are mostly training rows


@dataclass
class Reference:
    """A version's labelled reference set, and what monitoring fitted on it (cached with it, per process).

    Attributes:
        features: The reference features, columns in the model's input order.
        labels: The true labels, aligned with ``features``.
        fitted: Estimators fitted lazily on this reference (``estimation.py``), by kind.
    """

    features: pd.DataFrame
    labels: pd.Series
    fitted: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rows(self) -> int:
        """How many labelled rows the reference holds."""
        return len(self.features)


def signature_columns(signature: dict[str, Any] | None) -> list[str] | None:
    """The named input columns of an MLflow signature (as ``ModelVersion.signature`` holds it), or None."""
    inputs = (signature or {}).get("inputs")
    if not isinstance(inputs, list):
        return None
    names = [str(spec["name"]) for spec in inputs if isinstance(spec, dict) and spec.get("name") is not None]
    return names if names and len(names) == len(inputs) else None


def check_reference(
    reference: Any, columns: list[str] | None, *, training: Any = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The reference ``(X_ref, y_ref)`` checked against the model's input ``columns``; InvalidRequest when unusable.

    Args:
        reference: A pair ``(X_ref, y_ref)``: features (DataFrame, or 2-D array when ``columns`` names them) and
            their true labels.
        columns: The model's input columns (from its signature or training frame), or None when unknown.
        training: The training features, to refuse a reference made of rows the model trained on.

    Returns:
        The features (columns in the model's order) and the labels as a Series aligned with them.
    """
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise InvalidRequest(
            "reference must be a pair (X_ref, y_ref): held-out features and their true labels, rows the model "
            "did not train on."
        )
    X_ref, y_ref = reference
    if y_ref is None:
        raise InvalidRequest(
            "The reference set has no labels: pass reference=(X_ref, y_ref) with the true label of every row "
            "(performance is estimated by calibrating the model on labelled rows)."
        )
    if X_ref is None:
        raise InvalidRequest("The reference set has no features: pass reference=(X_ref, y_ref).")
    if isinstance(X_ref, pd.DataFrame):
        frame = X_ref.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        array = np.asarray(X_ref)
        if array.ndim != 2:
            raise InvalidRequest("The reference features must be a table (a DataFrame or a 2-D array).")
        names = columns if columns is not None and len(columns) == array.shape[1] else None
        frame = pd.DataFrame(array, columns=names or [str(i) for i in range(array.shape[1])])
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"not in the model's signature {extra}")
            raise InvalidRequest(
                f"The reference columns do not match the model's input columns: {'; '.join(parts)}. "
                f"Give the reference the same columns as the training data: {columns}."
            )
        frame = frame[columns]
    labels = pd.Series(np.asarray(y_ref).reshape(-1) if not isinstance(y_ref, pd.Series) else y_ref.to_numpy())
    if labels.ndim != 1 or len(labels) != len(frame):
        raise InvalidRequest(
            f"The reference has {len(frame)} rows but {len(labels)} labels: give one label per reference row."
        )
    if labels.isna().any():
        raise InvalidRequest("Some reference labels are missing (NaN/None): every reference row needs its label.")
    if not MIN_ROWS <= len(frame) <= MAX_ROWS:
        raise InvalidRequest(
            f"The reference has {len(frame)} rows: give between {MIN_ROWS} and {MAX_ROWS:,} labelled rows "
            "(a few thousand give estimates within a few points)."
        )
    _refuse_training_rows(frame, training)
    return frame.reset_index(drop=True), labels.rename(LABEL_COLUMN).reset_index(drop=True)


def _refuse_training_rows(frame: pd.DataFrame, training: Any) -> None:
    overlap = _training_overlap(frame, training)
    if overlap > MAX_TRAINING_OVERLAP:
        raise InvalidRequest(
            f"{overlap:.0%} of the reference rows are training rows: a reference must be held out (rows the "
            "model did not train on), or its estimates would flatter the model."
        )


def _training_overlap(frame: pd.DataFrame, training: Any) -> float:
    """The share of reference rows found among the training rows (0 when they cannot be compared)."""
    if training is None:
        return 0.0
    try:
        train = training if isinstance(training, pd.DataFrame) else pd.DataFrame(np.asarray(training))
        train = train.copy()
        train.columns = [str(c) for c in train.columns]
        if list(train.columns) != list(frame.columns):
            return 0.0
        seen = set(pd.util.hash_pandas_object(train, index=False).to_numpy().tolist())
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy().tolist()
    except Exception:  # a training set we cannot hash is simply not compared
        return 0.0
    return float(np.mean([h in seen for h in hashes])) if hashes else 0.0


def store_reference(registry: Registry, version: ModelVersion, features: pd.DataFrame, labels: pd.Series) -> None:
    """Write the checked reference set as a Parquet artifact of the version's run and tag the version with it."""
    if not version.run_id:
        raise InvalidRequest(
            f"{version.uri} has no MLflow run to keep a reference set in: register it from a run (runs:/...)."
        )
    table = features.copy()
    table[LABEL_COLUMN] = labels.to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
        table.to_parquet(path, index=False)
        registry.client.log_artifact(version.run_id, str(path), REFERENCE_DIR)
    registry.set_version_tags(
        version.name, version.version, {REFERENCE_TAG: f"{REFERENCE_ARTIFACT} ({len(table)} rows)"}
    )
    _forget(registry, version.name, version.version)


_CACHE: dict[tuple[str, str, str], Reference | None] = {}
_CACHE_LOCK = threading.Lock()


def _key(registry: Registry, model_name: str, version: str) -> tuple[str, str, str]:
    return (registry.registry_uri, model_name, str(version))


def _forget(registry: Registry, model_name: str, version: str) -> None:
    with _CACHE_LOCK:
        _CACHE.pop(_key(registry, model_name, version), None)


def load_reference(registry: Registry, model_name: str, version: str) -> Reference | None:
    """The labelled reference set of a model version (read once from MLflow, then cached), or None without one."""
    key = _key(registry, model_name, version)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    reference = _read(registry, model_name, version)
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, reference)


def _read(registry: Registry, model_name: str, version: str) -> Reference | None:
    mv = registry.version(model_name, version, detail=False)
    if not mv.run_id or REFERENCE_TAG not in mv.tags:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = registry.client.download_artifacts(mv.run_id, REFERENCE_ARTIFACT, tmp)
            table = pd.read_parquet(local)
    except Exception as exc:  # a lost artifact means no estimates, not a broken report
        log.warning("Reference set of %s/%s unreadable: %s", model_name, version, exc)
        return None
    labels = table.pop(LABEL_COLUMN)
    return Reference(features=table, labels=labels)


def split_labelled(table: Any, label_column: str | None) -> tuple[pd.DataFrame, pd.Series]:
    """A labelled table (features + one label column) as the pair ``(X_ref, y_ref)`` that ``register`` takes.

    For the doors that read a reference from one table (a CSV file, a notebook DataFrame).
    """
    if not isinstance(table, pd.DataFrame):
        raise InvalidRequest("A reference table must be a DataFrame with the features and a label column.")
    if not label_column:
        raise InvalidRequest(
            "The reference set has no labels: name its label column (--label-column COL), the true label of each row."
        )
    if label_column not in table.columns:
        shown = [str(c) for c in table.columns[:20]]
        raise InvalidRequest(
            f"The reference has no label column {label_column!r}: its columns are {shown}. Name the column that "
            "holds the true labels."
        )
    return table.drop(columns=[label_column]), table[label_column]


def from_split(columns: list[str], data: list[list[Any]], label_column: str | None) -> tuple[pd.DataFrame, pd.Series]:
    """A reference sent as ``{"columns", "data"}`` rows (REST) as ``(X_ref, y_ref)``, split on its label column."""
    if any(len(row) != len(columns) for row in data):
        raise InvalidRequest(f"Every reference row must have {len(columns)} values, one per column in 'columns'.")
    return split_labelled(pd.DataFrame(data, columns=columns), label_column)
