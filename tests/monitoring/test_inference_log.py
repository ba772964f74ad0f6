"""The inference log writer against a real SQLite store (WAL): bounded queue, drops, sampling, redaction,
retention. No daemon: the writer is fed RequestRecords directly, as the serving context does."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.core.monitoring.storage import MonitoringStore, Rows
from jupyter_mlops.core.store import Store
from jupyter_mlops.serving.inference_log import InferenceLog, load_redactor
from jupyter_mlops.serving.records import RequestRecord


@pytest.fixture
def store(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    yield MonitoringStore(store.engine)
    store.close()


def record(
    i: int, deployment: str = "d1", *, t: float | None = None, status: int = 200, rows: int = 2
) -> RequestRecord:
    inputs = pd.DataFrame({"x": np.arange(rows, dtype=float) + i, "city": ["paris"] * rows})
    return RequestRecord(
        request_id=f"r{i}",
        deployment=deployment,
        variant="primary",
        model_version="1",
        time=time.time() if t is None else t,
        latency_ms=1.0 + i,
        status=status,
        inputs=inputs if status < 400 else None,
        outputs=np.arange(rows) if status < 400 else None,
    )


def test_a_full_queue_drops_and_counts_without_blocking(store) -> None:
    log = InferenceLog(store, capacity=5, flush_interval=0.05)

    def fill() -> None:
        for i in range(8):
            log(record(i))  # the writer is not started: the queue fills up

    caller = threading.Thread(target=fill, daemon=True)
    caller.start()
    caller.join(timeout=30)  # a call that waited for room would wait forever: nothing drains the queue yet
    assert not caller.is_alive(), "logging into a full queue blocked the caller"
    assert (log.accepted, log.dropped) == (5, 3)

    log.start()
    log.close()

    assert log.written == 5
    assert store.dropped("d1") == 3
    assert len(store.known_requests("d1", [f"r{i}" for i in range(8)])) == 5


def test_batches_are_columnar_and_aligned_with_outputs(store) -> None:
    log = InferenceLog(store, flush_interval=0.05).start()
    for i in range(10):
        log(record(i, "d1" if i % 2 else "d2"))
    log(record(99, "d1", status=500))
    log.close()

    data = store.data("d1", 0, time.time() + 1)
    assert len(data) == 10  # five sampled requests of two rows; the failed request has no payload
    assert {"in.x", "in.city", "out.prediction", "time"} <= set(data.columns)
    requests = store.requests("d1", 0, time.time() + 1)
    assert sorted(requests["status"]) == [200] * 5 + [500]
    rows = store.rows_of(["r3"])
    assert rows["in.x"].tolist() == [3.0, 4.0] and rows["out.prediction"].tolist() == [0, 1]


def test_sampling_keeps_metadata_and_drops_payloads(store) -> None:
    log = InferenceLog(store, flush_interval=0.05, sample_rate=0.0).start()
    for i in range(5):
        log(record(i))
    log.close()
    assert len(store.requests("d1", 0, time.time() + 1)) == 5
    assert store.data("d1", 0, time.time() + 1).empty


def redact_city(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["city"])


def test_the_redaction_hook_runs_before_anything_is_stored(store) -> None:
    hook = load_redactor(f"{__name__}:redact_city")
    log = InferenceLog(store, flush_interval=0.05, redact=hook).start()
    log(record(1))
    log.close()
    data = store.data("d1", 0, time.time() + 1)
    assert "in.x" in data.columns and "in.city" not in data.columns


def test_retention_purges_old_records(store) -> None:
    log = InferenceLog(store, flush_interval=0.05).start()
    log(record(1, t=time.time() - 40 * 86400))
    log(record(2))
    log.close()
    removed = store.purge(time.time() - 30 * 86400)
    assert removed == 1
    assert list(store.known_requests("d1", ["r1", "r2"])) == ["r2"]
    assert len(store.data("d1", 0, time.time() + 1)) == 2


def test_data_can_be_sampled_in_the_store(store) -> None:
    log = InferenceLog(store, flush_interval=0.05).start()
    for i in range(50):
        log(record(i))
    log.close()
    sampled = store.data("d1", 0, time.time() + 1, sample=30)
    assert len(sampled) == 30 and sampled.attrs["rows"] == 100
    assert sampled["time"].is_monotonic_increasing  # a sample keeps the log's order


@pytest.mark.parametrize(
    ("dtype", "outputs"),
    [
        ("float64", lambda rng, n: rng.integers(0, 3, size=n)),  # labels
        ("float32", lambda rng, n: rng.random((n, 3))),  # probabilities: out.prediction, _1, _2
        ("int64", lambda rng, n: rng.normal(size=n)),  # a regression
        ("bool", lambda rng, n: rng.random(n) > 0.5),
    ],
)
def test_the_columnar_path_stores_what_the_dataframe_path_stores(store, dtype, outputs) -> None:
    """Requests of numeric Rows (the serving fast path's case) skip the DataFrame; the stored batch is the same
    Arrow table (names, types, NaN as null), the request offsets too, and reading the log gives the same rows."""
    from jupyter_mlops.core.monitoring import storage

    rng = np.random.default_rng(4)
    columns = ("a", "b", "c", "d")
    records = []
    for i, n in enumerate((1, 5, 2, 9)):
        values = (rng.normal(size=(n, 4)) * 10).astype(dtype)
        if dtype.startswith("float"):
            values[0, 1] = np.nan
        records.append(
            RequestRecord(
                request_id=f"q{i}", deployment="cols", variant="primary", model_version="1", time=1000.0 + i,
                latency_ms=1.0, status=200, inputs=Rows(columns, values), outputs=outputs(rng, n),
            )
        )  # fmt: skip
    fast = storage._numeric_columns(records)
    assert fast is not None
    frame, offsets = storage._batch_frame(records)
    assert fast[1] == offsets == {"q0": 0, "q1": 1, "q2": 6, "q3": 8}
    expected = storage.decode_table(storage.encode_table(frame))
    assert storage.decode_table(storage.encode_arrays(fast[0])).equals(expected)
    if dtype.startswith("float"):
        assert expected.column("in.b").null_count == 4  # NaN is null either way

    store.write_batch(records)
    logged = store.data("cols", 0, 2000)
    pd.testing.assert_frame_equal(logged.reset_index(drop=True), expected.to_pandas(), check_like=True)


def test_flushes_one_after_another_each_keep_their_own_rows(store, monkeypatch) -> None:
    """The writer encodes every flush into the same per-thread buffers; each stored batch must still hold its own
    rows once later flushes reused them, and a flush larger than the buffers keep encodes all the same."""
    from jupyter_mlops.core.monitoring import storage

    def flush(k: int, rows: int) -> list[RequestRecord]:
        values = np.full((rows, 3), float(k))
        return [RequestRecord(request_id=f"f{k}-{i}", deployment="reuse", variant="primary", model_version="1",
                              time=100.0 * k + i, latency_ms=1.0, status=200, inputs=Rows(("a", "b", "c"), values),
                              outputs=np.full(rows, k)) for i in range(4)]  # fmt: skip

    monkeypatch.setattr(storage, "SCRATCH_LIMIT", 4096)  # flush 3 (6,144 bytes of inputs) is past it
    sizes = {1: 50, 2: 20, 3: 256}
    for k, rows in sizes.items():
        assert store.write_batch(flush(k, rows)) == 4
    for k, rows in sizes.items():
        logged = store.data("reuse", 100.0 * k, 100.0 * k + 50)
        assert len(logged) == 4 * rows
        assert (logged[["in.a", "in.b", "in.c", "out.prediction"]].to_numpy() == k).all(), f"flush {k} was overwritten"


def test_requests_the_columnar_path_cannot_take_are_stored_as_before(store) -> None:
    """Different columns, a text column or outputs that do not align: the DataFrame path stores them."""
    from jupyter_mlops.core.monitoring import storage

    base = {"deployment": "mixed", "variant": "primary", "model_version": "1", "latency_ms": 1.0, "status": 200}
    cases = [
        [Rows(("a",), np.ones((2, 1))), Rows(("b",), np.ones((2, 1)))],  # different columns
        [Rows(("a",), np.ones((2, 1))), Rows(("a",), np.ones((2, 1), dtype=np.float32))],  # different dtypes
    ]
    for k, inputs in enumerate(cases):
        records = [
            RequestRecord(request_id=f"m{k}-{i}", time=1000.0 + i, inputs=rows, outputs=np.zeros(2), **base)
            for i, rows in enumerate(inputs)
        ]
        assert storage._numeric_columns(records) is None
    unaligned = [RequestRecord(request_id="u", time=1.0, inputs=Rows(("a",), np.ones((2, 1))), outputs=np.zeros(3),
                               **base)]  # fmt: skip
    assert storage._numeric_columns(unaligned) is None
    assert store.write_batch(unaligned) == 1
    logged = store.data("mixed", 0, 10)
    assert list(logged.columns) == ["time", "in.a"] and len(logged) == 2  # no outputs column: they did not align
