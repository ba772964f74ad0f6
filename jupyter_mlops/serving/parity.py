"""Parity gate: a deployment becomes ready only if what it serves equals what the registered model predicts.

At warm-up the input example, and the seeded sample of training rows stored beside the training baseline
(``monitoring/parity_sample.json``, written by ``register`` when it gets X), go through the same path as an HTTP
request (encoded as a scoring request, parsed by the protocol, predicted, serialised to JSON, decoded) and the
results are compared with the in-process pyfunc predictions on the same data. A difference beyond the tolerance
fails the warming step with a readable account of the first rows that differ and where they come from (the
input example, or baseline row N = training row index N), so a model that is non-deterministic, or whose input
or output does not survive JSON, never goes live silently -- including when that only shows on real training
rows. Models without a sample (registered without X, or from a URI) are checked on the input example only.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from ..core import payloads
from ..core.errors import MLOpsError
from ..core.monitoring import baseline
from .protocol import ScoringModel, invocations

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-6
MAX_SHOWN = 3
MAX_VALUE_LENGTH = 40
# Set by an isolated worker's loader on the models it loads: the sample its daemon fetched (None: there is none).
SAMPLE_ATTRIBUTE = "mlops_parity_sample"


class ParityMismatch(MLOpsError):
    status = 422
    code = "PARITY_MISMATCH"


def tolerance() -> float:
    """``JUPYTER_MLOPS_PARITY_TOLERANCE`` (the daemon inherits MLOpsConfig.parity_tolerance this way)."""
    try:
        return float(os.environ.get("JUPYTER_MLOPS_PARITY_TOLERANCE", DEFAULT_TOLERANCE))
    except ValueError:
        return DEFAULT_TOLERANCE


def _rows(value: Any) -> list[Any]:
    """Predictions as a list of rows, whatever container the model or the JSON path produced."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # DataFrame -> records, as the server sends
        value = value.to_dict(orient="records")
    elif hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):  # {"col": [...]} column-oriented output
        keys = sorted(value)
        value = [dict(zip(keys, row, strict=True)) for row in zip(*(list(value[k]) for k in keys), strict=False)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _close(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    if hasattr(a, "item"):
        a = a.item()
    if hasattr(b, "item"):
        b = b.item()
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if np.isnan(a) and np.isnan(b):
            return True
        return abs(float(a) - float(b)) <= tol
    return bool(a == b)


def compare(expected: Any, served: Any, tol: float, labels: list[str] | None = None) -> str | None:
    """None when equal within ``tol``; else a one-paragraph description of the difference.

    ``labels`` names the rows in the description (default ``row I``).
    """
    want, got = _rows(expected), _rows(served)
    if len(want) != len(got):
        return f"the server returned {len(got)} predictions for {len(want)} rows"
    differing = [i for i, (w, g) in enumerate(zip(want, got, strict=True)) if not _close(w, g, tol)]
    if not differing:
        return None
    names = labels if labels is not None and len(labels) == len(want) else [f"row {i}" for i in range(len(want))]
    shown = "; ".join(
        f"{names[i]}: served {_shown(got[i])} vs in-process {_shown(want[i])}" for i in differing[:MAX_SHOWN]
    )
    return f"{len(differing)} of {len(want)} rows differ beyond tolerance {tol:g} ({shown})"


def _shown(value: Any) -> str:
    """A prediction for the message: floats to 7 significant digits, anything bounded (the message has a limit)."""
    if hasattr(value, "item"):
        value = value.item()
    text = f"{value:.7g}" if isinstance(value, float) else repr(value)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 3] + "..."


def _served(model: ScoringModel, body: bytes) -> Any:
    return payloads.predictions(invocations(model, body, "application/json"))


def load_sample(pyfunc: Any) -> dict[str, Any] | None:
    """The parity sample stored with the model's run, or None (no run, no sample, or the store is unreachable)."""
    if hasattr(pyfunc, SAMPLE_ATTRIBUTE):  # an isolated worker: no registry here, its daemon fetched the sample
        document = getattr(pyfunc, SAMPLE_ATTRIBUTE)
        return document if isinstance(document, dict) and document.get("data") else None
    run_id = getattr(getattr(pyfunc, "metadata", None), "run_id", None)
    if not run_id:
        return None
    try:
        import mlflow.artifacts

        document = mlflow.artifacts.load_dict(f"runs:/{run_id}/{baseline.PARITY_SAMPLE_ARTIFACT}")
    except Exception as exc:  # most often: registered without X, so there is no sample to replay
        log.debug("no parity sample for run %s: %s", run_id, exc)
        return None
    return document if isinstance(document, dict) and document.get("data") else None


def _check_sample(model: ScoringModel, pyfunc: Any, sample: dict[str, Any], tol: float) -> str:
    """Replay the baseline rows; raise ParityMismatch naming the rows that differ, else describe the check."""
    rows = len(sample["data"])
    try:
        expected = pyfunc.predict(baseline.sample_input(sample))
    except Exception as exc:  # the model's own problem with its training rows is not a parity question
        log.warning("parity: in-process prediction on the baseline rows failed: %s", exc)
        return f"{rows} baseline rows skipped (in-process prediction failed: {type(exc).__name__})"
    body = json.dumps(baseline.sample_request(sample), allow_nan=True).encode()
    labels = [f"baseline row {label}" for label in sample.get("index") or range(rows)]
    difference = compare(expected, _served(model, body), tol, labels)
    if difference is not None:
        raise ParityMismatch(
            "Served predictions differ from the registered model's own on the baseline rows (seeded training "
            f"sample; baseline row N = training row N): {difference}. Make the model deterministic and its data "
            "JSON-safe, or raise parity_tolerance."
        )
    return f"{rows} baseline rows"


def check(model: ScoringModel, pyfunc: Any, tol: float | None = None) -> str:
    """Raise ParityMismatch unless served predictions equal in-process ones on the input example and the
    baseline rows (when the version has them); returns what was checked, for the warming step's message."""
    tol = tolerance() if tol is None else tol
    checked: list[str] = []
    example = getattr(pyfunc, "input_example", None)
    if example is not None:
        expected = pyfunc.predict(example)
        difference = compare(expected, _served(model, payloads.scoring_request(example)), tol)
        if difference is not None:
            raise ParityMismatch(
                f"Served predictions differ from the registered model's own on the input example: {difference}. "
                "Make the model deterministic and its output JSON-serialisable, or raise parity_tolerance."
            )
        checked.append("input example")
    sample = load_sample(pyfunc)
    if sample is not None:
        checked.append(_check_sample(model, pyfunc, sample, tol))
    if not checked:
        return "parity: no input example and no baseline rows; skipped"
    return f"parity with in-process predictions: ok ({', '.join(checked)})"
