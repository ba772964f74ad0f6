"""Parity gate: a deployment becomes ready only if what it serves equals what the registered model predicts.

At warm-up the input example goes through the same path as an HTTP request (encoded as a scoring request, parsed
by the protocol, predicted, serialised to JSON, decoded) and the result is compared with the in-process pyfunc
predictions on the same DataFrame. A difference beyond the tolerance fails the warming step with a readable
account of the first rows that differ, so a model that is non-deterministic, or whose input or output does not
survive JSON, never goes live silently.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core import payloads
from ..core.errors import MLOpsError
from .protocol import ScoringModel, invocations

DEFAULT_TOLERANCE = 1e-6
MAX_SHOWN = 3


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


def compare(expected: Any, served: Any, tol: float) -> str | None:
    """None when equal within ``tol``; else a one-paragraph description of the difference."""
    want, got = _rows(expected), _rows(served)
    if len(want) != len(got):
        return f"the server returned {len(got)} predictions for {len(want)} rows"
    differing = [i for i, (w, g) in enumerate(zip(want, got, strict=True)) if not _close(w, g, tol)]
    if not differing:
        return None
    shown = "; ".join(f"row {i}: served {got[i]!r} vs in-process {want[i]!r}" for i in differing[:MAX_SHOWN])
    return f"{len(differing)} of {len(want)} rows differ beyond tolerance {tol:g} ({shown})"


def check(model: ScoringModel, pyfunc: Any, tol: float | None = None) -> str:
    """Raise ParityMismatch unless served predictions on the input example equal in-process ones."""
    example = getattr(pyfunc, "input_example", None)
    if example is None:
        return "parity: no input example; skipped"
    tol = tolerance() if tol is None else tol
    expected = pyfunc.predict(example)
    served = payloads.predictions(invocations(model, payloads.scoring_request(example), "application/json"))
    difference = compare(expected, served, tol)
    if difference is not None:
        raise ParityMismatch(
            f"Served predictions differ from the registered model's own on the input example: {difference}. "
            "Make the model deterministic and its output JSON-serialisable, or raise parity_tolerance."
        )
    return "parity with in-process predictions: ok"
