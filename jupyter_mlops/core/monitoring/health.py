"""The health score: one open formula over availability, latency, errors, drift and performance.

Each component is a number in [0, 1] (1 = healthy):

* availability = state factor x (1 - share of requests answered with a 5xx), where the state factor is 1 for a
  ready deployment, 0.5 while it is loading or unknown, and 0 when it failed;
* latency = 1 if p95 <= the latency objective, else objective / p95;
* errors = max(0, 1 - error_rate / error_budget) (error_budget 5 % by default; 4xx and 5xx both count);
* drift = 0 when the dataset drifts (drift share >= its threshold), else 1 - drift share;
* performance = the window's accuracy (classifiers) from feedback labels; without labels, the accuracy estimated
  from the version's reference set (``estimation.py``) when it is available, else nothing; for regressors,
  nothing (no scale-free target).

``score = 100 x sum(w_i x c_i) / sum(w_i)`` over the components that have data, with weights availability 0.3,
latency 0.2, errors 0.2, drift 0.2, performance 0.1. Colour: red below 50 or with availability 0; amber below
80 or while any alert fires; green otherwise. Without data to judge (no traffic, drift or feedback in the window,
and not failed) the health is ``unknown`` with no score, never a green 100. The fleet score is the mean of its
deployments' known scores and takes the worst known colour among them (``unknown`` when none is known).
"""

from __future__ import annotations

from typing import Any

WEIGHTS = {"availability": 0.3, "latency": 0.2, "errors": 0.2, "drift": 0.2, "performance": 0.1}
STATE_FACTOR = {"ready": 1.0, "failed": 0.0, "stopped": 0.0}
RED_BELOW = 50.0
AMBER_BELOW = 80.0
COLOURS = ("green", "amber", "red")
UNKNOWN = "unknown"


def components(
    *,
    state: str,
    ops: dict[str, Any],
    drift: dict[str, Any] | None,
    performance: dict[str, float],
    latency_objective_ms: float,
    error_budget: float,
    estimated: dict[str, float] | None = None,
) -> dict[str, float | None]:
    """Each health component in [0, 1], or None without data for it (see the module's formula)."""
    factor = STATE_FACTOR.get(state, 0.5)
    has_traffic = bool(ops.get("requests"))
    availability = factor * (1.0 - float(ops.get("server_error_rate") or 0.0))
    latency = None
    p95 = ops.get("p95_ms")
    if has_traffic and p95 is not None:
        latency = 1.0 if p95 <= latency_objective_ms else latency_objective_ms / p95
    errors = max(0.0, 1.0 - float(ops.get("error_rate") or 0.0) / error_budget) if has_traffic else None
    drift_c = None
    if drift is not None and any(f.get("value") is not None for f in drift.get("features", [])):
        drift_c = 0.0 if drift.get("drifted") else 1.0 - float(drift.get("share") or 0.0)
    perf = performance.get("accuracy") if performance else None
    if perf is None and estimated:  # no labels in the window: the estimate stands in (an unavailable one never)
        perf = estimated.get("accuracy")
    return {"availability": availability, "latency": latency, "errors": errors, "drift": drift_c, "performance": perf}


def score(
    parts: dict[str, float | None], *, firing_alerts: int = 0, unknown_without_data: bool = False
) -> dict[str, Any]:
    """The weighted score over the components with data, its colour, and the components themselves.

    With ``unknown_without_data``, a window where only availability is known (no traffic, drift or performance)
    and that is not failed scores None with colour ``unknown``.
    """
    present = {k: v for k, v in parts.items() if v is not None}
    if unknown_without_data and set(present) <= {"availability"} and parts.get("availability") != 0.0:
        return {"score": None, "colour": UNKNOWN, "components": parts, "firing_alerts": firing_alerts}
    total = sum(WEIGHTS[k] for k in present)
    value = 100.0 * sum(WEIGHTS[k] * v for k, v in present.items()) / total if total else 100.0
    if value < RED_BELOW or parts.get("availability") == 0.0:
        colour = "red"
    elif value < AMBER_BELOW or firing_alerts:
        colour = "amber"
    else:
        colour = "green"
    return {"score": round(value, 1), "colour": colour, "components": parts, "firing_alerts": firing_alerts}


def fleet(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of the deployments' known scores and the worst known colour (``unknown`` when none is known)."""
    known = [i for i in items if i["score"] is not None and i["colour"] in COLOURS]
    if not known:
        return {"score": None, "colour": UNKNOWN, "deployments": items}
    worst = max(COLOURS.index(i["colour"]) for i in known)
    return {
        "score": round(sum(i["score"] for i in known) / len(known), 1),
        "colour": COLOURS[worst],
        "deployments": items,
    }
