"""Refused requests are not the owner's traffic (#19 item 4), and a rotated token stops working at once (item 6)."""

from __future__ import annotations

import re
import time

import orjson

from jupyter_mlops.core.governance.tokens import DeploymentTokens
from jupyter_mlops.core.monitoring.storage import MonitoringStore
from jupyter_mlops.core.store import Store

from ..waiting import wait_until
from .conftest import Protected

BODY = orjson.dumps({"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                                         "data": [[5.1, 3.5, 1.4, 0.2]]}})  # fmt: skip
JSON_CT = {"Content-Type": "application/json"}


def series(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus series (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    assert wanted is not None
    return total


def test_refused_requests_are_counted_but_never_as_the_deployments_traffic(
    protected: Protected, http, store: Store
) -> None:
    url = f"{protected.url}/deployments/sec-locked/invocations"
    admin = {"Authorization": f"Bearer {protected.admin}"}
    before = http.get(f"{protected.url}/metrics", headers=admin).text
    # Given a protected deployment, when anyone sends 30 requests without its token
    for _ in range(30):
        assert http.post(url, content=BODY, headers=JSON_CT).status_code == 401
    # and its owner one with the token
    ok = http.post(url, content=BODY, headers={**JSON_CT, "Authorization": f"Bearer {protected.token}"})
    assert ok.status_code == 200
    request_id = ok.headers["x-mlops-request-id"]

    after = http.get(f"{protected.url}/metrics", headers=admin).text
    # Then /metrics counts them as refused under their status
    refused = series(after, "mlops_refused_requests_total", status="401", reason="token")
    assert refused - series(before, "mlops_refused_requests_total", status="401", reason="token") >= 30
    assert "mlops_inference_log_lost_records " in after  # records a dead log writer took with it (item 9)
    # and never as the deployment's requests or errors
    assert series(after, "mlops_requests_total", deployment="sec-locked", status="401") == 0
    # nor in its inference log (the owner's request is there: the log is running)
    monitoring = MonitoringStore(store.engine)
    wait_until(lambda: monitoring.known_requests("sec-locked", [request_id]))
    logged = monitoring.requests("sec-locked", 0, time.time() + 1)
    assert len(logged) >= 1 and 401 not in set(logged["status"])


def test_a_rotated_token_stops_working_at_once(protected: Protected, http, store: Store) -> None:
    url = f"{protected.url}/v2/models/sec-locked"
    tokens = DeploymentTokens(store)
    first = tokens.issue("sec-locked")
    assert http.get(url, headers={"Authorization": f"Bearer {first}"}).status_code == 200
    # When the owner rotates the token
    second = tokens.issue("sec-locked")
    # Then the old one is refused on the very next request, and the new one works
    assert http.get(url, headers={"Authorization": f"Bearer {first}"}).status_code == 403
    assert http.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 200
    # When it is revoked, the deployment is open again (no token required) at once
    tokens.revoke("sec-locked")
    assert http.get(url).status_code == 200
    # Restore the suite's token for the other tests
    from .conftest import _same_token

    _same_token(store, "sec-locked", protected.token)
    assert http.get(url, headers={"Authorization": f"Bearer {protected.token}"}).status_code == 200
