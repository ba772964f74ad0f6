"""Endpoints keep their URL (#15 item 2): the daemon binds the same port after a crash and on every later start,
and a port taken by another process is refused naming that process (#13 item 3: a hub user's daemon loads only
that user's deployments)."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time

import httpx
import orjson
import pytest

from jupyter_mlops.core.errors import Unavailable
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget, pid_alive
from jupyter_mlops.serving import daemon_file
from jupyter_mlops.serving.runtime import read_desired

from ..waiting import wait_until
from .conftest import MODEL_NAME, serving_config_for


class Load:
    """Requests in a loop on one URL from a thread: (sent at, answered at, answered 200) for each."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url, self.body = url, body
        self.outcomes: list[tuple[float, float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    ok = client.post(self.url, content=self.body, headers={"Content-Type": "application/json"})
                    answered = ok.status_code == 200
                except httpx.HTTPError:
                    answered = False
                self.outcomes.append((sent, time.monotonic(), answered))
                if not answered:
                    self.stop.wait(0.005)  # pacing of the load generator while the port is down

    def answered_since(self, since: float) -> float | None:
        """When the first request sent after ``since`` was answered with 200 (None: not yet)."""
        return next((at for sent, at, ok in list(self.outcomes) if sent > since and ok), None)


def test_kill_9_under_load_the_deployment_answers_again_on_the_url_deploy_returned(
    deploy, local_target: LocalTarget, registered_model
) -> None:
    # Given a deployment and the URL deploy() returned, under steady load
    status = deploy("same-url")
    url = status.url
    assert url
    body = orjson.dumps({"dataframe_split": registered_model.X.head(1).to_dict(orient="split")})
    load = Load(url, body)
    load.thread.start()
    downtimes = []
    try:
        wait_until(lambda: load.answered_since(0), 60, "the first answer under load")
        previous = None
        for _ in range(3):
            # (the daemon restarted after the previous kill: daemon.json names its new, live worker 0)
            info = wait_until(
                lambda: (
                    (i := daemon_file.read(local_target.info_path)) and i.pid != previous and pid_alive(i.pid) and i
                ),
                60,
                "a new live daemon named in daemon.json",
            )
            previous = info.pid
            # When the daemon is killed without warning
            killed = time.monotonic()
            os.kill(info.pid, signal.SIGKILL)
            # Then the same URL answers again (the supervisor restarts it on the same port)
            back = wait_until(lambda: load.answered_since(killed), 60, "an answer on the same URL after kill -9", 0.01)
            downtimes.append(back - killed)
            assert daemon_file.read(local_target.info_path).url == info.url  # type: ignore[union-attr]
    finally:
        load.stop.set()
        load.thread.join(10)
    failed = sum(1 for _, _, ok in load.outcomes if not ok)
    print(f"\nkill -9 -> same URL answering again: downtimes {[f'{d:.2f}' for d in downtimes]} s, "
          f"median {statistics.median(downtimes):.2f} s; {failed} failed of {len(load.outcomes)} requests")  # fmt: skip
    assert local_target.wait_ready("same-url", 60).url == url


def test_a_port_held_by_another_process_is_refused_naming_it(tmp_path) -> None:
    config = serving_config_for(tmp_path)
    store = Store(config.store_url)
    target = LocalTarget(config, store)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        # Given the data dir's persisted port, now held by this test process
        daemon_file.write_port(tmp_path, holder.getsockname()[1])
        # When the daemon starts, it refuses, naming the holder
        with pytest.raises(Unavailable) as refused:
            target.ensure_daemon()
        assert f"pid {os.getpid()}" in refused.value.message, refused.value.message
        assert str(holder.getsockname()[1]) in refused.value.message
    finally:
        holder.close()
        target.stop_daemon()
        target.close()
        store.close()


def test_the_port_is_persisted_and_reused_after_a_clean_restart(tmp_path) -> None:
    config = serving_config_for(tmp_path)
    store = Store(config.store_url)
    target = LocalTarget(config, store)
    try:
        first = target.ensure_daemon()
        assert daemon_file.read_port(tmp_path) == first.port
        assert target.stop_daemon()
        second = target.ensure_daemon()  # a Jupyter or machine restart starts it the same way
        assert second.pid != first.pid and second.url == first.url
    finally:
        target.stop_daemon()
        target.close()
        store.close()


def test_a_hub_users_daemon_loads_only_that_users_deployments(tmp_path, monkeypatch) -> None:
    config = serving_config_for(tmp_path, isolate_users=True)
    store = Store(config.store_url)
    variants = [Variant(model_name=MODEL_NAME, model_version="1")]
    for name, owner in (("alices", "alice"), ("bobs", "bob")):
        store.create_deployment(name, owner=owner, target="local", model_ref=f"{MODEL_NAME}/1", variants=variants)
    assert set(read_desired(store, owner="alice")) == {"alices"}
    assert set(read_desired(store)) == {"alices", "bobs"}
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    target = LocalTarget(config, store)
    try:
        info = target.ensure_daemon()
        names = wait_until(lambda: target.statuses() or None, 60, "the daemon loaded its deployments")
        assert set(names) == {"alices"}
        target.apply("bobs")  # even asked by name, another user's deployment is not loaded
        status = httpx.get(f"{info.url}/admin/status", headers={"Authorization": f"Bearer {info.token}"}).json()
        assert [d["name"] for d in status["deployments"]] == ["alices"]
    finally:
        target.stop_daemon()
        target.close()
        store.close()
