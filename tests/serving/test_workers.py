"""Scale with cores (#18 item 0): the daemon's serving workers share one port, each answers every deployment,
``/metrics`` sums them, and killing one loses no request beyond those it had in flight."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time

import httpx
import orjson

from jupyter_mlops.core.targets.local import LocalTarget, pid_alive
from jupyter_mlops.serving.workers import WORKER_HEADER, read_seats

from ..waiting import wait_until
from .conftest import daemon_url, metrics_text


def post_fresh(url: str, body: bytes) -> httpx.Response:
    """One request on a new connection (the kernel hands each new connection to one of the workers)."""
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        return client.post(url, content=body, headers={"Content-Type": "application/json"})


def requests_of(text: str, deployment: str) -> float:
    pattern = re.compile(rf'^mlops_requests_total\{{[^}}]*deployment="{deployment}"[^}}]*\}} ([0-9.e+]+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))


def test_two_workers_answer_one_deployment_and_metrics_sum_them(
    deploy, local_target: LocalTarget, registered_model, http
) -> None:
    # Given a deployment on a daemon with two serving workers
    status = deploy("two-workers")
    info = local_target.running_daemon()
    assert info is not None
    # (worker 1 starts once worker 0 serves)
    seats = wait_until(lambda: len(read_seats(local_target.config.data_dir)) == 2
                       and read_seats(local_target.config.data_dir), 60, "two workers")  # fmt: skip
    assert [s.index for s in seats] == [0, 1] and seats[0].pid == info.pid and seats[0].pid != seats[1].pid
    body = orjson.dumps({"dataframe_split": registered_model.X.head(2).to_dict(orient="split")})
    expected = {"predictions": registered_model.expected(registered_model.X.head(2))}

    # When requests arrive on new connections
    answered_by: dict[str, int] = {}

    def both_answered() -> bool:
        response = post_fresh(status.url or "", body)
        assert response.status_code == 200 and response.json() == expected
        worker = response.headers[WORKER_HEADER]
        answered_by[worker] = answered_by.get(worker, 0) + 1
        return len(answered_by) == 2

    wait_until(both_answered, 60, "both workers answering")

    # Then both workers (two processes) answered the same deployment, and /metrics counts every request once,
    # whichever worker serves the scrape
    sent = sum(answered_by.values())
    assert set(answered_by) == {"0", "1"}
    for _ in range(4):  # scrapes land on either worker
        assert requests_of(metrics_text(http, local_target), "two-workers") == sent


class Load:
    """``threads`` clients posting in a loop (keep-alive); outcomes as (sent, answered, ok, worker)."""

    def __init__(self, url: str, body: bytes, threads: int = 4) -> None:
        self.url, self.body = url, body
        self.outcomes: list[tuple[float, float, bool, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    response = client.post(self.url, content=self.body, headers={"Content-Type": "application/json"})
                    ok, worker = response.status_code == 200, response.headers.get(WORKER_HEADER, "")
                except httpx.HTTPError:
                    ok, worker = False, ""
                self.outcomes.append((sent, time.monotonic(), ok, worker))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def test_killing_a_worker_loses_only_its_requests_in_flight_and_it_is_replaced(
    deploy, local_target: LocalTarget, registered_model
) -> None:
    # Given a deployment under load from 4 keep-alive clients
    status = deploy("kill-a-worker")
    body = orjson.dumps({"dataframe_split": registered_model.X.head(1).to_dict(orient="split")})
    data_dir = local_target.config.data_dir
    with Load(status.url or "", body) as load:
        wait_until(lambda: sum(1 for o in list(load.outcomes) if o[2]) >= 50, 60, "load running")
        victim = next(s for s in read_seats(data_dir) if s.index == 1)

        # When serving worker 1 is killed without warning
        killed = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)

        # Then the load goes on (worker 0 answers), and the supervisor puts a new worker 1 in its place
        wait_until(lambda: sum(1 for o in list(load.outcomes) if o[0] > killed and o[2]) >= 50, 60, "answers after")
        replaced = wait_until(
            lambda: next((s for s in read_seats(data_dir) if s.index == 1 and s.pid != victim.pid), None), 60,
            "a new worker 1",
        )  # fmt: skip
        assert not pid_alive(victim.pid)
        wait_until(lambda: any(o[0] > killed and o[3] == "1" for o in list(load.outcomes)) or post_fresh(
            status.url or "", body).headers.get(WORKER_HEADER) == "1", 60, "the new worker 1 answering")  # fmt: skip
    # and no request failed beyond those the killed worker had in flight (at most one per client)
    failed = [o for o in load.outcomes if not o[2]]
    assert len(failed) <= len(load.threads), failed
    assert replaced.pid != victim.pid


def test_a_deployment_is_ready_only_while_every_worker_gives_its_status(
    deploy, local_target: LocalTarget, registered_model
) -> None:
    """A deploy that returned ready while worker 1 was still starting showed "loading" to the next reader (workers
    then started one after the other). A worker that gives no status (starting, stopped, not answering) now keeps the
    deployment pending, in both status routes, until it answers again."""
    deploy("every-worker")
    data_dir = local_target.config.data_dir
    seats = wait_until(lambda: len(read_seats(data_dir)) == 2 and read_seats(data_dir), 60, "two workers")
    info = local_target.running_daemon()
    assert info is not None
    worker_0, worker_1 = sorted(seats, key=lambda s: s.index)
    admin = {"Authorization": f"Bearer {info.token}"}

    def states() -> tuple[str, str, str]:
        """The deployment's state from worker 0's two status routes (its private port: a pooled connection to the
        shared one could be held by worker 1), and its message."""
        with httpx.Client(base_url=f"http://127.0.0.1:{worker_0.port}", headers=admin, timeout=30.0,
                          trust_env=False) as client:  # fmt: skip
            one = client.get("/admin/deployments/every-worker").json()
            every = {d["name"]: d for d in client.get("/admin/status").json()["deployments"]}
        return one["state"], every["every-worker"]["state"], one.get("message") or ""

    assert states()[:2] == ("ready", "ready")  # deploy waited for both

    # When worker 1 stops answering (stopped, as a worker stuck or not started yet would be)
    os.kill(worker_1.pid, signal.SIGSTOP)
    try:
        one, every, message = states()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker_1.pid, signal.SIGCONT)
    assert (one, every) == ("pending", "pending")
    assert "not yet applied by every serving worker" in message

    # Then it is ready again once worker 1 answers
    wait_until(lambda: states()[:2] == ("ready", "ready"), 30, "ready again")


def test_connections_piled_on_one_worker_spread_over_both(
    deploy, local_target: LocalTarget, registered_model, http
) -> None:
    """The workers accept from one socket, and the one awake takes every pending connection. A worker holding
    more than its share answers some requests with ``Connection: close``; their clients reconnect, to any worker."""
    deploy("spread")
    data_dir = local_target.config.data_dir
    seats = wait_until(lambda: len(read_seats(data_dir)) == 2 and read_seats(data_dir), 60, "two workers")
    worker_1 = next(seat for seat in seats if seat.index == 1)
    url = f"{daemon_url(local_target)}/deployments/spread/invocations"
    rows = registered_model.X.head(2)
    body = orjson.dumps({"dataframe_split": rows.to_dict(orient="split")})
    clients = [httpx.Client(timeout=30.0, trust_env=False) for _ in range(12)]  # one keep-alive connection each
    closed = 0

    def round_of_requests() -> list[str]:
        """One request on each client's connection; the workers that answered them."""
        nonlocal closed
        answered = []
        for client in clients:
            response = client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200 and response.json() == {"predictions": registered_model.expected(rows)}
            closed += response.headers.get("connection") == "close"
            answered.append(response.headers[WORKER_HEADER])
        return answered

    try:
        # Given 12 connections all accepted by worker 0 (worker 1 stopped meanwhile)
        os.kill(worker_1.pid, signal.SIGSTOP)
        try:
            assert set(round_of_requests()) == {"0"}
        finally:
            os.kill(worker_1.pid, signal.SIGCONT)

        # When the clients go on sending on them, then worker 0 lets go of the connections over its share, and
        # their clients' next connections spread the load over both workers (every answer complete meanwhile)
        split = wait_until(
            lambda: (answered := round_of_requests()).count("1") >= 4 and answered, 60, "connections on worker 1"
        )
        assert split.count("0") >= 4 and closed >= 4
        let_go = re.search(r"^mlops_rebalanced_connections ([0-9.e+]+)$", metrics_text(http, local_target), re.M)
        assert let_go is not None and float(let_go[1]) >= 4
    finally:
        for client in clients:
            client.close()
