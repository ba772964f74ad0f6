"""Multivariate drift: how badly live rows are reconstructed by a PCA of the reference data, per time bucket.

A change in the *relation* between features (a correlation that flips, a ratio that no longer holds) leaves every
marginal distribution as it was, so per-feature tests cannot see it. Rows that follow the reference's joint
distribution lie close to its principal subspace; rows that break its correlations do not.

The method (the reconstruction-error approach NannyML popularised, written here with numpy only: core does not
depend on scikit-learn):

- the reference rows (``reference_frame``) are standardised with their own mean and standard deviation (a missing
  value becomes the mean, i.e. 0 after standardising), and split in two seeded halves;
- a PCA of the first half (eigenvectors of its covariance) keeps the fewest components that explain at least
  65 % of the variance (what NannyML uses too: enough to capture the correlations, few enough that a broken one
  shows in the residual);
- the error of a row is the Euclidean distance between the standardised row and its projection on those
  components, ``sqrt(|z|^2 - |V z|^2)``, which needs one matrix product per batch of logged rows;
- the threshold comes from the second half (rows the PCA did not see, so their errors are what unseen rows from
  the reference distribution give): a bucket of ``n`` rows drifts when its mean error leaves
  ``mean +/- 3 sd sqrt(1/n + 1/m)``, ``m`` being the calibration rows (the standard error of a difference of
  two means, so few live rows give a wide band and no false alarm).

Statistics are accumulated batch by batch from the stored log (``MonitoringStore.tables``), so 100,000 rows of a
thousand features never exist as one pandas frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from .metrics import iso
from .storage import INPUT_PREFIX, numeric_block

VARIANCE_KEPT = 0.65
SIGMAS = 3.0
MIN_REFERENCE_ROWS = 20
# The reference rows stored in the baseline profile at registration: at most this many rows and cells.
REFERENCE_ROWS = 2000
REFERENCE_CELLS = 2_000_000


def reference_rows(frame: pd.DataFrame, profile: dict[str, Any], *, seed: int = 0) -> dict[str, Any] | None:
    """A seeded sample of training rows (numeric features) to keep in the baseline profile, in ``split`` layout.

    Per-feature samples in the profile are sorted one by one, which loses how features relate; these rows keep it.
    """
    numeric = [n for n, col in profile.get("features", {}).items() if col.get("type") == "numeric"]
    numeric = [n for n in numeric if not profile["features"][n].get("empty") and n in frame.columns]
    if not numeric or frame.empty:
        return None
    rows = min(len(frame), REFERENCE_ROWS, max(MIN_REFERENCE_ROWS * 10, REFERENCE_CELLS // len(numeric)))
    picked = frame[numeric] if len(frame) <= rows else frame[numeric].sample(rows, random_state=seed)
    values = picked.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    cells = values.astype(object)
    cells[~np.isfinite(values)] = None  # JSON has no NaN
    return {"columns": numeric, "data": cells.tolist()}


def reference_frame(profile: dict[str, Any] | None, held_out: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The reference rows multivariate drift compares live data with, or None when the version has none.

    The labelled reference set registered with the version (``held_out``, rows the model did not train on) when
    there is one, else the training rows stored in the baseline profile at registration (``reference_rows``).
    """
    if held_out is not None:
        sample = reference_rows(held_out, profile or {})
        if sample is not None:
            return pd.DataFrame(sample["data"], columns=sample["columns"], dtype=float)
    stored = (profile or {}).get("reference")
    if not stored or not stored.get("data"):
        return None
    # numpy reads the JSON rows (None as NaN) several times faster than the DataFrame constructor.
    return pd.DataFrame(np.array(stored["data"], dtype=float), columns=stored["columns"])


