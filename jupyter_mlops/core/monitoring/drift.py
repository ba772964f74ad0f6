"""Drift of live data against a training baseline, with established statistics from scipy.

Numeric features: Kolmogorov-Smirnov p-value, Wasserstein distance normalised by the baseline's standard
deviation, and the population stability index (PSI) over the baseline's histogram bins. Categorical features:
chi-square p-value, Jensen-Shannon distance (base 2) and PSI over the baseline's categories. Each feature is
judged by one *primary* statistic (configurable, with a threshold); the others are reported alongside.

The defaults are calibrated to the sample, so a window drawn from the training distribution flags about one
feature in a hundred whatever its size: the primary statistics are the tests (KS for numbers, chi-square for
categories), their threshold is a family-wise significance level split over the features tested (Bonferroni),
and the tests count the *effective* number of live rows, not the logged ones. Repeated requests (the same input
row sent again) carry no new information about the distribution, so a window is first reduced to its distinct
input rows; a numeric feature whose values repeat more than its baseline's do (rows that differ only in other
columns) counts as many draws as its distinct values imply given how often the baseline repeats a value
(``effective_rows``). The fixed-threshold distances (Wasserstein, PSI, Jensen-Shannon) stay available as
primary statistics for those who want an effect size rather than a test.

A window of more than ``max_sample`` rows (50,000) is judged on a seeded uniform sample of that many rows, so a
report over a million rows stays fast (a bounded sample as in Evidently and NannyML). The two-sample tests compare
it with the baseline's stored sample; histograms and PSI use the baseline's bins.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidRequest
from .baseline import OTHER

# Statistics where a small value means drift (p-values); for the rest a large value does (distances).
P_VALUES = {"ks", "chisquare"}
# "auto" is the KS test at the effective sample size (kept as the name of the default for stored settings).
NUMERIC_STATISTICS = {"auto", "ks", "wasserstein", "psi"}
CATEGORICAL_STATISTICS = {"chisquare", "jensenshannon", "psi"}
CORRECTIONS = {"bonferroni", "none"}
DEFAULT_THRESHOLDS = {"ks": 0.05, "wasserstein": 0.1, "psi": 0.2, "chisquare": 0.05, "jensenshannon": 0.1}
EPS = 1e-4
# The dataset drifts when at least this share of its features do. With calibrated tests (each feature flagged with
# probability <= alpha / features on training-like data) two features in ten is already strong evidence.
DEFAULT_DRIFT_SHARE = 0.2


@dataclass(frozen=True)
class DriftSettings:
    """Which statistic judges each kind of feature, the thresholds, and the dataset-level drift share.

    For the p-value statistics (``ks``, ``chisquare``) the threshold is the significance level of the whole
    report: with ``correction="bonferroni"`` (the default) each feature is tested at threshold / features, so a
    window from the training distribution flags a feature with probability at most threshold / features.
    """

    numeric_statistic: str = "auto"
    categorical_statistic: str = "chisquare"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    drift_share: float = DEFAULT_DRIFT_SHARE  # the dataset drifts when at least this share of its features do
    correction: str = "bonferroni"
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
        for key, value in self.thresholds.items():
            ok = 0 < value < 1 if key in P_VALUES else value > 0
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not ok:
                bound = "between 0 and 1 (a significance level)" if key in P_VALUES else "a positive number"
                raise InvalidRequest(f"drift threshold {key} must be {bound}, got {value!r}.")
        if self.correction not in CORRECTIONS:
            raise InvalidRequest(f"drift correction must be one of {sorted(CORRECTIONS)}.")
        if not 0 < self.drift_share <= 1:
            raise InvalidRequest(f"drift_share must be in (0, 1], got {self.drift_share!r}.")
        if self.min_rows < 1 or self.max_sample < self.min_rows:
            raise InvalidRequest("drift min_rows must be at least 1 and max_sample at least min_rows.")

    def threshold(self, statistic: str) -> float:
        """The threshold of ``statistic`` (configured, else its default)."""
        return float(self.thresholds.get(statistic, DEFAULT_THRESHOLDS[statistic]))


def _stats() -> Any:
    """``scipy.stats``, imported on first use."""
    # About a second of imports that every process importing this module would pay otherwise: the serving workers
    # read ``DriftSettings`` through the deployment config and never compute drift.
    from scipy import stats

    return stats


def _jensenshannon(p: np.ndarray, q: np.ndarray, base: float) -> float:
    from scipy.spatial import distance

    return float(distance.jensenshannon(p, q, base=base))


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


def _ks_pvalue(sample: np.ndarray, values: np.ndarray, live_rows: int) -> float:
    """The two-sample KS p-value of ``values`` against ``sample``, counting ``live_rows`` independent live draws."""
    d = float(_stats().ks_2samp(sample, values).statistic)
    m, n = sample.size, max(int(live_rows), 1)
    return float(_stats().kstwo.sf(d, max(round(m * n / (m + n)), 1)))


def _effective_numeric_rows(sample: np.ndarray, values: np.ndarray, rows: int) -> int:
    """Independent draws in ``values``: its distinct values times how often the baseline repeats one, at most ``rows``.

    A continuous feature whose live values repeat (rows that differ only in other columns) holds fewer draws than
    rows; a feature with natural ties (ages, counts) repeats as much as its baseline does and keeps its rows.
    """
    ties = sample.size / max(np.unique(sample).size, 1)
    return int(min(rows, max(1, round(np.unique(values).size * ties))))


def _numeric_result(edges: np.ndarray, base_counts: np.ndarray, live_counts: np.ndarray, rows: int) -> dict[str, Any]:
    """A numeric column's drift entry with its histograms, before any statistic is computed."""
    return {
        "type": "numeric",
        "rows": rows,
        "baseline": {"bins": edges.tolist(), "counts": base_counts.astype(int).tolist()},
        "live": {"bins": edges.tolist(), "counts": live_counts.tolist()},
        "ks": None,
        "wasserstein": None,
        "psi": None,
    }


