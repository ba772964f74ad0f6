"""Data quality of logged inputs per feature and time bucket: missing, out of range, unseen, of the wrong type.

Missing values, values outside the training range, categories never seen in training, and values of the wrong type.

Judged against the training baseline: its per-feature missing rate, its minimum and maximum (quantiles 0 and 1)
and its category frequencies. The log keeps each flush as an Arrow batch; a numeric column arrives as text when a
request mixed numbers and strings (``storage.encode_table``), and the strings that are not numbers are the type
mismatches. Counters are accumulated batch by batch (``MonitoringStore.tables``), never over one big frame.

Alert metrics (``window_metrics``), each the worst feature over the rule's window:
``missing_rate`` (increase of the missing rate over training's), ``out_of_range_rate``, ``unseen_category_rate``
and ``type_mismatch_rate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .baseline import OTHER
from .metrics import iso
from .storage import INPUT_PREFIX, numeric_block

COUNTERS = ("missing", "out_of_range", "unseen_category", "type_mismatch")
QUALITY_METRICS = ("missing_rate", "out_of_range_rate", "unseen_category_rate", "type_mismatch_rate")


class QualityAccumulator:
    """Per feature and bucket: rows, missing, out-of-range, unseen-category and type-mismatch counts."""

    def __init__(self, profile: dict[str, Any], start: float, step: float) -> None:
        features = {n: c for n, c in profile.get("features", {}).items() if not c.get("empty")}
        self.numeric = [n for n, c in features.items() if c.get("type") == "numeric"]
        self.categorical = [n for n, c in features.items() if c.get("type") == "categorical"]
        self.baseline_missing = {n: float(c.get("missing_rate") or 0.0) for n, c in features.items()}
        self.low = np.array([_bound(features[n], "0", "min") for n in self.numeric])
        self.high = np.array([_bound(features[n], "1", "max") for n in self.numeric])
        # With every category of training listed, anything else is unseen; a profile that folded rare categories
        # into OTHER cannot tell a rare one from a new one, so it counts none.
        self.known = {
            n: None if OTHER in features[n].get("frequencies", {}) else set(features[n].get("frequencies", {}))
            for n in self.categorical
        }
        self.columns = [INPUT_PREFIX + n for n in self.numeric]
        self.start = start
        self.step = step
        self.counts: dict[int, np.ndarray] = {}  # bucket -> features x (rows + COUNTERS)
        self.features = self.numeric + self.categorical

    def add(
        self, table: pa.Table, block: np.ndarray | None = None, mismatches: dict[int, np.ndarray] | None = None
    ) -> None:
        """Count one batch of logged rows (``block``/``mismatches``: its numeric features already decoded)."""
        if block is None or mismatches is None:
            block, mismatches = numeric_block(table, self.columns)
        buckets = ((table.column("time").to_numpy() - self.start) // self.step).astype(np.int64)
        bad_type = np.zeros(block.shape, dtype=bool)
        for i, mask in mismatches.items():
            bad_type[i] = mask
        missing = np.isnan(block)
        if mismatches:
            missing &= ~bad_type
        outside = block < self.low[:, None]
        outside |= block > self.high[:, None]
        text = {n: _text(table, INPUT_PREFIX + n) for n in self.categorical}
        present = np.unique(buckets)
        k = len(self.numeric)
        for bucket in present:
            # A flush usually falls in one bucket: then whole arrays, no copies of the selected columns.
            mine = slice(None) if len(present) == 1 else buckets == bucket
            n = len(buckets) if len(present) == 1 else int(np.count_nonzero(buckets == bucket))
            counts = self.counts.setdefault(int(bucket), np.zeros((len(self.features), 5), dtype=np.int64))
            counts[:k, 0] += n
            counts[:k, 1] += np.count_nonzero(missing[:, mine], axis=1)
            counts[:k, 2] += np.count_nonzero(outside[:, mine], axis=1)
            if mismatches:
                counts[:k, 4] += np.count_nonzero(bad_type[:, mine], axis=1)
            for j, name in enumerate(self.categorical, start=k):
                values = text[name][mine] if len(present) > 1 else text[name]
                counts[j, 0] += n
                absent = values.isna().to_numpy()
                counts[j, 1] += int(absent.sum())
                known = self.known[name]
                if known is not None:
                    counts[j, 3] += int((~values.isin(known).to_numpy() & ~absent).sum())

    def result(self) -> list[dict[str, Any]]:
        """One row per bucket and feature: rows, each count and its rate."""
        rows = []
        for key in sorted(self.counts):
            time = iso(self.start + key * self.step)
            for name, counts in zip(self.features, self.counts[key], strict=True):
                n = int(counts[0])
                row: dict[str, Any] = {"time": time, "feature": name, "rows": n}
                for k, counter in enumerate(COUNTERS, start=1):
                    row[counter] = int(counts[k])
                    row[f"{counter}_rate"] = counts[k] / n if n else 0.0
                rows.append(row)
        return rows

    def window_metrics(self) -> dict[str, float | None]:
        """The alert metrics over every bucket: for each counter, the worst feature's rate (None without rows)."""
        if not self.counts:
            return dict.fromkeys(QUALITY_METRICS)
        total = np.sum(list(self.counts.values()), axis=0)
        rows = np.maximum(total[:, 0], 1)
        rates = total[:, 1:] / rows[:, None]
        excess = rates[:, 0] - np.array([self.baseline_missing[n] for n in self.features])
        return {
            "missing_rate": float(max(excess.max(), 0.0)),
            "out_of_range_rate": float(rates[:, 1].max()),
            "unseen_category_rate": float(rates[:, 2].max()),
            "type_mismatch_rate": float(rates[:, 3].max()),
        }


def data_quality(
    profile: dict[str, Any], tables: Iterable[pa.Table], start: float, step: float
) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    """Quality rows per bucket and feature, and the window's alert metrics, from the logged batches."""
    accumulator = QualityAccumulator(profile, start, step)
    for table in tables:
        accumulator.add(table)
    return accumulator.result(), accumulator.window_metrics()


def _bound(column: dict[str, Any], quantile: str, fallback: str) -> float:
    value = (column.get("quantiles") or {}).get(quantile, column.get(fallback))
    return float(value) if value is not None else (-np.inf if quantile == "0" else np.inf)


def _text(table: pa.Table, name: str) -> pd.Series:
    """A categorical column as text (None where missing), or all missing when the batch lacks it."""
    if name not in table.column_names:
        return pd.Series([None] * table.num_rows, dtype=object)
    values = table.column(name).to_pandas()
    text = values.astype(str).where(values.notna(), None)
    return text.astype(object)
