"""Performance estimated without labels, from a labelled reference set the model did not train on.

Classifiers, confidence-based estimation (CBPE): the model's scores are calibrated on the reference set (isotonic
regression of the true class on each class score), so a live row's calibrated probabilities say how likely each
label is. The expected confusion matrix of a bucket of live rows, ``E[C[k, l]] = sum_i P(y_i = k) [pred_i = l]``,
gives accuracy, precision, recall and F1; ROC AUC is the expected share of correctly ordered (positive, negative)
pairs, weighted by ``P(y_i = 1) P(y_j = 0)``. Scores come from the model's own ``predict_proba`` on the logged inputs,
so it works whatever the deployment answers (labels or probabilities). The calibration is importance-weighted
towards each window's live rows: a classifier telling reference rows from live ones gives each reference row the
weight ``P(live | x) / P(reference | x)``, so the calibration is the one of the live distribution under a covariate
shift (the rows moved, the relation between features and labels did not), not only the reference's.

Regressors, direct loss estimation (DLE): two loss models (gradient boosting on the features and the prediction)
fitted on the reference set's absolute and squared errors estimate each live row's error; their bucket means give
MAE and RMSE, corrected by what the loss models miss on reference rows like the live ones (their out-of-fold
residuals, importance-weighted towards the window's live rows as for CBPE).

Bands (95 %): for classifiers, calibration maps fitted on bootstrap resamples of the reference, and for each,
labels drawn from the calibrated probabilities; the realized metric of each draw gives the band, so it holds both
the reference's finite size and the bucket's own sampling noise. For regressors, the weighted spread of the
out-of-fold residuals over the bucket's rows and over the reference's effective rows under the weights. Live rows
beyond the range the reference covers are counted, and the estimation's ``reason`` says the band is unreliable
when they are more than 1 % of the window.

Everything here is plain numpy/pandas/scikit-learn; MLflow is only used to load the version's model.
"""

from __future__ import annotations

import copy
import logging
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .reference import Reference

if TYPE_CHECKING:
    from ..registry import Registry

log = logging.getLogger(__name__)

CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR_METRICS = ("mae", "rmse")
ESTIMATED_PREFIX = "estimated_"
BOOTSTRAP_CALIBRATIONS = 20
DRAWS_PER_CALIBRATION = 10
MIN_BUCKET_ROWS = 10
MIN_ADAPT_ROWS = 100  # live rows needed before the calibration is reweighted towards them
MAX_WEIGHT_RATIO = 20.0  # importance weights clipped at this multiple of their median
LOSS_FOLDS = 3  # cross-validation folds of DLE's loss models
OUTSIDE_NOTE_SHARE = 0.01  # live rows beyond the reference's range from which the estimation says so
Z95 = 1.959964


@dataclass
class Estimation:
    """Estimated performance of one window: per bucket and metric, and over the whole window.

    Attributes:
        available: Whether the model and its reference allow estimation at all.
        reason: Why not (or what limits the estimate), in words for the user.
        method: ``"CBPE"`` (classifiers) or ``"DLE"`` (regressors), None when unavailable.
        points: One ``{time, metric, estimate, lower, upper, realized}`` per bucket and metric.
        summary: Over the whole window, ``{metric: {estimate, lower, upper, realized}}``.
        rows: How many logged rows were estimated.
    """

    available: bool
    reason: str = ""
    method: str | None = None
    points: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    rows: int = 0

    def status(self) -> dict[str, Any]:
        """The report's ``estimation`` block: availability, reason, method, rows and the window's estimates."""
        return {
            "available": self.available,
            "reason": self.reason,
            "method": self.method,
            "rows": self.rows,
            "summary": self.summary,
        }

    def estimates(self) -> dict[str, float]:
        """The window's estimate of each metric (for the health score and alert rules); empty when unavailable."""
        if not self.available:
            return {}
        return {m: float(v["estimate"] or 0.0) for m, v in self.summary.items() if v.get("estimate") is not None}


