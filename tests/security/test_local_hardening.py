"""Findings fixed outside the HTTP surface: lost log records counted (#19 item 9), private data dir (item 10), and
webhooks sent to the address that was checked (item 8)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.monitoring import webhooks
from jupyter_mlops.core.monitoring.storage import MonitoringStore
from jupyter_mlops.core.store import Store
from jupyter_mlops.serving.log_writer import WriterProcessLog
from jupyter_mlops.serving.records import RequestRecord

from ..waiting import wait_until


def record(i: int) -> RequestRecord:
    frame = pd.DataFrame({"x": np.arange(2, dtype=float) + i})
    return RequestRecord(f"lost{i}", "d-lost", "primary", "1", time.time(), 1.0, 200, inputs=frame,
                         outputs=np.arange(2))  # fmt: skip


def test_records_lost_with_a_killed_writer_are_counted_and_warned(tmp_path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    store = Store(url)
    monitoring = MonitoringStore(store.engine)
    log = WriterProcessLog(url).start()
    try:
        writer = log.pid
        assert writer is not None
        # Given a writer that has taken records but not written them (stopped, then killed without warning)
        os.kill(writer, signal.SIGSTOP)
        for i in range(50):
            log(record(i))
        wait_until(lambda: log.sent == 50)
        with caplog.at_level(logging.WARNING, logger="jupyter_mlops.serving.log_writer"):
            os.kill(writer, signal.SIGKILL)
            # When the daemon's side notices and starts a new writer
            wait_until(lambda: log.pid not in (None, writer))
        # Then every record it held is counted as lost, with a warning giving the count
        assert log.lost == 50
        assert any("50 records not written" in r.getMessage() for r in caplog.records), caplog.text
        assert monitoring.known_requests("d-lost", [f"lost{i}" for i in range(50)]) == {}
        # and stored as the deployment's dropped_records by the next writer
        wait_until(lambda: monitoring.dropped("d-lost") == 50)
    finally:
        log.close()
        store.close()


def test_the_data_dir_is_0700_and_the_stores_0600(tmp_path, monkeypatch) -> None:
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # the embedded defaults: both stores in data_dir
        monkeypatch.delenv(name, raising=False)
    previous = os.umask(0o022)  # the usual umask: without the fix, 0755 and 0644
    try:
        from jupyter_mlops.core.service import MLOps

        config = MLOpsConfig(data_dir=str(tmp_path / "fresh" / "mlops"))
        mlops = MLOps(config, user="tester")
        mlops.models()  # MLflow creates its tables in mlflow.db
    finally:
        os.umask(previous)
    data_dir = Path(config.data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("mlops.db", "mlflow.db"):
        path = data_dir / name
        assert path.stat().st_size > 0, f"{name} was not written"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    for extra in data_dir.glob("*.db-*"):  # SQLite's -wal and -shm files follow the database's mode
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra.name


class _Receiver(BaseHTTPRequestHandler):
    hits: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        _Receiver.hits.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    """A webhook receiver on 127.0.0.1 (a free port), stopped after the test."""
    _Receiver.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_webhook_goes_to_the_checked_address_with_its_host_name(receiver: int, monkeypatch) -> None:
    real = socket.getaddrinfo
    answers = {"count": 0}

    def rebinding(host, port, *args, **kwargs):  # a DNS name that answers public first, then loopback
        if host == "hooks.rebind.test":
            answers["count"] += 1
            address = "1.1.1.1" if answers["count"] == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # When the name is checked (public) and then re-resolved by the HTTP client (loopback, the rebinding)
    with pytest.raises(Exception):  # noqa: B017 - 1.1.1.1 is unreachable here (offline): any network error
        webhooks.post(f"http://hooks.rebind.test:{receiver}/hook", {"id": 1}, allow_private=False, timeout=1.0)
    # Then the request went to the checked address, never to the loopback receiver
    assert _Receiver.hits == []
    assert answers["count"] == 1  # resolved once

    # And a permitted receiver gets the request with its own name in the Host header
    answers["count"] = 1
    with pytest.raises(InvalidRequest):  # the loopback answer is refused when private receivers are not allowed
        webhooks.post(f"http://hooks.rebind.test:{receiver}/hook", {"id": 2}, allow_private=False, timeout=1.0)
    status = webhooks.post(f"http://hooks.rebind.test:{receiver}/hook", {"id": 3}, allow_private=True, timeout=5.0)
    assert status == 204
    assert _Receiver.hits[-1]["host"] == f"hooks.rebind.test:{receiver}"
