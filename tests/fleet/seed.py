"""A small fleet written through core's own classes into real store tables (no serving daemon needed).

Three users' deployments with inference-log rows shaped so each health colour is known by hand from the
documented formula (core/monitoring/health.py: availability 0.3, latency 0.2, errors 0.2; 5 % error budget):

* ``alice-churn``: 200 answers, 5 ms, no errors -> 100, green;
* ``bob-fraud``: 200 answers, 30 % 5xx -> 100 x (0.3 x 0.7 + 0.2 x 1 + 0.2 x 0) / 0.7 = 58.6, amber;
* ``carol-risk``: 100 answers, 2 s, 60 % 5xx -> 100 x (0.3 x 0.4 + 0.2 x 0.125 + 0) / 0.7 = 20.7, red;
* ``carol-idle``: never called -> no data: unknown, no score (never a green 100), never monitored.
"""

from __future__ import annotations

import time
import uuid

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.governance.audit import AuditLedger
from jupyter_mlops.core.governance.policy import Governance
from jupyter_mlops.core.models import Variant, VariantRole
from jupyter_mlops.core.monitoring.storage import LoggedRequest, MonitoringStore
from jupyter_mlops.core.store import Store

DEPLOYMENTS = {
    "alice-churn": ("alice", "churn"),
    "bob-fraud": ("bob", "fraud"),
    "carol-risk": ("carol", "risk"),
    "carol-idle": ("carol", "idle"),
}
EXPECTED_COLOURS = {"green": 1, "amber": 1, "red": 1, "unknown": 1}


def requests(deployment: str, n: int, *, latency_ms: float, server_errors: int, end: float, spread: float = 1800):
    """``n`` logged answers spread over ``spread`` seconds before ``end``, the first ``server_errors`` a 500."""
    return [
        LoggedRequest(
            request_id=uuid.uuid4().hex,
            deployment=deployment,
            variant="primary",
            model_version="1",
            time=end - spread + spread * (k + 0.5) / n,
            latency_ms=latency_ms,
            status=500 if k < server_errors else 200,
        )
        for k in range(n)
    ]


def seed(config: MLOpsConfig, now: float | None = None) -> Store:
    """Deployments of alice, bob and carol, their traffic, a firing alert and a pending approval."""
    now = time.time() if now is None else now
    store = Store(config.store_url)
    for name, (owner, model) in DEPLOYMENTS.items():
        store.create_deployment(
            name,
            owner=owner,
            target="local",
            model_ref=f"{model}/1",
            variants=[Variant(model_name=model, model_version="1", role=VariantRole.primary)],
        )
    log = MonitoringStore(store.engine)
    log.write_batch(
        requests("alice-churn", 200, latency_ms=5, server_errors=0, end=now)
        + requests("bob-fraud", 200, latency_ms=5, server_errors=60, end=now)
        + requests("carol-risk", 100, latency_ms=2000, server_errors=60, end=now)
        # a week of history, older than every window the tests count (the dashboard's trend shows it)
        + [r for day in range(3, 10) for r in requests("alice-churn", 40 + 10 * day, latency_ms=8,
                                                        server_errors=day % 3, end=now - day * 86400)]
    )  # fmt: skip
    log.fire(
        {"deployment": "carol-risk", "rule": "error_rate", "metric": "error_rate", "value": 0.6, "threshold": 0.05,
         "state": "firing", "fired_at": now - 60, "message": "error rate 60 % over 15 min (limit 5 %)"}
    )  # fmt: skip
    ledger = AuditLedger(store)
    Governance(config, store, ledger).create_request(
        "deploy", "deployment/bob-fraud", {"version": "2"}, {}, actor="bob", owner="bob"
    )
    return store
