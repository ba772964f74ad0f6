"""The daemon's inference log writer process, driven as the daemon drives it: records handed over a pipe to a real
``python -m jupyter_mlops.serving.log_writer`` writing to a real store (SQLite WAL, and PostgreSQL by URL)."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.core.monitoring.storage import MonitoringStore, Rows
from jupyter_mlops.core.store import Store
from jupyter_mlops.serving.log_writer import WriterProcessLog, decode, encode, start_after
from jupyter_mlops.serving.records import RequestRecord

from ..waiting import wait_until
from .test_inference_log import record


def tag_writer_pid(frame: pd.DataFrame) -> pd.DataFrame:
    """A redaction hook that drops a column and says which process ran it."""
    return frame.drop(columns=["city"]).assign(writer_pid=os.getpid())


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlops.db'}"


@pytest.fixture
def monitoring(store_url: str) -> Iterator[MonitoringStore]:
    store = Store(store_url)
    yield MonitoringStore(store.engine)
    store.close()


def numeric_record(i: int, rows: int = 3) -> RequestRecord:
    frame = pd.DataFrame(np.arange(rows * 2, dtype=float).reshape(rows, 2) + i, columns=["a", "b"])
    return RequestRecord(f"n{i}", "d1", "primary", "1", time.time(), 1.0, 200, inputs=frame, outputs=np.arange(rows))


def test_records_cross_the_pipe_as_fixed_fields_and_raw_arrays() -> None:
    numeric = numeric_record(1)
    item = pickle.loads(encode(numeric)[4:])
    # (columns, (dtype, shape, raw bytes)): neither a pickled DataFrame nor a pickled ndarray (4x the cost)
    assert isinstance(item[8], tuple) and item[8][0] == ("a", "b")
    assert item[8][1] == ("<f8", (3, 2), numeric.inputs.to_numpy().tobytes())
    assert item[9][1] == (np.arange(3).dtype.str, (3,), np.arange(3).tobytes())  # numeric outputs: raw bytes too
    back = decode(item)
    assert isinstance(back.inputs, Rows)  # the writer stacks the arrays; no DataFrame per request
    pd.testing.assert_frame_equal(back.inputs.frame(), numeric.inputs)
    assert (back.request_id, back.status, back.outputs.tolist()) == ("n1", 200, [0, 1, 2])

    mixed = record(2)  # a float and a text column: two blocks, sent as a DataFrame
    pd.testing.assert_frame_equal(decode(pickle.loads(encode(mixed)[4:])).inputs, mixed.inputs)

    strings = RequestRecord("s", "d1", "primary", "1", 0.0, 1.0, 200, inputs=numeric.inputs,
                            outputs=np.array(["x", "y", "z"], dtype=object))  # fmt: skip
    assert decode(pickle.loads(encode(strings)[4:])).outputs.tolist() == ["x", "y", "z"]  # non-numeric: as it is

    unpicklable = RequestRecord("u", "d1", "primary", "1", 0.0, 1.0, 200, inputs=numeric.inputs, outputs=lambda: None)
    kept = decode(pickle.loads(encode(unpicklable)[4:]))
    assert (kept.request_id, kept.inputs, kept.outputs) == ("u", None, None)  # metadata only, never an error


def test_the_writer_process_writes_and_counts_what_the_full_buffer_dropped(store_url, monitoring) -> None:
    log = WriterProcessLog(store_url, capacity=5)
    for i in range(8):
        log(numeric_record(i))  # not started: the buffer fills up and drops
    assert (log.accepted, log.dropped) == (5, 3)

    log.start()
    writer_pid = log.pid
    assert writer_pid is not None and writer_pid != os.getpid()
    log.close()

    assert monitoring.dropped("d1") == 3
    assert sorted(monitoring.known_requests("d1", [f"n{i}" for i in range(8)])) == [f"n{i}" for i in range(5)]
    assert len(monitoring.data("d1", 0, time.time() + 1)) == 15
    assert (log.sent, log.written, log.lost) == (5, 5, 0)
    assert not Path(f"/proc/{writer_pid}").exists()  # close() waited for the writer to exit


def test_a_daemons_writer_starts_once_mlflow_is_imported_or_after_its_timeout(store_url, monitoring) -> None:
    # The daemon starts its writer when its MLflow import (a future) is done: on a cold start the two would
    # compete for the cores. Records that come meanwhile wait in the buffer and are written after the start.
    prepared: Future[None] = Future()
    log = WriterProcessLog(store_url)
    start_after(prepared, log, timeout=60)
    log(numeric_record(1))
    assert log.pid is None and log.accepted == 1  # buffered, no writer yet
    prepared.set_exception(ImportError("a failed import starts it too"))
    wait_until(lambda: log.pid is not None)
    log.close()
    assert monitoring.known_requests("d1", ["n1"]) == {"n1": 3} and log.written == 1

    # an import that never finishes does not keep the writer (and the alert scheduler) from starting
    late = WriterProcessLog(store_url)
    start_after(Future(), late, timeout=0.2)
    wait_until(lambda: late.pid is not None)
    late(numeric_record(2))
    late.close()
    assert monitoring.known_requests("d1", ["n2"]) == {"n2": 3}

    # and a log closed before its start never starts a writer
    closed = WriterProcessLog(store_url)
    prepared = Future()
    start_after(prepared, closed, timeout=60)
    closed.close()
    prepared.set_result(None)
    assert closed.pid is None


def test_sampling_and_the_redaction_hook_run_in_the_writer_process(store_url, monitoring) -> None:
    env = {"JUPYTER_MLOPS_INFERENCE_LOG_REDACT": f"{__name__}:tag_writer_pid"}
    log = WriterProcessLog(store_url, env=env).start()
    writer_pid = log.pid
    for i in range(3):
        log(record(i))
    log.close()

    data = monitoring.data("d1", 0, time.time() + 1)
    assert "in.city" not in data.columns and len(data) == 6
    assert set(data["in.writer_pid"]) == {writer_pid}

    sampled_out = WriterProcessLog(store_url, env={"JUPYTER_MLOPS_INFERENCE_LOG_SAMPLE_RATE": "0"}).start()
    sampled_out(numeric_record(50))
    sampled_out.close()
    assert monitoring.known_requests("d1", ["n50"]) == {"n50": 0}  # metadata kept, no payload rows


def test_a_killed_writer_is_replaced_and_logging_goes_on(store_url, monitoring) -> None:
    log = WriterProcessLog(store_url).start()
    try:
        first = log.pid
        log(numeric_record(1))
        wait_until(lambda: monitoring.known_requests("d1", ["n1"]))
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: log.pid not in (None, first))  # a new writer, started by the daemon's side

        log(numeric_record(2))
        wait_until(lambda: monitoring.known_requests("d1", ["n2"]))
        assert log.restarts >= 1
    finally:
        log.close()


def test_the_writer_logs_to_postgresql_by_url(postgres) -> None:
    url = postgres.create_database("writer")
    log = WriterProcessLog(url).start()
    for i in range(4):
        log(numeric_record(i))
    log.close()
    store = Store(url)
    try:
        monitoring = MonitoringStore(store.engine)
        assert len(monitoring.known_requests("d1", [f"n{i}" for i in range(4)])) == 4
        assert len(monitoring.data("d1", 0, time.time() + 1)) == 12
    finally:
        store.close()
