"""Compiled tree ensembles: a scikit-learn forest or boosting model's ``predict`` as native code, served only after
it has been shown to give the same answers as scikit-learn's own.

On one row, scikit-learn's ``predict`` of a 100-tree ensemble costs 0.3-1 ms, most of it Python around the trees;
the same trees compiled to C (Treelite imports the model, TL2cgen generates and compiles the code with the host's
C compiler) answer in about 25 microseconds. That is most of a request's cost on the fast path.

Same answers, by construction and then by proof:

* the input is what scikit-learn compares: trees of ``sklearn.tree`` (random forests, extra trees, gradient
  boosting) cast X to float32 before comparing it with their float64 thresholds, so the compiled model is given
  the float32-rounded values; histogram gradient boosting compares float64 as it is;
* labels come from the raw scores with each estimator's own rule (``>= 0`` for gradient boosting, ``> 0`` for
  histogram gradient boosting, the first maximum for forests' probabilities), so they match;
* input scikit-learn would refuse (infinite values, or values float32 cannot hold) raises here as well, and the
  caller falls back to scikit-learn, which gives its own error;
* then the **compiled parity gate**: the compiled predictor is served only if it answers like ``estimator.predict``
  on the input example and the stored training rows (labels equal, values within ``VALUE_TOLERANCE`` relative:
  a compiled model sums the trees in another order, which moves the last bit or two of a float64).

Compiling runs in the background after the deployment is ready (it takes 0.3-2 s), so a deploy is never slower; the
scikit-learn path answers until the compiled one has passed. Libraries are cached by the model's content in the
daemon's data folder, so the serving workers, restarts and redeploys of the same version compile it once.
Models too large to compile quickly (``MAX_NODES``) keep scikit-learn. Treelite and TL2cgen are optional
(``pip install jupyter_mlops[compiled]``) and need a C compiler; without them nothing changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.locks import file_lock

log = logging.getLogger(__name__)

# Total tree nodes above which a model keeps scikit-learn: GCC's time grows faster than linearly with the code
# (measured here: 1,500 nodes 0.3 s; a 20-tree unpruned forest of about 20,000 nodes 11-75 s).
MAX_NODES = 12_000
VALUE_TOLERANCE = 1e-9  # relative, for regression values (labels must be equal)
ENV_SWITCH = "JUPYTER_MLOPS_SERVING_COMPILED_TREES"

# Estimator class -> how its predict turns raw scores into answers.
_RULES = {
    "GradientBoostingClassifier": "boosting>=",
    "HistGradientBoostingClassifier": "boosting>",
    "RandomForestClassifier": "forest",
    "ExtraTreesClassifier": "forest",
    "GradientBoostingRegressor": "regressor",
    "HistGradientBoostingRegressor": "regressor",
    "RandomForestRegressor": "regressor",
    "ExtraTreesRegressor": "regressor",
}


def enabled() -> bool:
    """``MLOpsConfig.serving_compiled_trees`` (the daemon inherits it as ``$JUPYTER_MLOPS_SERVING_COMPILED_TREES``)."""
    return os.environ.get(ENV_SWITCH, "true").strip().lower() not in ("0", "false", "no", "off")


def compiler() -> str | None:
    """The C compiler TL2cgen will call, or None when the host has none (nothing is compiled then)."""
    for name in ("gcc", "clang"):
        if shutil.which(name):
            return name
    return None


def supported(estimator: Any) -> str | None:
    """Why ``estimator`` keeps scikit-learn (None: it can be compiled)."""
    rule = _RULES.get(type(estimator).__name__)
    if rule is None or not type(estimator).__module__.startswith("sklearn.ensemble."):
        return f"{type(estimator).__name__} is not a tree ensemble TL2cgen compiles"
    if getattr(estimator, "n_outputs_", 1) != 1:
        return "multi-output models are not compiled"
    if getattr(estimator, "is_categorical_", None) is not None:
        return "categorical splits are not compiled"
    nodes = tree_nodes(estimator)
    if nodes > MAX_NODES:
        return f"{nodes:,} tree nodes is more than {MAX_NODES:,} (compiling would take too long)"
    return None


def tree_nodes(estimator: Any) -> int:
    """Total nodes of the ensemble's trees: what the compiler's time grows with."""
    stages = getattr(estimator, "_predictors", None)  # histogram gradient boosting
    if stages is not None:
        return sum(len(tree.nodes) for stage in stages for tree in stage)
    return sum(tree.tree_.node_count for tree in np.ravel(estimator.estimators_))


class CompiledModel:
    """``predict(X)`` of one estimator, answered by its compiled library."""

    def __init__(self, estimator: Any, library: Path, *, compiled_now: bool) -> None:
        import tl2cgen

        self._tl2cgen = tl2cgen
        self.rule = _RULES[type(estimator).__name__]
        self.library = library
        self.compiled_now = compiled_now  # False: the library came from the cache
        self._float32 = not type(estimator).__name__.startswith("Hist")  # sklearn.tree compares float32 values
        self._classes = getattr(estimator, "classes_", None)
        self._predictor = tl2cgen.Predictor(str(library), nthread=1, verbose=False)
        # The library's predictor keeps per-call state; calls are ~25 us, so one at a time costs nothing.
        self._lock = threading.Lock()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The estimator's ``predict`` on a 2-D float64 array; ValueError for input scikit-learn refuses."""
        if self._float32:
            with np.errstate(over="ignore"):
                values = X.astype(np.float32)
            if not np.isfinite(values).all():
                raise ValueError("infinite, NaN or too large for float32: scikit-learn answers this one")
            X = values.astype(np.float64)
        elif np.isinf(X).any():
            raise ValueError("infinite values: scikit-learn answers this one")
        matrix = self._tl2cgen.DMatrix(np.ascontiguousarray(X), dtype="float64")
        with self._lock:
            raw = self._predictor.predict(matrix, pred_margin=self.rule.startswith("boosting"))
        scores = np.asarray(raw, dtype=np.float64).reshape(len(X), -1)
        if self.rule == "regressor":
            return scores[:, 0]
        if scores.shape[1] == 1:  # binary boosting: one raw score, class 1 on the estimator's side of zero
            chosen = scores[:, 0] >= 0 if self.rule == "boosting>=" else scores[:, 0] > 0
            return self._classes.take(chosen.astype(np.intp))  # type: ignore[union-attr]
        return self._classes.take(np.argmax(scores, axis=1))  # type: ignore[union-attr]


