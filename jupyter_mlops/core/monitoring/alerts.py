"""Alert rules (metric, comparison, threshold, window), their defaults, and webhook delivery.

A rule fires once when its condition becomes true (an alert row is recorded and the webhook, if any, is called)
and resolves when it becomes false again; a metric without data leaves the alert as it is. Webhooks are refused
when the host resolves to a private, loopback, link-local or otherwise reserved address, unless
``MLOpsConfig.allow_private_webhooks`` is set: a notebook user must not make the server call its own network.
"""

from __future__ import annotations

import logging
import operator
import re
import threading
from collections.abc import Callable
from typing import Any

from ..errors import InvalidRequest
from . import webhooks
from .drift import DEFAULT_DRIFT_SHARE
from .metrics import parse_window

log = logging.getLogger(__name__)

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
METRICS = {
    "requests",
    "error_rate",
    "server_error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "throughput_rps",
    "drift_share",
    "prediction_drift",
    "accuracy",
    "f1",
    "roc_auc",
    "rmse",
    "mae",
    "dropped_records",
    # estimated without labels from the version's reference set (CBPE/DLE); an unavailable estimate never fires
    "estimated_accuracy",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_roc_auc",
    "estimated_mae",
    "estimated_rmse",
    "missing_rate",
    "out_of_range_rate",
    "unseen_category_rate",
    "type_mismatch_rate",
    "multivariate_drift",
}
_RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_rules(latency_objective_ms: float, error_budget: float) -> list[dict[str, Any]]:
    """Rules every deployment has unless it defines its own with the same name."""
    return [
        {"name": "error-rate", "metric": "error_rate", "op": ">", "threshold": error_budget, "window_seconds": 900},
        {
            "name": "latency-p95",
            "metric": "p95_ms",
            "op": ">",
            "threshold": latency_objective_ms,
            "window_seconds": 900,
        },
        {
            "name": "data-drift",
            "metric": "drift_share",
            "op": ">=",
            "threshold": DEFAULT_DRIFT_SHARE,
            "window_seconds": 3600,
        },
        {
            "name": "prediction-drift",
            "metric": "prediction_drift",
            "op": ">=",
            "threshold": 1.0,
            "window_seconds": 3600,
        },
        {"name": "accuracy", "metric": "accuracy", "op": "<", "threshold": 0.7, "window_seconds": 86400},
        # Data quality, each the worst feature over the last hour. Missing: the increase over training's missing
        # rate. Out of range: a quarter of a feature's values beyond anything seen in training is a broken feed
        # (units, sentinels); a shifted population is the data-drift rule's job. Unseen categories and values of
        # the wrong type are never expected, so a small share is enough.
        {"name": "missing-values", "metric": "missing_rate", "op": ">", "threshold": 0.05, "window_seconds": 3600},
        {
            "name": "out-of-range",
            "metric": "out_of_range_rate",
            "op": ">",
            "threshold": 0.25,
            "window_seconds": 3600,
        },
        {
            "name": "unseen-categories",
            "metric": "unseen_category_rate",
            "op": ">",
            "threshold": 0.01,
            "window_seconds": 3600,
        },
        {
            "name": "type-mismatch",
            "metric": "type_mismatch_rate",
            "op": ">",
            "threshold": 0.0,
            "window_seconds": 3600,
        },
    ]


def validate_rule(rule: Any, *, allow_private: bool) -> dict[str, Any]:
    """A rule from user input, checked: ``{"name", "metric", "op", "threshold", "window", "webhook"?}``."""
    if not isinstance(rule, dict):
        raise InvalidRequest("Each alert rule must be an object with name, metric, op, threshold and window.")
    unknown = set(rule) - {"name", "metric", "op", "threshold", "window", "window_seconds", "webhook"}
    if unknown:
        raise InvalidRequest(f"Unknown alert rule fields {sorted(unknown)}.")
    name = rule.get("name")
    if not isinstance(name, str) or not _RULE_NAME.match(name):
        raise InvalidRequest("Alert rule names are 1-63 lowercase letters, digits, '-' or '_'.")
    metric = rule.get("metric")
    if metric not in METRICS:
        raise InvalidRequest(f"Unknown alert metric {str(metric)[:40]!r}: use one of {sorted(METRICS)}.")
    op = rule.get("op", ">")
    if op not in OPS:
        raise InvalidRequest(f"Alert rule op must be one of {sorted(OPS)}.")
    threshold = webhooks.finite_threshold(rule.get("threshold"))
    window = parse_window(rule.get("window", rule.get("window_seconds", "1h")))
    webhook = rule.get("webhook")
    if webhook is not None:
        check_webhook(webhook, allow_private=allow_private)
    return {
        "name": name,
        "metric": metric,
        "op": op,
        "threshold": float(threshold),
        "window_seconds": int(window),
        "webhook": webhook,
    }


def check_webhook(url: Any, *, allow_private: bool) -> str:
    """Refuse webhook URLs that are not http(s) or whose host resolves to a non-public address."""
    return webhooks.check_url(url, allow_private=allow_private)


def holds(rule: dict[str, Any], value: float | None) -> bool | None:
    """Whether the rule's condition holds (None when the metric has no data)."""
    if value is None:
        return None
    return bool(OPS[rule["op"]](float(value), float(rule["threshold"])))


def deliver(
    url: str, alert: dict[str, Any], *, allow_private: bool, on_done: Callable[[str], None], timeout: float = 5.0
) -> threading.Thread:
    """POST the alert as JSON to the webhook in a background thread; ``on_done`` gets the outcome text."""

    def send() -> None:
        try:
            # resolved and checked now, and sent to the address checked (no DNS-rebinding window)
            status = webhooks.post(url, alert, allow_private=allow_private, timeout=timeout)
            outcome = f"delivered: HTTP {status}"
        except InvalidRequest as exc:
            outcome = f"refused: {exc.message}"
        except Exception as exc:  # network errors must never break monitoring
            outcome = f"failed: {type(exc).__name__}"
        log.info("alert %s webhook %s", alert.get("id"), outcome)
        on_done(outcome)

    thread = threading.Thread(target=send, name="mlops-alert-webhook", daemon=True)
    thread.start()
    return thread