def unavailable(reason: str) -> Estimation:
    """An estimation that cannot be made, with the reason (never a number)."""
    return Estimation(available=False, reason=reason)


# --- the version's model, loaded in the monitor's process --------------------------------------------------------

_MODELS: dict[tuple[str, str, str], tuple[Any, str]] = {}
_MODELS_LOCK = threading.Lock()


def load_model(registry: Registry, model_name: str, version: str) -> tuple[Any, str]:
    """The version's model (the scikit-learn flavor when it has one, else pyfunc) and that flavor, cached."""
    key = (registry.registry_uri, model_name, str(version))
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
    import mlflow

    uri = f"models:/{model_name}/{version}"
    with registry.fluent():
        info = mlflow.models.get_model_info(uri)
        if "sklearn" in (info.flavors or {}):
            import mlflow.sklearn

            loaded: tuple[Any, str] = (mlflow.sklearn.load_model(uri), "sklearn")
        else:
            import mlflow.pyfunc

            loaded = (mlflow.pyfunc.load_model(uri), "pyfunc")
    with _MODELS_LOCK:
        return _MODELS.setdefault(key, loaded)


# --- helpers ---------------------------------------------------------------------------------------------------


def _label_key(value: Any) -> str:
    """A label as text, with whole numbers written alike (1, 1.0, "1" and True-as-1 are the same class)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def is_regression_labels(labels: pd.Series) -> bool:
    """Numeric labels that are not all whole numbers: the reference of a regressor."""
    if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        return False
    values = labels.to_numpy(dtype=float)
    return bool(not np.all(values == np.round(values)) or len(np.unique(values)) > 20)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.asarray(rankdata(values), dtype=float)


def _expected_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Expected ROC AUC: ordered (i positive, j negative) pairs weighted by P(y_i = 1) P(y_j = 0), ties half."""
    order = np.argsort(scores, kind="mergesort")
    s, p = scores[order], positive[order]
    q = 1.0 - p
    # negatives' weight strictly below each score, plus half of the weight at the same score
    unique, start = np.unique(s, return_index=True)
    q_cum = np.concatenate([[0.0], np.cumsum(q)])
    end = np.append(start[1:], len(s))
    below = q_cum[start]
    tied = q_cum[end] - q_cum[start]
    group = np.searchsorted(unique, s)
    weight = below[group] + 0.5 * tied[group]
    # exclude the pairing of a row with itself (weight p_i q_i counted at half in its own tie group)
    numerator = float(np.sum(p * weight) - 0.5 * np.sum(p * q))
    denominator = float(p.sum() * q.sum() - np.sum(p * q))
    return numerator / denominator if denominator > 0 else None


# --- classifiers: confidence-based estimation ----------------------------------------------------------------------


