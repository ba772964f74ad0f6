"""The alert scheduler: rules fire (recorded once, webhook called once) although no one reads alerts, health or
reports; evaluators racing on one store record one firing (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import numpy as np
import orjson
import pytest
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.monitoring.storage import MonitoringStore
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.core.store import Store

from ..waiting import wait_until
from .conftest import make_rows, true_labels
from .test_alerts import _Receiver

INTERVAL = 1.0


class _SchedulerReceiver(_Receiver):
    received: list[dict] = []


def test_rules_fire_and_webhooks_are_called_when_no_one_reads(tmp_path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SchedulerReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    config = MLOpsConfig(data_dir=str(tmp_path), alert_interval=INTERVAL, allow_private_webhooks=True)
    mlops = MLOps(config, user="tester")
    try:
        # Given a deployment with a rule that holds once it has traffic, and some traffic
        rng = np.random.default_rng(3)
        X = make_rows(rng, 300)
        mlops.register(LogisticRegression().fit(X, true_labels(X, rng)), "quiet-model", X)
        mlops.deploy("quiet-model", "quiet")
        rule = {"name": "traffic", "metric": "requests", "op": ">=", "threshold": 1, "window": "1h", "webhook": url}
        mlops.alert_rules("quiet", [rule])
        body = orjson.dumps({"dataframe_split": X.head(5).to_dict(orient="split")})
        for _ in range(3):
            assert mlops.invoke("quiet", body)[0] == 200

        # When no one reads alerts, health or a report: the daemon's writer process evaluates on its own
        # (the writer imports MLflow before its first round: seconds here)
        wait_until(lambda: _SchedulerReceiver.received, 60, "the scheduled evaluation calling the webhook", 0.1)
        # and three more rounds while the condition still holds: each adds a rule that fires in a later round,
        # which re-evaluates "traffic" too (the rounds run in the writer process: their webhooks are what we see)
        rules = [rule]
        for round_ in range(1, 4):
            marker = f"round-{round_}"
            rules.append({**rule, "name": marker})
            mlops.alert_rules("quiet", rules)
            fired = lambda marker=marker: any(r["rule"] == marker for r in _SchedulerReceiver.received)  # noqa: E731
            wait_until(fired, 30, f"scheduled round {round_} after the first firing", 0.1)

        # Then the webhook got the alert once, and it is listed once (also after an on-read evaluation)
        posts = [r for r in _SchedulerReceiver.received if r["rule"] == "traffic"]
        assert len(posts) == 1 and posts[0]["deployment"] == "quiet" and posts[0]["state"] == "firing"
        listed = [a for a in mlops.alerts("quiet") if a["rule"] == "traffic"]
        assert [a["id"] for a in listed] == [posts[0]["id"]]
        assert listed[0]["delivery"] == "delivered: HTTP 204"
    finally:
        target = (mlops._targets or {}).get("local")
        if target is not None:
            target.stop_daemon()  # type: ignore[attr-defined]
        mlops.close()
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlops.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"race_{tmp_path.name[-20:].lower()}"))


def test_racing_evaluators_record_one_firing(store_url) -> None:
    # Given four evaluators with their own connections (as the scheduler and Jupyter servers have)
    stores = [Store(store_url) for _ in range(4)]
    alert = {
        "deployment": "d",
        "rule": "traffic",
        "metric": "requests",
        "value": 3.0,
        "threshold": 1.0,
        "state": "firing",
        "fired_at": time.time(),
        "message": "d: requests = 3 >= 1",
    }
    barrier = threading.Barrier(len(stores))
    ids: list[int | None] = []

    def fire(store: Store) -> None:
        monitoring = MonitoringStore(store.engine)
        barrier.wait()
        ids.append(monitoring.fire(alert))

    try:
        # When they all see the condition hold at once
        threads = [threading.Thread(target=fire, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        # Then one records the alert and the others learn it is already firing
        recorded = [i for i in ids if i is not None]
        assert len(ids) == 4 and len(recorded) == 1
        monitoring = MonitoringStore(stores[0].engine)
        assert [a["id"] for a in monitoring.alerts("d")] == recorded
        monitoring.resolve(recorded[0], time.time())
        assert monitoring.fire(alert) is not None  # resolved: the rule may fire again
    finally:
        for store in stores:
            store.close()
