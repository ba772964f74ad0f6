"""Inference records from an isolated worker to its daemon, in a format the daemon decodes without running code.

An isolated worker runs user code (the model) and holds no store credential, so it cannot write its inference log
itself: it hands every completed request to its daemon over a pipe (the worker's stdout after its port line), and
the daemon records it as its own (``ServingContext.completed``: metrics, automatic-rollback windows, inference log).

The pipe comes from a process the daemon must not trust. So no pickle (unpickling runs code): a frame is JSON for
the record's fields and raw buffers for its payload, described in that JSON and checked before use: numeric, bool
or fixed-width text arrays (``numpy.frombuffer``, never an object dtype), Arrow IPC streams for mixed-type tables
(schema metadata dropped before pandas sees it), or JSON. The daemon names the deployment itself (a worker cannot
log for another one) and bounds every size; a frame it cannot read is dropped with a warning.

Frame: ``u32 length | u32 header length | header JSON | buffers``, little-endian.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import threading
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..core.monitoring.storage import Rows, decode_table, encode_table
from .records import RequestRecord, capped

log = logging.getLogger(__name__)

SEND_INTERVAL = 0.02  # seconds between two hand-overs to the daemon (what a kill -9 of the worker loses at most)
CAPACITY = 10_000  # records buffered in the worker; more are dropped and counted (serving never blocks)
MAX_FRAME_BYTES = 32 * 1024 * 1024  # a record is capped at MAX_LOGGED_ROWS rows: anything larger is not ours
MAX_TEXT = 256  # characters of a request id, variant or version
SAFE_KINDS = frozenset("biufcUS")  # dtypes whose bytes are plain values (no object pointers, no structure)


# --- encoding (the worker) -------------------------------------------------------------------------------------


def _array_spec(array: np.ndarray, buffers: list[bytes], **extra: Any) -> dict[str, Any] | None:
    if array.dtype.kind not in SAFE_KINDS or array.dtype.fields is not None:
        return None
    data = np.ascontiguousarray(array).tobytes()
    buffers.append(data)
    return {"kind": "array", "dtype": array.dtype.str, "shape": list(array.shape), "size": len(data), **extra}


def _frame_spec(frame: pd.DataFrame, buffers: list[bytes]) -> dict[str, Any] | None:
    manager = getattr(frame, "_mgr", None)
    if getattr(manager, "nblocks", 0) == 1:  # one dtype: its array, as the in-process writer takes it
        spec = _array_spec(frame.to_numpy(), buffers, columns=[str(c) for c in frame.columns])
        if spec is not None:
            return spec
    data = encode_table(frame)
    buffers.append(data)
    return {"kind": "arrow", "size": len(data)}


def _spec(value: Any, buffers: list[bytes]) -> dict[str, Any] | None:
    """How ``value`` travels (its bytes appended to ``buffers``), or None when it cannot safely."""
    if value is None:
        return None
    if isinstance(value, pd.DataFrame):
        return _frame_spec(value, buffers)
    if isinstance(value, Rows):
        return _array_spec(value.values, buffers, columns=list(value.columns))
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    if isinstance(value, (list, tuple)):
        with contextlib.suppress(ValueError, TypeError):
            array = np.asarray(value)
            if array.dtype.kind in SAFE_KINDS:
                value = array
    if isinstance(value, np.ndarray):
        return _array_spec(value, buffers)
    try:
        data = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    buffers.append(data)
    return {"kind": "json", "size": len(data)}


def encode_record(record: RequestRecord) -> bytes:
    """One completed request as a frame (payload cut to ``MAX_LOGGED_ROWS`` rows; an unencodable payload is left
    out, the request still counted)."""
    record = capped(record)
    buffers: list[bytes] = []
    try:
        inputs = _spec(record.inputs, buffers)
        outputs = _spec(record.outputs, buffers)
    except Exception:  # a payload we cannot encode: log the request's metadata only
        buffers, inputs, outputs = [], None, None
    header = orjson.dumps(
        {
            "request_id": record.request_id,
            "variant": record.variant,
            "model_version": record.model_version,
            "time": record.time,
            "latency_ms": record.latency_ms,
            "status": record.status,
            "shadow": record.shadow,
            "inputs": inputs,
            "outputs": outputs,
        }
    )
    body = len(header).to_bytes(4, "little") + header + b"".join(buffers)
    return len(body).to_bytes(4, "little") + body


class RecordPipe:
    """The worker's ``on_request`` observer: a bounded buffer (event loop) and a sender thread writing frames to
    the daemon's pipe. A full buffer or a daemon that stopped reading drops and counts; serving never waits."""

    def __init__(self, fd: int, capacity: int = CAPACITY) -> None:
        self.fd = fd
        self.capacity = capacity
        self._buffer: collections.deque[RequestRecord] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-worker-records", daemon=True)
        self.accepted = 0
        self.dropped = 0
        self.sent = 0
        self.lost = 0  # encoded but never taken by the daemon (it is gone)

    def start(self) -> RecordPipe:
        self._thread.start()
        return self

    def __call__(self, record: RequestRecord) -> None:
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            return
        self._buffer.append(record)  # atomic: the sender thread pops concurrently
        self.accepted += 1

    def close(self, timeout: float = 5.0) -> None:
        """Send what is buffered, then close the pipe (the daemon reads it to its end)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(SEND_INTERVAL)
            if not self._send_pending():
                return
            if stopping:
                return

    def _send_pending(self) -> bool:
        """Hand over everything buffered; False once the daemon no longer reads (what is left counts as lost)."""
        while self._buffer:
            frames: list[bytes] = []
            while self._buffer and len(frames) < 1000:
                frames.append(encode_record(self._buffer.popleft()))
            data = memoryview(b"".join(frames))
            try:
                while data:
                    data = data[os.write(self.fd, data) :]  # releases the GIL while the pipe takes the bytes
            except OSError:
                self.lost += len(frames) + len(self._buffer)
                self._buffer.clear()
                log.warning("The serving daemon no longer reads this worker's inference records")
                return False
            self.sent += len(frames)
        return True


# --- decoding (the daemon) -------------------------------------------------------------------------------------


class BadRecord(ValueError):
    """A frame from a worker that is not a record as ``encode_record`` writes it."""


def _text(header: dict[str, Any], key: str) -> str:
    value = header.get(key)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRecord(f"{key} must be a string of at most {MAX_TEXT} characters")
    return value


def _number(header: dict[str, Any], key: str) -> float:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRecord(f"{key} must be a finite number")
    return float(value)


def _payload(spec: Any, data: memoryview, offset: int) -> tuple[Any, int]:
    """The value a spec describes, read from ``data`` at ``offset``; and the offset after it."""
    if spec is None:
        return None, offset
    if not isinstance(spec, dict):
        raise BadRecord("a payload description must be an object")
    size = spec.get("size")
    if not isinstance(size, int) or size < 0 or offset + size > len(data):
        raise BadRecord("a payload's size does not match the frame")
    chunk = data[offset : offset + size]
    kind = spec.get("kind")
    if kind == "json":
        return orjson.loads(chunk), offset + size
    if kind == "arrow":
        table = decode_table(bytes(chunk))
        return table.replace_schema_metadata(None).to_pandas(), offset + size
    if kind != "array":
        raise BadRecord(f"unknown payload kind {kind!r}")
    try:
        dtype = np.dtype(str(spec.get("dtype")))
    except TypeError:
        raise BadRecord("an array's dtype is not a plain dtype") from None
    shape = spec.get("shape")
    if dtype.kind not in SAFE_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        raise BadRecord("an array's dtype is not a plain dtype")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2 or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise BadRecord("an array's shape must be one or two sizes")
    if math.prod(shape) * dtype.itemsize != size:
        raise BadRecord("an array's shape does not match its size")
    array = np.frombuffer(chunk, dtype=dtype).reshape(shape)
    columns = spec.get("columns")
    if columns is None:
        return array, offset + size
    if (
        not isinstance(columns, list) or len(shape) != 2 or len(columns) != shape[1]
        or not all(isinstance(c, str) and len(c) <= MAX_TEXT for c in columns)
    ):  # fmt: skip
        raise BadRecord("a table's columns do not match its array")
    return Rows(tuple(columns), array), offset + size


def decode_record(body: bytes, deployment: str) -> RequestRecord:
    """The record in one frame's body (without its length prefix), logged under ``deployment`` whatever the worker
    wrote. Raises BadRecord for anything else."""
    data = memoryview(body)
    if len(data) < 4:
        raise BadRecord("a frame shorter than its header length")
    size = int.from_bytes(data[:4], "little")
    if 4 + size > len(data):
        raise BadRecord("a header longer than its frame")
    try:
        header = orjson.loads(data[4 : 4 + size])
        if not isinstance(header, dict):
            raise BadRecord("the header must be an object")
        offset = 4 + size
        inputs, offset = _payload(header.get("inputs"), data, offset)
        outputs, offset = _payload(header.get("outputs"), data, offset)
    except BadRecord:
        raise
    except (orjson.JSONDecodeError, ValueError, TypeError, OSError) as exc:
        raise BadRecord(f"unreadable payload ({type(exc).__name__})") from None
    status = header.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadRecord("status must be an HTTP status")
    if inputs is not None and not isinstance(inputs, (pd.DataFrame, Rows, np.ndarray)):
        inputs = None  # inputs are logged as tables only
    return RequestRecord(
        request_id=_text(header, "request_id"),
        deployment=deployment,
        variant=_text(header, "variant"),
        model_version=_text(header, "model_version"),
        time=_number(header, "time"),
        latency_ms=_number(header, "latency_ms"),
        status=status,
        shadow=header.get("shadow") is True,
        inputs=inputs,
        outputs=outputs,
    )
