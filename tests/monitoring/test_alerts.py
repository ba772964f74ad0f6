"""Alert rules, webhook refusal of internal addresses, and delivery to a real local HTTP receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from jupyter_mlops.core.errors import InvalidRequest, NotFound
from jupyter_mlops.core.monitoring.alerts import check_webhook
from jupyter_mlops.core.principal import Principal

from ..waiting import wait_until
from .conftest import make_rows


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "ftp://example.com/hook",
        "not a url",
    ],
)
def test_webhooks_to_internal_addresses_are_refused(url) -> None:
    with pytest.raises(InvalidRequest):
        check_webhook(url, allow_private=False)


def test_a_public_address_is_accepted_and_private_ones_when_allowed() -> None:
    assert check_webhook("https://93.184.215.14/hook", allow_private=False)
    assert check_webhook("http://127.0.0.1:9/hook", allow_private=True)


def test_rules_are_validated_and_replace_defaults_by_name(monitored) -> None:
    mlops, name = monitored.mlops, monitored.name
    with pytest.raises(InvalidRequest, match="Unknown alert metric"):
        mlops.alert_rules(name, [{"name": "x", "metric": "nope", "threshold": 1, "window": "1h"}])
    with pytest.raises(InvalidRequest, match="Refusing webhook"):
        mlops.alert_rules(
            name, [{"name": "x", "metric": "p95_ms", "threshold": 1, "window": "1h", "webhook": "http://127.0.0.1/"}]
        )
    with pytest.raises(InvalidRequest, match="window"):
        mlops.alert_rules(name, [{"name": "x", "metric": "p95_ms", "threshold": 1, "window": "100d"}])
    rules = mlops.alert_rules(name, [{"name": "latency-p95", "metric": "p95_ms", "threshold": 900, "window": "5m"}])
    latency = [r for r in rules if r["name"] == "latency-p95"]
    assert len(latency) == 1 and latency[0]["threshold"] == 900 and latency[0]["window_seconds"] == 300
    assert {"error-rate", "data-drift"} <= {r["name"] for r in rules}
    mlops.alert_rules(name, [])


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_firing_alert_is_delivered_to_the_webhook(monitored) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mlops, name = monitored.mlops, monitored.name
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    monitored.config.allow_private_webhooks = True
    try:
        monitored.send(make_rows(np.random.default_rng(5), 100))
        mlops.alert_rules(
            name,
            [{"name": "traffic", "metric": "requests", "op": ">=", "threshold": 1, "window": "1h", "webhook": url}],
        )
        fired = mlops.monitoring.evaluate(mlops.deployment(name))
        traffic = next(a for a in fired if a["rule"] == "traffic")
        received = wait_until(
            lambda: next((r for r in _Receiver.received if r["rule"] == "traffic"), None),
            10,
            "the webhook receiving the traffic alert",
        )
        assert received["id"] == traffic["id"] and received["state"] == "firing"
        # the outcome is recorded with the alert
        delivery = wait_until(
            lambda: next(a for a in mlops.alerts(name) if a["id"] == traffic["id"])["delivery"],
            10,
            "the delivery outcome recorded with the alert",
        )
        assert delivery == "delivered: HTTP 204"
        # Firing once: a second evaluation while the condition holds fires nothing new for the rule
        assert "traffic" not in [a["rule"] for a in mlops.monitoring.evaluate(mlops.deployment(name))]
    finally:
        monitored.config.allow_private_webhooks = False
        mlops.alert_rules(name, [])
        server.shutdown()
        server.server_close()


def test_acknowledging_an_alert_is_recorded_in_the_audit_ledger(monitored) -> None:
    mlops, name = monitored.mlops, monitored.name
    monitored.send(make_rows(np.random.default_rng(6), 20))
    mlops.alert_rules(name, [{"name": "any-traffic", "metric": "requests", "op": ">=", "threshold": 1, "window": "1h"}])
    try:
        fired = next(a for a in mlops.monitoring.evaluate(mlops.deployment(name)) if a["rule"] == "any-traffic")
        acked = mlops.acting_as(Principal(name="oncall")).acknowledge_alert(fired["id"])
        assert acked["acknowledged_by"] == "oncall"
        assert acked["acknowledged_at"] is not None
        assert acked["state"] == "firing"  # acknowledged, not resolved: the condition still holds
        entry = [e for e in mlops.audit_events(f"deployment/{name}") if e.action == "acknowledge_alert"][-1]
        assert entry.actor == "oncall"
        assert entry.target == f"deployment/{name}/alert/{fired['id']}"
        assert entry.before["acknowledged_by"] is None
        assert entry.after["acknowledged_by"] == "oncall"
        with pytest.raises(NotFound):
            mlops.acknowledge_alert(987654)
        with pytest.raises(InvalidRequest):
            mlops.acknowledge_alert(0)
    finally:
        mlops.alert_rules(name, [])