class ClassifierEstimator:
    """CBPE for one model and reference: calibration maps fitted once, then applied to any bucket of live rows."""

    method = "CBPE"
    metrics = CLASSIFIER_METRICS

    def __init__(self, model: Any, reference: Reference, *, seed: int = 0) -> None:
        """Fit the calibration maps (and their bootstrap replicas) on the reference set."""
        self.model = model
        self.classes = [_label_key(c) for c in model.classes_]
        index = {c: k for k, c in enumerate(self.classes)}
        truth = np.array([index.get(_label_key(v), -1) for v in reference.labels])
        if (truth < 0).any():
            unknown = sorted({_label_key(v) for v in reference.labels} - set(self.classes))[:5]
            raise ValueError(f"reference labels {unknown} are not classes of the model ({self.classes[:10]})")
        self.k = len(self.classes)
        self.seed = seed
        self.reference = reference.features
        self.reference_scores = self.scores(reference.features)
        self.truth = truth
        self.calibration, self.replicas = self._calibrations(None)

    def _calibrations(self, weights: np.ndarray | None) -> tuple[list[Any], list[list[Any]]]:
        """The calibration maps on the whole reference, and on bootstrap resamples of it (for the bands)."""
        scores, truth = self.reference_scores, self.truth
        rng = np.random.default_rng(self.seed)
        n = len(truth)
        replicas = [
            self._fit(scores[idx], truth[idx], None if weights is None else weights[idx])
            for idx in (rng.integers(0, n, n) for _ in range(BOOTSTRAP_CALIBRATIONS))
        ]
        return self._fit(scores, truth, weights), replicas

    def adapted(self, live: pd.DataFrame) -> ClassifierEstimator:
        """A copy calibrated on the reference reweighted towards the live rows' distribution (covariate shift)."""
        weights = shift_weights(self.reference, live)
        if weights is None:
            return self
        clone = copy.copy(self)
        clone.calibration, clone.replicas = self._calibrations(weights)
        return clone

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        """The model's class probabilities (rows x classes)."""
        return np.asarray(self.model.predict_proba(features), dtype=float).reshape(len(features), -1)

    def _fit(self, scores: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None) -> list[Any]:
        from sklearn.isotonic import IsotonicRegression

        columns = [1] if self.k == 2 else list(range(self.k))
        maps = []
        for k in columns:
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(scores[:, k], (truth == k).astype(float), sample_weight=weights)
            maps.append(iso)
        return maps

    def calibrate(self, scores: np.ndarray, maps: list[Any]) -> np.ndarray:
        """Calibrated class probabilities (rows sum to 1)."""
        if self.k == 2:
            p1 = np.clip(maps[0].predict(scores[:, 1]), 0.0, 1.0)
            return np.column_stack([1.0 - p1, p1])
        probs = np.column_stack([m.predict(scores[:, k]) for k, m in enumerate(maps)])
        sums = probs.sum(axis=1, keepdims=True)
        return np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), 1.0 / self.k)

    def _from_confusion(self, confusion: np.ndarray) -> dict[str, float]:
        """accuracy, precision, recall, F1 from an (expected) confusion matrix [true, predicted]."""
        n = confusion.sum()
        out = {"accuracy": float(np.trace(confusion) / n)}
        tp = np.diag(confusion)
        predicted = confusion.sum(axis=0)
        actual = confusion.sum(axis=1)
        precision = _ratio(tp, predicted)
        recall = _ratio(tp, actual)
        f1 = _ratio(2 * tp, predicted + actual)
        if self.k == 2:
            out.update(precision=float(precision[1]), recall=float(recall[1]), f1=float(f1[1]))
        else:
            out.update(
                precision=float(np.nanmean(precision)),
                recall=float(np.nanmean(recall)),
                f1=float(np.nanmean(f1)),
            )
        return out

    def estimate(self, features: pd.DataFrame) -> dict[str, tuple[float | None, float | None, float | None]]:
        """``{metric: (estimate, lower, upper)}`` for one bucket of live rows."""
        scores = self.scores(features)
        return self.estimate_scores(scores)

    def estimate_scores(self, scores: np.ndarray) -> dict[str, tuple[float | None, float | None, float | None]]:
        """``{metric: (estimate, lower, upper)}`` from the model's class probabilities on a bucket's rows."""
        pred = scores.argmax(axis=1)
        probs = self.calibrate(scores, self.calibration)
        onehot = np.eye(self.k)[pred]
        point = self._from_confusion(probs.T @ onehot)
        point["roc_auc"] = self._auc(scores, probs)  # type: ignore[assignment]
        draws = self._draws(scores, pred)
        out: dict[str, tuple[float | None, float | None, float | None]] = {}
        for metric in self.metrics:
            value = point.get(metric)
            sample = draws[metric]
            sample = sample[np.isfinite(sample)]
            if value is None or not np.isfinite(value) or sample.size == 0:
                out[metric] = (None, None, None)
                continue
            low, high = np.percentile(sample, [2.5, 97.5])
            out[metric] = (float(value), float(min(low, value)), float(max(high, value)))
        return out

    def _auc(self, scores: np.ndarray, probs: np.ndarray) -> float | None:
        if self.k == 2:
            return _expected_auc(scores[:, 1], probs[:, 1])
        values = [_expected_auc(scores[:, k], probs[:, k]) for k in range(self.k)]
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    def _draws(self, scores: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
        """Realized metrics of labels drawn from bootstrap-calibrated probabilities (draws x metric)."""
        rng = np.random.default_rng(self.seed + len(pred))
        n = len(pred)
        results: dict[str, list[np.ndarray]] = {m: [] for m in self.metrics}
        ranks = [_ranks(scores[:, k]) for k in ([1] if self.k == 2 else range(self.k))]
        for maps in self.replicas:
            probs = self.calibrate(scores, maps)
            cumulative = np.cumsum(probs, axis=1)
            u = rng.random((DRAWS_PER_CALIBRATION, n, 1))
            labels = np.minimum((u > cumulative[None, :, :]).sum(axis=2), self.k - 1)  # draws x rows
            results["accuracy"].append((labels == pred[None, :]).mean(axis=1))
            tps, fps, fns, aucs = [], [], [], []
            for j, k in enumerate([1] if self.k == 2 else range(self.k)):
                is_k = labels == k
                pred_k = (pred == k)[None, :]
                tps.append((is_k & pred_k).sum(axis=1))
                fps.append((~is_k & pred_k).sum(axis=1))
                fns.append((is_k & ~pred_k).sum(axis=1))
                npos = is_k.sum(axis=1).astype(float)
                nneg = n - npos
                aucs.append(_ratio(is_k @ ranks[j] - npos * (npos + 1) / 2, npos * nneg))
            tp, fp, fn = (np.array(v, dtype=float) for v in (tps, fps, fns))
            precision = _ratio(tp, tp + fp)
            recall = _ratio(tp, tp + fn)
            f1 = _ratio(2 * tp, 2 * tp + fp + fn)
            with np.errstate(all="ignore"):
                results["precision"].append(np.nanmean(precision, axis=0))
                results["recall"].append(np.nanmean(recall, axis=0))
                results["f1"].append(np.nanmean(f1, axis=0))
                results["roc_auc"].append(np.nanmean(np.array(aucs), axis=0))
        return {m: np.concatenate(v) for m, v in results.items()}

    def realized(self, features: pd.DataFrame, labels: pd.Series) -> dict[str, float | None]:
        """The metrics the model really had on labelled rows (same definitions as the estimates)."""
        from sklearn.metrics import roc_auc_score

        index = {c: k for k, c in enumerate(self.classes)}
        truth = np.array([index.get(_label_key(v), -1) for v in labels])
        known = truth >= 0
        if not known.any():
            return {}
        scores = self.scores(features)[known]
        truth = truth[known]
        pred = scores.argmax(axis=1)
        confusion = np.zeros((self.k, self.k))
        np.add.at(confusion, (truth, pred), 1.0)
        out: dict[str, float | None] = dict(self._from_confusion(confusion))
        try:
            if self.k == 2:
                out["roc_auc"] = float(roc_auc_score(truth == 1, scores[:, 1]))
            else:
                out["roc_auc"] = float(
                    roc_auc_score(truth, scores, multi_class="ovr", average="macro", labels=list(range(self.k)))
                )
        except ValueError:  # one class only among the labels: AUC is undefined
            out["roc_auc"] = None
        return {m: (None if v is None or not np.isfinite(v) else float(v)) for m, v in out.items()}


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def shift_weights(reference: pd.DataFrame, live: pd.DataFrame, *, seed: int = 0) -> np.ndarray | None:
    """Importance weights of the reference rows towards the live rows' distribution, mean 1 (None: too few rows).

    A shallow gradient-boosted classifier tells reference rows from live ones; a reference row's weight is its odds
    of being live, clipped at ``MAX_WEIGHT_RATIO`` times the median so a few rows cannot carry the estimate.
    """
    if len(live) < MIN_ADAPT_ROWS:
        return None
    from sklearn.ensemble import HistGradientBoostingClassifier

    inputs = np.vstack([_numeric(reference), _numeric(live)])
    source = np.concatenate([np.zeros(len(reference)), np.ones(len(live))])
    domain = HistGradientBoostingClassifier(max_iter=60, max_depth=3, min_samples_leaf=50, random_state=seed)
    domain.fit(inputs, source)
    p = np.clip(domain.predict_proba(inputs[: len(reference)])[:, 1], 1e-3, 1 - 1e-3)
    weights = p / (1.0 - p)
    weights = np.minimum(weights, MAX_WEIGHT_RATIO * float(np.median(weights)))
    return np.asarray(weights / weights.mean(), dtype=float)


def outside_reference(reference: pd.DataFrame, live: pd.DataFrame) -> tuple[int, list[str]]:
    """Live rows with a numeric feature beyond the reference's range, and those features (most such rows first).

    There the calibration (CBPE) or the loss models (DLE) extrapolate from the reference's edge: nothing the
    reference holds says how the model does, so a band cannot be trusted for them.
    """
    ref, values = _numeric(reference), _numeric(live)
    if not ref.size or not values.size:
        return 0, []
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no range: nothing is beyond
        beyond = (values < np.nanmin(ref, axis=0)) | (values > np.nanmax(ref, axis=0))
    counts = beyond.sum(axis=0)
    names = [str(reference.columns[i]) for i in np.argsort(-counts, kind="stable") if counts[i]]
    return int(beyond.any(axis=1).sum()), names


def _outside_note(reference: pd.DataFrame, live: pd.DataFrame) -> str:
    """What the estimation says when enough live rows lie outside the reference (empty otherwise)."""
    rows, features = outside_reference(reference, live)
    if rows < max(1, OUTSIDE_NOTE_SHARE * len(live)):
        return ""
    shown = ", ".join(features[:3]) + (f" and {len(features) - 3} more" if len(features) > 3 else "")
    return (
        f"{rows} of {len(live)} live rows ({rows / len(live):.0%}) lie outside the range of the reference set "
        f"({shown}): the estimate extrapolates there and its band is unreliable. Register a reference set that "
        "covers such rows."
    )


# --- regressors: direct loss estimation ----------------------------------------------------------------------------


class RegressorEstimator:
    """DLE for one model and reference: loss models of the absolute and squared error, fitted once.

    The loss models alone are too sure of themselves where live rows lie beyond most of the reference: trees
    predict the loss of the reference's edge for anything further out, and one spread for every row hides that
    errors there vary more. So each estimate is corrected and its band sized with the loss models' out-of-fold
    residuals on the reference, weighted towards the live rows (``adapted``, the importance weights CBPE uses): the
    weighted mean residual is what the loss model misses on rows like the live ones (added to the estimate, a
    doubly robust estimate), their weighted spread the noise of a live row's loss, and the weights' effective
    number of rows how much of the reference speaks for the live rows. Live rows outside the range the reference
    covers are counted (``outside_reference``) and the estimation says its band is unreliable there.
    """

    method = "DLE"
    metrics = REGRESSOR_METRICS

    def __init__(self, model: Any, reference: Reference, *, seed: int = 0) -> None:
        """Fit the loss models on the reference set's errors, keeping their out-of-fold residuals for the bands."""
        from sklearn.model_selection import KFold

        self.model = model
        self.columns = list(reference.features.columns)
        self.reference = reference.features
        truth = reference.labels.to_numpy(dtype=float)
        inputs = self._inputs(reference.features)
        error = truth - self.predictions(reference.features)
        self.loss: dict[str, Any] = {}
        self.folds: dict[str, list[Any]] = {}
        self.residuals: dict[str, np.ndarray] = {}
        self.reference_rows = len(truth)
        self.weights: np.ndarray | None = None  # towards the live rows (``adapted``); None: the reference as it is
        # Per kind: a loss model fitted on every reference row gives the estimate; three cross-validation fits give
        # the out-of-fold residuals (what it misses on rows it did not see) and, by how much they disagree on
        # live rows, its own uncertainty there.
        splits = list(KFold(LOSS_FOLDS).split(inputs))  # contiguous folds, as cross_val_predict makes them
        for kind, target in (("abs", np.abs(error)), ("sq", error**2)):
            out_of_fold = np.empty(len(target))
            self.folds[kind] = []
            for fitted_on, held_out in splits:
                fold = _loss_model(seed).fit(inputs[fitted_on], target[fitted_on])
                out_of_fold[held_out] = fold.predict(inputs[held_out])
                self.folds[kind].append(fold)
            self.residuals[kind] = target - np.clip(out_of_fold, 0.0, None)
            self.loss[kind] = _loss_model(seed).fit(inputs, target)

    def adapted(self, live: pd.DataFrame) -> RegressorEstimator:
        """A copy whose corrections and bands weight the reference towards the live rows' distribution."""
        weights = shift_weights(self.reference, live)
        if weights is None:
            return self
        clone = copy.copy(self)
        clone.weights = weights
        return clone

    def predictions(self, features: pd.DataFrame) -> np.ndarray:
        """The model's predictions as one float per row."""
        out = np.asarray(self.model.predict(features))
        if out.ndim == 2:
            out = out[:, 0]
        return out.astype(float).reshape(-1)

    def _inputs(self, features: pd.DataFrame) -> np.ndarray:
        numeric = features.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        return np.column_stack([numeric, self.predictions(features)])

    def estimate(self, features: pd.DataFrame) -> dict[str, tuple[float | None, float | None, float | None]]:
        """``{metric: (estimate, lower, upper)}`` for one bucket of live rows."""
        inputs = self._inputs(features)
        n = len(features)
        weights = np.ones(self.reference_rows) if self.weights is None else self.weights
        effective = float(weights.sum() ** 2 / np.sum(weights**2))  # reference rows that speak for the live ones
        out: dict[str, tuple[float | None, float | None, float | None]] = {}
        for kind, metric in (("abs", "mae"), ("sq", "rmse")):
            residual = self.residuals[kind]
            missed = float(np.average(residual, weights=weights))
            spread = float(np.average((residual - missed) ** 2, weights=weights))
            value = max(float(np.mean(np.clip(self.loss[kind].predict(inputs), 0.0, None))) + missed, 0.0)
            # Where the live rows lie beyond most of the reference the fold models, each fitted on other rows,
            # disagree: the variance of their bucket means is the loss model's own uncertainty there.
            by_fold = [float(np.mean(np.clip(fold.predict(inputs), 0.0, None))) for fold in self.folds[kind]]
            disagreement = float(np.var(by_fold, ddof=1)) if len(by_fold) > 1 else 0.0
            half = Z95 * np.sqrt(spread / n + spread / effective + disagreement)
            low, high = max(value - half, 0.0), value + half
            if kind == "sq":
                value, low, high = float(np.sqrt(value)), float(np.sqrt(low)), float(np.sqrt(high))
            out[metric] = (value, low, high)
        return out

    def realized(self, features: pd.DataFrame, labels: pd.Series) -> dict[str, float | None]:
        """MAE and RMSE the model really had on labelled rows."""
        truth = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
        error = truth - self.predictions(features)
        error = error[np.isfinite(error)]
        if error.size == 0:
            return {}
        return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}