@dataclass(frozen=True)
class Outcome:
    """What became of one compile: the model to serve (None: scikit-learn stays) and why, for the log."""

    model: CompiledModel | None
    detail: str


def compile_model(estimator: Any, cache: Path, rows: list[np.ndarray]) -> Outcome:
    """Compile ``estimator`` (or reuse its cached library) and gate it on ``rows`` (the input example, the stored
    training rows); never raises."""
    reason = supported(estimator)
    if reason is not None:
        return Outcome(None, reason)
    if not rows or not sum(len(r) for r in rows):
        return Outcome(None, "no input example and no training rows to prove it answers the same")
    toolchain = compiler()
    if toolchain is None:
        return Outcome(None, "no C compiler (gcc or clang) on this host")
    try:
        import treelite
        import treelite.sklearn

        imported = treelite.sklearn.import_model(estimator)
        key = _key(imported.serialize_bytes())
        library, compiled_now = _library(imported, cache, key, toolchain)
        model = CompiledModel(estimator, library, compiled_now=compiled_now)
    except ImportError:
        return Outcome(None, "treelite and tl2cgen are not installed (pip install jupyter_mlops[compiled])")
    except Exception as exc:  # an estimator Treelite cannot import, a compiler error: scikit-learn stays
        log.warning("compiled predictor: %s could not be compiled: %s", type(estimator).__name__, exc)
        return Outcome(None, f"compiling failed ({type(exc).__name__}: {str(exc)[:200]})")
    difference = gate(estimator, model, rows)
    if difference is not None:
        return Outcome(None, f"refused by the compiled parity gate: {difference}")
    checked = sum(len(r) for r in rows)
    how = "compiled" if compiled_now else "cached library"
    return Outcome(model, f"{how}; same answers as scikit-learn on {checked} rows")


def gate(estimator: Any, model: CompiledModel, rows: list[np.ndarray]) -> str | None:
    """None when the compiled model answers like ``estimator.predict`` on every row, else the first difference."""
    for X in rows:
        if not len(X):
            continue
        expected = estimator.predict(X)
        try:
            served = model.predict(X)
        except ValueError as exc:
            return f"it refused rows scikit-learn answers ({exc})"
        if expected.shape != served.shape:
            return f"{served.shape} predictions for {expected.shape}"
        if model.rule == "regressor":
            scale = np.maximum(np.abs(expected.astype(np.float64)), 1.0)
            bad = np.flatnonzero(np.abs(served - expected) > VALUE_TOLERANCE * scale)
        else:
            bad = np.flatnonzero(served != expected)
        if len(bad):
            i = int(bad[0])
            return f"{len(bad)} of {len(X)} rows differ (row {i}: {served[i]!r} vs {expected[i]!r})"
    return None


def _key(serialized: bytes) -> str:
    import tl2cgen

    digest = hashlib.sha256(serialized)
    digest.update(f"tl2cgen {tl2cgen.__version__}".encode())
    return digest.hexdigest()[:40]


def _library(imported: Any, cache: Path, key: str, toolchain: str) -> tuple[Path, bool]:
    """The compiled library of ``imported`` in ``cache``, compiling it unless a worker or an earlier run did."""
    import tl2cgen

    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    library = cache / f"{key}.so"
    with file_lock(cache / f"{key}.lock"):  # the other serving workers wait here, then reuse the library
        if library.exists():
            return library, False
        staging = cache / f".{key}.{os.getpid()}.so"
        tl2cgen.export_lib(imported, toolchain=toolchain, libpath=str(staging), nthread=1, verbose=False)
        os.replace(staging, library)
        return library, True