def numeric_drift(
    base: dict[str, Any], live: np.ndarray, settings: DriftSettings, *, distinct: np.ndarray | None = None
) -> dict[str, Any]:
    """Histograms and drift statistics (KS, Wasserstein, PSI) of a numeric column against its baseline.

    ``distinct`` is the column over the window's distinct input rows, which the KS test judges (``live`` gives
    the histograms); without it every row counts.
    """
    values = live[np.isfinite(live)]
    edges = np.asarray(base["histogram"]["bins"], dtype=float)
    base_counts = np.asarray(base["histogram"]["counts"], dtype=float)
    live_counts = _bin_counts(values, edges) if values.size else np.zeros(len(base_counts), dtype=np.int64)
    result = _numeric_result(edges, base_counts, live_counts, int(values.size))
    if values.size < settings.min_rows:
        return result
    sample = np.asarray(base["sample"], dtype=float)
    if values.size > settings.max_sample:
        rng = np.random.default_rng(settings.seed)
        values = values[rng.integers(0, values.size, settings.max_sample)]
    scale = float(base.get("std") or 0.0) or 1.0
    tested = values if distinct is None else distinct[np.isfinite(distinct)]
    result["effective_rows"] = _effective_numeric_rows(sample, tested, tested.size)
    result["ks"] = _ks_pvalue(sample, tested, result["effective_rows"]) if tested.size else None
    result["wasserstein"] = float(_stats().wasserstein_distance(sample, values) / scale)
    result["psi"] = _psi(base_counts, live_counts.astype(float))
    return result


def categorical_drift(
    base: dict[str, Any], live: pd.Series, settings: DriftSettings, *, repeat: float = 1.0
) -> dict[str, Any]:
    """Category counts and drift statistics (chi-square, Jensen-Shannon, PSI) of a categorical column.

    ``repeat`` is how many logged rows the window holds per distinct input row: the chi-square test counts
    ``rows / repeat`` effective rows.
    """
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
    effective = live_counts / max(repeat, 1.0)
    result["effective_rows"] = round(float(effective.sum()))
    expected = p / p.sum() * effective.sum()
    result["chisquare"] = float(_stats().chisquare(effective, expected).pvalue) if len(categories) > 1 else 1.0
    result["jensenshannon"] = float(_jensenshannon(p, q, base=2))
    result["psi"] = _psi(base_counts, live_counts)
    return result