def _loss_model(seed: int) -> Any:
    """A loss model of DLE: gradient boosting of a row's error from its features and the model's prediction."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, min_samples_leaf=20, random_state=seed)


Estimator = ClassifierEstimator | RegressorEstimator


def estimator_for(model: Any, flavor: str, reference: Reference, uri: str) -> Estimator | str:
    """The estimator of a model on its reference (fitted once per reference), or why none can be made."""
    from threadpoolctl import threadpool_limits

    with reference.lock:
        cached = reference.fitted.get("estimator")
        if cached is not None:
            return cached
        regression = is_regression_labels(reference.labels)
        built: Estimator | str
        try:
            with threadpool_limits(1):  # OpenMP threads on a shared, loaded host slow the fits down many times
                if not regression and hasattr(model, "predict_proba") and hasattr(model, "classes_"):
                    built = ClassifierEstimator(model, reference)
                elif regression and hasattr(model, "predict"):
                    built = RegressorEstimator(model, reference)
                else:
                    built = (
                        f"{uri} gives no class scores: its {flavor} model has no predict_proba, so the confidence "
                        "of its answers cannot be calibrated. Register a scikit-learn classifier with predict_proba "
                        "(or a regressor with numeric labels) to estimate performance without labels."
                    )
        except Exception as exc:  # a model that fails on its own reference cannot be estimated
            log.warning("No performance estimator for %s: %s", uri, exc)
            built = f"The model {uri} could not be fitted on its reference set ({type(exc).__name__}: {exc})."
        reference.fitted["estimator"] = built
        return built


def rows_with_labels(rows: pd.DataFrame, labels: dict[str, Any]) -> pd.DataFrame:
    """Logged rows (with ``request_id``) and their label: scalars for one-row requests, lists for multi-row ones."""
    if rows.empty:
        return rows.assign(label=pd.Series(dtype=object))
    position = rows.groupby("request_id").cumcount().to_numpy()
    values = []
    for rid, row in zip(rows["request_id"], position, strict=True):
        label = labels.get(rid)
        values.append(label[row] if isinstance(label, list) and row < len(label) else label)
    out = rows.assign(label=pd.Series(values, index=rows.index, dtype=object))
    return out[out["label"].notna()]


def estimate_window(
    estimator: Estimator,
    live: pd.DataFrame,
    labelled: pd.DataFrame | None,
    columns: list[str],
    *,
    start: float,
    step: float,
    iso: Any,
) -> Estimation:
    """Estimate per bucket of ``step`` seconds (and over the window) from live rows with ``time`` and ``columns``.

    ``labelled`` (rows with ``time``, ``columns`` and ``label``) fills ``realized`` where feedback exists.
    """
    result = Estimation(available=True, method=estimator.method, rows=len(live))
    if live.empty:
        result.reason = "No logged inputs in this window yet."
        return result
    try:
        estimator = estimator.adapted(live[columns])
    except Exception as exc:  # the reference's own calibration and residuals still stand
        log.warning("Estimation not reweighted towards the live rows: %s", exc)
    result.reason = _outside_note(estimator.reference, live[columns])
    buckets = ((live["time"].to_numpy(dtype=float) - start) // step).astype(int)
    realized_by_bucket: dict[int, dict[str, float | None]] = {}
    realized_all: dict[str, float | None] = {}
    if labelled is not None and not labelled.empty:
        label_buckets = ((labelled["time"].to_numpy(dtype=float) - start) // step).astype(int)
        for bucket in np.unique(label_buckets):
            mask = label_buckets == bucket
            realized_by_bucket[int(bucket)] = estimator.realized(labelled.loc[mask, columns], labelled["label"][mask])
        realized_all = estimator.realized(labelled[columns], labelled["label"])
    for bucket in np.unique(buckets):
        mask = buckets == bucket
        if mask.sum() < MIN_BUCKET_ROWS:
            continue
        values = estimator.estimate(live.loc[mask, columns])
        realized = realized_by_bucket.get(int(bucket), {})
        for metric in estimator.metrics:
            estimate, lower, upper = values[metric]
            if estimate is None:
                continue
            result.points.append(
                {
                    "time": iso(start + int(bucket) * step),
                    "metric": metric,
                    "estimate": estimate,
                    "lower": lower,
                    "upper": upper,
                    "realized": realized.get(metric),
                }
            )
    overall = estimator.estimate(live[columns])
    for metric in estimator.metrics:
        estimate, lower, upper = overall[metric]
        if estimate is not None:
            result.summary[metric] = {
                "estimate": estimate,
                "lower": lower,
                "upper": upper,
                "realized": realized_all.get(metric),
            }
    if not result.points and len(live) < MIN_BUCKET_ROWS:
        result.reason = f"Only {len(live)} logged rows in this window: estimates need at least {MIN_BUCKET_ROWS}."
    return result