@dataclass(frozen=True)
class ReferencePCA:
    """The fitted PCA and the reference's own reconstruction error (the threshold's centre and spread)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # components x features, orthonormal rows
    explained: float  # share of the reference's variance the kept components explain
    error_mean: float
    error_std: float
    calibration_rows: int

    def errors(self, block: np.ndarray, work: np.ndarray | None = None) -> np.ndarray:
        """Reconstruction error of each column of ``block`` (features x rows, NaN = missing).

        ``work``, an array of ``block``'s shape, is overwritten instead of allocating one per call (a fresh
        block of a thousand features x a thousand rows costs its page faults each time).
        """
        z = np.subtract(block, self.mean[:, None], out=work if work is not None and work.shape == block.shape else None)
        z /= self.scale[:, None]
        np.copyto(z, 0.0, where=~np.isfinite(z))
        projected = self.components @ z
        residual = np.einsum("ij,ij->j", z, z) - np.einsum("ij,ij->j", projected, projected)
        return np.sqrt(np.clip(residual, 0.0, None))

    def band(self, rows: int) -> tuple[float, float]:
        """The range a bucket of ``rows`` rows from the reference distribution keeps its mean error in."""
        half = SIGMAS * self.error_std * np.sqrt(1.0 / max(rows, 1) + 1.0 / self.calibration_rows)
        return self.error_mean - half, self.error_mean + half


def fit(reference: pd.DataFrame, *, variance: float = VARIANCE_KEPT, seed: int = 0) -> ReferencePCA | None:
    """Fit the PCA on half of the reference rows and calibrate the threshold on the other half.

    None when there are fewer than ``MIN_REFERENCE_ROWS`` rows or fewer than two features: no verdict then.
    """
    values = reference.to_numpy(dtype=float, na_value=np.nan)
    if values.shape[0] < MIN_REFERENCE_ROWS or values.shape[1] < 2:
        return None
    mean = np.nanmean(values, axis=0)
    scale = np.nanstd(values, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    z = (values - mean) / scale
    z[~np.isfinite(z)] = 0.0
    order = np.random.default_rng(seed).permutation(len(z))
    half = len(z) // 2
    fitting, calibration = z[order[:half]], z[order[half:]]
    # The eigenvectors of the covariance (features x features) are the principal axes: cheaper than an SVD of the
    # rows when there are more rows than features, and the same axes.
    centred = fitting - fitting.mean(axis=0)
    with one_blas_thread():
        eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    eigenvalues, vt = np.clip(eigenvalues[::-1], 0.0, None), eigenvectors[:, ::-1].T
    share = np.cumsum(eigenvalues) / max(float(np.sum(eigenvalues)), 1e-12)
    keep = min(int(np.searchsorted(share, variance)) + 1, len(eigenvalues))
    model = ReferencePCA(
        features=tuple(str(c) for c in reference.columns),
        mean=mean,
        scale=scale,
        components=np.ascontiguousarray(vt[:keep]),
        explained=float(share[keep - 1]),
        error_mean=0.0,
        error_std=0.0,
        calibration_rows=len(calibration),
    )
    errors = model.errors(calibration.T * scale[:, None] + mean[:, None])
    return ReferencePCA(
        **{**model.__dict__, "error_mean": float(errors.mean()), "error_std": float(errors.std(ddof=1))}
    )


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread.

    Monitoring shares the server's cores with everything else; its products are small or memory-bound, and a
    threaded BLAS on a busy machine was measured 10 times slower (threads spinning for cores others hold).
    """
    return threadpool_limits(1, user_api="blas")


class MultivariateAccumulator:
    """Sums of reconstruction errors per time bucket, fed one stored batch at a time."""

    def __init__(self, model: ReferencePCA, start: float, step: float) -> None:
        self.model = model
        self.start = start
        self.step = step
        self.columns = [INPUT_PREFIX + f for f in model.features]
        self.sums: dict[int, float] = {}
        self.counts: dict[int, int] = {}
        self._work: np.ndarray | None = None

    def add(self, table: pa.Table, block: np.ndarray | None = None) -> None:
        """Add one batch of logged rows (``block``: its features already decoded, features x rows)."""
        if block is None:
            block, _ = numeric_block(table, self.columns)
        buckets = ((table.column("time").to_numpy() - self.start) // self.step).astype(np.int64)
        if self._work is None or self._work.shape != block.shape:
            self._work = np.empty(block.shape)  # batches of a flush have about the same size: reused
        errors = self.model.errors(block, self._work)
        sums = np.bincount(buckets - buckets.min(), weights=errors) if len(buckets) else np.zeros(0)
        sizes = np.bincount(buckets - buckets.min()) if len(buckets) else np.zeros(0, dtype=np.int64)
        for offset in np.flatnonzero(sizes):
            key = int(buckets.min() + offset)
            self.sums[key] = self.sums.get(key, 0.0) + float(sums[offset])
            self.counts[key] = self.counts.get(key, 0) + int(sizes[offset])

    def result(self) -> list[dict[str, Any]]:
        """One point per time bucket with rows: time, rows, reconstruction_error, lower, upper, drifted."""
        points = []
        for key in sorted(self.counts):
            rows = self.counts[key]
            error = self.sums[key] / rows
            lower, upper = self.model.band(rows)
            points.append(
                {
                    "time": iso(self.start + key * self.step),
                    "rows": rows,
                    "reconstruction_error": error,
                    "lower": lower,
                    "upper": upper,
                    "drifted": bool(error < lower or error > upper),
                }
            )
        return points


def multivariate_drift(
    model: ReferencePCA, tables: Iterable[pa.Table], start: float, step: float
) -> list[dict[str, Any]]:
    """Mean reconstruction error per time bucket of the logged rows against the reference's band."""
    accumulator = MultivariateAccumulator(model, start, step)
    for table in tables:
        accumulator.add(table)
    return accumulator.result()


def frame_errors(model: ReferencePCA, frame: pd.DataFrame) -> np.ndarray:
    """Reconstruction error of each row of a DataFrame of features (for notebooks and checks)."""
    block = frame.reindex(columns=list(model.features)).apply(pd.to_numeric, errors="coerce")
    return model.errors(block.to_numpy(dtype=float, na_value=np.nan).T)