def _numbers(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def column_drift(
    name: str,
    base: dict[str, Any],
    live: pd.Series,
    settings: DriftSettings,
    *,
    distinct: pd.Series | None = None,
    tests: int = 1,
) -> dict[str, Any]:
    """Drift of one column; ``statistic``/``value``/``threshold``/``drifted`` give the primary verdict.

    ``distinct`` is the column over the window's distinct input rows (what the tests count); ``tests`` is how
    many features share the report's significance level (the Bonferroni divisor of a p-value threshold).
    """
    repeat = len(live) / len(distinct) if distinct is not None and len(distinct) else 1.0
    if base.get("empty"):
        detail: dict[str, Any] = {"type": "numeric", "rows": 0, "baseline": None, "live": None}
        statistic = "ks" if settings.numeric_statistic == "auto" else settings.numeric_statistic
    elif base["type"] == "numeric":
        unique = None if distinct is None else _numbers(distinct)
        detail = numeric_drift(base, _numbers(live), settings, distinct=unique)
        statistic = "ks" if settings.numeric_statistic == "auto" else settings.numeric_statistic
    else:
        detail = categorical_drift(base, live, settings, repeat=repeat)
        statistic = settings.categorical_statistic
    return _judged(name, detail, statistic, settings, tests)


def _judged(name: str, detail: dict[str, Any], statistic: str, settings: DriftSettings, tests: int) -> dict[str, Any]:
    """A column's drift detail with the primary statistic's verdict (threshold split over ``tests`` features)."""
    value = detail.get(statistic)
    threshold = settings.threshold(statistic)
    if statistic in P_VALUES:
        detail["alpha"] = threshold
        if settings.correction == "bonferroni":
            threshold = threshold / max(tests, 1)
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
    present = {name: input_prefix + name for name in profile.get("features", {}) if input_prefix + name in live.columns}
    # Repeated requests (the same input row again) are one draw of the distribution, not several.
    distinct = live.drop_duplicates(subset=list(present.values())) if present else live
    tests = sum(1 for name in present if not profile["features"][name].get("empty"))
    features = [
        column_drift(name, profile["features"][name], live[col], settings, distinct=distinct[col], tests=tests)
        for name, col in present.items()
    ]
    evaluated = [f for f in features if f["value"] is not None]
    share = sum(f["drifted"] for f in evaluated) / len(evaluated) if evaluated else 0.0
    prediction = None
    if output is not None and profile.get("prediction") and output in live.columns:
        prediction = column_drift(
            "prediction", profile["prediction"], live[output], settings, distinct=distinct[output]
        )
    return {
        "share": float(share),
        "drifted": bool(evaluated) and share >= settings.drift_share,
        "rows": total,
        "sampled": len(live),
        "distinct_rows": len(distinct),
        "features": features,
        "prediction": prediction,
    }


# --- the streaming path: the same report from the stored batches, without the window as one pandas frame -------


def sample_positions(rows: int, settings: DriftSettings) -> np.ndarray | None:
    """Which of a window's ``rows`` rows are compared: None for all, else the seeded sample ``data()`` takes."""
    if rows <= settings.max_sample:
        return None
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(rows, settings.max_sample, replace=False))


def _sorted_numeric_drift(
    base: dict[str, Any], values: np.ndarray, tested: np.ndarray, settings: DriftSettings
) -> tuple[dict[str, Any], tuple[float, int] | None]:
    """``numeric_drift`` from sorted finite live values (``tested``: the distinct rows' ones), with the same numbers.

    Histogram counts come from binary searches of the baseline's edges, and one merge of the baseline sample with
    the live values gives both the KS statistic and the Wasserstein distance as scipy computes them. The KS
    p-value is left to the caller (``None`` in the result): the KS statistic and its sample size come back apart,
    so the p-values of all features are one scipy call (``_ks_pvalues``) instead of one each.
    """
    edges = np.asarray(base["histogram"]["bins"], dtype=float)
    base_counts = np.asarray(base["histogram"]["counts"], dtype=float)
    live_counts = _sorted_bin_counts(values, edges)
    result = _numeric_result(edges, base_counts, live_counts, int(values.size))
    if values.size < settings.min_rows:
        return result, None
    sample = np.sort(np.asarray(base["sample"], dtype=float))
    scale = float(base.get("std") or 0.0) or 1.0
    ties = sample.size / max(_distinct_sorted(sample), 1)
    result["effective_rows"] = int(min(tested.size, max(1, round(_distinct_sorted(tested) * ties))))
    gaps = _cdf_gaps(sample, values)
    ks = None
    if tested.size:
        d = (gaps if tested is values else _cdf_gaps(sample, tested))[0]
        m, n = sample.size, max(int(result["effective_rows"]), 1)
        ks = (d, max(round(m * n / (m + n)), 1))
    result["wasserstein"] = float(gaps[1] / scale)
    result["psi"] = _psi(base_counts, live_counts.astype(float))
    return result, ks


def _ks_pvalues(tests: list[tuple[float, int]]) -> list[float]:
    """KS p-values of ``(statistic, sample size)`` pairs, as ``_ks_pvalue`` gives them, in one scipy call."""
    if not tests:
        return []
    d, n = np.array(tests, dtype=float).T
    return [float(p) for p in np.atleast_1d(_stats().kstwo.sf(d, n.astype(np.int64)))]


def _distinct_sorted(values: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(values))) + 1 if values.size else 0


def _cdf_gaps(sample: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """The two-sample KS statistic and the Wasserstein distance of two sorted arrays (scipy's formulas).

    Both walk the merged points of the two samples. The live values are the long array (tens of thousands) and the
    baseline sample the short one, so the merge is built from the short side: each baseline point's place among
    the live values is one binary search (``m log n``, not ``(m + n) log m``); counts between them are repeats.
    A stable merge puts a baseline point before equal live values, as a merge sort of (sample, values) does.
    """
    m, n = sample.size, values.size
    size = m + n
    at = np.searchsorted(values, sample, side="left") + np.arange(m)  # the baseline points' places in the merge
    is_sample = np.zeros(size, dtype=bool)
    is_sample[at] = True
    merged = np.empty(size)
    merged[at] = sample
    merged[~is_sample] = values
    change = np.empty(size, dtype=bool)
    change[-1] = True
    np.not_equal(merged[1:], merged[:-1], out=change[:-1])
    # F_sample - F_live at each place is below_sample / m - (below_both - below_sample) / n, computed as
    # (below_sample * size - below_both * m) / (m n): integers below 2**53, so exact in float64 until the division.
    if change.all():  # no ties (continuous features): each point ends its own run
        # Baseline points at or before each place: k + 1 from the k-th baseline point's place to the next one's.
        diffs = np.repeat(np.arange(m + 1, dtype=float) * size, np.diff(at, prepend=0, append=size))
        diffs -= np.arange(m, m * size + 1, m, dtype=float)  # below_both * m, below_both = place + 1
    else:
        # How many of both are <= each point is where its run of equal values ends.
        run_end = np.flatnonzero(change)[np.cumsum(change) - change]
        below_sample = np.repeat(np.arange(m + 1), np.diff(at, prepend=0, append=size))[run_end]
        diffs = (below_sample * size - (run_end + 1) * m).astype(float)
    diffs /= m * n
    ks = max(float(np.clip(-diffs.min(), 0, 1)), float(diffs.max()))
    # An elementwise sum, not a BLAS dot: on a busy machine a threaded BLAS call on a short vector can take 10 ms.
    steps = np.diff(merged)
    steps *= np.abs(diffs[:-1], out=diffs[:-1])
    return ks, float(np.sum(steps))


def _sorted_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``_bin_counts`` of sorted values: bins are [e_i, e_i+1), the last one closed, outliers in the outer bins."""
    bins = len(edges) - 1
    if not float(edges[-1]) > float(edges[0]):
        counts = np.zeros(bins, dtype=np.int64)
        counts[0] = values.size
        return counts
    left = np.searchsorted(values, edges, side="left")
    counts = np.diff(left).astype(np.int64)
    at_top = int(np.searchsorted(values, edges[-1], side="right"))
    counts[-1] += at_top - int(left[-1])
    counts[0] += int(left[0])
    counts[-1] += values.size - at_top
    return counts


def _distinct_rows(columns: list[np.ndarray], rows: int) -> np.ndarray:
    """Positions of the first occurrence of each distinct row (``columns``: one float array per column), in order.

    Rows are hashed column by column (no row-major copy of a wide block); only rows whose hashes collide are
    compared exactly. Values compare as pandas' ``drop_duplicates`` does: -0.0 equals 0.0 and NaN equals NaN.
    """
    if rows == 0 or not columns:
        return np.arange(rows)
    weights = np.random.default_rng(0).integers(1, 2**62, size=len(columns), dtype=np.uint64) | np.uint64(1)
    hashes = np.zeros(rows, dtype=np.uint64)
    for column, weight in zip(columns, weights, strict=True):
        hashes += _canonical(column).view(np.uint64) * weight  # wraps modulo 2**64, as a hash should
    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if not same.size:
        return np.arange(rows)
    keep = np.ones(rows, dtype=bool)
    first: dict[bytes, int] = {}
    candidates = np.unique(np.concatenate([order[same], order[same + 1]]))  # ascending: the first one is kept
    values = np.stack([_canonical(column[candidates]) for column in columns], axis=1)
    for i, row in zip(candidates, values, strict=True):
        key = row.tobytes()
        if key in first:
            keep[i] = False
        else:
            first[key] = int(i)
    return np.flatnonzero(keep)


def _canonical(values: np.ndarray) -> np.ndarray:
    """Floats with one bit pattern per value: 0.0 for -0.0 and one NaN."""
    normal = values.astype(float) + 0.0
    normal[np.isnan(normal)] = np.nan
    return normal


class DriftAccumulator:
    """``dataset_drift`` of a window fed one stored batch at a time (``rows`` in the window), with the same answers.

    The rows compared (all, or the seeded sample of ``max_sample`` that ``MonitoringStore.data`` would take) are
    gathered into one numeric block of features x rows; categorical features and the prediction keep pandas
    columns (narrow). Per numeric feature one sort serves histogram, KS and Wasserstein. ``add`` takes the batch's
    numeric features already decoded (``numeric_columns`` order) so other statistics can share the decoding.
    """

    def __init__(
        self,
        profile: dict[str, Any],
        rows: int,
        settings: DriftSettings,
        *,
        input_prefix: str = "",
        output: str | None = None,
    ) -> None:
        self.profile = profile
        self.rows = rows
        self.settings = settings
        self.input_prefix = input_prefix
        self.output = output
        self.features: dict[str, Any] = profile.get("features", {})
        self.numeric = [n for n, c in self.features.items() if c.get("type") == "numeric" and not c.get("empty")]
        self.numeric_columns = [input_prefix + n for n in self.numeric]
        self.others = [n for n in self.features if n not in set(self.numeric)]
        self.positions = sample_positions(rows, settings)
        size = rows if self.positions is None else len(self.positions)
        # Filled column by column as batches arrive; only [:, :filled] is ever read (empty: no NaN pass over it).
        self.block = np.empty((len(self.numeric), size))
        self.parts: dict[str, list[pd.Series]] = {name: [] for name in [*self.others, "__output__"]}
        self.seen: set[str] = set()
        self.offset = 0
        self.filled = 0
        self._result: dict[str, Any] | None = None

    def add(self, table: Any, block: np.ndarray) -> None:
        """Gather the compared rows of one batch (``block``: its numeric features, features x rows)."""
        n = table.num_rows
        local = None
        if self.positions is not None:
            lo, hi = np.searchsorted(self.positions, [self.offset, self.offset + n])
            local = self.positions[lo:hi] - self.offset
        elif self.offset + n > self.rows:  # written after the window was counted: judged with the next report
            local = np.arange(max(self.rows - self.offset, 0))
        self.offset += n
        if local is not None and not local.size:
            return
        self.seen.update(table.column_names)
        taken = n if local is None else local.size
        self.block[:, self.filled : self.filled + taken] = block if local is None else block[:, local]
        for name, column in [(n, self.input_prefix + n) for n in self.others] + [("__output__", self.output)]:
            if column is None:
                continue
            if column in table.column_names:
                values = table.column(column)
                self.parts[name].append((values if local is None else values.take(local)).to_pandas())
            else:
                self.parts[name].append(pd.Series([None] * taken))
        self.filled += taken

    def result(self) -> dict[str, Any]:
        """The drift report of the rows added (the shape ``dataset_drift`` returns); it ends the accumulation.

        Each numeric feature's gathered values are sorted in place (no copy of a block of 50,000 rows x a thousand
        features), so rows added afterwards are not counted: a second call returns the same report.
        """
        if self._result is not None:
            return self._result
        settings, features, filled = self.settings, self.features, self.filled
        block = self.block[:, :filled]
        present = [n for n in features if self.input_prefix + n in self.seen]
        columns = {n: pd.concat(self.parts[n], ignore_index=True) for n in self.others if n in present}
        # Repeated requests (the same input row again) are one draw of the distribution, not several.
        keys = [block[i] for i, n in enumerate(self.numeric) if n in set(present)]
        keys += [pd.factorize(columns[n])[0].astype(float) for n in columns]
        distinct = _distinct_rows(keys, filled)
        tests = sum(1 for name in present if not features[name].get("empty"))
        statistic = "ks" if settings.numeric_statistic == "auto" else settings.numeric_statistic
        index = {n: i for i, n in enumerate(self.numeric)}

        def numeric(name: str) -> tuple[dict[str, Any], tuple[float, int] | None]:
            row = block[index[name]]
            tested = None
            if len(distinct) < filled:  # the distinct rows' values, taken before the row is sorted
                unique = row[distinct]
                tested = np.sort(unique[np.isfinite(unique)])
            row.sort()  # in place; NaN last, infinities at the ends: the finite values are one slice
            values = row[np.searchsorted(row, -np.inf, side="right") : np.searchsorted(row, np.inf, side="left")]
            return _sorted_numeric_drift(features[name], values, values if tested is None else tested, settings)

        def other(name: str) -> dict[str, Any]:
            live = columns.get(name, pd.Series(dtype=float))
            return column_drift(name, features[name], live, settings, distinct=live.iloc[distinct], tests=tests)

        judged = [n for n in present if n not in columns and n in index]
        # Sorting and searching release the GIL: the features' statistics run on two threads.
        with ThreadPoolExecutor(max_workers=2) as pool:
            numbers = dict(zip(judged, pool.map(numeric, judged), strict=True))
            others = dict(zip(rest := [n for n in present if n not in numbers], pool.map(other, rest), strict=True))
        pending = [(name, ks) for name, (_, ks) in numbers.items() if ks is not None]
        for (name, _), pvalue in zip(pending, _ks_pvalues([ks for _, ks in pending]), strict=True):
            numbers[name][0]["ks"] = pvalue
        results = [
            _judged(n, numbers[n][0], statistic, settings, tests) if n in numbers else others[n] for n in present
        ]
        evaluated = [f for f in results if f["value"] is not None]
        share = sum(f["drifted"] for f in evaluated) / len(evaluated) if evaluated else 0.0
        prediction = None
        if self.output is not None and self.profile.get("prediction") and self.output in self.seen:
            predicted = pd.concat(self.parts["__output__"], ignore_index=True)
            prediction = column_drift(
                "prediction", self.profile["prediction"], predicted, settings, distinct=predicted.iloc[distinct]
            )
        self._result = {
            "share": float(share),
            "drifted": bool(evaluated) and share >= settings.drift_share,
            "rows": self.rows,
            "sampled": filled,
            "distinct_rows": len(distinct),
            "features": results,
            "prediction": prediction,
        }
        return self._result


def streamed_dataset_drift(
    profile: dict[str, Any],
    tables: Any,
    rows: int,
    settings: DriftSettings,
    *,
    input_prefix: str = "",
    output: str | None = None,
) -> dict[str, Any]:
    """``dataset_drift`` of a window given as its stored batches (``rows`` in all), with the same answers."""
    from .storage import numeric_block

    accumulator = DriftAccumulator(profile, rows, settings, input_prefix=input_prefix, output=output)
    for table in tables:
        accumulator.add(table, numeric_block(table, accumulator.numeric_columns)[0])
    return accumulator.result()
